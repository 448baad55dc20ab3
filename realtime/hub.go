// Package realtime carries committed events to subscribers: a Hub fans them
// out to this instance's subscriptions, and a Broker carries them between
// instances (in memory for one process, Redis pub/sub for several).
package realtime

import (
	"sync"
	"sync/atomic"

	"dmgraph/models"
)

// DefaultBuffer is how many undelivered events a subscription may hold
// before it counts as slow.
const DefaultBuffer = 256

// Hub fans events out to the subscriptions of this instance. Deliver never
// blocks: a subscription whose buffer is full is closed, and its client
// resumes from the database.
type Hub struct {
	buffer int
	mu     sync.RWMutex
	subs   map[int64]map[*Subscription]struct{}
	// observers see every event, before the subscriptions do.
	observers []func(models.Event)
	dropped   atomic.Int64
}

// NewHub returns a hub whose subscriptions buffer the given number of events
// (DefaultBuffer when 0).
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{buffer: buffer, subs: map[int64]map[*Subscription]struct{}{}}
}

// Subscription receives the events addressed to one user. C is closed when
// the subscription ends: by Close, or because it fell behind (Overflowed).
type Subscription struct {
	UserID int64
	// C carries pointers: one event is shared by all its subscribers and
	// must not be changed, and a full buffer of 256 costs 2 KiB, not the
	// 22 KiB that events by value would (idle sockets are most of them).
	C          <-chan *models.Event
	c          chan *models.Event
	hub        *Hub
	notify     func()
	overflowed atomic.Bool
	resynced   atomic.Bool
	closed     bool // guarded by hub.mu
}

// Subscribe registers a subscription for userID's events. notify, unless
// nil, is called after each event is queued on C and once C is closed, so
// that a subscriber can wait without a goroutine of its own; it must not
// block.
func (h *Hub) Subscribe(userID int64, notify func()) *Subscription {
	c := make(chan *models.Event, h.buffer)
	s := &Subscription{UserID: userID, C: c, c: c, hub: h, notify: notify}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[userID] == nil {
		h.subs[userID] = map[*Subscription]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	return s
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() { s.hub.remove(s) }

// Overflowed reports whether the hub closed the subscription because its
// reader fell behind.
func (s *Subscription) Overflowed() bool { return s.overflowed.Load() }

// remove unregisters s and closes its channel. It holds the write lock, so
// no Deliver is sending on the channel meanwhile.
func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.c)
	if s.notify != nil {
		s.notify()
	}
	if set := h.subs[s.UserID]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.subs, s.UserID)
		}
	}
}

// Observe registers fn to see every event the hub delivers, from this
// instance or another, before any subscription does. fn must not block.
func (h *Hub) Observe(fn func(models.Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observers = append(h.observers, fn)
}

// Deliver hands ev to every subscription of its audience, without waiting.
func (h *Hub) Deliver(ev models.Event) {
	h.mu.RLock()
	observers := h.observers
	h.mu.RUnlock()
	for _, fn := range observers {
		fn(ev)
	}
	var slow []*Subscription
	shared := &ev
	h.mu.RLock()
	for _, uid := range ev.Audience {
		for s := range h.subs[uid] {
			select {
			case s.c <- shared:
				if s.notify != nil {
					s.notify()
				}
			default:
				slow = append(slow, s)
			}
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		if s.overflowed.CompareAndSwap(false, true) {
			h.dropped.Add(1)
		}
		h.remove(s)
	}
}

// Subscriptions counts the open subscriptions.
func (h *Hub) Subscriptions() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.subs {
		n += len(set)
	}
	return n
}

// Dropped counts subscriptions closed for falling behind.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }
