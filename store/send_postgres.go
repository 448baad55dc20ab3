package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"dmgraph/models"
)

// On PostgreSQL a send costs two round trips instead of ten: the statements
// of Send are pipelined through pgx in two batches, with the Go decision
// between them.
//
//	1. BEGIN; create the conversation if missing and lock it; lock both
//	   users in ID order; read the facts. Each is still its own statement, so the facts
//	   are read with a snapshot taken after the locks were granted.
//	2. One data-modifying statement that inserts the message, upserts both
//	   members, opens, extends or accepts the request and moves the
//	   conversation on; COMMIT.
//
// The lock order, the per-user insert order and the dedupe under the
// sender's lock are Send's, unchanged.

// On PostgreSQL the conversation is created if missing (waiting for a
// concurrent creator), then locked: a lock costs less than the upsert's new
// row version, and the send's own update sets updated_at anyway.
const (
	createConversationSQL = `INSERT INTO conversations (direct_key, last_message_id, created_at, updated_at)
VALUES (@k, 0, @t, @t) ON CONFLICT (direct_key) DO NOTHING`
	lockConversationSQL = `SELECT id, direct_key, last_message_id, last_message_at, created_at, updated_at
FROM conversations WHERE direct_key = @k FOR UPDATE`
)

const lockUsersSQL = `SELECT id FROM users WHERE id IN (@s, @r) ORDER BY id FOR UPDATE`

// sendWriteSQL is the second batch's statement; %s is the request step
// (acceptSQL, extendSQL or openSQL), whose RETURNING id says what it did.
const sendWriteSQL = `WITH msg AS (
	INSERT INTO messages (conversation_id, sender_id, text, video_id, client_message_id, delivery, created_at)
	VALUES (@c, @s, @text, @video, @cid, @delivery, @t) RETURNING id
), mem AS (
	-- Both members; the sender has read up to their own message, the
	-- recipient's read position stays where it was.
	INSERT INTO conversation_members AS cm (conversation_id, user_id, status, last_message_id,
		last_read_message_id, read_at, cleared_through_id, created_at)
	SELECT @c, v.user_id, v.status, msg.id, CASE WHEN v.user_id = @s THEN msg.id ELSE 0 END, v.read_at, 0, @t
	FROM msg, (VALUES (@s::bigint, @sender_status::text, @t::timestamptz),
		(@r::bigint, @recipient_status::text, NULL::timestamptz)) v (user_id, status, read_at)
	ON CONFLICT (conversation_id, user_id) DO UPDATE SET status = excluded.status,
		last_message_id = excluded.last_message_id,
		last_read_message_id = CASE WHEN excluded.user_id = @s THEN excluded.last_read_message_id ELSE cm.last_read_message_id END,
		read_at = CASE WHEN excluded.user_id = @s THEN excluded.read_at ELSE cm.read_at END
	RETURNING cm.user_id, cm.status, cm.last_read_message_id, cm.read_at, cm.cleared_through_id, cm.created_at
), conv AS (
	UPDATE conversations SET last_message_id = (SELECT id FROM msg), last_message_at = @t, updated_at = @t
	WHERE id = @c
), req AS (%s)
SELECT msg.id, mem.status, mem.last_read_message_id, mem.read_at, mem.cleared_through_id, mem.created_at,
	(SELECT count(*) FROM req), COALESCE((SELECT max(id) FROM req), 0)
FROM msg JOIN mem ON mem.user_id = @s`

var (
	createConversationStmt = compileNamed(createConversationSQL)
	lockConversationStmt   = compileNamed(lockConversationSQL)
	lockUsersStmt          = compileNamed(lockUsersSQL)
	factsStmt              = compileNamed(factsSQL)
	// An INBOX delivery accepts whatever request was open.
	acceptStmt = compileNamed(fmt.Sprintf(sendWriteSQL, `UPDATE message_requests SET status = @accepted, resolved_at = @t
		WHERE conversation_id = @c AND status = @open RETURNING id`))
	// A REQUEST delivery extends the open request...
	extendStmt = compileNamed(fmt.Sprintf(sendWriteSQL, `UPDATE message_requests
		SET message_count = message_count + 1, last_message_id = (SELECT id FROM msg)
		WHERE id = @q RETURNING id`))
	// ...or opens one.
	openStmt = compileNamed(fmt.Sprintf(sendWriteSQL, `INSERT INTO message_requests
		(conversation_id, recipient_id, sender_id, status, message_count, last_message_id, created_at)
		SELECT @c, @r, @s, @open, 1, msg.id, @t FROM msg RETURNING id`))
)

// namedStmt is a statement written with @name parameters (as GORM takes
// them), rewritten once to PostgreSQL's $n.
type namedStmt struct {
	sql   string
	names []string
}

var namedParam = regexp.MustCompile(`@[a-z_]+`)

func compileNamed(sql string) namedStmt {
	var st namedStmt
	pos := map[string]int{}
	st.sql = namedParam.ReplaceAllStringFunc(sql, func(m string) string {
		name := m[1:]
		if _, ok := pos[name]; !ok {
			st.names = append(st.names, name)
			pos[name] = len(st.names)
		}
		return "$" + strconv.Itoa(pos[name])
	})
	return st
}

