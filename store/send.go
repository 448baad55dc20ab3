package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"dmgraph/models"
)

// factsSQL reads models.SendFacts in one statement: every question of the
// policy, whether the send repeats a clientMessageId (@cid, NULL for none)
// and the sender's standing against the cap on new requests (@cap of them
// since @since; 0 for no cap). Each subquery is an index lookup. The
// conversation is found by its direct key (@k), so the statement needs no
// earlier one. Its column names are SendFacts' tags.
const factsSQL = `
SELECT EXISTS (SELECT 1 FROM messages dm WHERE dm.sender_id = @s AND dm.client_message_id = @cid) AS duplicate,
	u.dm_policy AS recipient_policy, u.birth_date AS recipient_birth_date, su.birth_date AS sender_birth_date,
	su.dm_policy AS sender_policy,
	EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = @s AND b.blocked_id = @r)
		OR (b.blocker_id = @r AND b.blocked_id = @s)) AS blocked,
	EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = @r AND f.followee_id = @s) AS recipient_follows_sender,
	EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = @s AND f.followee_id = @r) AS sender_follows_recipient,
	-- '' when a block the recipient made ended their invitation.
	COALESCE((SELECT m.status FROM conversation_members m
		WHERE m.conversation_id = c.id AND m.user_id = @r AND NOT m.uninvited), '') AS recipient_status,
	-- The sender's request messages since the recipient last accepted one,
	-- whether the recipient kept, deleted or reported them, or the sender's
	-- own block withdrew them (idx_requests_conversation); the removals of a
	-- block by the recipient don't count.
	CAST(COALESCE((SELECT SUM(rq.message_count) FROM message_requests rq
		WHERE rq.conversation_id = c.id AND rq.recipient_id = @r AND rq.status IN ('OPEN', 'DELETED', 'REPORTED', 'WITHDRAWN')
		AND rq.id > COALESCE((SELECT MAX(aq.id) FROM message_requests aq
			WHERE aq.conversation_id = c.id AND aq.recipient_id = @r AND aq.status = 'ACCEPTED'), 0)), 0) AS INTEGER)
		AS request_messages,
	COALESCE(q.id, 0) AS request_id,
	(EXISTS (SELECT 1 FROM synced_contacts sc WHERE sc.owner_id = @r AND sc.phone_hash = su.phone_hash)
	 OR EXISTS (SELECT 1 FROM facebook_links rl JOIN facebook_links sl ON sl.user_id = @s
		WHERE rl.user_id = @r AND (
			EXISTS (SELECT 1 FROM facebook_friends f WHERE f.user_id = @r AND f.friend_facebook_id = sl.facebook_user_id)
			OR EXISTS (SELECT 1 FROM facebook_friends f WHERE f.user_id = @s AND f.friend_facebook_id = rl.facebook_user_id)))
	) AS suggested,
	-- idx_members_inbox: one probe each.
	COALESCE((SELECT MAX(sm.last_message_id) FROM conversation_members sm WHERE sm.user_id = @s), 0) AS sender_prev,
	COALESCE((SELECT MAX(rm.last_message_id) FROM conversation_members rm WHERE rm.user_id = @r), 0) AS recipient_prev,
	cq.created_at AS cap_oldest_at,
	CAST((SELECT COUNT(*) FROM (SELECT 1 ` + newRequestsSQL + ` LIMIT @cap) w) AS INTEGER) AS cap_used
FROM users u JOIN users su ON su.id = @s
LEFT JOIN conversations c ON c.direct_key = @k
-- At most one open request per conversation and recipient (idx_requests_open).
LEFT JOIN message_requests q ON q.conversation_id = c.id AND q.recipient_id = @r AND q.status = 'OPEN'
-- The cap: the oldest of the sender's newest new requests in the window, as
-- many as the cap counts, if there are that many.
LEFT JOIN message_requests cq ON cq.id = (SELECT nq.id ` + newRequestsSQL + `
	ORDER BY nq.created_at DESC LIMIT 1 OFFSET CASE WHEN @cap > 0 THEN @cap - 1 ELSE 0 END)
WHERE u.id = @r`

