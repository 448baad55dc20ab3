package dm

import (
	"context"
	"slices"

	"dmgraph/models"
)

// Groups are the group conversations' writes and reads.
type Groups interface {
	CreateGroup(ctx context.Context, p models.GroupParams) (*models.ConversationView, error)
	AddMembers(ctx context.Context, p models.GroupParams) (*models.AddResult, error)
	RemoveMember(ctx context.Context, p models.GroupParams) (*models.ConversationView, error)
	Leave(ctx context.Context, p models.GroupParams) (*models.ConversationView, error)
	Rename(ctx context.Context, p models.GroupParams) (*models.ConversationView, error)
	SetRole(ctx context.Context, p models.GroupParams, role models.GroupRole) (*models.ConversationView, error)
	RespondToInvitation(ctx context.Context, viewerID, invitationID int64, accept bool, max int) (*models.GroupInvitation, *models.ConversationView, error)
	Invitations(ctx context.Context, viewerID int64, convIDs []int64) (map[int64][]*models.GroupInvitation, error)
	Invitation(ctx context.Context, viewerID, id int64) (*models.GroupInvitation, error)
	CanAdd(ctx context.Context, viewerID, convID, userID int64, max int) (bool, error)
	SendGroup(ctx context.Context, p models.GroupSendParams) (*models.SendResult, error)
}

// groupMax is the configured size limit of a group.
func (s *Service) groupMax() int {
	if s.groupMaxMembers > 0 {
		return s.groupMaxMembers
	}
	return models.DefaultGroupMaxMembers
}

// groupMembers validates a list of user IDs to add: distinct, at most a
// group's size.
func (s *Service) groupMembers(field string, ids []int64, min int) ([]int64, error) {
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) < min || len(out) > s.groupMax() {
		return nil, models.InvalidField(field, "give %d to %d distinct people", min, s.groupMax())
	}
	return out, nil
}

// CreateGroup creates a group of the viewer's, with friends of theirs.
func (s *Service) CreateGroup(ctx context.Context, title *string, memberIDs []int64) (*models.ConversationView, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	if title, err = models.CleanGroupTitle(title); err != nil {
		return nil, err
	}
	ids, err := s.groupMembers("memberIds", memberIDs, 1)
	if err != nil {
		return nil, err
	}
	lim := s.limitsOrZero()
	if err := s.take(ctx, userKey("groups", viewer), lim.GroupsCreated, 1, models.ReasonGroupLimit,
		"you have created too many groups today"); err != nil {
		return nil, err
	}
	var view *models.ConversationView
	err = s.recordedGroup(ctx, func(ctx context.Context) (err error) {
		view, err = s.store.CreateGroup(ctx, models.GroupParams{ViewerID: viewer, Title: title, UserIDs: ids, Max: s.groupMax()})
		return err
	})
	if err != nil {
		s.refund(ctx, userKey("groups", viewer), lim.GroupsCreated, 1)
		return nil, err
	}
	return view, nil
}

// AddGroupMembers adds friends of the viewer's to a group, or invites them
// where the creator's approval is needed.
func (s *Service) AddGroupMembers(ctx context.Context, convID int64, userIDs []int64) (*models.AddResult, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	ids, err := s.groupMembers("userIds", userIDs, 1)
	if err != nil {
		return nil, err
	}
	lim := s.limitsOrZero()
	if err := s.take(ctx, userKey("group-adds", viewer), lim.GroupAdditions, len(ids), models.ReasonGroupLimit,
		"you have added too many people to groups today"); err != nil {
		return nil, err
	}
	var res *models.AddResult
	err = s.recordedGroup(ctx, func(ctx context.Context) (err error) {
		res, err = s.store.AddMembers(ctx, models.GroupParams{ViewerID: viewer, ConversationID: convID, UserIDs: ids, Max: s.groupMax()})
		return err
	})
	if err != nil {
		// A refused addition costs nothing, as a refused creation.
		s.refund(ctx, userKey("group-adds", viewer), lim.GroupAdditions, len(ids))
		return nil, err
	}
	return res, nil
}

// RemoveGroupMember removes a member, as the owner or an admin.
func (s *Service) RemoveGroupMember(ctx context.Context, convID, userID int64) (*models.ConversationView, error) {
	return s.groupWrite(ctx, convID, []int64{userID}, nil, s.store.RemoveMember)
}

