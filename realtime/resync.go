package realtime

// Resync ends every open subscription of this instance the way a slow
// consumer's is ended (Overflowed reports true, so the socket closes with
// 4429 and the client resumes with `after`), and returns how many it ended.
//
// A broker calls it when events between instances may have been lost, for
// instance while Redis was unreachable. A subscription only reads the
// database when an event wakes it up, so one that merely waits would never
// learn of the messages whose events were lost: the outage's messages would
// reach it only with the conversation's next message, possibly never, and a
// sign-out's event would never close the signed-out user's sockets here.
// Reconnecting makes every client read what it missed from the database,
// which is the truth.
func (h *Hub) Resync() int {
	h.mu.RLock()
	var all []*Subscription
	for _, set := range h.subs {
		for s := range set {
			all = append(all, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range all {
		// Before remove closes the channel, so the reader sees it.
		s.overflowed.Store(true)
		h.remove(s)
	}
	return len(all)
}
