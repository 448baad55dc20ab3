package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dmgraph/models"
	"dmgraph/testdb"
)

func call(sender, recipient int64, cid string) *sendCall {
	p := models.SendParams{SenderID: sender, RecipientID: recipient}
	if cid != "" {
		p.ClientMessageID = &cid
	}
	return &sendCall{ctx: context.Background(), p: p, key: directKey(sender, recipient), done: make(chan struct{})}
}

// A batch never holds two sends of one conversation, nor two with one
// clientMessageId from one sender; those wait for the next batch, in order.
func TestSendQueueBatchesIndependentSends(t *testing.T) {
	q := &sendQueue{leaders: 1}
	a, b := call(1, 2, ""), call(2, 1, "")   // one conversation
	c, d := call(3, 4, "k"), call(3, 5, "k") // one clientMessageId
	e := call(6, 7, "k")                     // the same key, another sender
	q.pending = []*sendCall{a, b, c, d, e}
	var batches [][]*sendCall
	for batch := q.next(); batch != nil; batch = q.next() {
		batches = append(batches, batch)
	}
	want := [][]*sendCall{{a, c, e}, {b, d}}
	if fmt.Sprint(batches) != fmt.Sprint(want) {
		t.Fatalf("batches %v, want %v", batches, want)
	}
	if q.leaders != 0 {
		t.Fatalf("the leader did not stop with an empty queue: %d leaders", q.leaders)
	}

	many := make([]*sendCall, maxSendBatch+1)
	for i := range many {
		many[i] = call(int64(100+2*i), int64(101+2*i), "")
	}
	q = &sendQueue{pending: many, leaders: 1}
	if n := len(q.next()); n != maxSendBatch {
		t.Fatalf("first batch of %d, want %d", n, maxSendBatch)
	}
	if n := len(q.next()); n != 1 {
		t.Fatalf("second batch of %d, want 1", n)
	}
}

// A send whose caller gives up leaves the queue, unless a batch has it.
func TestSendQueueWithdraw(t *testing.T) {
	a, b, c := call(1, 2, ""), call(3, 4, ""), call(5, 6, "")
	q := &sendQueue{pending: []*sendCall{a, b}, leaders: 1}
	if !q.withdraw(a) || len(q.pending) != 1 || q.pending[0] != b {
		t.Fatalf("a queued send was not withdrawn: %v", q.pending)
	}
	q.next()
	if q.withdraw(b) {
		t.Fatal("a send already in a batch was withdrawn")
	}
	q.pending = append(q.pending, c)
	if !q.withdraw(c) || len(q.pending) != 0 {
		t.Fatalf("queue %v", q.pending)
	}
}

// storeWithUsers opens a fresh PostgreSQL store with n users, or skips the
// test without PostgreSQL: group commit runs there only.
func storeWithUsers(t *testing.T, n int) (*Store, []int64) {
	t.Helper()
	if !testdb.Postgres() {
		t.Skip("group commit runs on PostgreSQL (TEST_DATABASE_URL)")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: testdb.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ids := make([]int64, n)
	for i := range ids {
		u := &models.User{Username: fmt.Sprintf("u%d", i), DisplayName: "U", PasswordHash: "x",
			BirthDate: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), DMPolicy: models.PolicyEveryone, CreatedAt: s.now()}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}
	return s, ids
}

// One batch on PostgreSQL where one send is refused by the rules and one
// fails in the database: the others are stored, the failure is that send's
// alone, and no conversation is left behind for either.
func TestSendBatchFailuresStayTheirs(t *testing.T) {
	s, ids := storeWithUsers(t, 6)
	refused := models.Refusal(models.CodeForbidden, models.ReasonBlocked, "blocked")
	if err := s.Block(context.Background(), ids[3], ids[2]); err != nil {
		t.Fatal(err)
	}
	text := func(s string) *string { return &s }

	batch := []*sendCall{call(ids[0], ids[1], ""), call(ids[2], ids[3], ""), call(ids[4], ids[5], ""), call(ids[0], 999999, "")}
	batch[0].p.Text = text("stored")
	batch[1].p.Text = text("refused")
	batch[2].p.Text = text(strings.Repeat("x", 5000)) // longer than the column
	batch[3].p.Text = text("nobody")
	s.writeSends(batch)
	for _, c := range batch {
		<-c.done
	}

	if err := batch[0].err; err != nil || batch[0].res == nil || batch[0].res.Message.ID == 0 {
		t.Fatalf("the valid send: %+v, %v", batch[0].res, err)
	}
	if got := batch[0].res.Conversation.Member; got.UserID != ids[0] || got.LastReadMessageID != batch[0].res.Message.ID {
		t.Fatalf("the sender's member row: %+v", got)
	}
	if !errors.Is(batch[1].err, refused) {
		t.Fatalf("the refused send: %v", batch[1].err)
	}
	if batch[2].err == nil || batch[2].res != nil {
		t.Fatalf("the send too long for its column was stored: %+v", batch[2].res)
	}
	if !errors.Is(batch[3].err, models.ErrNotFound) {
		t.Fatalf("the send to nobody: %v", batch[3].err)
	}
	var messages, conversations int64
	s.db.Raw(`SELECT count(*) FROM messages`).Scan(&messages)
	s.db.Raw(`SELECT count(*) FROM conversations`).Scan(&conversations)
	if messages != 1 || conversations != 1 {
		t.Fatalf("%d messages in %d conversations, want 1 in 1", messages, conversations)
	}
}

