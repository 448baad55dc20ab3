package dm

import (
	"context"
	"errors"

	"dmgraph/models"
	"dmgraph/relay"
)

// SendInput is a message as the client sent it, IDs already decoded.
type SendInput struct {
	RecipientID     *int64
	ConversationID  *int64
	Text            *string
	VideoID         *int64
	ClientMessageID *string
}

// SendMessage sends a message from the viewer.
func (s *Service) SendMessage(ctx context.Context, in SendInput) (*models.SendResult, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	clientID, err := models.CleanClientMessageID(in.ClientMessageID)
	if err != nil {
		return nil, err
	}
	if clientID != nil {
		// A retry returns the original, whatever has changed since.
		if res, err := s.resend(ctx, viewer, *clientID, in); !errors.Is(err, models.ErrNotFound) {
			return res, err
		}
	}
	lim := s.limitsOrZero()
	if err := s.take(ctx, userKey("send", viewer), lim.Send, 1, models.ReasonTooManyAttempts,
		"you are sending messages too fast; slow down"); err != nil {
		return nil, err
	}
	p, group, err := s.sendParams(ctx, viewer, in)
	if err != nil {
		return nil, err
	}
	p.ClientMessageID, p.RequestCap = clientID, s.requestCap()
	var res *models.SendResult
	if group {
		res, err = s.sendGroup(ctx, p, *in.ConversationID)
	} else {
		res, err = s.store.Send(ctx, p)
	}
	if errors.Is(err, models.ErrDuplicate) && p.ClientMessageID != nil {
		// A concurrent retry with the same key won the race.
		return s.resend(ctx, viewer, *p.ClientMessageID, in)
	}
	if err != nil {
		return nil, err
	}
	s.publishSend(ctx, res)
	return res, nil
}

// sendParams validates a send and resolves its recipient; group is true
// for a message to a group (conversationId), which has none.
func (s *Service) sendParams(ctx context.Context, viewer int64, in SendInput) (p models.SendParams, group bool, err error) {
	p = models.SendParams{SenderID: viewer, VideoID: in.VideoID}
	if (in.RecipientID == nil) == (in.ConversationID == nil) {
		return p, false, models.Invalid("give exactly one of recipientId and conversationId")
	}
	if p.Text, err = models.CleanMessageText(in.Text); err != nil {
		return p, false, err
	}
	if p.Text == nil && p.VideoID == nil {
		return p, false, models.Invalid("a message needs text or a video")
	}
	if p.RecipientID, group, err = s.recipient(ctx, viewer, in); err != nil {
		return p, false, err
	}
	if p.VideoID != nil {
		if _, err := s.Video(ctx, *p.VideoID); err != nil {
			return p, false, err
		}
	}
	return p, group, nil
}

func (s *Service) recipient(ctx context.Context, viewer int64, in SendInput) (int64, bool, error) {
	if in.ConversationID != nil {
		view, err := s.store.View(ctx, viewer, *in.ConversationID)
		if err != nil {
			return 0, false, err
		}
		if view.Kind == models.KindGroup {
			return 0, true, nil
		}
		other, err := s.store.OtherMember(ctx, *in.ConversationID, viewer)
		return other, false, err
	}
	// A recipient that doesn't exist is NOT_FOUND from the send itself.
	return *in.RecipientID, false, nil
}

// resend returns the message the viewer already sent with this key, when in
// repeats it: the same conversation or recipient, text and video. A key
// reused for another message is a CONFLICT.
func (s *Service) resend(ctx context.Context, viewer int64, clientID string, in SendInput) (*models.SendResult, error) {
	msg, err := s.store.MessageByClientID(ctx, viewer, clientID)
	if err != nil {
		return nil, err
	}
	if err := s.sameSend(ctx, viewer, msg, in); err != nil {
		return nil, err
	}
	view, err := s.store.View(ctx, viewer, msg.ConversationID)
	if err != nil {
		return nil, err
	}
	return &models.SendResult{Message: msg, Conversation: view, Delivery: msg.Delivery, Replayed: true}, nil
}

