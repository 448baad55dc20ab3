// Package dm holds dmgraph's use cases: accounts, the social graph, videos
// and direct messages. It applies the rules in models to what the Store
// reads and writes; it knows nothing of GraphQL or SQL.
package dm

import (
	"context"
	"log/slog"

	"dmgraph/auth"
	"dmgraph/models"
	"dmgraph/relay"
)

// Store is everything the use cases persist, one interface per aggregate;
// store.Store implements them all.
type Store interface {
	Users
	Follows
	Videos
	Conversations
	Requests
	Suggestions
	Sessions
	Changes
	Groups
}

// Users are the accounts.
type Users interface {
	CreateUser(ctx context.Context, u *models.User) error
	UserByUsername(ctx context.Context, username string) (*models.User, error)
	UserByID(ctx context.Context, id int64) (*models.User, error)
	UsersByIDs(ctx context.Context, ids []int64) (map[int64]*models.User, error)
	SetDMPolicy(ctx context.Context, userID int64, p models.DirectMessagePolicy) error
}

// Follows are the social graph: who follows and who blocks whom.
type Follows interface {
	Relations(ctx context.Context, viewerID int64, ids []int64) (map[int64]models.Relation, error)
	Follow(ctx context.Context, follower, followee int64) error
	Unfollow(ctx context.Context, follower, followee int64) error
	Block(ctx context.Context, blocker, blocked int64) error
	Unblock(ctx context.Context, blocker, blocked int64) error
	Followers(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error)
	Following(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error)
	Blocked(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error)
}

// Videos are the published videos.
type Videos interface {
	CreateVideo(ctx context.Context, v *models.Video) error
	VideoByID(ctx context.Context, id int64) (*models.Video, error)
	VideosByIDs(ctx context.Context, ids []int64) (map[int64]*models.Video, error)
	SetVideoVisibility(ctx context.Context, ownerID, id int64, vis models.VideoVisibility) error
	DeleteVideo(ctx context.Context, ownerID, id int64) error
}

// Conversations are the 1:1 conversations, their members and their
// messages, and the send rules' facts.
type Conversations interface {
	SendFacts(ctx context.Context, p models.SendParams) (models.SendFacts, error)
	SendFactsMany(ctx context.Context, senderID int64, recipients []int64, cap models.RequestCap) (map[int64]models.SendFacts, error)
	Send(ctx context.Context, p models.SendParams) (*models.SendResult, error)
	MessageByClientID(ctx context.Context, senderID int64, clientID string) (*models.Message, error)

	View(ctx context.Context, viewerID, id int64) (*models.ConversationView, error)
	Views(ctx context.Context, viewerID int64, ids []int64) (map[int64]*models.ConversationView, error)
	OtherMember(ctx context.Context, convID, userID int64) (int64, error)
	Inbox(ctx context.Context, viewerID int64, args relay.Args) (*models.ConversationConnection, error)
	MessagePages(ctx context.Context, viewerID int64, convIDs []int64, args relay.Args) (map[int64]*models.MessageConnection, error)
	MessageCounts(ctx context.Context, viewerID int64, convIDs []int64) (map[int64]int, error)
	MessageForViewer(ctx context.Context, viewerID, id int64) (*models.Message, error)
	MessagesByIDs(ctx context.Context, ids []int64) (map[int64]*models.Message, error)
	MembersByConversations(ctx context.Context, ids []int64) (map[int64][]*models.Member, error)
	UnreadCounts(ctx context.Context, viewerID int64, ids []int64) (map[int64]int, error)
	UnreadConversationCount(ctx context.Context, viewerID int64) (int, error)
	MarkRead(ctx context.Context, viewerID, convID int64) error
	MessagesAfter(ctx context.Context, viewerID, convID, after int64, limit int) ([]*models.Message, error)
	LatestDeliverableID(ctx context.Context, viewerID, convID int64) (int64, error)
	DirectConversationID(ctx context.Context, a, b int64) (int64, error)
}

