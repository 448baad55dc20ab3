package models

import "time"

// The GORM models. Struct tags describe columns and indexes; the store
// package owns every query. Times are UTC, truncated to microseconds so that
// both engines give back exactly what they were given.

// User is an account.
type User struct {
	ID             int64               `gorm:"primaryKey"`
	Username       string              `gorm:"size:24;not null;uniqueIndex"`
	DisplayName    string              `gorm:"size:50;not null"`
	PasswordHash   string              `gorm:"size:100;not null"`
	BirthDate      time.Time           `gorm:"type:date;not null"`
	DMPolicy       DirectMessagePolicy `gorm:"column:dm_policy;size:24;not null"`
	FollowerCount  int                 `gorm:"not null;default:0"`
	FollowingCount int                 `gorm:"not null;default:0"`
	// PhoneHash is the keyed hash of the user's E.164 number, never the number.
	PhoneHash *string `gorm:"size:64;uniqueIndex"`
	// TokenVersion voids every token issued before it moved: signing out
	// everywhere adds one.
	TokenVersion int64     `gorm:"not null;default:0"`
	CreatedAt    time.Time `gorm:"not null"`
}

// Follow says FollowerID follows FolloweeID. Mutual follows make friends.
type Follow struct {
	ID         int64     `gorm:"primaryKey;index:idx_follows_follower,priority:2;index:idx_follows_followee,priority:2"`
	FollowerID int64     `gorm:"not null;uniqueIndex:idx_follows_pair,priority:1;index:idx_follows_follower,priority:1"`
	FolloweeID int64     `gorm:"not null;uniqueIndex:idx_follows_pair,priority:2;index:idx_follows_followee,priority:1"`
	CreatedAt  time.Time `gorm:"not null"`
}

// Block says BlockerID has blocked BlockedID.
type Block struct {
	ID        int64     `gorm:"primaryKey"`
	BlockerID int64     `gorm:"not null;uniqueIndex:idx_blocks_pair,priority:1"`
	BlockedID int64     `gorm:"not null;uniqueIndex:idx_blocks_pair,priority:2"`
	CreatedAt time.Time `gorm:"not null"`
}

// Video is a published short video.
type Video struct {
	ID         int64           `gorm:"primaryKey"`
	OwnerID    int64           `gorm:"not null;index"`
	Caption    string          `gorm:"size:2000;not null"`
	URL        string          `gorm:"column:url;size:2048;not null"`
	Visibility VideoVisibility `gorm:"size:16;not null"`
	CreatedAt  time.Time       `gorm:"not null"`
}

// Conversation is a thread between members. A 1:1 conversation has a
// DirectKey built from the sorted pair of user IDs, unique, so two
// concurrent first messages meet in the same row. Groups have none.
type Conversation struct {
	ID        int64            `gorm:"primaryKey"`
	DirectKey *string          `gorm:"size:64;uniqueIndex"`
	Kind      ConversationKind `gorm:"size:8;not null;default:'DIRECT'"`
	// Title is a group's title, if it has one.
	Title *string `gorm:"size:400"`
	// CreatorID is who created a group (0 for a 1:1 conversation): while
	// they are a member and 16 or 17, additions wait for their approval.
	CreatorID     int64 `gorm:"not null;default:0"`
	LastMessageID int64 `gorm:"not null;default:0"`
	LastMessageAt *time.Time
	CreatedAt     time.Time `gorm:"not null"`
	UpdatedAt     time.Time `gorm:"not null"`
}

// Member is one participant's state in a conversation.
type Member struct {
	ConversationID int64              `gorm:"primaryKey;autoIncrement:false"`
	UserID         int64              `gorm:"primaryKey;autoIncrement:false;index:idx_members_inbox,priority:1"`
	Status         ConversationStatus `gorm:"size:16;not null"`
	// LastMessageID copies the conversation's newest message so the inbox is
	// one index range scan per member, newest first.
	LastMessageID     int64 `gorm:"not null;default:0;index:idx_members_inbox,priority:2"`
	LastReadMessageID int64 `gorm:"not null;default:0"`
	ReadAt            *time.Time
	// ClearedThroughID hides messages up to and including this ID from the
	// member: set when the member deletes a request.
	ClearedThroughID int64 `gorm:"not null;default:0"`
	// Uninvited is set on a blocker's row by the block: what they had
	// opened toward the other member (their ACTIVE or PENDING status) no
	// longer invites that member's messages. Their next send, or accepting
	// a request, clears it.
	Uninvited bool `gorm:"not null;default:false"`
	// Role is a group member's role; "" in a 1:1 conversation.
	Role GroupRole `gorm:"size:8;not null;default:''"`
	// CreatedAt is when the member joined: for a group member added back,
	// when they rejoined. A former group member (StatusLeft) sees the
	// messages after ClearedThroughID up to LastMessageID, which stops
	// moving when they leave.
	CreatedAt time.Time `gorm:"not null"`
	// LeftTitle is the group's title when the member left: what a former
	// member sees as its title, renames after that being none of theirs.
	LeftTitle *string `gorm:"size:400"`
	// User is filled when the member is loaded with its user.
	User *User `gorm:"foreignKey:UserID"`
}

// Sees reports whether the member can see message id of their
// conversation: after what they cleared and, once they left a group, no
// later than when they left (store's visibleSQL says the same in SQL).
func (m *Member) Sees(id int64) bool {
	return id > m.ClearedThroughID && (m.Status != StatusLeft || id <= m.LastMessageID)
}

// TableName keeps the member table next to conversations.
func (Member) TableName() string { return "conversation_members" }

