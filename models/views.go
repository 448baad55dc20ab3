package models

import (
	"context"
	"time"
)

// ConversationView is a conversation as one member sees it.
type ConversationView struct {
	Conversation
	// Member is the viewer's own membership.
	Member *Member
}

// Status is the conversation's state for the viewer.
func (v *ConversationView) Status() ConversationStatus { return v.Member.Status }

// VisibleLastMessageID is the newest message the viewer can see, or 0: a former
// group member's view stopped when they left.
func (v *ConversationView) VisibleLastMessageID() int64 {
	last := v.Conversation.LastMessageID
	if v.Member.Status == StatusLeft {
		last = v.Member.LastMessageID
	}
	if last <= v.Member.ClearedThroughID {
		return 0
	}
	return last
}

// Sees reports whether the viewer can see message id of the conversation.
func (v *ConversationView) Sees(id int64) bool { return v.Member.Sees(id) }

// LastMessageAt is when the conversation's newest message was sent, if the
// viewer can see it; nil otherwise (a former group member's newest is an
// older one: the resolver reads it).
func (v *ConversationView) LastMessageAt() *time.Time {
	if last := v.VisibleLastMessageID(); last == 0 || last != v.Conversation.LastMessageID {
		return nil
	}
	return v.Conversation.LastMessageAt
}

// Relation is how the viewer and another user relate.
type Relation struct {
	ViewerFollows   bool
	FollowsViewer   bool
	BlockedByViewer bool
	// BlocksViewer: the user blocked the viewer. Never shown to the viewer:
	// it only hides what a block hides both ways (read receipts).
	BlocksViewer bool
}

// Friends reports mutual follows.
func (r Relation) Friends() bool { return r.ViewerFollows && r.FollowsViewer }

// CanSeeVideo says whether viewerID may watch v, given the viewer's relation
// to v's owner.
func CanSeeVideo(viewerID int64, v *Video, owner Relation) bool {
	switch {
	case v.OwnerID == viewerID:
		return true
	case v.Visibility == VisibilityPublic:
		return true
	case v.Visibility == VisibilityFriends:
		return owner.Friends()
	default:
		return false
	}
}

// SendPermission is what the send rules say of a would-be text message:
// where it would land, or the refusal.
type SendPermission struct {
	Delivery Delivery
	// Refusal is nil when the message would be accepted.
	Refusal *Error
}

// SendResult is what sending a message produced.
type SendResult struct {
	Message      *Message
	Conversation *ConversationView
	Delivery     Delivery
	// RecipientID is who the message went to.
	RecipientID int64
	// RequestID is the request the message opened or extended (REQUEST delivery).
	RequestID int64
	// OpenedRequest is true when the message opened a new request.
	OpenedRequest bool
	// Accepted is true when this message accepted an open request.
	Accepted bool
	// Replayed is true when a retry returned an earlier message.
	Replayed bool
	// Prev is what the members had before the message (Event.Prev); nil
	// when not known.
	Prev *SendPrev
	// Audience are a group message's members, and AudiencePrev what each
	// had before it (Event.Prev); nil for a 1:1 message.
	Audience, AudiencePrev []int64
}

// SendPrev is the newest message ID before a sent message: of all the
// sender's conversations, of all the recipient's, and of the message's own
// conversation.
type SendPrev struct {
	Sender, Recipient, Conversation int64
}

// PageInfo is Relay's pagination state.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// Edge is one item of a page, with its cursor.
type Edge[T any] struct {
	Cursor string
	Node   *T
}

// Connection is a page of a list plus a lazy total.
type Connection[T any] struct {
	Edges    []*Edge[T]
	PageInfo *PageInfo
	// Count returns the size of the whole list. It runs only when a client
	// asks for totalCount.
	Count func(ctx context.Context) (int, error)
}

// TotalCount is the size of the whole list.
func (c *Connection[T]) TotalCount(ctx context.Context) (int, error) { return c.Count(ctx) }

// The concrete connections the schema names.
type (
	UserConnection           = Connection[User]
	UserEdge                 = Edge[User]
	ConversationConnection   = Connection[ConversationView]
	ConversationEdge         = Edge[ConversationView]
	MessageConnection        = Connection[Message]
	MessageEdge              = Edge[Message]
	MessageRequestConnection = Connection[MessageRequest]
	MessageRequestEdge       = Edge[MessageRequest]
	GroupMemberConnection    = Connection[Member]
	GroupMemberEdge          = Edge[Member]
)

// Node is anything with a Relay global ID.
type Node interface{ IsNode() }

func (*User) IsNode()             {}
func (*Video) IsNode()            {}
func (*ConversationView) IsNode() {}
func (*Message) IsNode()          {}
func (*MessageRequest) IsNode()   {}
func (*Report) IsNode()           {}
func (*PrivacySettings) IsNode()  {}

// PrivacySettings are one user's settings, a node of their own so that a
// normalized cache keeps one copy per user.
type PrivacySettings struct {
	UserID              int64
	DirectMessagePolicy DirectMessagePolicy
}

// SendParams is a validated message from SenderID to RecipientID.
type SendParams struct {
	SenderID        int64
	RecipientID     int64
	Text            *string
	VideoID         *int64
	ClientMessageID *string
	// RequestCap bounds the new requests the sender opens (PlanSend).
	RequestCap RequestCap
}

// ReportParams describes a report on a message request.
type ReportParams struct {
	ViewerID  int64
	RequestID int64
	Reason    ReportReason
	Details   *string
	Block     bool
}
