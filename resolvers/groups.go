package resolvers

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/vikstrous/dataloadgen"

	"dmgraph/graph/model"
	"dmgraph/models"
	"dmgraph/relay"
)

// Groups: the mutations, canAddToGroup, and the group fields of
// Conversation, Message and Change.

// decodeUsers decodes a list of user IDs, naming the field in the error.
// A list far longer than any group is refused before anything is decoded.
func decodeUsers(field string, gids []string) ([]int64, error) {
	if len(gids) > 4*models.DefaultGroupMaxMembers {
		return nil, models.InvalidField(field, "too many people")
	}
	ids := make([]int64, len(gids))
	for i, gid := range gids {
		id, err := relay.Decode(relay.KindUser, gid)
		if err != nil {
			var e *models.Error
			if errors.As(err, &e) && e.Field == "" {
				e2 := *e
				e2.Field = field
				return nil, &e2
			}
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// decodeMember decodes a group's ID and a user's.
func decodeMember(conversationID, userID string) (conv, user int64, err error) {
	if conv, err = relay.Decode(relay.KindConversation, conversationID); err != nil {
		return 0, 0, err
	}
	user, err = relay.Decode(relay.KindUser, userID)
	return conv, user, err
}

func (r *mutationResolver) CreateGroup(ctx context.Context, in model.CreateGroupInput) (*model.CreateGroupPayload, error) {
	ids, err := decodeUsers("memberIds", in.MemberIds)
	if err != nil {
		return nil, err
	}
	view, err := r.svc.CreateGroup(ctx, in.Title, ids)
	if err != nil {
		return nil, err
	}
	return &model.CreateGroupPayload{Conversation: view, ConversationEdge: relay.InboxEdge(view)}, nil
}

func (r *mutationResolver) AddGroupMembers(ctx context.Context, in model.AddGroupMembersInput) (*model.AddGroupMembersPayload, error) {
	conv, err := relay.Decode(relay.KindConversation, in.ConversationID)
	if err != nil {
		return nil, err
	}
	ids, err := decodeUsers("userIds", in.UserIds)
	if err != nil {
		return nil, err
	}
	res, err := r.svc.AddGroupMembers(ctx, conv, ids)
	if err != nil {
		return nil, err
	}
	added, err := loadersFrom(ctx).users.LoadAll(ctx, res.Added) // one batch
	if err != nil {
		return nil, err
	}
	invitations := res.Invitations
	if invitations == nil {
		invitations = []*models.GroupInvitation{}
	}
	return &model.AddGroupMembersPayload{Conversation: res.View, Added: added, Invitations: invitations}, nil
}

func (r *mutationResolver) RemoveGroupMember(ctx context.Context, conversationID string, userID string) (*model.RemoveGroupMemberPayload, error) {
	conv, uid, err := decodeMember(conversationID, userID)
	if err != nil {
		return nil, err
	}
	view, err := r.svc.RemoveGroupMember(ctx, conv, uid)
	if err != nil {
		return nil, err
	}
	return &model.RemoveGroupMemberPayload{Conversation: view, RemovedUserID: userID}, nil
}

func (r *mutationResolver) LeaveGroup(ctx context.Context, conversationID string) (*models.ConversationView, error) {
	conv, err := relay.Decode(relay.KindConversation, conversationID)
	if err != nil {
		return nil, err
	}
	return r.svc.LeaveGroup(ctx, conv)
}

func (r *mutationResolver) RenameGroup(ctx context.Context, conversationID string, title *string) (*models.ConversationView, error) {
	conv, err := relay.Decode(relay.KindConversation, conversationID)
	if err != nil {
		return nil, err
	}
	return r.svc.RenameGroup(ctx, conv, title)
}

func (r *mutationResolver) SetGroupMemberRole(ctx context.Context, conversationID string, userID string, role models.GroupRole) (*models.ConversationView, error) {
	conv, uid, err := decodeMember(conversationID, userID)
	if err != nil {
		return nil, err
	}
	return r.svc.SetGroupMemberRole(ctx, conv, uid, role)
}

func (r *mutationResolver) RespondToGroupInvitation(ctx context.Context, invitationID string, accept bool) (*model.RespondToGroupInvitationPayload, error) {
	id, err := relay.Decode(relay.KindInvitation, invitationID)
	if err != nil {
		return nil, err
	}
	_, view, err := r.svc.RespondToGroupInvitation(ctx, id, accept)
	if err != nil {
		return nil, err
	}
	return &model.RespondToGroupInvitationPayload{RemovedInvitationID: invitationID, Conversation: view}, nil
}

func (r *queryResolver) CanAddToGroup(ctx context.Context, conversationID string, userID string) (*model.GroupAddPermission, error) {
	conv, uid, err := decodeMember(conversationID, userID)
	if err != nil {
		return nil, err
	}
	approval, err := r.svc.CanAddToGroup(ctx, conv, uid)
	var refusal *models.Error
	switch {
	case errors.As(err, &refusal) && refusal.Reason != "":
		return &model.GroupAddPermission{Allowed: false, Reason: reasonOf(refusal)}, nil
	case err != nil:
		return nil, err
	}
	return &model.GroupAddPermission{Allowed: true, RequiresApproval: approval}, nil
}

// visibleMembers are the members the viewer sees: a group's active
// members (none for a former member), both sides of a 1:1 conversation.
func visibleMembers(ctx context.Context, c *models.ConversationView) ([]*models.Member, error) {
	members, err := loadMembers(ctx, c.ID)
	if err != nil || c.Kind != models.KindGroup {
		return members, err
	}
	if c.Member.Status != models.StatusActive {
		return []*models.Member{}, nil
	}
	return slices.DeleteFunc(slices.Clone(members), func(m *models.Member) bool {
		return m.Status != models.StatusActive
	}), nil
}

func (r *conversationResolver) Members(ctx context.Context, c *models.ConversationView, first *int, after *string) (*models.GroupMemberConnection, error) {
	args, err := relay.Forward(first, after)
	if err != nil {
		return nil, err
	}
	members, err := visibleMembers(ctx, c)
	if err != nil {
		return nil, err
	}
	total := len(members)
	if args.After != 0 {
		// After a member who is gone, the page starts again from the top.
		i := slices.IndexFunc(members, func(m *models.Member) bool { return m.UserID == args.After })
		members = members[i+1:]
	}
	conn := relay.Connection(args, slices.Clone(members), func(m *models.Member) int64 { return m.UserID })
	conn.Count = func(context.Context) (int, error) { return total, nil }
	return conn, nil
}

func (r *conversationResolver) ViewerRole(_ context.Context, c *models.ConversationView) (*models.GroupRole, error) {
	if c.Kind != models.KindGroup || c.Member.Status != models.StatusActive {
		return nil, nil
	}
	return roleOf(c.Member), nil
}

// roleOf is a member's role, or nil outside a group.
func roleOf(m *models.Member) *models.GroupRole {
	if m.Role == "" {
		return nil
	}
	role := m.Role
	return &role
}

func (r *conversationResolver) PendingInvitations(ctx context.Context, c *models.ConversationView) ([]*models.GroupInvitation, error) {
	if c.Kind != models.KindGroup || c.CreatorID != c.Member.UserID || c.Member.Status != models.StatusActive {
		return []*models.GroupInvitation{}, nil
	}
	invs, err := loadersFrom(ctx).invitations.Load(ctx, c.ID)
	if errors.Is(err, dataloadgen.ErrNotFound) || (err == nil && invs == nil) {
		return []*models.GroupInvitation{}, nil
	}
	return invs, err
}

func (r *conversationResolver) LastMessageAt(ctx context.Context, c *models.ConversationView) (*time.Time, error) {
	if at := c.LastMessageAt(); at != nil || c.VisibleLastMessageID() == 0 {
		return at, nil
	}
	m, err := optional(loadMessage(ctx, c.VisibleLastMessageID()))
	if m == nil || err != nil {
		return nil, err
	}
	return &m.CreatedAt, nil
}

type groupMemberEdgeResolver struct{ *Resolver }

func (r *groupMemberEdgeResolver) Node(ctx context.Context, e *models.GroupMemberEdge) (*models.User, error) {
	if e.Node.User != nil {
		return e.Node.User, nil
	}
	return loadUser(ctx, e.Node.UserID)
}

func (r *groupMemberEdgeResolver) Role(_ context.Context, e *models.GroupMemberEdge) (*models.GroupRole, error) {
	return roleOf(e.Node), nil
}

func (r *groupMemberEdgeResolver) JoinedAt(_ context.Context, e *models.GroupMemberEdge) (*time.Time, error) {
	return &e.Node.CreatedAt, nil
}

type groupInvitationResolver struct{ *Resolver }

func (r *groupInvitationResolver) ID(_ context.Context, i *models.GroupInvitation) (string, error) {
	return relay.ID(relay.KindInvitation, i.ID), nil
}

func (r *groupInvitationResolver) Conversation(ctx context.Context, i *models.GroupInvitation) (*models.ConversationView, error) {
	return loadView(ctx, i.ConversationID)
}

func (r *groupInvitationResolver) Invitee(ctx context.Context, i *models.GroupInvitation) (*models.User, error) {
	return loadUser(ctx, i.InviteeID)
}

func (r *groupInvitationResolver) Inviter(ctx context.Context, i *models.GroupInvitation) (*models.User, error) {
	return loadUser(ctx, i.InviterID)
}

type systemEventResolver struct{ *Resolver }

func (r *systemEventResolver) Member(ctx context.Context, e *models.SystemEvent) (*models.User, error) {
	if e.MemberID == 0 {
		return nil, nil
	}
	return optional(loadUser(ctx, e.MemberID))
}

func (r *messageResolver) Text(_ context.Context, m *models.Message) (*string, error) {
	if m.System != nil {
		return nil, nil
	}
	return m.Text, nil
}

// ReadByCount counts the other members whose read position reached the
// message, through the conversation's members loader: no statement per
// message. Positions a block hides (either way, with the viewer) are not
// counted, nor members who can't see the message: one added after it,
// whose read position starts past it, or one who left before it.
func (r *messageResolver) ReadByCount(ctx context.Context, m *models.Message) (int, error) {
	members, err := loadMembers(ctx, m.ConversationID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, mem := range members {
		if mem.UserID == m.SenderID || mem.LastReadMessageID < m.ID || !mem.Sees(m.ID) {
			continue
		}
		hidden, err := blockedWithViewer(ctx, mem.UserID)
		if err != nil {
			return 0, err
		}
		if !hidden {
			n++
		}
	}
	return n, nil
}

// blockedWithViewer reports a block between the viewer and userID, either way.
func blockedWithViewer(ctx context.Context, userID int64) (bool, error) {
	rel, err := loadRelation(ctx, userID)
	return rel.BlockedByViewer || rel.BlocksViewer, err
}

func (r *changeResolver) Invitation(ctx context.Context, c *models.Change) (*models.GroupInvitation, error) {
	if c.InvitationID == 0 {
		return nil, nil
	}
	return optional(r.svc.GroupInvitation(ctx, c.InvitationID))
}

func (r *changeResolver) InvitationID(_ context.Context, c *models.Change) (*string, error) {
	return optionalID(relay.KindInvitation, c.InvitationID), nil
}