// newRequestsSQL is the FROM and WHERE of the sender's new requests in the
// cap's window, as nq, through idx_requests_sender; none without a cap. A
// request is new when it was opened with request_messages at 0: no request
// of the sender's to its recipient that counts (see factsSQL) came after the
// recipient last accepted one. (No parameters in SQL comments: GORM binds
// them.)
const newRequestsSQL = `FROM message_requests nq
	WHERE @cap > 0 AND nq.sender_id = @s AND nq.created_at > @since
	AND NOT EXISTS (SELECT 1 FROM message_requests e
		WHERE e.conversation_id = nq.conversation_id AND e.recipient_id = nq.recipient_id AND e.id < nq.id
		AND e.status IN ('DELETED', 'REPORTED', 'WITHDRAWN')
		AND NOT EXISTS (SELECT 1 FROM message_requests a
			WHERE a.conversation_id = nq.conversation_id AND a.recipient_id = nq.recipient_id
			AND a.status = 'ACCEPTED' AND a.id > e.id AND a.id < nq.id))`

// factsArgs are factsSQL's parameters for p at time t.
func factsArgs(p models.SendParams, t time.Time) map[string]any {
	return map[string]any{"s": p.SenderID, "r": p.RecipientID, "k": directKey(p.SenderID, p.RecipientID),
		"cid": p.ClientMessageID, "cap": p.RequestCap.Count, "since": t.Add(-p.RequestCap.Period)}
}

func loadFacts(tx *gorm.DB, p models.SendParams, t time.Time) (models.SendFacts, error) {
	var fs []models.SendFacts
	err := tx.Raw(factsSQL, factsArgs(p, t)).Scan(&fs).Error
	if err != nil {
		return models.SendFacts{}, err
	}
	if len(fs) == 0 {
		return models.SendFacts{}, models.NotFound("user")
	}
	return fs[0], nil
}

// migrateRequestsBySender adds idx_requests_sender, through which factsSQL
// counts the sender's new requests against the cap.
var migrateRequestsBySender = &gormigrate.Migration{
	ID: "202612020007_requests_by_sender",
	Migrate: func(tx *gorm.DB) error {
		return tx.AutoMigrate(&models.MessageRequest{})
	},
}

// upsertConversationSQL creates the 1:1 conversation or, when it exists,
// takes its row lock by updating it.
const upsertConversationSQL = `INSERT INTO conversations (direct_key, last_message_id, created_at, updated_at)
VALUES (@k, 0, @t, @t)
ON CONFLICT (direct_key) DO UPDATE SET updated_at = excluded.updated_at
RETURNING *`

// SendFacts reads the facts of a would-be message, without sending: what
// models.PlanSend decides it from.
func (s *Store) SendFacts(ctx context.Context, p models.SendParams) (models.SendFacts, error) {
	p.ClientMessageID = nil
	f, err := loadFacts(s.db.WithContext(ctx), p, s.now())
	return f, translate(err, "user")
}

// recipientParams are factsSQL's parameters that vary with the recipient.
var recipientParams = regexp.MustCompile(`@(r|k)\b`)

// SendFactsMany reads the facts of a would-be message from senderID to each
// of recipients, in one statement: factsSQL once per recipient, joined by
// UNION ALL, each with its own recipient parameters. Recipients that don't
// exist are absent.
func (s *Store) SendFactsMany(ctx context.Context, senderID int64, recipients []int64, cap models.RequestCap) (map[int64]models.SendFacts, error) {
	out := make(map[int64]models.SendFacts, len(recipients))
	if len(recipients) == 0 {
		return out, nil
	}
	t := s.now()
	args := factsArgs(models.SendParams{SenderID: senderID, RequestCap: cap}, t)
	delete(args, "r")
	delete(args, "k")
	parts := make([]string, len(recipients))
	for i, r := range recipients {
		part := recipientParams.ReplaceAllString(factsSQL, fmt.Sprintf("@${1}%d", i))
		parts[i] = strings.Replace(part, "SELECT ", "SELECT u.id AS recipient_id, ", 1)
		args[fmt.Sprintf("r%d", i)], args[fmt.Sprintf("k%d", i)] = r, directKey(senderID, r)
	}
	var rows []struct {
		RecipientID int64
		models.SendFacts
	}
	if err := s.db.WithContext(ctx).Raw(strings.Join(parts, " UNION ALL "), args).Scan(&rows).Error; err != nil {
		return nil, translate(err, "users")
	}
	for _, r := range rows {
		out[r.RecipientID] = r.SendFacts
	}
	return out, nil
}

