// Package gcfloor keeps a minimum of headroom between the live heap and the
// next garbage collection.
//
// Go collects when the heap has grown by GOGC percent of what was live after
// the last collection. While the live heap is small (tens of megabytes, as
// for a server under steady traffic with few sockets), that is every second
// or so at a few thousand requests per second, and on two cores each
// collection's mark phase is felt in the latency of the requests it
// overlaps. After each collection this package raises the GOGC percentage
// so that the next one comes no sooner than when headroom bytes have been
// allocated, and leaves it at 100 once the live heap is large (many idle
// sockets), where the default already leaves that much room, and where
// memory is what counts.
//
// It reads the live heap from runtime/metrics, which does not stop the
// world, and learns of each collection from a finalizer, so it runs no
// goroutine of its own.
package gcfloor

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultPercent is Go's own GOGC.
const DefaultPercent = 100

// Percent is the GOGC percentage that puts the next collection headroom
// bytes above a live heap of live bytes, and never below DefaultPercent.
func Percent(live, headroom uint64) int {
	if live == 0 {
		return DefaultPercent
	}
	return int(max(headroom*100/live, DefaultPercent))
}

// Start keeps the floor until ctx ends, then puts GOGC back as it was.
// headroom 0 does nothing.
func Start(ctx context.Context, headroom uint64) {
	if headroom > 0 {
		start(ctx, headroom)
	}
}

func start(ctx context.Context, headroom uint64) *floor {
	f := &floor{ctx: ctx, headroom: headroom}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.initial = debug.SetGCPercent(DefaultPercent)
	f.current = DefaultPercent
	f.tune()
	f.arm()
	return f
}

type floor struct {
	ctx      context.Context
	headroom uint64
	mu       sync.Mutex // Start, then the finalizer goroutine
	initial  int
	current  int
	cycles   int // collections seen
}

// sentinel is allocated for each collection; its finalizer runs after the
// collection that found it unreachable. 16 bytes keep it out of the tiny
// allocator, whose objects may never be finalized.
type sentinel struct{ _ [16]byte }

func (f *floor) arm() {
	runtime.SetFinalizer(new(sentinel), func(*sentinel) { f.afterGC() })
}

// afterGC runs on the runtime's finalizer goroutine, once per collection.
func (f *floor) afterGC() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		debug.SetGCPercent(f.initial)
		return
	}
	f.cycles++
	f.tune()
	f.arm()
}

// tune sets GOGC for the live heap, unless it moved by less than a tenth.
func (f *floor) tune() {
	p := Percent(liveHeap(), f.headroom)
	if diff := p - f.current; max(diff, -diff)*10 > f.current {
		debug.SetGCPercent(p)
		f.current = p
	}
}

// liveHeap is the heap marked live by the last collection, in bytes; 0
// before the first.
func liveHeap() uint64 { return readUint64("/gc/heap/live:bytes") }

func readUint64(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
