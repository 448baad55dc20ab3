package store

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"dmgraph/models"
)

// On PostgreSQL a batch of sends (sendqueue.go) costs two round trips,
// whatever its size: the statements are pipelined through pgx in two
// batches, with the decisions (models.PlanSend) between them, and each
// statement takes the whole batch as arrays.
//
//	1. BEGIN; create the missing conversations; lock the conversations, then
//	   the users, each in ID order; read every send's facts. Each is its own
//	   statement, so the facts are read with a snapshot taken after the locks
//	   were granted.
//	2. One data-modifying statement that inserts the messages in the batch's
//	   order, upserts both members of each, opens, extends or accepts the
//	   requests, moves the conversations on and deletes the conversations this
//	   batch created for sends that were refused; COMMIT.
//
// The lock order, the per-user insert order and the dedupe under the
// sender's lock are Send's (send.go), unchanged.

const (
	// Conversations are created in key order, so two batches creating the
	// same ones wait for each other in one order.
	createConversationsSQL = `INSERT INTO conversations (direct_key, last_message_id, created_at, updated_at)
SELECT k, 0, $2, $2 FROM unnest($1::text[]) AS k ORDER BY k
ON CONFLICT (direct_key) DO NOTHING RETURNING id`
	lockConversationsSQL = `SELECT id, direct_key, last_message_id, last_message_at, created_at, updated_at
FROM conversations WHERE direct_key = ANY($1::text[]) ORDER BY id FOR UPDATE`
	lockUsersSQL = `SELECT id FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`
)

// genericPlansSQL makes the batch's prepared statements run on their
// generic plans, made once per connection. Their arrays hide the values from
// the planner anyway, so a custom plan is the same plan; but PostgreSQL
// estimates a generic plan of the facts statement dearer and so replans it
// on every execution, which cost more than executing it (1.5 ms of planning
// against 0.4 ms of execution for a batch of 3; see BENCHMARKS.md).
const genericPlansSQL = "SET LOCAL plan_cache_mode = force_generic_plan"

// batchFactsSQL is factsSQL (send.go) for every send of a batch: one row per
// send whose users exist, numbered by the send's place in the batch (ord).
var batchFactsSQL = `SELECT p.ord, f.* FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::int[],
	$6::timestamptz[]) WITH ORDINALITY AS p (s, r, k, cid, cap, since, ord)
CROSS JOIN LATERAL (` + regexp.MustCompile(`@(s|r|k|cid|cap|since)\b`).ReplaceAllString(factsSQL, "p.$1") + `) f`

// batchFacts is a row of batchFactsSQL.
type batchFacts struct {
	Ord int `db:"ord"`
	models.SendFacts
}

