package models

import "testing"

func TestEventNextFor(t *testing.T) {
	msg := &Message{ID: 10, ConversationID: 7}
	ev := &Event{Kind: EventMessageAdded, ConversationID: 7, MessageID: 10, Message: msg,
		Audience: []int64{1, 2}, Prev: []int64{5, 8}, ConversationPrev: 4}
	cases := []struct {
		name                string
		ev                  *Event
		viewer, scope, last int64
		next                bool
	}{
		{"sender caught up", ev, 1, 0, 5, true},
		{"sender ahead of prev", ev, 1, 0, 6, true},
		{"sender behind", ev, 1, 0, 4, false},
		{"recipient caught up", ev, 2, 0, 8, true},
		{"recipient behind", ev, 2, 0, 5, false},
		{"not in audience", ev, 3, 0, 100, false},
		{"scoped caught up", ev, 2, 7, 4, true},
		{"scoped behind", ev, 2, 7, 3, false},
		{"scoped elsewhere", ev, 2, 8, 100, false},
		{"no message", &Event{Kind: EventMessageAdded, MessageID: 10, Audience: []int64{1}, Prev: []int64{0}}, 1, 0, 5, false},
		{"no prev", &Event{Kind: EventMessageAdded, MessageID: 10, Message: msg, Audience: []int64{1}}, 1, 0, 5, false},
		{"other kind", &Event{Kind: EventChanged, Message: msg, Audience: []int64{1}, Prev: []int64{0}}, 1, 0, 5, false},
	}
	for _, c := range cases {
		m, ok := c.ev.NextFor(c.viewer, c.scope, c.last)
		if ok != c.next || (ok && m != msg) || (!ok && m != nil) {
			t.Errorf("%s: got %v, %v; want next=%v", c.name, m, ok, c.next)
		}
	}
}