// A sender's new requests in one batch go ahead together while the cap
// counts them all, and one that would pass it waits for the next batch,
// which refuses it: with a cap of 2, the first two are written in the first
// batch, and the third is refused.
func TestSendBatchKeepsTheNewRequestCapWithinABatch(t *testing.T) {
	s, ids := storeWithUsers(t, 4)
	hi := "hi"
	batch := []*sendCall{call(ids[0], ids[1], ""), call(ids[0], ids[2], ""), call(ids[0], ids[3], "")}
	for _, c := range batch {
		c.p.Text, c.p.RequestCap = &hi, models.RequestCap{Count: 2, Period: time.Hour}
	}
	s.writeSends(batch)
	for _, c := range batch {
		<-c.done
	}
	for i, c := range batch[:2] {
		if c.err != nil || !c.res.OpenedRequest {
			t.Fatalf("send %d: %+v, %v", i, c.res, c.err)
		}
	}
	if a, b := batch[0].res.Message.CreatedAt, batch[1].res.Message.CreatedAt; !a.Equal(b) {
		t.Fatalf("the first two new requests were written by different batches, at %v and %v", a, b)
	}
	var e *models.Error
	if !errors.As(batch[2].err, &e) || e.Reason != models.ReasonNewRequestLimit || e.RetryAfter != time.Hour {
		t.Fatalf("the third new request: %+v, %v", batch[2].res, batch[2].err)
	}
}

// A call whose caller left while a batch had it, or had put it off, is
// answered before the next batch, and its deadline doesn't become the
// batch's.
func TestSendBatchAnswersCallsWhoseCallerLeft(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	a, b, c := call(1, 2, ""), call(3, 4, ""), call(5, 6, "")
	b.ctx = gone
	if got := live([]*sendCall{a, b, c}); len(got) != 2 || got[0] != a || got[1] != c {
		t.Fatalf("live calls %v, want a and c", got)
	}
	<-b.done
	if !errors.Is(b.err, context.Canceled) {
		t.Fatalf("the left call's answer: %v", b.err)
	}
}

// The batch's statements run on their generic plans, planned once per
// connection: PostgreSQL would otherwise replan the facts statement on every
// execution, which costs more than running it (BENCHMARKS.md).
func TestSendBatchUsesGenericPlans(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("group commit runs on PostgreSQL (TEST_DATABASE_URL)")
	}
	ctx := context.Background()
	// One connection, so that the check below sees the batches' session.
	s, err := Open(ctx, Config{URL: testdb.URL(t), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var ids []int64
	for i := range 4 {
		u := &models.User{Username: fmt.Sprintf("g%d", i), DisplayName: "G", PasswordHash: "x",
			BirthDate: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), DMPolicy: models.PolicyEveryone, CreatedAt: s.now()}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	for _, f := range [][2]int64{{ids[0], ids[2]}, {ids[2], ids[0]}, {ids[1], ids[3]}, {ids[3], ids[1]}} {
		if err := s.Follow(ctx, f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	text := "hi"
	for i := range 8 {
		c := call(ids[i%2], ids[2+i%2], "")
		c.p.Text = &text
		s.writeSends([]*sendCall{c})
		<-c.done
		if c.err != nil {
			t.Fatal(c.err)
		}
	}
	var plans []struct{ GenericPlans, CustomPlans int64 }
	err = s.db.Raw(`SELECT generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement LIKE '%WITH ORDINALITY AS p (s, r, k, cid%' AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&plans).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || plans[0].CustomPlans != 0 || plans[0].GenericPlans != 8 {
		t.Fatalf("the facts statement's plans: %+v, want 8 generic and no custom one", plans)
	}
}
