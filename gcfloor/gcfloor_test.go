package gcfloor

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 64 * mib, 100},        // before the first collection
		{16 * mib, 64 * mib, 400}, // the next one 64 MiB later
		{64 * mib, 64 * mib, 100}, // Go's own 100 % already leaves that
		{640 * mib, 64 * mib, 100},
	} {
		if got := Percent(c.live, c.headroom); got != c.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", c.live/mib, c.headroom/mib, got, c.want)
		}
	}
}

// gogc reads the GOGC percentage in force.
func gogc() uint64 { return readUint64("/gc/gogc:percent") }

// waitFor collects until GOGC is want, or fails after a few seconds.
func waitFor(t *testing.T, want func(uint64) bool, what string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if want(gogc()) {
			return
		}
	}
	t.Fatalf("GOGC %d: %s", gogc(), what)
}

// Start raises GOGC over a small live heap, after each collection, and puts
// it back once its context ends.
func TestStartRaisesAndRestores(t *testing.T) {
	if gogc() != DefaultPercent {
		t.Skip("GOGC is set in the environment")
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := start(ctx, 1<<30) // 1 GiB over this test's few MiB
	waitFor(t, func(p uint64) bool { return p > 1000 }, "not raised over a small heap")
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		f.mu.Lock()
		n := f.cycles
		f.mu.Unlock()
		if n >= 3 {
			break // it sees collection after collection
		}
		if time.Now().After(end) {
			t.Fatalf("saw %d collections", n)
		}
	}
	cancel()
	waitFor(t, func(p uint64) bool { return p == DefaultPercent }, "not restored after the context ended")
}