// errClientIDReused refuses a clientMessageId already used for another message.
var errClientIDReused = models.Refusal(models.CodeConflict, models.ReasonClientIDReused,
	"this clientMessageId was already used for another message; use a new one")

// sameSend checks that in repeats msg, the viewer's earlier message.
func (s *Service) sameSend(ctx context.Context, viewer int64, msg *models.Message, in SendInput) error {
	text, err := models.CleanMessageText(in.Text)
	if err != nil {
		return err
	}
	if !equalPtr(text, msg.Text) || !equalPtr(in.VideoID, msg.VideoID) {
		return errClientIDReused
	}
	switch {
	case (in.RecipientID == nil) == (in.ConversationID == nil):
		return models.Invalid("give exactly one of recipientId and conversationId")
	case in.ConversationID != nil:
		if *in.ConversationID != msg.ConversationID {
			return errClientIDReused
		}
	default:
		other, err := s.store.OtherMember(ctx, msg.ConversationID, viewer)
		if err != nil {
			return err
		}
		if other != *in.RecipientID {
			return errClientIDReused
		}
	}
	return nil
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// CanMessage answers the send rules for a text message to userID, without
// sending. A refusal comes back as an *models.Error.
func (s *Service) CanMessage(ctx context.Context, userID int64) (models.Delivery, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return "", err
	}
	if _, err := s.store.UserByID(ctx, userID); err != nil {
		return "", err
	}
	p := s.textProbe(viewer, userID)
	f, err := s.store.SendFacts(ctx, p)
	if err != nil {
		return "", err
	}
	plan, err := models.PlanSend(f, p, s.clock.Now())
	return plan.Delivery, err
}

// textProbe is the would-be text message that CanMessage and
// SendPermissions put to the send rules.
func (s *Service) textProbe(viewer, userID int64) models.SendParams {
	text := "?"
	return models.SendParams{SenderID: viewer, RecipientID: userID, Text: &text, RequestCap: s.requestCap()}
}

// SendPermissions answers CanMessage for each of userIDs at once, in one
// statement, for batching. Users that don't exist are absent.
func (s *Service) SendPermissions(ctx context.Context, userIDs []int64) (map[int64]models.SendPermission, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	facts, err := s.store.SendFactsMany(ctx, viewer, userIDs, s.requestCap())
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := make(map[int64]models.SendPermission, len(facts))
	for id, f := range facts {
		plan, err := models.PlanSend(f, s.textProbe(viewer, id), now)
		var refusal *models.Error
		if err != nil && !errors.As(err, &refusal) {
			return nil, err
		}
		out[id] = models.SendPermission{Delivery: plan.Delivery, Refusal: refusal}
	}
	return out, nil
}

// UnreadConversationCount counts the viewer's inbox conversations with
// unread messages.
func (s *Service) UnreadConversationCount(ctx context.Context) (int, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return 0, err
	}
	return s.store.UnreadConversationCount(ctx, viewer)
}

// OpenRequests returns the viewer's open request in each of the
// conversations that has one, for batching.
func (s *Service) OpenRequests(ctx context.Context, convIDs []int64) (map[int64]*models.MessageRequest, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.OpenRequestsByConversations(ctx, viewer, convIDs)
}

// requestCap is the daily cap on the new message requests a sender opens.
// The store counts them in the send's transaction, under the sender's row
// lock, so it is exact, and the send calls no limiter while it holds locks.
func (s *Service) requestCap() models.RequestCap {
	lim := s.limitsOrZero()
	if lim.Limiter == nil {
		return models.RequestCap{}
	}
	return models.RequestCap{Count: lim.NewRequests.Count, Period: lim.NewRequests.Period}
}

// Conversations pages through the viewer's inbox.
func (s *Service) Conversations(ctx context.Context, args relay.Args) (*models.ConversationConnection, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Inbox(ctx, viewer, args)
}

// Conversation returns a conversation the viewer can see.
func (s *Service) Conversation(ctx context.Context, id int64) (*models.ConversationView, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.View(ctx, viewer, id)
}

