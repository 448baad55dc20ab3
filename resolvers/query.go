package resolvers

import (
	"context"
	"errors"

	"dmgraph/graph/model"
	"dmgraph/models"
	"dmgraph/relay"
)

type queryResolver struct{ *Resolver }

func (r *queryResolver) Me(ctx context.Context) (*models.User, error) {
	return r.svc.Me(ctx)
}

func (r *queryResolver) User(ctx context.Context, id *string, username *string) (*models.User, error) {
	switch {
	case (id == nil) == (username == nil):
		return nil, models.Invalid("give exactly one of id and username")
	case id != nil:
		uid, err := relay.Decode(relay.KindUser, *id)
		if err != nil {
			return nil, err
		}
		return r.svc.User(ctx, uid)
	default:
		return r.svc.UserByUsername(ctx, *username)
	}
}

func (r *queryResolver) Node(ctx context.Context, gid string) (models.Node, error) {
	if _, err := models.ViewerID(ctx); err != nil {
		return nil, err
	}
	kind, id, ok := relay.Parse(gid)
	if !ok {
		return nil, models.NotFound("node")
	}
	switch kind {
	case relay.KindUser:
		return r.svc.User(ctx, id)
	case relay.KindVideo:
		return r.svc.Video(ctx, id)
	case relay.KindConversation:
		return r.svc.Conversation(ctx, id)
	case relay.KindMessage:
		return r.svc.Message(ctx, id)
	case relay.KindMessageRequest:
		return r.svc.MessageRequest(ctx, id)
	case relay.KindReport:
		return r.svc.Report(ctx, id)
	case relay.KindInvitation:
		return r.svc.GroupInvitation(ctx, id)
	case relay.KindPrivacySettings:
		if !viewerIs(ctx, id) {
			return nil, models.NotFound("node")
		}
		return privacySettings(ctx, r.svc)
	default:
		return nil, models.NotFound("node")
	}
}

func (r *queryResolver) PrivacySettings(ctx context.Context) (*models.PrivacySettings, error) {
	return privacySettings(ctx, r.svc)
}

func (r *queryResolver) Conversations(ctx context.Context, first *int, after *string) (*models.ConversationConnection, error) {
	args, err := relay.InboxArgs(first, after)
	if err != nil {
		return nil, err
	}
	conn, err := r.svc.Conversations(ctx, args)
	if err != nil {
		return nil, err
	}
	prefetchConversations(ctx, nodes(conn), "edges", "node")
	return conn, nil
}

func (r *queryResolver) Conversation(ctx context.Context, id string) (*models.ConversationView, error) {
	cid, err := relay.Decode(relay.KindConversation, id)
	if err != nil {
		return nil, err
	}
	return r.svc.Conversation(ctx, cid)
}

func (r *queryResolver) UnreadConversationCount(ctx context.Context) (int, error) {
	return r.svc.UnreadConversationCount(ctx)
}

func (r *queryResolver) MessageRequests(ctx context.Context, first *int, after *string) (*models.MessageRequestConnection, error) {
	args, err := relay.Forward(first, after)
	if err != nil {
		return nil, err
	}
	conn, err := r.svc.MessageRequests(ctx, args)
	if err != nil {
		return nil, err
	}
	prefetchRequests(ctx, nodes(conn))
	return conn, nil
}

func (r *queryResolver) CanMessage(ctx context.Context, userID string) (*model.MessagePermission, error) {
	uid, err := relay.Decode(relay.KindUser, userID)
	if err != nil {
		return nil, err
	}
	delivery, err := r.svc.CanMessage(ctx, uid)
	var refusal *models.Error
	switch {
	case errors.As(err, &refusal) && refusal.Reason != "":
		return &model.MessagePermission{Allowed: false, Reason: reasonOf(refusal)}, nil
	case err != nil:
		return nil, err
	}
	return &model.MessagePermission{Allowed: true, Delivery: &delivery}, nil
}

func (r *queryResolver) Followers(ctx context.Context, userID string, first *int, after *string) (*models.UserConnection, error) {
	uid, args, err := userListArgs(userID, first, after)
	if err != nil {
		return nil, err
	}
	return r.svc.Followers(ctx, uid, args)
}

func (r *queryResolver) Following(ctx context.Context, userID string, first *int, after *string) (*models.UserConnection, error) {
	uid, args, err := userListArgs(userID, first, after)
	if err != nil {
		return nil, err
	}
	return r.svc.Following(ctx, uid, args)
}

func userListArgs(userID string, first *int, after *string) (int64, relay.Args, error) {
	args, err := relay.Forward(first, after)
	if err != nil {
		return 0, args, err
	}
	uid, err := relay.Decode(relay.KindUser, userID)
	return uid, args, err
}

func (r *queryResolver) BlockedUsers(ctx context.Context, first *int, after *string) (*models.UserConnection, error) {
	args, err := relay.Forward(first, after)
	if err != nil {
		return nil, err
	}
	return r.svc.BlockedUsers(ctx, args)
}

func (r *queryResolver) SuggestedFriends(ctx context.Context, first *int, after *string) (*models.UserConnection, error) {
	args, err := relay.Forward(first, after)
	if err != nil {
		return nil, err
	}
	return r.svc.SuggestedFriends(ctx, args)
}

// reasonOf is a refusal's reason as the schema's enum, or nil for none.
func reasonOf(refusal *models.Error) *model.RefusalReason {
	if refusal == nil || refusal.Reason == "" {
		return nil
	}
	r := model.RefusalReason(refusal.Reason)
	return &r
}
