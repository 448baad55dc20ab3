package models

// EventKind says what changed.
type EventKind string

const (
	// EventMessageAdded: a message was stored in a conversation.
	EventMessageAdded EventKind = "MESSAGE_ADDED"
	// EventRequestReceived: a request to the audience opened or grew.
	EventRequestReceived EventKind = "REQUEST_RECEIVED"
	// EventConversationUpdated: another party changed a conversation of the
	// audience (accepted, read, blocked).
	EventConversationUpdated EventKind = "CONVERSATION_UPDATED"
	// EventSignedOut: the audience signed out everywhere; TokenVersion is
	// their new token version. Every instance closes their websockets.
	EventSignedOut EventKind = "SIGNED_OUT"
)

// Event tells the users in Audience that something committed. It carries IDs
// only: every subscriber reads the data again, as itself, at delivery, so an
// event never shows anything its receiver may not see.
type Event struct {
	Kind           EventKind `json:"k"`
	ConversationID int64     `json:"c,omitempty"`
	MessageID      int64     `json:"m,omitempty"`
	RequestID      int64     `json:"r,omitempty"`
	TokenVersion   int64     `json:"v,omitempty"`
	Audience       []int64   `json:"a"`
	// Origin names the instance that published the event, so it can skip
	// its own events when they come back from the broker.
	Origin string `json:"o,omitempty"`
}
