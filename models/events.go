package models

import (
	"slices"
	"sync"
)

// EventKind says what changed.
type EventKind string

const (
	// EventMessageAdded: a message was stored in a conversation.
	EventMessageAdded EventKind = "MESSAGE_ADDED"
	// EventChanged: the audience's change sequences (models.Change) moved,
	// beyond what an EventMessageAdded to them says. Subscribers read what
	// changed from the sequence, as themselves.
	EventChanged EventKind = "CHANGED"
	// EventSignedOut: the audience signed out everywhere; TokenVersion is
	// their new token version. Every instance closes their websockets.
	EventSignedOut EventKind = "SIGNED_OUT"
)

// Event tells the users in Audience that something committed. Most carry
// IDs only, and every subscriber reads the data again, as itself, at
// delivery. A message event also carries the message, as committed, and
// what each member saw before it (Prev): a subscriber that already has
// everything up to Prev can deliver the message as it is, without reading
// it again (NextFor). Either way an event shows its receiver only what they
// could see when it committed.
type Event struct {
	Kind           EventKind `json:"k"`
	ConversationID int64     `json:"c,omitempty"`
	MessageID      int64     `json:"m,omitempty"`
	TokenVersion   int64     `json:"v,omitempty"`
	Audience       []int64   `json:"a"`
	// Message is the message of EventMessageAdded, as committed; nil when
	// the publisher did not include it.
	Message *Message `json:"msg,omitempty"`
	// Prev holds, for each member of Audience, the newest message ID of
	// all their conversations before Message; ConversationPrev, the newest
	// of its conversation. Subscribers fall back to reading the database
	// when Prev does not match Audience.
	Prev             []int64 `json:"p,omitempty"`
	ConversationPrev int64   `json:"cp,omitempty"`
	// Origin names the instance that published the event, so it can skip
	// its own events when they come back from the broker.
	Origin string `json:"o,omitempty"`
}

// NextFor returns the event's message when it is the next one for viewer, a
// subscriber that has every message up to last, in one conversation (scope)
// or in all (scope 0): no message of theirs committed between last and it.
// Message IDs are handed out, under each member's lock, in commit order
// (store.lockUsers), so Prev covers every message before this one. False
// means the subscriber must read what it is missing from the database.
func (e *Event) NextFor(viewer, scope, last int64) (*Message, bool) {
	if e.Kind != EventMessageAdded || e.Message == nil || len(e.Prev) != len(e.Audience) {
		return nil, false
	}
	next := false
	if scope != 0 {
		next = scope == e.ConversationID && e.ConversationPrev <= last
	} else if i := slices.Index(e.Audience, viewer); i >= 0 {
		next = e.Prev[i] <= last
	}
	if !next {
		return nil, false
	}
	return e.Message, true
}

// sharedReads are the reads of a message that are the same for every
// subscriber it is delivered to: the first delivery makes them, the others
// reuse them, so a group message's 32 deliveries read its sender once.
type sharedReads struct {
	mu     sync.Mutex
	sender *User
}

// ShareReads makes every delivery of this message value share its
// viewer-independent reads (SharedSender). Call it before the message is
// handed to more than one goroutine: a publisher before publishing, a
// broker as it decodes an event.
func (m *Message) ShareReads() { m.shared = &sharedReads{} }

// SharedSender returns the message's sender as the first delivery read it,
// calling read to read it; a failed read is tried again by the next one.
// Without ShareReads, it just calls read.
func (m *Message) SharedSender(read func() (*User, error)) (*User, error) {
	s := m.shared
	if s == nil {
		return read()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sender != nil {
		return s.sender, nil
	}
	u, err := read()
	if err == nil {
		s.sender = u
	}
	return u, err
}
