package resolvers

import (
	"context"
	"slices"

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

// MessageRequestReceived is the view of the viewer's changes that opened or
// extended a request to them: the request, while still open.
func (r *subscriptionResolver) MessageRequestReceived(ctx context.Context) (<-chan *models.MessageRequest, error) {
	return changesAs(ctx, r, func(ctx context.Context, c *models.Change) (*models.MessageRequest, error) {
		if c.Kind != models.ChangeRequestReceived && c.Kind != models.ChangeRequestExtended {
			return nil, nil
		}
		return r.svc.MessageRequest(ctx, c.RequestID)
	})
}

// conversationUpdates are the kinds of change another party makes to a
// conversation of the viewer's.
var conversationUpdates = []models.ChangeKind{models.ChangeConversationAccepted, models.ChangeConversationRead,
	models.ChangeConversationBlocked, models.ChangeConversationUnblocked}

// ConversationUpdated is the view of the viewer's changes that another party
// made to one of their conversations: accepted, read, blocked or unblocked.
func (r *subscriptionResolver) ConversationUpdated(ctx context.Context) (<-chan *models.ConversationView, error) {
	return changesAs(ctx, r, func(ctx context.Context, c *models.Change) (*models.ConversationView, error) {
		if !slices.Contains(conversationUpdates, c.Kind) || viewerIs(ctx, c.OtherUserID) {
			return nil, nil // the viewer's own read is not an update by another party
		}
		return r.svc.Conversation(ctx, c.ConversationID)
	})
}

// changesAs streams a view of the viewer's changes, from the connection's
// position (connectionParams "since") when it has one, else from now.
func changesAs[T any](ctx context.Context, r *subscriptionResolver, view func(context.Context, *models.Change) (*T, error)) (<-chan *T, error) {
	since, err := resumePosition(ctx, nil)
	if err != nil {
		return nil, err
	}
	return socket.ChangesAs(ctx, r.sockets, r.svc, since, view)
}
