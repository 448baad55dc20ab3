package store

import (
	"context"

	"gorm.io/gorm"

	"dmgraph/models"
	"dmgraph/relay"
)

// Requests pages through viewerID's open message requests, newest first.
func (s *Store) Requests(ctx context.Context, viewerID int64, args relay.Args) (*models.MessageRequestConnection, error) {
	base := func(ctx context.Context) *gorm.DB {
		return s.db.WithContext(ctx).Model(&models.MessageRequest{}).
			Where("recipient_id = ? AND status = ?", viewerID, models.RequestOpen)
	}
	q := base(ctx)
	if args.After != 0 {
		q = q.Where("last_message_id < ?", args.After)
	}
	var reqs []*models.MessageRequest
	if err := q.Order("last_message_id DESC").Limit(args.Limit + 1).Find(&reqs).Error; err != nil {
		return nil, translate(err, "message requests")
	}
	c := relay.Connection(args, reqs, func(r *models.MessageRequest) int64 { return r.LastMessageID })
	c.Count = func(ctx context.Context) (int, error) {
		var n int64
		err := base(ctx).Count(&n).Error
		return int(n), translate(err, "message requests")
	}
	return c, nil
}

// Request returns viewerID's open request id; NOT_FOUND for anyone else's,
// or one already handled.
func (s *Store) Request(ctx context.Context, viewerID, id int64) (*models.MessageRequest, error) {
	return openRequest(s.db.WithContext(ctx), viewerID, id)
}

// OpenRequestsByConversations returns viewerID's open request in each of
// the conversations that has one, in one statement (idx_requests_open).
func (s *Store) OpenRequestsByConversations(ctx context.Context, viewerID int64, convIDs []int64) (map[int64]*models.MessageRequest, error) {
	var reqs []*models.MessageRequest
	err := s.db.WithContext(ctx).Where("recipient_id = ? AND status = ? AND conversation_id IN ?",
		viewerID, models.RequestOpen, convIDs).Find(&reqs).Error
	if err != nil {
		return nil, translate(err, "message requests")
	}
	out := make(map[int64]*models.MessageRequest, len(reqs))
	for _, r := range reqs {
		out[r.ConversationID] = r
	}
	return out, nil
}

func openRequest(tx *gorm.DB, viewerID, id int64) (*models.MessageRequest, error) {
	var r models.MessageRequest
	err := tx.Where("id = ? AND recipient_id = ? AND status = ?", id, viewerID, models.RequestOpen).Take(&r).Error
	return &r, translate(err, "message request")
}

// AcceptRequest moves the request's conversation to both inboxes.
func (s *Store) AcceptRequest(ctx context.Context, viewerID, id int64) (*models.MessageRequest, error) {
	var r *models.MessageRequest
	err := s.withOpenRequest(ctx, viewerID, id, func(tx *gorm.DB, open *models.MessageRequest) error {
		r = open
		if err := closeRequest(tx, r, models.RequestAccepted); err != nil {
			return err
		}
		return record(tx, requestChange(r, r.RecipientID, models.ChangeRequestAccepted),
			requestChange(r, r.SenderID, models.ChangeConversationAccepted))
	})
	return r, err
}

// requestChange is a change about request r for user.
func requestChange(r *models.MessageRequest, user int64, kind models.ChangeKind) models.Change {
	return models.Change{UserID: user, Kind: kind, ConversationID: r.ConversationID, RequestID: r.ID}
}

// DeleteRequest removes the request from the viewer's view; the sender is not told.
func (s *Store) DeleteRequest(ctx context.Context, viewerID, id int64) error {
	return s.withOpenRequest(ctx, viewerID, id, func(tx *gorm.DB, r *models.MessageRequest) error {
		if err := closeRequest(tx, r, models.RequestDeleted); err != nil {
			return err
		}
		return record(tx, requestChange(r, viewerID, models.ChangeRequestDeleted))
	})
}