// sendWritesSQL is the second round trip's statement. Each send's op is its
// plan's models.RequestOp: accept whatever was open, extend the open one (q)
// or open one.
const sendWritesSQL = `WITH p AS (
	SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
		$7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[])
		WITH ORDINALITY AS p (c, s, r, text, video, cid, delivery, sender_status, recipient_status, q, op, ord)
), msg AS (
	INSERT INTO messages (conversation_id, sender_id, text, video_id, client_message_id, delivery, created_at)
	SELECT c, s, text, video, cid, delivery, $12::timestamptz FROM p ORDER BY ord RETURNING id, conversation_id
), pm AS (
	-- A batch holds one send per conversation.
	SELECT p.*, msg.id AS mid FROM p JOIN msg ON msg.conversation_id = p.c
), mem AS (
	-- Both members; the sender (the row with a read time) has read up to
	-- their own message, the recipient's read position stays where it was.
	INSERT INTO conversation_members AS cm (conversation_id, user_id, status, last_message_id,
		last_read_message_id, read_at, cleared_through_id, created_at)
	SELECT pm.c, v.user_id, v.status, pm.mid, v.read_through, v.read_at, 0, $12::timestamptz
	FROM pm CROSS JOIN LATERAL (VALUES (pm.s, pm.sender_status, pm.mid, $12::timestamptz),
		(pm.r, pm.recipient_status, 0::bigint, NULL::timestamptz)) v (user_id, status, read_through, read_at)
	ORDER BY pm.c, v.user_id
	ON CONFLICT (conversation_id, user_id) DO UPDATE SET status = excluded.status,
		last_message_id = excluded.last_message_id, uninvited = false,
		last_read_message_id = CASE WHEN excluded.read_at IS NULL THEN cm.last_read_message_id ELSE excluded.last_read_message_id END,
		read_at = COALESCE(excluded.read_at, cm.read_at)
	RETURNING cm.conversation_id, cm.user_id, cm.status, cm.last_read_message_id, cm.read_at, cm.cleared_through_id, cm.created_at
), conv AS (
	UPDATE conversations c SET last_message_id = pm.mid, last_message_at = $12::timestamptz, updated_at = $12::timestamptz
	FROM pm WHERE c.id = pm.c
), accepted AS (
	UPDATE message_requests q SET status = 'ACCEPTED', resolved_at = $12::timestamptz
	FROM pm WHERE pm.op = 'accept' AND q.conversation_id = pm.c AND q.status = 'OPEN'
	RETURNING q.id, q.conversation_id, q.recipient_id, q.sender_id
), extended AS (
	UPDATE message_requests q SET message_count = q.message_count + 1, last_message_id = pm.mid
	FROM pm WHERE pm.op = 'extend' AND q.id = pm.q
), opened AS (
	INSERT INTO message_requests (conversation_id, recipient_id, sender_id, status, message_count, last_message_id, created_at)
	SELECT pm.c, pm.r, pm.s, 'OPEN', 1, pm.mid, $12::timestamptz FROM pm WHERE pm.op = 'open' ORDER BY pm.ord
	RETURNING id, conversation_id
), unused AS (
	DELETE FROM conversations WHERE id = ANY($13::bigint[])
), ch AS (
	-- sendChanges (send.go), in the batch's order: each user's positions
	-- follow their messages'.
	INSERT INTO changes (user_id, kind, conversation_id, message_id, request_id, other_user_id, created_at)
	SELECT v.user_id, v.kind, pm.c, pm.mid, v.request_id, 0, $12::timestamptz
	FROM pm LEFT JOIN accepted a ON a.conversation_id = pm.c LEFT JOIN opened o ON o.conversation_id = pm.c
	CROSS JOIN LATERAL (VALUES
		(1, pm.s, 'MESSAGE_ADDED', 0::bigint),
		(2, pm.r, CASE WHEN pm.delivery = 'INBOX' THEN 'MESSAGE_ADDED' WHEN o.id IS NOT NULL THEN 'REQUEST_RECEIVED'
			ELSE 'REQUEST_EXTENDED' END, CASE WHEN pm.delivery = 'INBOX' THEN 0 ELSE COALESCE(o.id, pm.q) END),
		(3, a.recipient_id, 'REQUEST_ACCEPTED', a.id),
		(4, a.sender_id, 'CONVERSATION_ACCEPTED', a.id)) v (n, user_id, kind, request_id)
	WHERE v.user_id IS NOT NULL
	ORDER BY pm.ord, v.n
)
SELECT pm.ord, pm.mid, mem.status, mem.last_read_message_id, mem.read_at, mem.cleared_through_id, mem.created_at,
	COALESCE(a.id, 0), COALESCE(a.recipient_id, 0), COALESCE(a.sender_id, 0),
	COALESCE((SELECT o.id FROM opened o WHERE o.conversation_id = pm.c), 0)
FROM pm JOIN mem ON mem.conversation_id = pm.c AND mem.user_id = pm.s
LEFT JOIN accepted a ON a.conversation_id = pm.c`

// sendOutcome is one call's answer: a result, or the refusal, duplicate or
// missing user that ended it.
type sendOutcome struct {
	res *models.SendResult
	err error
}

// sendBatch writes batch in one transaction on one connection, retrying it
// whole after a deadlock or serialization failure, and once on another
// connection when the first round trip failed for a connection's reason (a
// connection pgx left unusable after another caller's cancelled query, say):
// nothing was written then. An error is the batch's; each call's own end is
// in its outcome.
func (s *Store) sendBatch(ctx context.Context, batch []*sendCall) ([]sendOutcome, error) {
	out, err := s.sendBatchOn(ctx, batch)
	var early nothingWritten
	if errors.As(err, &early) && unreachable(err) && ctx.Err() == nil {
		out, err = s.sendBatchOn(ctx, batch)
	}
	return out, err
}

// nothingWritten marks a failure of a batch's first round trip.
type nothingWritten struct{ error }

func (e nothingWritten) Unwrap() error { return e.error }

// sendBatchOn runs the batch on a connection from the pool. A connection
// that failed is not given back.
func (s *Store) sendBatchOn(ctx context.Context, batch []*sendCall) ([]sendOutcome, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []sendOutcome
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		var err error
		for range 3 {
			if out, err = s.sendBatchOnce(ctx, c, batch); !retryable(err) {
				break
			}
		}
		if unreachable(err) {
			return errors.Join(err, driver.ErrBadConn) // database/sql then closes it
		}
		return err
	})
	return out, err
}

