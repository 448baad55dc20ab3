package models

import (
	"context"
	"io"
	"time"
)

// ChangeKind says what a change did, as its user sees it.
type ChangeKind string

const (
	// ChangeMessageAdded: a message the user can see was stored (their own
	// included), in the inbox or in a request they sent.
	ChangeMessageAdded ChangeKind = "MESSAGE_ADDED"
	// ChangeMessageUpdated: a message the user can see changed: the video
	// it shares was made private or public, or deleted.
	ChangeMessageUpdated ChangeKind = "MESSAGE_UPDATED"
	// ChangeRequestReceived: a stranger's message opened a request to the user.
	ChangeRequestReceived ChangeKind = "REQUEST_RECEIVED"
	// ChangeRequestExtended: another message joined an open request to the user.
	ChangeRequestExtended ChangeKind = "REQUEST_EXTENDED"
	// ChangeRequestAccepted: the user accepted a request (explicitly, or by
	// replying): it left their requests and the conversation is ACTIVE.
	ChangeRequestAccepted ChangeKind = "REQUEST_ACCEPTED"
	// ChangeRequestDeleted: the user deleted a request.
	ChangeRequestDeleted ChangeKind = "REQUEST_DELETED"
	// ChangeRequestReported: the user reported a request, which removed it.
	ChangeRequestReported ChangeKind = "REQUEST_REPORTED"
	// ChangeConversationAccepted: the other side accepted the user's request.
	ChangeConversationAccepted ChangeKind = "CONVERSATION_ACCEPTED"
	// ChangeConversationRead: the user read a conversation (their unread
	// count fell), or the other member did (their read receipt moved).
	ChangeConversationRead ChangeKind = "CONVERSATION_READ"
	// ChangeUserBlocked and ChangeUserUnblocked: the user blocked or
	// unblocked someone (a request from them left the user's requests).
	ChangeUserBlocked   ChangeKind = "USER_BLOCKED"
	ChangeUserUnblocked ChangeKind = "USER_UNBLOCKED"
	// ChangeConversationBlocked and ChangeConversationUnblocked: the other
	// member of the user's conversation blocked or unblocked them: whether
	// the user may send there changed (a request the user had received
	// from them left the user's requests).
	ChangeConversationBlocked   ChangeKind = "CONVERSATION_BLOCKED"
	ChangeConversationUnblocked ChangeKind = "CONVERSATION_UNBLOCKED"
	// ChangeUserFollowed and ChangeUserUnfollowed: the user followed
	// someone, or no longer does (they unfollowed, or a block either way
	// ended the follow).
	ChangeUserFollowed   ChangeKind = "USER_FOLLOWED"
	ChangeUserUnfollowed ChangeKind = "USER_UNFOLLOWED"
	// ChangeSettingsUpdated: the user changed their privacy settings.
	ChangeSettingsUpdated ChangeKind = "SETTINGS_UPDATED"
	// Group changes. Each but the invitations' carries the system message
	// that records it in the group's history (MessageID), and OtherUserID
	// is the member it concerns.
	ChangeMemberJoined      ChangeKind = "MEMBER_JOINED"
	ChangeMemberLeft        ChangeKind = "MEMBER_LEFT"
	ChangeGroupRenamed      ChangeKind = "GROUP_RENAMED"
	ChangeMemberRoleChanged ChangeKind = "MEMBER_ROLE_CHANGED"
	// ChangeInvitationReceived and ChangeInvitationResolved: an addition
	// waits for the creator's approval, or was answered; told to the
	// creator and to the member who asked for it.
	ChangeInvitationReceived ChangeKind = "INVITATION_RECEIVED"
	ChangeInvitationResolved ChangeKind = "INVITATION_RESOLVED"
)

// CarriesMessage reports whether a change of this kind adds a message to
// its user's view: a message, or a group's system message.
func (k ChangeKind) CarriesMessage() bool {
	switch k {
	case ChangeMessageAdded, ChangeMemberJoined, ChangeMemberLeft, ChangeGroupRenamed, ChangeMemberRoleChanged:
		return true
	}
	return false
}

var changeKinds = []ChangeKind{ChangeMessageAdded, ChangeMessageUpdated, ChangeRequestReceived, ChangeRequestExtended,
	ChangeRequestAccepted, ChangeRequestDeleted, ChangeRequestReported, ChangeConversationAccepted,
	ChangeConversationRead, ChangeUserBlocked, ChangeUserUnblocked, ChangeConversationBlocked,
	ChangeConversationUnblocked, ChangeUserFollowed, ChangeUserUnfollowed, ChangeSettingsUpdated,
	ChangeMemberJoined, ChangeMemberLeft, ChangeGroupRenamed, ChangeMemberRoleChanged,
	ChangeInvitationReceived, ChangeInvitationResolved}

func (k ChangeKind) MarshalGQL(w io.Writer)    { writeQuoted(w, string(k)) }
func (k *ChangeKind) UnmarshalGQL(v any) error { return unmarshalEnum(v, k, changeKinds) }

// Change is one entry of a user's change sequence: something that user can
// observe changed. Its ID is its position in the sequence. IDs are global,
// but each user's are handed out in commit order (every change is recorded
// under its user's row lock, store.lockUsers), so a client holding every
// change up to position p never later sees one below p commit.
//
// A change names what it touched by ID; the data is read again, as the
// user, whenever the change is delivered, so applying a user's changes in
// order ends in the state a fresh query returns.
type Change struct {
	ID             int64      `gorm:"primaryKey;index:idx_changes_user,priority:2"`
	UserID         int64      `gorm:"not null;index:idx_changes_user,priority:1"`
	Kind           ChangeKind `gorm:"size:32;not null"`
	ConversationID int64      `gorm:"not null;default:0"`
	MessageID      int64      `gorm:"not null;default:0"`
	RequestID      int64      `gorm:"not null;default:0"`
	// OtherUserID is the other user of a follow or a block, or the member
	// a group change concerns.
	OtherUserID int64 `gorm:"not null;default:0"`
	// InvitationID is the group invitation it concerns.
	InvitationID int64     `gorm:"not null;default:0"`
	CreatedAt    time.Time `gorm:"not null"`
}

// ChangeLog collects the changes a write recorded, for its caller to
// announce once they committed.
type ChangeLog struct{ Changes []Change }

type changeLogKey struct{}

// WithChangeLog returns a context whose store writes add their committed
// changes to the log returned.
func WithChangeLog(ctx context.Context) (context.Context, *ChangeLog) {
	l := &ChangeLog{}
	return context.WithValue(ctx, changeLogKey{}, l), l
}

// ChangeLogFrom returns the context's change log, or nil.
func ChangeLogFrom(ctx context.Context) *ChangeLog {
	l, _ := ctx.Value(changeLogKey{}).(*ChangeLog)
	return l
}

// Mark returns a function that drops what the log gained since the mark; on
// a nil log, a function that does nothing.
func (l *ChangeLog) Mark() (rewind func()) {
	if l == nil {
		return func() {}
	}
	n := len(l.Changes)
	return func() { l.Changes = l.Changes[:n] }
}

// Audience lists the users the log's changes belong to, each once, in the
// order they first appear.
func (l *ChangeLog) Audience() []int64 {
	var out []int64
	seen := map[int64]bool{}
	for _, c := range l.Changes {
		if !seen[c.UserID] {
			seen[c.UserID] = true
			out = append(out, c.UserID)
		}
	}
	return out
}
