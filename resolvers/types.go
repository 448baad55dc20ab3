package resolvers

import (
	"context"

	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/relay"
)

type userResolver struct{ *Resolver }

func (r *userResolver) ID(_ context.Context, u *models.User) (string, error) {
	return relay.ID(relay.KindUser, u.ID), nil
}

func (r *userResolver) ViewerFollows(ctx context.Context, u *models.User) (bool, error) {
	rel, err := loadRelation(ctx, u.ID)
	return rel.ViewerFollows, err
}

func (r *userResolver) FollowsViewer(ctx context.Context, u *models.User) (bool, error) {
	rel, err := loadRelation(ctx, u.ID)
	return rel.FollowsViewer, err
}

func (r *userResolver) IsFriend(ctx context.Context, u *models.User) (bool, error) {
	rel, err := loadRelation(ctx, u.ID)
	return rel.Friends(), err
}

func (r *userResolver) IsBlockedByViewer(ctx context.Context, u *models.User) (bool, error) {
	rel, err := loadRelation(ctx, u.ID)
	return rel.BlockedByViewer, err
}

func (r *userResolver) IsSuggestedFriend(ctx context.Context, u *models.User) (bool, error) {
	reasons, err := loadSuggestions(ctx, u.ID)
	return len(reasons) > 0, err
}

func (r *userResolver) SuggestionReasons(ctx context.Context, u *models.User) ([]models.SuggestionReason, error) {
	return loadSuggestions(ctx, u.ID)
}

type videoResolver struct{ *Resolver }

func (r *videoResolver) ID(_ context.Context, v *models.Video) (string, error) {
	return relay.ID(relay.KindVideo, v.ID), nil
}

func (r *videoResolver) Owner(ctx context.Context, v *models.Video) (*models.User, error) {
	return loadUser(ctx, v.OwnerID)
}

type reportResolver struct{ *Resolver }

func (r *reportResolver) ID(_ context.Context, rep *models.Report) (string, error) {
	return relay.ID(relay.KindReport, rep.ID), nil
}

type readReceiptResolver struct{ *Resolver }

func (r *readReceiptResolver) User(ctx context.Context, m *models.Member) (*models.User, error) {
	if m.User != nil {
		return m.User, nil
	}
	return loadUser(ctx, m.UserID)
}

func (r *readReceiptResolver) LastReadMessage(ctx context.Context, m *models.Member) (*models.Message, error) {
	if m.LastReadMessageID == 0 {
		return nil, nil
	}
	return optional(loadMessage(ctx, m.LastReadMessageID))
}

type messageRequestResolver struct{ *Resolver }

func (r *messageRequestResolver) ID(_ context.Context, q *models.MessageRequest) (string, error) {
	return relay.ID(relay.KindMessageRequest, q.ID), nil
}

func (r *messageRequestResolver) Sender(ctx context.Context, q *models.MessageRequest) (*models.User, error) {
	return loadUser(ctx, q.SenderID)
}

func (r *messageRequestResolver) Conversation(ctx context.Context, q *models.MessageRequest) (*models.ConversationView, error) {
	return loadView(ctx, q.ConversationID)
}

func (r *messageRequestResolver) LastMessage(ctx context.Context, q *models.MessageRequest) (*models.Message, error) {
	return optional(loadMessage(ctx, q.LastMessageID))
}

// PrivacySettings is the viewer's own settings, and nobody else's.
func (r *userResolver) PrivacySettings(ctx context.Context, u *models.User) (*models.PrivacySettings, error) {
	if !viewerIs(ctx, u.ID) {
		return nil, nil
	}
	return privacySettings(ctx, r.svc)
}

// privacySettings reads the viewer's settings.
func privacySettings(ctx context.Context, svc *dm.Service) (*models.PrivacySettings, error) {
	p, err := svc.PrivacySettings(ctx)
	if err != nil {
		return nil, err
	}
	viewer, err := models.ViewerID(ctx)
	return &models.PrivacySettings{UserID: viewer, DirectMessagePolicy: p}, err
}

type privacySettingsResolver struct{ *Resolver }

func (r *privacySettingsResolver) ID(_ context.Context, p *models.PrivacySettings) (string, error) {
	return relay.ID(relay.KindPrivacySettings, p.UserID), nil
}

type sendMessagePayloadResolver struct{ *Resolver }

func (r *sendMessagePayloadResolver) MessageEdge(_ context.Context, res *models.SendResult) (*models.MessageEdge, error) {
	return relay.MessageEdge(res.Message), nil
}

func (r *sendMessagePayloadResolver) ConversationEdge(_ context.Context, res *models.SendResult) (*models.ConversationEdge, error) {
	return relay.InboxEdge(res.Conversation), nil
}