// sendError is a failed batch's error as each of its calls reports it.
func sendError(err error) error {
	return translate(markUnavailable(err), "message")
}

// sendBatchOnce runs one attempt of the batch's transaction on c. On any
// failure the transaction is rolled back, or the connection closed (which
// the pool then discards) when even that fails.
func (s *Store) sendBatchOnce(ctx context.Context, c *pgx.Conn, batch []*sendCall) ([]sendOutcome, error) {
	t := s.now()
	n := len(batch)
	senders, recipients, keys, cids := make([]int64, n), make([]int64, n), make([]string, n), make([]*string, n)
	caps, sinces := make([]int32, n), make([]time.Time, n)
	var users []int64
	for i, call := range batch {
		senders[i], recipients[i], keys[i], cids[i] = call.p.SenderID, call.p.RecipientID, call.key, call.p.ClientMessageID
		caps[i], sinces[i] = int32(call.p.RequestCap.Count), t.Add(-call.p.RequestCap.Period)
		users = append(users, call.p.SenderID, call.p.RecipientID)
	}

	convs := make(map[string]models.Conversation, n)
	created := make(map[int64]bool)
	fs := make([]*models.SendFacts, n)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(genericPlansSQL)
	b.Queue(createConversationsSQL, keys, t).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			created[id] = true
		}
		return rows.Err()
	})
	b.Queue(lockConversationsSQL, keys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var conv models.Conversation
			if err := rows.Scan(&conv.ID, &conv.DirectKey, &conv.LastMessageID, &conv.LastMessageAt,
				&conv.CreatedAt, &conv.UpdatedAt); err != nil {
				return err
			}
			convs[*conv.DirectKey] = conv
		}
		return rows.Err()
	})
	b.Queue(lockUsersSQL, users)
	b.Queue(batchFactsSQL, senders, recipients, keys, cids, caps, sinces).Query(func(rows pgx.Rows) error {
		all, err := pgx.CollectRows(rows, pgx.RowToStructByName[batchFacts])
		for _, f := range all {
			fs[f.Ord-1] = &f.SendFacts
		}
		return err
	})
	if err := s.runBatch(ctx, c, b); err != nil {
		return nil, nothingWritten{s.rollback(ctx, c, err)}
	}

	out, w := planBatch(batch, fs, convs, t)
	for _, i := range w.ord {
		delete(created, out[i].res.Conversation.ID)
	}
	if len(w.ord) == 0 {
		// Nothing to write: the conversations created for these sends go
		// with the rollback.
		return out, s.rollback(ctx, c, nil)
	}

	b = &pgx.Batch{}
	accepted := make(map[int][]models.MessageRequest)
	unused := make([]int64, 0, len(created))
	for id := range created {
		unused = append(unused, id)
	}
	b.Queue(sendWritesSQL, w.conv, w.sender, w.recipient, w.text, w.video, w.cid, w.delivery,
		w.senderStatus, w.recipientStatus, w.request, w.op, t, unused).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var ord int
			var m models.Member
			var a models.MessageRequest
			var opened int64
			var id int64
			if err := rows.Scan(&ord, &id, &m.Status, &m.LastReadMessageID, &m.ReadAt, &m.ClearedThroughID,
				&m.CreatedAt, &a.ID, &a.RecipientID, &a.SenderID, &opened); err != nil {
				return err
			}
			i := w.ord[ord-1]
			w.done(out[i].res, m, id, a.ID != 0, opened)
			if a.ID != 0 {
				accepted[i] = []models.MessageRequest{a}
			}
		}
		return rows.Err()
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
	for _, i := range w.ord {
		if out[i].res.Message.ID == 0 {
			return nil, fmt.Errorf("send: no row for message %d of the batch", i)
		}
	}
	setPrevs(batch, out, w.ord, fs, convs)
	for _, i := range w.ord {
		// Without their positions, which ch did not return.
		logged(batch[i].ctx, sendChanges(out[i].res, accepted[i]))
	}
	return out, nil
}

// setPrevs fills the Prev of each send written (ord): what its sender, its
// recipient and its conversation had before it. The facts were read under
// the batch's locks and before its writes, so a user in several of its
// sends also had the batch's earlier messages.
func setPrevs(batch []*sendCall, out []sendOutcome, ord []int, fs []*models.SendFacts, convs map[string]models.Conversation) {
	written := slices.Clone(ord)
	slices.SortFunc(written, func(a, b int) int { return cmp.Compare(out[a].res.Message.ID, out[b].res.Message.ID) })
	newest := make(map[int64]int64, 2*len(written)) // user → their newest message in the batch so far
	for _, i := range written {
		res, f := out[i].res, fs[i]
		s, r := res.Message.SenderID, res.RecipientID
		res.Prev = &models.SendPrev{Sender: max(f.SenderPrev, newest[s]), Recipient: max(f.RecipientPrev, newest[r]),
			Conversation: convs[batch[i].key].LastMessageID}
		newest[s], newest[r] = res.Message.ID, res.Message.ID
	}
}

