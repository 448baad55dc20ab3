package resolvers

import (
	"context"

	"dmgraph/dm"
	"dmgraph/graph/model"
	"dmgraph/models"
	"dmgraph/relay"
)

type mutationResolver struct{ *Resolver }

func (r *mutationResolver) Register(ctx context.Context, in model.RegisterInput) (*model.AuthPayload, error) {
	s, err := r.svc.Register(ctx, dm.RegisterParams{Username: in.Username, Password: in.Password,
		DisplayName: in.DisplayName, BirthDate: in.BirthDate})
	if err != nil {
		return nil, err
	}
	return &model.AuthPayload{Token: s.Token, User: s.User}, nil
}

func (r *mutationResolver) Login(ctx context.Context, in model.LoginInput) (*model.AuthPayload, error) {
	s, err := r.svc.Login(ctx, in.Username, in.Password)
	if err != nil {
		return nil, err
	}
	return &model.AuthPayload{Token: s.Token, User: s.User}, nil
}

func (r *mutationResolver) SignOutEverywhere(ctx context.Context) (bool, error) {
	if err := r.svc.SignOutEverywhere(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// userEdge decodes a user ID and applies a follow or block change.
func userEdge(ctx context.Context, userID string, change func(context.Context, int64) (*models.User, error)) (*models.User, error) {
	uid, err := relay.Decode(relay.KindUser, userID)
	if err != nil {
		return nil, err
	}
	return change(ctx, uid)
}

func (r *mutationResolver) Follow(ctx context.Context, userID string) (*models.User, error) {
	return userEdge(ctx, userID, r.svc.Follow)
}

func (r *mutationResolver) Unfollow(ctx context.Context, userID string) (*models.User, error) {
	return userEdge(ctx, userID, r.svc.Unfollow)
}

func (r *mutationResolver) Block(ctx context.Context, userID string) (*models.User, error) {
	return userEdge(ctx, userID, r.svc.Block)
}

func (r *mutationResolver) Unblock(ctx context.Context, userID string) (*models.User, error) {
	return userEdge(ctx, userID, r.svc.Unblock)
}

func (r *mutationResolver) UpdatePrivacySettings(ctx context.Context, in model.UpdatePrivacySettingsInput) (*models.PrivacySettings, error) {
	p, err := r.svc.UpdatePrivacySettings(ctx, in.DirectMessagePolicy)
	if err != nil {
		return nil, err
	}
	viewer, err := models.ViewerID(ctx)
	return &models.PrivacySettings{UserID: viewer, DirectMessagePolicy: p}, err
}

func (r *mutationResolver) PublishVideo(ctx context.Context, in model.PublishVideoInput) (*models.Video, error) {
	vis := models.VisibilityPublic
	if in.Visibility != nil {
		vis = *in.Visibility
	}
	return r.svc.PublishVideo(ctx, in.Caption, in.URL, vis)
}

func (r *mutationResolver) UpdateVideo(ctx context.Context, in model.UpdateVideoInput) (*models.Video, error) {
	id, err := relay.Decode(relay.KindVideo, in.ID)
	if err != nil {
		return nil, err
	}
	return r.svc.UpdateVideo(ctx, id, in.Visibility)
}

func (r *mutationResolver) DeleteVideo(ctx context.Context, gid string) (*model.DeleteVideoPayload, error) {
	id, err := relay.Decode(relay.KindVideo, gid)
	if err != nil {
		return nil, err
	}
	if err := r.svc.DeleteVideo(ctx, id); err != nil {
		return nil, err
	}
	viewer, _ := models.ViewerID(ctx) // the owner: the delete checked it
	owner, err := loadUser(ctx, viewer)
	if err != nil {
		return nil, err
	}
	return &model.DeleteVideoPayload{DeletedVideoID: gid, Owner: owner}, nil
}

func (r *mutationResolver) SendMessage(ctx context.Context, in model.SendMessageInput) (*models.SendResult, error) {
	var (
		send dm.SendInput
		err  error
	)
	if send.RecipientID, err = decodeOptional(relay.KindUser, in.RecipientID); err != nil {
		return nil, err
	}
	if send.ConversationID, err = decodeOptional(relay.KindConversation, in.ConversationID); err != nil {
		return nil, err
	}
	if send.VideoID, err = decodeOptional(relay.KindVideo, in.VideoID); err != nil {
		return nil, err
	}
	send.Text, send.ClientMessageID = in.Text, in.ClientMessageID
	res, err := r.svc.SendMessage(ctx, send)
	if err == nil && !res.Replayed {
		r.metrics.MessageSent(string(res.Delivery))
	}
	return res, err
}

func (r *mutationResolver) AcceptMessageRequest(ctx context.Context, requestID string) (*model.AcceptMessageRequestPayload, error) {
	id, err := relay.Decode(relay.KindMessageRequest, requestID)
	if err != nil {
		return nil, err
	}
	view, err := r.svc.AcceptMessageRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	return &model.AcceptMessageRequestPayload{RemovedRequestID: requestID, Conversation: view,
		ConversationEdge: relay.InboxEdge(view)}, nil
}

func (r *mutationResolver) DeleteMessageRequest(ctx context.Context, requestID string) (*model.DeleteMessageRequestPayload, error) {
	id, err := relay.Decode(relay.KindMessageRequest, requestID)
	if err != nil {
		return nil, err
	}
	// Read first: the conversation is the viewer's to know only while the
	// request is open.
	req, err := r.svc.MessageRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := r.svc.DeleteMessageRequest(ctx, id); err != nil {
		return nil, err
	}
	return &model.DeleteMessageRequestPayload{RemovedRequestID: requestID,
		RemovedConversationID: relay.ID(relay.KindConversation, req.ConversationID)}, nil
}

func (r *mutationResolver) ReportMessageRequest(ctx context.Context, in model.ReportMessageRequestInput) (*model.ReportMessageRequestPayload, error) {
	id, err := relay.Decode(relay.KindMessageRequest, in.RequestID)
	if err != nil {
		return nil, err
	}
	rep, err := r.svc.ReportMessageRequest(ctx, dm.ReportInput{RequestID: id, Reason: in.Reason,
		Details: in.Details, Block: in.Block != nil && *in.Block})
	if err != nil {
		return nil, err
	}
	sender, err := loadUser(ctx, rep.ReportedUserID)
	if err != nil {
		return nil, err
	}
	return &model.ReportMessageRequestPayload{Report: rep, RemovedRequestID: relay.ID(relay.KindMessageRequest, rep.RequestID),
		RemovedConversationID: relay.ID(relay.KindConversation, rep.ConversationID), Sender: sender}, nil
}

func (r *mutationResolver) MarkConversationRead(ctx context.Context, conversationID string) (*models.ConversationView, error) {
	id, err := relay.Decode(relay.KindConversation, conversationID)
	if err != nil {
		return nil, err
	}
	return r.svc.MarkConversationRead(ctx, id)
}

func (r *mutationResolver) SetPhoneNumber(ctx context.Context, in model.SetPhoneNumberInput) (*model.SetPhoneNumberPayload, error) {
	expiresAt, err := r.svc.SetPhoneNumber(ctx, in.PhoneNumber, deref(in.Region))
	if err != nil {
		return nil, err
	}
	return &model.SetPhoneNumberPayload{ExpiresAt: expiresAt}, nil
}

func (r *mutationResolver) VerifyPhoneNumber(ctx context.Context, code string) (*models.User, error) {
	return r.svc.VerifyPhoneNumber(ctx, code)
}

func (r *mutationResolver) SyncContacts(ctx context.Context, in model.SyncContactsInput) (*model.SyncContactsPayload, error) {
	res, err := r.svc.SyncContacts(ctx, in.PhoneNumbers, deref(in.Region))
	if err != nil {
		return nil, err
	}
	return &model.SyncContactsPayload{SyncedCount: res.Synced, MatchedCount: res.Matched, InvalidCount: res.Invalid}, nil
}

func (r *mutationResolver) RemoveSyncedContacts(ctx context.Context) (bool, error) {
	return true, r.svc.RemoveSyncedContacts(ctx)
}

func (r *mutationResolver) LinkFacebookAccount(ctx context.Context, accessToken string) (*model.FacebookLink, error) {
	id, friends, err := r.svc.LinkFacebook(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	return &model.FacebookLink{FacebookUserID: id, FriendCount: friends}, nil
}

func (r *mutationResolver) UnlinkFacebookAccount(ctx context.Context) (bool, error) {
	return true, r.svc.UnlinkFacebook(ctx)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