// Message is one message in a conversation.
type Message struct {
	ID              int64    `gorm:"primaryKey;index:idx_messages_conversation,priority:2"`
	ConversationID  int64    `gorm:"not null;index:idx_messages_conversation,priority:1"`
	SenderID        int64    `gorm:"not null;uniqueIndex:idx_messages_client_id,priority:1"`
	Text            *string  `gorm:"size:4000"`
	VideoID         *int64   `gorm:"index:idx_messages_video_id,where:video_id IS NOT NULL"`
	ClientMessageID *string  `gorm:"size:64;uniqueIndex:idx_messages_client_id,priority:2,where:client_message_id IS NOT NULL"`
	Delivery        Delivery `gorm:"size:16;not null"`
	// System is set on a group's system messages: the SystemEventKind
	// they record, about SubjectID, with Text as its argument (a title, a
	// role).
	System    *string `gorm:"size:24"`
	SubjectID int64   `gorm:"not null;default:0"`
	CreatedAt time.Time
	// shared, when set, holds the reads every live delivery of this one
	// value makes alike (ShareReads). Neither stored nor sent between
	// instances.
	shared *sharedReads
}

// RequestStatus is the lifecycle of a message request.
type RequestStatus string

const (
	RequestOpen     RequestStatus = "OPEN"
	RequestAccepted RequestStatus = "ACCEPTED"
	RequestDeleted  RequestStatus = "DELETED"
	RequestReported RequestStatus = "REPORTED"
	// RequestBlocked: removed by its recipient's block, or by a block of its
	// sender's by the recipient.
	RequestBlocked RequestStatus = "BLOCKED"
	// RequestWithdrawn: removed by its own sender's block. It still counts
	// toward the sender's request limit, as a deleted or reported one does:
	// blocking and unblocking must neither reset the limit nor reveal
	// whether the recipient had deleted or reported the request.
	RequestWithdrawn RequestStatus = "WITHDRAWN"
)

// MaxRequestMessages is how many messages a sender may send while a request
// is pending.
const MaxRequestMessages = 3

// MessageRequest is a stranger's message waiting for the recipient's answer.
// At most one per conversation and recipient is open at a time.
type MessageRequest struct {
	ID             int64         `gorm:"primaryKey"`
	ConversationID int64         `gorm:"not null;uniqueIndex:idx_requests_open,where:status = 'OPEN';index:idx_requests_conversation,priority:1"`
	RecipientID    int64         `gorm:"not null;uniqueIndex:idx_requests_open,where:status = 'OPEN';index:idx_requests_inbox,priority:1;index:idx_requests_conversation,priority:2"`
	SenderID       int64         `gorm:"not null;index:idx_requests_sender,priority:1"`
	Status         RequestStatus `gorm:"size:16;not null;index:idx_requests_inbox,priority:2"`
	MessageCount   int           `gorm:"not null;default:0"`
	LastMessageID  int64         `gorm:"not null;default:0;index:idx_requests_inbox,priority:3"`
	CreatedAt      time.Time     `gorm:"not null;index:idx_requests_sender,priority:2"`
	ResolvedAt     *time.Time
}

// Report is a recipient's report on a message request.
type Report struct {
	ID             int64        `gorm:"primaryKey"`
	ReporterID     int64        `gorm:"not null;index"`
	ReportedUserID int64        `gorm:"not null;index"`
	RequestID      int64        `gorm:"not null;index"`
	ConversationID int64        `gorm:"not null"`
	Reason         ReportReason `gorm:"size:16;not null"`
	Details        *string      `gorm:"size:1000"`
	CreatedAt      time.Time    `gorm:"not null"`
}

// ReportMessage is a copy of a reported message, kept for moderators even if
// the original later changes.
type ReportMessage struct {
	ReportID  int64 `gorm:"primaryKey;autoIncrement:false"`
	MessageID int64 `gorm:"primaryKey;autoIncrement:false"`
	SenderID  int64 `gorm:"not null"`
	Text      *string
	VideoID   *int64
	SentAt    time.Time `gorm:"not null"`
}

// SyncedContact is one number from a user's synced address book, as a keyed
// hash. Numbers of people who never signed up are personal data: the plain
// number is never stored.
type SyncedContact struct {
	OwnerID   int64  `gorm:"primaryKey;autoIncrement:false"`
	PhoneHash string `gorm:"primaryKey;size:64;index"`
}

// FacebookAccount ties a user to a Facebook account.
type FacebookAccount struct {
	UserID         int64     `gorm:"primaryKey;autoIncrement:false"`
	FacebookUserID string    `gorm:"size:64;not null;uniqueIndex"`
	LinkedAt       time.Time `gorm:"not null"`
}

// TableName names the table after the link it records.
func (FacebookAccount) TableName() string { return "facebook_links" }

// FacebookFriend is one Facebook friend of a linked user, by Facebook ID.
type FacebookFriend struct {
	UserID           int64  `gorm:"primaryKey;autoIncrement:false"`
	FriendFacebookID string `gorm:"primaryKey;size:64;index"`
}

// Secret is a server-generated key kept in the database, so every instance
// and every restart uses the same one.
type Secret struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value string `gorm:"size:256;not null"`
}

// All lists every table, in creation order.
func All() []any {
	return []any{&User{}, &Follow{}, &Block{}, &Video{}, &Conversation{}, &Member{},
		&Message{}, &MessageRequest{}, &Report{}, &ReportMessage{},
		&SyncedContact{}, &FacebookAccount{}, &FacebookFriend{}, &Secret{},
		&PhoneVerification{}, &Change{}, &GroupInvitation{}}
}