// ConversationsByIDs loads conversations as the viewer sees them, for
// batching; ones the viewer can't see are absent.
func (s *Service) ConversationsByIDs(ctx context.Context, ids []int64) (map[int64]*models.ConversationView, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Views(ctx, viewer, ids)
}

// MessagePages reads one page of messages of each conversation, as the
// viewer sees them, for batching.
func (s *Service) MessagePages(ctx context.Context, convIDs []int64, args relay.Args) (map[int64]*models.MessageConnection, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.MessagePages(ctx, viewer, convIDs, args)
}

// MessageCounts counts the messages the viewer can see per conversation, for batching.
func (s *Service) MessageCounts(ctx context.Context, convIDs []int64) (map[int64]int, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.MessageCounts(ctx, viewer, convIDs)
}

// Message returns a message the viewer can see.
func (s *Service) Message(ctx context.Context, id int64) (*models.Message, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.MessageForViewer(ctx, viewer, id)
}

// MessagesByIDs loads messages reached through visible conversations, for batching.
func (s *Service) MessagesByIDs(ctx context.Context, ids []int64) (map[int64]*models.Message, error) {
	return s.store.MessagesByIDs(ctx, ids)
}

// Members loads the members of conversations, for batching.
func (s *Service) Members(ctx context.Context, ids []int64) (map[int64][]*models.Member, error) {
	return s.store.MembersByConversations(ctx, ids)
}

// UnreadCounts counts unread messages per conversation for the viewer, for batching.
func (s *Service) UnreadCounts(ctx context.Context, ids []int64) (map[int64]int, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.UnreadCounts(ctx, viewer, ids)
}

// MarkConversationRead moves the viewer's read position to the newest message.
func (s *Service) MarkConversationRead(ctx context.Context, id int64) (*models.ConversationView, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.recorded(ctx, func(ctx context.Context) error { return s.store.MarkRead(ctx, viewer, id) }); err != nil {
		return nil, err
	}
	return s.store.View(ctx, viewer, id)
}

// MessageRequests pages through the viewer's open requests.
func (s *Service) MessageRequests(ctx context.Context, args relay.Args) (*models.MessageRequestConnection, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Requests(ctx, viewer, args)
}

// MessageRequest returns one of the viewer's open requests.
func (s *Service) MessageRequest(ctx context.Context, id int64) (*models.MessageRequest, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Request(ctx, viewer, id)
}

// AcceptMessageRequest moves a request's conversation to both inboxes.
func (s *Service) AcceptMessageRequest(ctx context.Context, id int64) (*models.ConversationView, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	var r *models.MessageRequest
	err = s.recorded(ctx, func(ctx context.Context) (err error) {
		r, err = s.store.AcceptRequest(ctx, viewer, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.store.View(ctx, viewer, r.ConversationID)
}

// DeleteMessageRequest removes a request from the viewer's view.
func (s *Service) DeleteMessageRequest(ctx context.Context, id int64) error {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return err
	}
	return s.recorded(ctx, func(ctx context.Context) error { return s.store.DeleteRequest(ctx, viewer, id) })
}

// ReportInput is a report as the client sent it.
type ReportInput struct {
	RequestID int64
	Reason    models.ReportReason
	Details   *string
	Block     bool
}

// ReportMessageRequest reports a request, removes it and optionally blocks its sender.
func (s *Service) ReportMessageRequest(ctx context.Context, in ReportInput) (*models.Report, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	details, err := models.CleanDetails(in.Details)
	if err != nil {
		return nil, err
	}
	var rep *models.Report
	err = s.recorded(ctx, func(ctx context.Context) (err error) {
		rep, err = s.store.ReportRequest(ctx, models.ReportParams{ViewerID: viewer, RequestID: in.RequestID,
			Reason: in.Reason, Details: details, Block: in.Block})
		return err
	})
	return rep, err
}

// Report returns a report the viewer filed.
func (s *Service) Report(ctx context.Context, id int64) (*models.Report, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Report(ctx, viewer, id)
}