// planBatch decides each send of the batch from its facts (models.PlanSend)
// and gathers the writes of those that go ahead. The facts were read before
// any of the batch was written, so they don't count the batch's own new
// requests: a sender's new requests go ahead while they stay within the cap
// with those of the batch before them, and one that would pass it is
// answered errSendAgain, for the next batch to refuse with its wait.
func planBatch(batch []*sendCall, fs []*models.SendFacts, convs map[string]models.Conversation, t time.Time) ([]sendOutcome, *sendWrites) {
	out := make([]sendOutcome, len(batch))
	w := &sendWrites{}
	opened := make(map[int64]int) // new requests each sender opens in this batch
	for i, call := range batch {
		conv, ok := convs[call.key]
		if !ok {
			out[i].err = fmt.Errorf("send: conversation %s not found after its upsert", call.key)
			continue
		}
		f := fs[i]
		if f == nil {
			out[i].err = models.NotFound("user")
			continue
		}
		// The duplicate is read under the sender's lock: a concurrent retry
		// that won is seen here, before the rules could refuse this one.
		plan, err := models.PlanSend(*f, call.p, t)
		switch sender, capCount := call.p.SenderID, call.p.RequestCap.Count; {
		case err != nil:
			out[i].err = err
		case plan.NewRequest && capCount > 0 && f.CapUsed+opened[sender] >= capCount:
			out[i].err = errSendAgain
		default:
			if plan.NewRequest {
				opened[sender]++
			}
			out[i].res = w.add(i, call.p, conv, plan, t)
		}
	}
	return out, w
}

// sendWrites are the arrays of sendWritesSQL, one entry per send that goes
// ahead; ord maps an entry back to its place in the batch.
type sendWrites struct {
	ord                                         []int
	conv, sender, recipient, request            []int64
	video                                       []*int64
	text, cid                                   []*string
	delivery, senderStatus, recipientStatus, op []string
}

// add records a send that goes ahead as plan says and returns its result,
// to be completed by done once written.
func (w *sendWrites) add(i int, p models.SendParams, conv models.Conversation, plan models.SendPlan, t time.Time) *models.SendResult {
	w.ord = append(w.ord, i)
	w.conv = append(w.conv, conv.ID)
	w.sender = append(w.sender, p.SenderID)
	w.recipient = append(w.recipient, p.RecipientID)
	w.request = append(w.request, plan.RequestID)
	w.video = append(w.video, p.VideoID)
	w.text = append(w.text, p.Text)
	w.cid = append(w.cid, p.ClientMessageID)
	w.delivery = append(w.delivery, string(plan.Delivery))
	w.senderStatus = append(w.senderStatus, string(plan.SenderStatus))
	w.recipientStatus = append(w.recipientStatus, string(plan.RecipientStatus))
	w.op = append(w.op, string(plan.Request))
	res := &models.SendResult{Delivery: plan.Delivery, RecipientID: p.RecipientID, RequestID: plan.RequestID,
		Message: &models.Message{ConversationID: conv.ID, SenderID: p.SenderID, Text: p.Text,
			VideoID: p.VideoID, ClientMessageID: p.ClientMessageID, Delivery: plan.Delivery, CreatedAt: t}}
	conv.LastMessageAt, conv.UpdatedAt = &t, t
	res.Conversation = &models.ConversationView{Conversation: conv,
		Member: &models.Member{ConversationID: conv.ID, UserID: p.SenderID}}
	return res
}

// done completes res with what the write returned.
func (w *sendWrites) done(res *models.SendResult, sender models.Member, messageID int64, accepted bool, opened int64) {
	res.Message.ID = messageID
	res.Conversation.LastMessageID = messageID
	sender.ConversationID, sender.UserID, sender.LastMessageID = res.Conversation.ID, res.Message.SenderID, messageID
	*res.Conversation.Member = sender
	switch {
	case res.Delivery == models.DeliveryInbox:
		res.Accepted = accepted
	case opened != 0:
		res.RequestID, res.OpenedRequest = opened, true
	}
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

// rollback ends the transaction on c and returns cause.
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