// LeaveGroup takes the viewer out of a group.
func (s *Service) LeaveGroup(ctx context.Context, convID int64) (*models.ConversationView, error) {
	return s.groupWrite(ctx, convID, nil, nil, s.store.Leave)
}

// RenameGroup sets or clears a group's title, as the owner or an admin.
func (s *Service) RenameGroup(ctx context.Context, convID int64, title *string) (*models.ConversationView, error) {
	title, err := models.CleanGroupTitle(title)
	if err != nil {
		return nil, err
	}
	return s.groupWrite(ctx, convID, nil, title, s.store.Rename)
}

// SetGroupMemberRole makes a member an admin or a plain member, as the owner.
func (s *Service) SetGroupMemberRole(ctx context.Context, convID, userID int64, role models.GroupRole) (*models.ConversationView, error) {
	return s.groupWrite(ctx, convID, []int64{userID}, nil, func(ctx context.Context, p models.GroupParams) (*models.ConversationView, error) {
		return s.store.SetRole(ctx, p, role)
	})
}

func (s *Service) groupWrite(ctx context.Context, convID int64, users []int64, title *string,
	write func(context.Context, models.GroupParams) (*models.ConversationView, error)) (*models.ConversationView, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	var view *models.ConversationView
	err = s.recordedGroup(ctx, func(ctx context.Context) (err error) {
		view, err = write(ctx, models.GroupParams{ViewerID: viewer, ConversationID: convID, UserIDs: users,
			Title: title, Max: s.groupMax()})
		return err
	})
	return view, err
}

// RespondToGroupInvitation approves or declines an addition, as the creator.
func (s *Service) RespondToGroupInvitation(ctx context.Context, id int64, accept bool) (*models.GroupInvitation, *models.ConversationView, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, nil, err
	}
	var inv *models.GroupInvitation
	var view *models.ConversationView
	err = s.recordedGroup(ctx, func(ctx context.Context) (err error) {
		inv, view, err = s.store.RespondToInvitation(ctx, viewer, id, accept, s.groupMax())
		return err
	})
	return inv, view, err
}

// CanAddToGroup answers addGroupMembers for one user, without adding:
// whether the addition would wait for approval, or the refusal.
func (s *Service) CanAddToGroup(ctx context.Context, convID, userID int64) (bool, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return false, err
	}
	return s.store.CanAdd(ctx, viewer, convID, userID, s.groupMax())
}

// GroupInvitations returns, per conversation, the additions waiting for
// the viewer's approval, for batching.
func (s *Service) GroupInvitations(ctx context.Context, convIDs []int64) (map[int64][]*models.GroupInvitation, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Invitations(ctx, viewer, convIDs)
}

// GroupInvitation returns a pending invitation the viewer approves or asked for.
func (s *Service) GroupInvitation(ctx context.Context, id int64) (*models.GroupInvitation, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Invitation(ctx, viewer, id)
}

// sendGroup sends a message to a group the viewer is a member of.
func (s *Service) sendGroup(ctx context.Context, p models.SendParams, convID int64) (*models.SendResult, error) {
	return s.store.SendGroup(ctx, models.GroupSendParams{SenderID: p.SenderID, ConversationID: convID,
		Text: p.Text, VideoID: p.VideoID, ClientMessageID: p.ClientMessageID})
}

// recordedGroup is recorded for a group write that also announces the
// system messages it stored as messages, so messageAdded subscribers read
// them: one event per conversation, for the members whose changes carry a
// message. The event carries no message: each reads what it may see.
func (s *Service) recordedGroup(ctx context.Context, write func(context.Context) error) error {
	return s.recorded(ctx, func(ctx context.Context) error {
		err := write(ctx)
		added := map[int64]*models.Event{}
		for _, c := range models.ChangeLogFrom(ctx).Changes {
			if !c.Kind.CarriesMessage() || c.MessageID == 0 {
				continue
			}
			ev := added[c.ConversationID]
			if ev == nil {
				ev = &models.Event{Kind: models.EventMessageAdded, ConversationID: c.ConversationID}
				added[c.ConversationID] = ev
			}
			ev.MessageID = max(ev.MessageID, c.MessageID)
			if !slices.Contains(ev.Audience, c.UserID) {
				ev.Audience = append(ev.Audience, c.UserID)
			}
		}
		for _, ev := range added {
			s.publish(ctx, *ev)
		}
		return err
	})
}
