package resolvers

import (
	"context"

	"dmgraph/graph/model"
	"dmgraph/models"
	"dmgraph/relay"
)

type conversationResolver struct{ *Resolver }

func (r *conversationResolver) ID(_ context.Context, c *models.ConversationView) (string, error) {
	return relay.ID(relay.KindConversation, c.ID), nil
}

func (r *conversationResolver) Participants(ctx context.Context, c *models.ConversationView) ([]*models.User, error) {
	members, err := visibleMembers(ctx, c)
	if err != nil {
		return nil, err
	}
	users := make([]*models.User, len(members))
	for i, m := range members {
		users[i] = m.User
	}
	return users, nil
}

func (r *conversationResolver) LastMessage(ctx context.Context, c *models.ConversationView) (*models.Message, error) {
	if c.VisibleLastMessageID() == 0 {
		return nil, nil
	}
	return optional(loadMessage(ctx, c.VisibleLastMessageID()))
}

func (r *conversationResolver) UnreadCount(ctx context.Context, c *models.ConversationView) (int, error) {
	return load(ctx, loadersFrom(ctx).unread, c.ID, "conversation")
}

func (r *conversationResolver) Messages(ctx context.Context, c *models.ConversationView, first *int, after *string, last *int, before *string) (*models.MessageConnection, error) {
	args, err := relay.Both(first, after, last, before)
	if err != nil {
		return nil, err
	}
	page, err := load(ctx, loadersFrom(ctx).pages, pageKey{c.ID, args}, "conversation")
	if err != nil {
		return nil, err
	}
	conn := *page // the loader's copy is shared by fields with the same arguments
	conn.Count = func(ctx context.Context) (int, error) {
		return load(ctx, loadersFrom(ctx).counts, c.ID, "conversation")
	}
	prefetchMessages(ctx, nodes(&conn))
	return &conn, nil
}

// ReadReceipts are the other members' read positions. A sender whose request
// is pending sees none: reading a request tells its sender nothing.
func (r *conversationResolver) ReadReceipts(ctx context.Context, c *models.ConversationView) ([]*models.Member, error) {
	if c.Status() == models.StatusPending {
		return []*models.Member{}, nil
	}
	members, err := visibleMembers(ctx, c)
	if err != nil {
		return nil, err
	}
	others := make([]*models.Member, 0, len(members))
	for _, m := range members {
		if m.UserID == c.Member.UserID {
			continue
		}
		if c.Kind == models.KindGroup {
			hidden, err := blockedWithViewer(ctx, m.UserID)
			if err != nil {
				return nil, err
			}
			if hidden {
				continue // read receipts never cross a block, either way
			}
		}
		if m.LastReadMessageID <= c.Member.ClearedThroughID {
			// A position inside history the viewer cleared shows nothing.
			hidden := *m
			hidden.LastReadMessageID = 0
			m = &hidden
		}
		others = append(others, m)
	}
	return others, nil
}

func (r *conversationResolver) ViewerCanSend(ctx context.Context, c *models.ConversationView) (bool, error) {
	p, err := sendPermission(ctx, c)
	return err == nil && p.Refusal == nil, err
}

func (r *conversationResolver) ViewerCannotSendReason(ctx context.Context, c *models.ConversationView) (*model.RefusalReason, error) {
	p, err := sendPermission(ctx, c)
	if err != nil {
		return nil, err
	}
	return reasonOf(p.Refusal), nil
}

// sendPermission is what the send rules say of the viewer's next text
// message to the conversation's other member.
func sendPermission(ctx context.Context, c *models.ConversationView) (models.SendPermission, error) {
	if c.Kind == models.KindGroup {
		if c.Member.Status != models.StatusActive {
			return models.SendPermission{Refusal: models.ErrNotGroupMember}, nil
		}
		return models.SendPermission{Delivery: models.DeliveryInbox}, nil
	}
	members, err := loadMembers(ctx, c.ID)
	if err != nil {
		return models.SendPermission{}, err
	}
	for _, m := range members {
		if m.UserID != c.Member.UserID {
			return load(ctx, loadersFrom(ctx).permissions, m.UserID, "user")
		}
	}
	return models.SendPermission{}, models.NotFound("conversation")
}

// MessageRequest is the viewer's open request in the conversation. Only its
// recipient has one: the sender's side is PENDING.
func (r *conversationResolver) MessageRequest(ctx context.Context, c *models.ConversationView) (*models.MessageRequest, error) {
	if c.Status() != models.StatusRequest {
		return nil, nil
	}
	return optional(load(ctx, loadersFrom(ctx).openRequests, c.ID, "message request"))
}