// Send stores a message in the 1:1 conversation of sender and recipient,
// creating it if needed, in one transaction, as models.PlanSend decides
// from the facts read under the transaction's locks: the conversation row
// is locked first, so concurrent sends to one conversation queue and the
// request limit holds; then both users, so the cap on a sender's new
// requests holds. A repeated ClientMessageID fails with ErrDuplicate.
func (s *Store) Send(ctx context.Context, p models.SendParams) (*models.SendResult, error) {
	if s.db.Name() == "postgres" {
		return s.sendPostgres(ctx, p)
	}
	return s.sendAlone(ctx, p)
}

// sendAlone is Send in a transaction of its own, through GORM.
func (s *Store) sendAlone(ctx context.Context, p models.SendParams) (*models.SendResult, error) {
	var res *models.SendResult
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t := s.now()
		var conv models.Conversation
		err := tx.Raw(upsertConversationSQL, map[string]any{"k": directKey(p.SenderID, p.RecipientID), "t": t}).
			Scan(&conv).Error
		if err != nil {
			return err
		}
		if err := lockUsers(tx, p.SenderID, p.RecipientID); err != nil {
			return err
		}
		f, err := loadFacts(tx, p, t)
		if err != nil {
			return err
		}
		// The duplicate is read under the sender's lock: a concurrent retry
		// that won is seen here, before the rules could refuse this one.
		plan, err := models.PlanSend(f, p, t)
		if err != nil {
			return err
		}
		msg := &models.Message{ConversationID: conv.ID, SenderID: p.SenderID, Text: p.Text,
			VideoID: p.VideoID, ClientMessageID: p.ClientMessageID, Delivery: plan.Delivery, CreatedAt: t}
		if err := tx.Create(msg).Error; err != nil {
			return err
		}
		res = &models.SendResult{Message: msg, Delivery: plan.Delivery, RecipientID: p.RecipientID,
			Prev: &models.SendPrev{Sender: f.SenderPrev, Recipient: f.RecipientPrev, Conversation: conv.LastMessageID}}
		sender, accepted, err := recordSend(tx, &conv, res, p, plan)
		if err != nil {
			return err
		}
		res.Conversation = &models.ConversationView{Conversation: conv, Member: sender}
		return record(tx, sendChanges(res, accepted)...)
	})
	if err != nil {
		return nil, translate(err, "message")
	}
	return res, nil
}

// Lock order. Every transaction that changes a conversation, a request, a
// follow or a block takes its row locks in one order, so none can deadlock
// another: the conversation row first (lockConversation, or the upsert in
// Send), then the users' rows in ID order (lockUsers), then whatever it
// writes. State is read only once those locks are held. (PostgreSQL; SQLite
// runs one writer at a time anyway and ignores FOR UPDATE.)
//
// lockUsers also makes message IDs a resume point: every message a user can
// see is inserted under that user's lock, so each user's message IDs are
// given out in commit order, and a subscriber that has every message up to
// ID n never later sees a smaller ID commit.
func lockUsers(tx *gorm.DB, ids ...int64) error {
	var locked []int64
	return tx.Model(&models.User{}).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("id IN ?", ids).Order("id").Pluck("id", &locked).Error
}

// lockConversation takes a conversation's row lock.
func lockConversation(tx *gorm.DB, convID int64) error {
	var locked []int64
	return tx.Model(&models.Conversation{}).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("id = ?", convID).Pluck("id", &locked).Error
}

// lockPair locks the 1:1 conversation of a and b, if any, then both users.
func lockPair(tx *gorm.DB, a, b int64) error {
	var locked []int64
	if err := tx.Model(&models.Conversation{}).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("direct_key = ?", directKey(a, b)).Pluck("id", &locked).Error; err != nil {
		return err
	}
	return lockUsers(tx, a, b)
}

// sendChanges are the changes a stored message makes: a new message for
// the sender, and for the recipient too in the inbox, else a new or longer
// request; then, for a request the message accepted, its removal from its
// recipient's requests and the acceptance for its sender. The PostgreSQL
// batch writes the same in SQL (sendWritesSQL).
func sendChanges(res *models.SendResult, accepted []models.MessageRequest) []models.Change {
	msg := res.Message
	change := func(user int64, kind models.ChangeKind, request int64) models.Change {
		return models.Change{UserID: user, Kind: kind, ConversationID: msg.ConversationID, MessageID: msg.ID, RequestID: request}
	}
	out := []models.Change{change(msg.SenderID, models.ChangeMessageAdded, 0)}
	switch {
	case res.Delivery == models.DeliveryInbox:
		out = append(out, change(res.RecipientID, models.ChangeMessageAdded, 0))
	case res.OpenedRequest:
		out = append(out, change(res.RecipientID, models.ChangeRequestReceived, res.RequestID))
	default:
		out = append(out, change(res.RecipientID, models.ChangeRequestExtended, res.RequestID))
	}
	for _, q := range accepted {
		out = append(out, change(q.RecipientID, models.ChangeRequestAccepted, q.ID),
			change(q.SenderID, models.ChangeConversationAccepted, q.ID))
	}
	return out
}

