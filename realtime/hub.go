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

// Subscription receives the events addressed to one user, in order, through
// Next. It ends by Close, or because it fell behind (Overflowed).
type Subscription struct {
	UserID     int64
	hub        *Hub
	notify     func()
	overflowed atomic.Bool
	resynced   atomic.Bool
	started    atomic.Bool

	mu sync.Mutex
	// queue holds the events not taken yet, as pointers: one event is
	// shared by all its subscribers and must not be changed. It grows only
	// as events wait, up to the hub's buffer, and is dropped once drained:
	// most subscriptions are idle sockets, and a channel sized for the
	// worst case cost each of them 2 KiB.
	queue  []*models.Event
	closed bool
}

// Subscribe registers a subscription for userID's events. notify, unless
// nil, is called after each event is queued and once the subscription ends,
// so that a subscriber can wait without a goroutine of its own; it must not
// block.
func (h *Hub) Subscribe(userID int64, notify func()) *Subscription {
	s := &Subscription{UserID: userID, hub: h, notify: notify}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[userID] == nil {
		h.subs[userID] = map[*Subscription]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	return s
}

// Next takes the oldest event queued. When none is, ok is false, and ended
// reports whether the subscription is over; events queued before it ended
// are still taken first.
func (s *Subscription) Next() (ev *models.Event, ok, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil, false, s.closed
	}
	ev = s.queue[0]
	if len(s.queue) == 1 {
		s.queue = nil
	} else {
		s.queue[0] = nil
		s.queue = s.queue[1:]
	}
	return ev, true, false
}

// push queues ev; false when the queue is full. An ended subscription drops
// it, though Deliver never meets one: remove unregisters it under the hub's
// write lock.
func (s *Subscription) push(ev *models.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	if len(s.queue) >= s.hub.buffer {
		return false
	}
	s.queue = append(s.queue, ev)
	return true
}

// Start marks the subscription as delivering: its subscriber has read where
// it starts from, so whatever commits from now on reaches it.
func (s *Subscription) Start() { s.started.Store(true) }

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() { s.hub.remove(s) }

// Overflowed reports whether the hub ended the subscription because its
// reader fell behind.
func (s *Subscription) Overflowed() bool { return s.overflowed.Load() }

// remove unregisters s and ends it.
func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	was := s.closed
	s.closed = true
	s.mu.Unlock()
	if was {
		return
	}
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
			if !s.push(shared) {
				slow = append(slow, s)
			} else if s.notify != nil {
				s.notify()
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

// Subscriptions counts the open subscriptions that have started (Start).
func (h *Hub) Subscriptions() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.subs {
		for s := range set {
			if s.started.Load() {
				n++
			}
		}
	}
	return n
}

// Dropped counts subscriptions closed for falling behind.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }
