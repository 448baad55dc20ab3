package resolvers

import (
	"context"

	"dmgraph/models"
	"dmgraph/realtime/socket"
	"dmgraph/relay"
)

type subscriptionResolver struct{ *Resolver }

// MessageAdded streams the viewer's messages, in one conversation or all of
// them, from after (or from the connection's position, or from now), replay
// and live delivery in one sequence (socket.Server.Messages).
func (r *subscriptionResolver) MessageAdded(ctx context.Context, conversationID *string, after *string) (<-chan *models.Message, error) {
	convID, err := decodeOptional(relay.KindConversation, conversationID)
	if err != nil {
		return nil, err
	}
	afterID, err := decodeOptional(relay.KindMessage, after)
	if err != nil {
		return nil, err
	}
	var since *int64
	if afterID == nil {
		if since, err = resumePosition(ctx, nil); err != nil {
			return nil, err
		}
	}
	return r.sockets.Messages(ctx, r.svc, convID, afterID, since)
}

func (r *subscriptionResolver) MessageRequestReceived(ctx context.Context) (<-chan *models.MessageRequest, error) {
	return socket.Stream(ctx, r.sockets, models.EventRequestReceived, func(ctx context.Context, ev models.Event) (*models.MessageRequest, error) {
		return r.svc.MessageRequest(ctx, ev.RequestID)
	})
}

func (r *subscriptionResolver) ConversationUpdated(ctx context.Context) (<-chan *models.ConversationView, error) {
	return socket.Stream(ctx, r.sockets, models.EventConversationUpdated, func(ctx context.Context, ev models.Event) (*models.ConversationView, error) {
		return r.svc.Conversation(ctx, ev.ConversationID)
	})
}
