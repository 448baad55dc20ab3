package realtime

import "dmgraph/models"

// EventResync tells that events between instances may have been lost. A
// Redis broker publishes it, once Redis answers again, when some of its
// events never reached Redis, and every other instance then resyncs; a hub's
// observers see it when the hub resyncs.
const EventResync models.EventKind = "RESYNC"

// Resync ends every open subscription of this instance the way a slow
// consumer's is ended (Overflowed reports true, so the socket closes with
// 4801 and the client resumes with `after`; Resynced tells why), and
// returns how many it ended.
//
// A broker calls it when events between instances may have been lost, for
// instance while Redis was unreachable. A subscription only reads the
// database when an event wakes it up, so one that merely waits would never
// learn of the messages whose events were lost: the outage's messages would
// reach it only with the conversation's next message, possibly never.
// Reconnecting makes every client read what it missed from the database,
// which is the truth.
//
// Observers see an EventResync first, with no audience: whatever they kept
// from events may be stale too. A lost SIGNED_OUT leaves the old token
// version cached here, and the signed-out user's socket, closed by the
// resync, would reconnect with the revoked token unless the observer
// forgets what it cached.
func (h *Hub) Resync() int {
	h.mu.RLock()
	observers := h.observers
	h.mu.RUnlock()
	for _, fn := range observers {
		fn(models.Event{Kind: EventResync})
	}
	h.mu.RLock()
	var all []*Subscription
	for _, set := range h.subs {
		for s := range set {
			all = append(all, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range all {
		// Before remove ends it, so the reader sees them.
		s.resynced.Store(true)
		s.overflowed.Store(true)
		h.remove(s)
	}
	return len(all)
}

// Resynced reports whether the hub ended the subscription because events
// may have been lost (Resync), rather than because its reader fell behind.
func (s *Subscription) Resynced() bool { return s.resynced.Load() }