// recordSend writes plan's members, request and conversation after the
// message was inserted, and returns the sender's member row and the
// requests the message accepted.
func recordSend(tx *gorm.DB, conv *models.Conversation, res *models.SendResult, p models.SendParams, plan models.SendPlan) (*models.Member, []models.MessageRequest, error) {
	msg := res.Message
	t := msg.CreatedAt
	// Both members in one upsert. The sender has read up to their own
	// message; the recipient's read position stays where it was.
	members := []*models.Member{
		{ConversationID: conv.ID, UserID: p.SenderID, Status: plan.SenderStatus,
			LastMessageID: msg.ID, LastReadMessageID: msg.ID, ReadAt: &t, CreatedAt: t},
		{ConversationID: conv.ID, UserID: p.RecipientID, Status: plan.RecipientStatus,
			LastMessageID: msg.ID, CreatedAt: t},
	}
	senderOnly := func(col string) clause.Assignment {
		return clause.Assignment{Column: clause.Column{Name: col}, Value: gorm.Expr(
			"CASE WHEN excluded.user_id = ? THEN excluded."+col+" ELSE conversation_members."+col+" END", p.SenderID)}
	}
	err := tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "conversation_id"}, {Name: "user_id"}},
		DoUpdates: clause.Set{
			{Column: clause.Column{Name: "status"}, Value: gorm.Expr("excluded.status")},
			{Column: clause.Column{Name: "last_message_id"}, Value: gorm.Expr("excluded.last_message_id")},
			// Writing invites again, and so does receiving in the inbox.
			{Column: clause.Column{Name: "uninvited"}, Value: false},
			senderOnly("last_read_message_id"),
			senderOnly("read_at"),
		},
	}, clause.Returning{}).Create(&members).Error
	if err != nil {
		return nil, nil, err
	}
	sender := members[0]
	if sender.UserID != p.SenderID {
		sender = members[1]
	}
	accepted, err := recordRequest(tx, conv.ID, res, p, plan)
	if err != nil {
		return nil, nil, err
	}
	conv.LastMessageID, conv.LastMessageAt = msg.ID, &t
	err = tx.Model(&models.Conversation{}).Where("id = ?", conv.ID).
		Updates(map[string]any{"last_message_id": msg.ID, "last_message_at": t}).Error
	return sender, accepted, err
}

// recordRequest does plan's request op: accept whatever request was open
// (and return it), extend the open one or open one.
func recordRequest(tx *gorm.DB, convID int64, res *models.SendResult, p models.SendParams, plan models.SendPlan) ([]models.MessageRequest, error) {
	msg := res.Message
	switch plan.Request {
	case models.RequestAccept:
		var open []models.MessageRequest
		err := tx.Where("conversation_id = ? AND status = ?", convID, models.RequestOpen).Find(&open).Error
		if err != nil || len(open) == 0 {
			return nil, err
		}
		res.Accepted = true
		return open, tx.Model(&models.MessageRequest{}).Where("id IN ?", requestIDs(open)).
			Updates(map[string]any{"status": models.RequestAccepted, "resolved_at": msg.CreatedAt}).Error
	case models.RequestExtend:
		res.RequestID = plan.RequestID
		return nil, tx.Model(&models.MessageRequest{}).Where("id = ?", plan.RequestID).
			Updates(map[string]any{"message_count": gorm.Expr("message_count + 1"), "last_message_id": msg.ID}).Error
	default: // models.RequestOpenOne
		r := &models.MessageRequest{ConversationID: convID, RecipientID: p.RecipientID,
			SenderID: p.SenderID, Status: models.RequestOpen, MessageCount: 1,
			LastMessageID: msg.ID, CreatedAt: msg.CreatedAt}
		err := tx.Create(r).Error
		res.RequestID, res.OpenedRequest = r.ID, true
		return nil, err
	}
}

func requestIDs(rs []models.MessageRequest) []int64 {
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}