// Requests are the message requests and their reports.
type Requests interface {
	Requests(ctx context.Context, viewerID int64, args relay.Args) (*models.MessageRequestConnection, error)
	Request(ctx context.Context, viewerID, id int64) (*models.MessageRequest, error)
	OpenRequestsByConversations(ctx context.Context, viewerID int64, convIDs []int64) (map[int64]*models.MessageRequest, error)
	AcceptRequest(ctx context.Context, viewerID, id int64) (*models.MessageRequest, error)
	DeleteRequest(ctx context.Context, viewerID, id int64) error
	ReportRequest(ctx context.Context, p models.ReportParams) (*models.Report, error)
	Report(ctx context.Context, reporterID, id int64) (*models.Report, error)
}

// Suggestions are what friend suggestions come from: verified phone
// numbers, synced contacts and linked Facebook accounts.
type Suggestions interface {
	SavePhoneVerification(ctx context.Context, v *models.PhoneVerification) error
	VerifyPhone(ctx context.Context, userID int64, codeHash string) error
	NewContacts(ctx context.Context, ownerID int64, hashes []string) (int, error)
	ReplaceContacts(ctx context.Context, ownerID int64, hashes []string) (matched int, err error)
	RemoveContacts(ctx context.Context, ownerID int64) error
	LinkFacebook(ctx context.Context, userID int64, facebookID string, friendIDs []string) error
	UnlinkFacebook(ctx context.Context, userID int64) error
	Suggestions(ctx context.Context, viewerID int64, ids []int64) (map[int64][]models.SuggestionReason, error)
	SuggestedFriends(ctx context.Context, viewerID int64, args relay.Args) (*models.UserConnection, error)
}

// Changes are the users' change sequences (models.Change).
type Changes interface {
	Changes(ctx context.Context, userID, since int64, limit int) ([]*models.Change, error)
	LatestChange(ctx context.Context, userID int64) (int64, error)
}

// Sessions are the users' token versions: signing out everywhere raises one.
type Sessions interface {
	TokenVersions(ctx context.Context, ids []int64) (map[int64]int64, error)
	RevokeTokens(ctx context.Context, userID int64) (int64, error)
}

// Service runs the use cases. Every method but Register, Login and Me needs
// a signed-in viewer in ctx (models.WithViewer).
type Service struct {
	store    Store
	tokens   *auth.Tokens
	hasher   Passwords
	phones   PhoneHasher
	sms      SMSSender
	facebook FacebookClient
	events   Publisher
	limits   *Limits
	log      *slog.Logger
	clock    models.Clock
	versions *tokenVersions
	// groupMaxMembers is a group's size limit (models.DefaultGroupMaxMembers when 0).
	groupMaxMembers int
}

// Deps are what a Service is built from.
type Deps struct {
	Store     Store
	Tokens    *auth.Tokens
	Passwords Passwords
	Phones    PhoneHasher
	Facebook  FacebookClient
	// SMS sends phone verification codes; nil refuses to send any.
	SMS SMSSender
	// Events receives committed events; nil publishes nothing.
	Events Publisher
	// Limits are the abuse limits; nil means none.
	Limits *Limits
	// GroupMaxMembers is a group's size limit, its creator included
	// (models.DefaultGroupMaxMembers when 0).
	GroupMaxMembers int
	Log             *slog.Logger
	// Clock judges ages and stamps what the service creates; nil is the
	// real time. The store is given the same one.
	Clock models.Clock
}

// New returns a Service.
func New(d Deps) *Service {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.SMS == nil {
		d.SMS = noSMS{}
	}
	if d.Events == nil {
		d.Events = noEvents{}
	}
	return &Service{store: d.Store, tokens: d.Tokens, hasher: d.Passwords, phones: d.Phones, sms: d.SMS,
		facebook: d.Facebook, events: d.Events, limits: d.Limits, log: d.Log, clock: d.Clock, versions: newTokenVersions(),
		groupMaxMembers: d.GroupMaxMembers}
}
