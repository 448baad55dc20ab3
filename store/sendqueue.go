package store

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"dmgraph/models"
)

// Group commit. On PostgreSQL, sends that arrive while others are being
// written wait in a queue and are then written together, in one transaction
// of two round trips, by whichever goroutine leads the next batch. Under
// load this turns 32 concurrent sends into a few transactions instead of 32,
// and PostgreSQL's cost per send falls with the batch (see BENCHMARKS.md).
// Alone, a send is a batch of one and waits for nothing.
//
// A batch holds at most one send per conversation and per clientMessageId,
// so no send in it depends on another's write; the others wait for the next
// batch. So does a sender's new request that the cap allows only without
// the batch's earlier ones, once its facts show it (planBatch). Locks
// are taken as Send takes them (conversations, then users, each in ID
// order), for the whole batch at once.
const (
	// maxSendBatch bounds a batch; the arrays of its statements grow with it.
	maxSendBatch = 64
	// maxSendLeaders bounds the batches in flight per instance. One is
	// fastest here: sends that wait for it form the next, bigger batch, and
	// PostgreSQL's cost per send falls with the batch (BENCHMARKS.md: 1, 2, 3,
	// 4 and 8 leaders).
	maxSendLeaders = 1
	// sendBatchTimeout bounds a batch whose calls have no deadline.
	sendBatchTimeout = 30 * time.Second
)

// sendCall is one Send waiting in the queue.
type sendCall struct {
	ctx   context.Context
	p     models.SendParams
	key   string // the conversation's direct key
	taken bool   // in a batch; guarded by sendQueue.mu
	done  chan struct{}
	// answered: done is closed; the batch's leader alone reads and sets it.
	answered bool
	res      *models.SendResult
	err      error
}

// sendQueue is the Store's queue of sends; its zero value is ready.
type sendQueue struct {
	mu      sync.Mutex
	pending []*sendCall
	leaders int
}

// sendPostgres is Send on PostgreSQL: it queues the send and waits for its
// batch. A call still queued when its context ends leaves the queue; one
// already in a batch waits for the batch, whose deadline is the earliest of
// its calls', and one its batch put off is answered by the next batch (live).
func (s *Store) sendPostgres(ctx context.Context, p models.SendParams) (*models.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, translate(markUnavailable(err), "message")
	}
	c := &sendCall{ctx: ctx, p: p, key: directKey(p.SenderID, p.RecipientID), done: make(chan struct{})}
	s.enqueue(false, c)
	select {
	case <-c.done:
	case <-ctx.Done():
		if s.sends.withdraw(c) {
			return nil, translate(markUnavailable(ctx.Err()), "message")
		}
		<-c.done
	}
	return c.res, c.err
}

// enqueue queues calls, at the back, or at the front for calls a batch put
// off, and starts a leader if there are fewer than maxSendLeaders.
func (s *Store) enqueue(front bool, calls ...*sendCall) {
	q := &s.sends
	q.mu.Lock()
	for _, c := range calls {
		c.taken = false
	}
	if front {
		q.pending = append(calls, q.pending...)
	} else {
		q.pending = append(q.pending, calls...)
	}
	lead := q.leaders < maxSendLeaders
	if lead {
		q.leaders++
	}
	q.mu.Unlock()
	if lead {
		go s.leadSends()
	}
}

// errSendAgain is the outcome of a send its batch put off to the next one.
var errSendAgain = errors.New("send: put off to the next batch")

// withdraw removes c from the queue unless a batch has taken it.
func (q *sendQueue) withdraw(c *sendCall) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c.taken {
		return false
	}
	for i, p := range q.pending {
		if p == c {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			break
		}
	}
	return true
}

// next takes the next batch off the queue, oldest first; nil when the queue
// is empty, and then the caller stops leading.
func (q *sendQueue) next() []*sendCall {
	q.mu.Lock()
	defer q.mu.Unlock()
	var batch []*sendCall
	type cid struct {
		sender int64
		id     string
	}
	keys := make(map[string]bool, len(q.pending))
	cids := map[cid]bool{}
	rest := q.pending[:0]
	for _, c := range q.pending {
		var id cid
		if c.p.ClientMessageID != nil {
			id = cid{c.p.SenderID, *c.p.ClientMessageID}
		}
		if len(batch) == maxSendBatch || keys[c.key] || (id.id != "" && cids[id]) {
			rest = append(rest, c)
			continue
		}
		c.taken = true
		batch = append(batch, c)
		keys[c.key] = true
		if id.id != "" {
			cids[id] = true
		}
	}
	clear(q.pending[len(rest):])
	q.pending = rest
	if len(batch) == 0 {
		q.leaders--
	}
	return batch
}

// leadSends writes batches until the queue is empty.
func (s *Store) leadSends() {
	for {
		batch := s.sends.next()
		if batch == nil {
			return
		}
		s.writeSends(batch)
	}
}

// writeSends writes one batch and answers its calls, but for those it put
// off, which go back to the queue. When the batch fails for a reason other
// than an unreachable database, each call is tried again alone, so one
// send's failure is not the others'. A panic answers the calls still
// waiting with an error and is not let loose: the leader goroutine is the
// queue's only one.
func (s *Store) writeSends(batch []*sendCall) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("send: panic: %v\n%s", p, debug.Stack())
			for _, c := range batch {
				c.answer(nil, err)
			}
		}
	}()
	if batch = live(batch); len(batch) == 0 {
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	out, err := s.sendBatch(ctx, batch)
	if err != nil && len(batch) > 1 && !errors.Is(markUnavailable(err), models.ErrUnavailable) {
		for _, c := range batch {
			if one, err := s.sendBatch(ctx, []*sendCall{c}); err == nil {
				c.answer(one[0].res, one[0].err)
			} else {
				c.answer(nil, sendError(err))
			}
		}
		return
	}
	var again []*sendCall
	for i, c := range batch {
		switch {
		case err != nil:
			c.answer(nil, sendError(err))
		case errors.Is(out[i].err, errSendAgain):
			again = append(again, c)
		default:
			c.answer(out[i].res, out[i].err)
		}
	}
	if len(again) > 0 {
		s.enqueue(true, again...)
	}
}

// live answers the calls of batch whose context has ended, and returns the
// others. Their callers could not withdraw them (a batch had taken them, or
// had put them off), nothing was written for them, and their deadlines
// would cut the batch short for everyone in it.
func live(batch []*sendCall) []*sendCall {
	out := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.answer(nil, translate(markUnavailable(err), "message"))
			continue
		}
		out = append(out, c)
	}
	return out
}

// answer ends the call's wait, once; only its batch's leader calls it.
func (c *sendCall) answer(res *models.SendResult, err error) {
	if c.answered {
		return
	}
	c.answered = true
	c.res, c.err = res, err
	close(c.done)
}

// batchContext keeps the first call's values, not its cancellation: a
// client that leaves must not abort the others' sends. Its deadline is the
// earliest of the calls', so no call waits past its own.
func batchContext(batch []*sendCall) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(sendBatchTimeout)
	for _, c := range batch {
		if d, ok := c.ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), deadline)
}