// queue adds the statement to b with its parameters taken from args.
func (st namedStmt) queue(b *pgx.Batch, args map[string]any) *pgx.QueuedQuery {
	vals := make([]any, len(st.names))
	for i, n := range st.names {
		vals[i] = args[n]
	}
	return b.Queue(st.sql, vals...)
}

// sendPostgres is Send on PostgreSQL; see above.
func (s *Store) sendPostgres(ctx context.Context, p models.SendParams, decide models.Decider) (*models.SendResult, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, translate(markUnavailable(err), "message")
	}
	defer conn.Close()
	var res *models.SendResult
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		var err error
		for range 3 {
			if res, err = s.sendOnce(ctx, c, p, decide); !retryable(err) {
				return err
			}
		}
		return err
	})
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, models.NotFound("user")
		}
		return nil, translate(markUnavailable(err), "message")
	}
	return res, nil
}

// sendOnce runs one attempt of the transaction on c. On any failure the
// transaction is rolled back, or the connection closed (which the pool then
// discards) when even that fails.
func (s *Store) sendOnce(ctx context.Context, c *pgx.Conn, p models.SendParams, decide models.Decider) (*models.SendResult, error) {
	t := now()
	var conv models.Conversation
	var f facts
	args := factsArgs(p)
	args["t"] = t
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	createConversationStmt.queue(b, args)
	lockConversationStmt.queue(b, args).QueryRow(func(row pgx.Row) error {
		return row.Scan(&conv.ID, &conv.DirectKey, &conv.LastMessageID, &conv.LastMessageAt, &conv.CreatedAt, &conv.UpdatedAt)
	})
	lockUsersStmt.queue(b, args)
	factsStmt.queue(b, args).QueryRow(func(row pgx.Row) error {
		return row.Scan(&f.Duplicate, &f.RecipientPolicy, &f.RecipientBirthDate, &f.SenderBirthDate, &f.Blocked,
			&f.RecipientFollowsSender, &f.SenderFollowsRecipient, &f.RecipientStatus, &f.RequestMessages,
			&f.RequestID, &f.Suggested)
	})
	if err := s.runBatch(ctx, c, b); err != nil {
		return nil, s.rollback(ctx, c, err)
	}
	if f.Duplicate {
		// Read under the sender's lock: a concurrent retry that won is seen
		// here, before the rules could refuse this one.
		return nil, s.rollback(ctx, c, models.ErrDuplicate)
	}
	delivery, err := decide(f.input(p))
	if err != nil {
		return nil, s.rollback(ctx, c, err)
	}

	res := &models.SendResult{Delivery: delivery, RecipientID: p.RecipientID,
		Message: &models.Message{ConversationID: conv.ID, SenderID: p.SenderID, Text: p.Text,
			VideoID: p.VideoID, ClientMessageID: p.ClientMessageID, Delivery: delivery, CreatedAt: t}}
	senderStatus, recipientStatus := models.StatusActive, models.StatusActive
	write := acceptStmt
	if delivery == models.DeliveryRequest {
		senderStatus, recipientStatus = models.StatusPending, models.StatusRequest
		write = openStmt
		if f.RequestID != 0 {
			write = extendStmt
		}
	}
	wargs := map[string]any{"c": conv.ID, "s": p.SenderID, "r": p.RecipientID, "text": p.Text, "video": p.VideoID,
		"cid": p.ClientMessageID, "delivery": delivery, "t": t, "sender_status": senderStatus,
		"recipient_status": recipientStatus, "q": f.RequestID,
		"open": models.RequestOpen, "accepted": models.RequestAccepted}
	sender := &models.Member{ConversationID: conv.ID, UserID: p.SenderID}
	var reqRows, reqID int64
	b = &pgx.Batch{}
	write.queue(b, wargs).QueryRow(func(row pgx.Row) error {
		return row.Scan(&res.Message.ID, &sender.Status, &sender.LastReadMessageID, &sender.ReadAt,
			&sender.ClearedThroughID, &sender.CreatedAt, &reqRows, &reqID)
	})
	b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return errors.New("send: the transaction was rolled back")
		}
		return nil
	})
	if err := s.runBatch(ctx, c, b); err != nil {
		return nil, s.rollback(ctx, c, err)
	}

	sender.LastMessageID = res.Message.ID
	switch {
	case delivery == models.DeliveryInbox:
		res.Accepted = reqRows > 0
	case f.RequestID != 0:
		res.RequestID = f.RequestID
	default:
		res.RequestID, res.OpenedRequest = reqID, true
	}
	conv.LastMessageID, conv.LastMessageAt, conv.UpdatedAt = res.Message.ID, &t, t
	res.Conversation = &models.ConversationView{Conversation: conv, Member: sender}
	return res, nil
}

// runBatch sends b in one round trip and reports each statement to the
// store's logger, as GORM does for its own (slow statements, test counts).
func (s *Store) runBatch(ctx context.Context, c *pgx.Conn, b *pgx.Batch) error {
	begin := time.Now()
	err := c.SendBatch(ctx, b).Close()
	for _, q := range b.QueuedQueries {
		s.db.Logger.Trace(ctx, begin, func() (string, int64) { return q.SQL, -1 }, err)
	}
	return err
}

// rollback ends the failed transaction on c and returns cause.
func (s *Store) rollback(ctx context.Context, c *pgx.Conn, cause error) error {
	if c.PgConn().TxStatus() == 'I' || c.IsClosed() {
		return cause
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		_ = c.Close(ctx)
	}
	return cause
}