// withOpenRequest runs fn on viewerID's open request id, in a transaction
// holding the conversation's and both users' locks, so a concurrent send,
// block or second answer can't interleave. The request is read again under
// the locks: one answered meanwhile is NOT_FOUND.
func (s *Store) withOpenRequest(ctx context.Context, viewerID, id int64, fn func(*gorm.DB, *models.MessageRequest) error) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		r, err := openRequest(tx, viewerID, id)
		if err != nil {
			return err
		}
		if err := lockConversation(tx, r.ConversationID); err != nil {
			return err
		}
		if err := lockUsers(tx, r.SenderID, r.RecipientID); err != nil {
			return err
		}
		if r, err = openRequest(tx, viewerID, id); err != nil {
			return err
		}
		return fn(tx, r)
	})
}

// ReportRequest stores a report with a copy of the messages it covers,
// removes the request like a delete and, when asked, blocks the sender.
func (s *Store) ReportRequest(ctx context.Context, p models.ReportParams) (*models.Report, error) {
	var rep *models.Report
	err := s.withOpenRequest(ctx, p.ViewerID, p.RequestID, func(tx *gorm.DB, r *models.MessageRequest) error {
		rep = &models.Report{ReporterID: p.ViewerID, ReportedUserID: r.SenderID, RequestID: r.ID,
			ConversationID: r.ConversationID, Reason: p.Reason, Details: p.Details, CreatedAt: s.now()}
		if err := tx.Create(rep).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO report_messages (report_id, message_id, sender_id, text, video_id, sent_at)
			SELECT ?, msg.id, msg.sender_id, msg.text, msg.video_id, msg.created_at
			FROM messages msg JOIN conversation_members m ON m.conversation_id = msg.conversation_id AND m.user_id = ?
			WHERE msg.conversation_id = ? AND `+visibleSQL,
			rep.ID, p.ViewerID, r.ConversationID).Error; err != nil {
			return err
		}
		if err := closeRequest(tx, r, models.RequestReported); err != nil {
			return err
		}
		if err := record(tx, requestChange(r, p.ViewerID, models.ChangeRequestReported)); err != nil {
			return err
		}
		if p.Block {
			return block(tx, p.ViewerID, r.SenderID)
		}
		return nil
	})
	return rep, translate(err, "message request")
}

// ReportMessages returns the copies kept with a report.
func (s *Store) ReportMessages(ctx context.Context, reportID int64) ([]*models.ReportMessage, error) {
	var ms []*models.ReportMessage
	err := s.db.WithContext(ctx).Where("report_id = ?", reportID).Order("message_id").Find(&ms).Error
	return ms, translate(err, "report messages")
}

// closeRequest ends an open request. Accepting activates both members;
// deleting or reporting hides the conversation and its history from the
// recipient, so a later request starts clean.
func closeRequest(tx *gorm.DB, r *models.MessageRequest, status models.RequestStatus) error {
	if err := tx.Model(&models.MessageRequest{}).Where("id = ?", r.ID).
		Updates(map[string]any{"status": status, "resolved_at": tx.NowFunc()}).Error; err != nil {
		return err
	}
	r.Status = status
	members := tx.Model(&models.Member{}).Where("conversation_id = ?", r.ConversationID)
	if status == models.RequestAccepted {
		return members.Where("user_id IN ? AND status IN ?", []int64{r.RecipientID, r.SenderID},
			[]models.ConversationStatus{models.StatusRequest, models.StatusPending}).
			Updates(map[string]any{"status": models.StatusActive, "uninvited": false}).Error
	}
	return members.Where("user_id = ?", r.RecipientID).Updates(map[string]any{
		"status":             models.StatusDeleted,
		"cleared_through_id": gorm.Expr("(SELECT last_message_id FROM conversations WHERE id = ?)", r.ConversationID),
	}).Error
}

// Report returns a report filed by reporterID.
func (s *Store) Report(ctx context.Context, reporterID, id int64) (*models.Report, error) {
	var r models.Report
	err := s.db.WithContext(ctx).Where("id = ? AND reporter_id = ?", id, reporterID).Take(&r).Error
	return &r, translate(err, "report")
}
