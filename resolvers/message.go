package resolvers

import (
	"context"

	"dmgraph/models"
	"dmgraph/relay"
)

type messageResolver struct{ *Resolver }

func (r *messageResolver) ID(_ context.Context, m *models.Message) (string, error) {
	return relay.ID(relay.KindMessage, m.ID), nil
}

func (r *messageResolver) Conversation(ctx context.Context, m *models.Message) (*models.ConversationView, error) {
	return loadView(ctx, m.ConversationID)
}

// Sender comes from the conversation's members when a page loads them
// anyway (one statement for all its senders), else from the users loader.
// A live message's deliveries share one read of it (models.SharedSender):
// its sender is the same for every member.
func (r *messageResolver) Sender(ctx context.Context, m *models.Message) (*models.User, error) {
	return m.SharedSender(func() (*models.User, error) { return memberUser(ctx, m.ConversationID, m.SenderID) })
}

func (r *messageResolver) Video(ctx context.Context, m *models.Message) (*models.Video, error) {
	return visibleVideo(ctx, m)
}

func (r *messageResolver) VideoUnavailable(ctx context.Context, m *models.Message) (bool, error) {
	v, err := visibleVideo(ctx, m)
	return m.VideoID != nil && v == nil, err
}

func (r *messageResolver) ClientMessageID(ctx context.Context, m *models.Message) (*string, error) {
	if !viewerIs(ctx, m.SenderID) {
		return nil, nil
	}
	return m.ClientMessageID, nil
}

// visibleVideo returns the video a message shares, or nil when there is none
// or the viewer can no longer see it (made private, or deleted).
func visibleVideo(ctx context.Context, m *models.Message) (*models.Video, error) {
	if m.VideoID == nil {
		return nil, nil
	}
	v, err := optional(load(ctx, loadersFrom(ctx).videos, *m.VideoID, "video"))
	if v == nil || err != nil {
		return nil, err
	}
	owner, err := loadRelation(ctx, v.OwnerID)
	if err != nil {
		return nil, err
	}
	viewer, _ := models.ViewerID(ctx)
	if !models.CanSeeVideo(viewer, v, owner) {
		return nil, nil
	}
	return v, nil
}
