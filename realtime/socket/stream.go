package socket

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"dmgraph/metrics"
	"dmgraph/models"
	"dmgraph/realtime"
)

// replayBatch is how many messages a resume reads per query.
const replayBatch = 100

// MessageLog is what a stream of messages reads, as the viewer in ctx.
type MessageLog interface {
	// CheckMessageScope refuses a conversation the viewer may not read.
	CheckMessageScope(ctx context.Context, conversationID *int64) error
	// LatestMessageID is the newest message's ID in the scope (0: all of
	// the viewer's conversations).
	LatestMessageID(ctx context.Context, scope int64) (int64, error)
	// MessagesAfter reads up to limit messages after the ID given, in ID
	// order.
	MessagesAfter(ctx context.Context, scope, after int64, limit int) ([]*models.Message, error)
	// Message reads a message the viewer can see.
	Message(ctx context.Context, id int64) (*models.Message, error)
	// A stream resumed from a position of the viewer's change sequence
	// reads the sequence.
	ChangeLog
}

// Messages streams messages by ID from a watermark: after, or the newest
// message when subscribing, in one conversation or (conversationID nil) all
// of the viewer's. It reads "messages after the watermark" from the log, in
// ID order, except when an event's message is provably the next one
// (models.Event.NextFor): then it sends the message the event carries.
// Since each user's message IDs are handed out in commit order
// (store.lockUsers), neither can skip one, so replay and live delivery are
// one gap-free, duplicate-free sequence.
//
// Given a position of the viewer's change sequence (since) and no after, it
// streams instead the messages of the sequence after that position, through
// ChangesAs: what the changes subscription delivers as MESSAGE_ADDED.
func (s *Server) Messages(ctx context.Context, msgs MessageLog, conversationID, after, since *int64) (<-chan *models.Message, error) {
	if _, err := bounded(ctx, s.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, msgs.CheckMessageScope(ctx, conversationID)
	}); err != nil {
		return stopped[*models.Message](ctx, err)
	}
	var scope int64
	if conversationID != nil {
		scope = *conversationID
	}
	if after == nil && since != nil {
		return ChangesAs(ctx, s, msgs, since, func(ctx context.Context, c *models.Change) (*models.Message, error) {
			if !c.Kind.CarriesMessage() || (scope != 0 && c.ConversationID != scope) {
				return nil, nil
			}
			m, err := msgs.Message(ctx, c.MessageID)
			if err == nil && scope != 0 && m.EndsMembershipOf(c.UserID) {
				return m, ErrLast // the viewer left this group: nothing after it is theirs
			}
			return m, err
		})
	}
	// Subscribe before reading the watermark, so nothing committed in
	// between is missed.
	p := newPump(ctx)
	sub, err := s.subscribe(ctx, p.kick)
	if err != nil {
		return nil, err
	}
	var last int64
	if after != nil {
		last = *after
	} else if last, err = bounded(ctx, s.timeout, func(ctx context.Context) (int64, error) {
		return msgs.LatestMessageID(ctx, scope)
	}); err != nil {
		sub.Close()
		return stopped[*models.Message](ctx, err)
	}
	out := make(chan *models.Message)
	// emit sends m; a stream of one group ends with the message that took
	// the viewer out of it: nothing after it is theirs.
	emit := func(m *models.Message) bool {
		return send(ctx, out, m) && !(scope != 0 && m.EndsMembershipOf(sub.UserID))
	}
	// catchUp sends every message after the watermark.
	catchUp := func() bool {
		return replay(ctx, s, &last, func(ctx context.Context, after int64) ([]*models.Message, error) {
			return msgs.MessagesAfter(ctx, scope, after, replayBatch)
		}, func(m *models.Message) (int64, bool) { return m.ID, emit(m) })
	}
	var first func() bool
	if after != nil {
		first = catchUp
	}
	p.start(sub, first, func(ev models.Event) bool {
		if ev.Kind != models.EventMessageAdded || (scope != 0 && ev.ConversationID != scope) || ev.MessageID <= last {
			return true // not ours, or already sent by an earlier catch-up
		}
		if m, ok := ev.NextFor(sub.UserID, scope, last); ok {
			// Nothing of the viewer's committed in between: the message
			// as committed is the next one, without reading it again.
			last = m.ID
			return emit(m)
		}
		return catchUp()
	}, func() { close(out) })
	return out, nil
}

// replay emits, batch by batch, what read returns after *last, moving *last
// past each item emit took; emit returns the item's key and whether the
// stream goes on. False when the stream must end: emit said so, or reading
// failed (the socket is then closed for the client to resume).
func replay[T any](ctx context.Context, s *Server, last *int64, read func(ctx context.Context, after int64) ([]T, error),
	emit func(T) (int64, bool)) bool {
	for {
		batch, err := bounded(ctx, s.timeout, func(ctx context.Context) ([]T, error) { return read(ctx, *last) })
		if err != nil {
			s.abort(ctx, err)
			return false
		}
		for _, v := range batch {
			key, ok := emit(v)
			if !ok {
				return false
			}
			*last = key
		}
		if len(batch) < replayBatch {
			return true
		}
	}
}

// stopped is what a subscription whose start read failed returns: when the
// client stopped it (or left) during the read, a stream that ends at once,
// so the client gets its complete and no error; otherwise the error.
func stopped[T any](ctx context.Context, err error) (<-chan T, error) {
	if ctx.Err() == nil {
		return nil, err
	}
	done := make(chan T)
	close(done)
	return done, nil
}

// subscribe registers the viewer with the hub, which calls notify (without
// blocking) for each event and when it ends the subscription; closing the
// result ends it too.
func (s *Server) subscribe(ctx context.Context, notify func()) (*subscription, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	sess := sessionFrom(ctx)
	if sess != nil && !sess.addSubscription() {
		// This operation only: the socket and its other subscriptions run
		// on, and one of them ending makes room.
		return nil, models.RateLimited(models.ReasonTooManySubscriptions,
			fmt.Sprintf("at most %d subscriptions per connection: complete one first, or open another connection", MaxSubscriptions),
			time.Second)
	}
	s.metrics.SubscriptionStarted()
	return &subscription{Subscription: s.hub.Subscribe(viewer, notify), metrics: s.metrics, session: sess}, nil
}

// subscription counts itself in the metrics until closed.
type subscription struct {
	*realtime.Subscription
	metrics *metrics.Metrics
	session *session
	once    sync.Once
}

func (s *subscription) Close() {
	s.Subscription.Close()
	s.once.Do(func() {
		s.metrics.SubscriptionEnded()
		if s.session != nil {
			s.session.subscriptions.Add(-1)
		}
	})
}

// pump hands a subscription's events to its handler on a goroutine that
// exists only while there is work: an event to handle, a catch-up, or the
// end. Most subscriptions wait far longer than they work, and a goroutine
// per waiting subscription was a quarter of an idle socket's memory
// (BENCHMARKS.md). The hub wakes the pump (kick) after queueing an event or
// ending the subscription, and so does the end of the subscription's
// context. One run at a time: a kick during a run makes it look again.
//
// The run ends the subscription when the client leaves, the handler says
// stop, or the hub ended it; a subscriber that fell behind, or whose events
// may have been lost, is disconnected (4800, 4801) so that it resumes with
// `after`.
type pump struct {
	ctx context.Context

	mu      sync.Mutex
	running bool // a run is under way, or the pump has not started
	again   bool // kicked during the run
	done    bool

	// Set by start; read by runs only.
	sub    *subscription
	first  func() bool // run once, before any event; nil for none
	handle func(models.Event) bool
	finish func() // closes the stream; once, at the end
}

// newPump returns a pump whose kicks wait for start.
func newPump(ctx context.Context) *pump { return &pump{ctx: ctx, running: true} }

// start begins the first run. Events queued since the subscription began
// are handled after first.
func (p *pump) start(sub *subscription, first func() bool, handle func(models.Event) bool, finish func()) {
	p.sub, p.first, p.handle, p.finish = sub, first, handle, finish
	sub.Start()
	context.AfterFunc(p.ctx, p.kick)
	go p.run()
}

func (p *pump) kick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.done:
	case p.running:
		p.again = true
	default:
		p.running = true
		go p.run()
	}
}

func (p *pump) run() {
	if first := p.first; first != nil {
		p.first = nil
		if !first() {
			p.stop()
			return
		}
	}
	for {
		if !p.drain() {
			p.stop()
			return
		}
		p.mu.Lock()
		if !p.again {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.again = false
		p.mu.Unlock()
	}
}

// drain handles the queued events; false when the subscription is over.
func (p *pump) drain() bool {
	for {
		if p.ctx.Err() != nil {
			return false
		}
		ev, ok, ended := p.sub.Next()
		switch {
		case ok:
			if !p.handle(*ev) {
				return false
			}
		case !ended:
			return true
		default:
			if s := sessionFrom(p.ctx); s != nil && p.sub.Overflowed() {
				if p.sub.Resynced() {
					s.close(CloseResync, "events may have been lost: reconnect and resume with after")
				} else {
					s.close(CloseSlowConsumer, "slow consumer: reconnect and resume with after")
				}
			}
			return false
		}
	}
}

func (p *pump) stop() {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	p.sub.Close()
	p.finish()
}

// deliver sends v unless reading it failed. Not found means the viewer may
// no longer see it (access is checked again at delivery): skip it. Any other
// failure ends the socket so the client resumes from the database.
func deliver[T any](ctx context.Context, s *Server, out chan<- *T, v *T, err error) bool {
	switch {
	case errors.Is(err, models.ErrNotFound):
		return true
	case err != nil:
		s.abort(ctx, err)
		return false
	}
	return send(ctx, out, v)
}

// bounded runs one database read of a subscription within the operation
// timeout: the subscription lives on, but none of its reads may hang.
func bounded[T any](ctx context.Context, d time.Duration, read func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return apart(func() (T, error) { return read(ctx) })
}

// apart runs fn on a goroutine of its own and waits for it. An idle socket
// is mostly the stacks of the goroutines that wait on it: net/http's, which
// runs gqlgen's read loop, and gqlgen's per subscription. A goroutine keeps
// the stack its deepest call grew for, and their deepest calls are the
// database reads of connection_init and of a subscription's start (GORM,
// pgx). Run apart, those reads grow a stack that ends with them.
func apart[T any](fn func() (T, error)) (T, error) {
	type result struct {
		v        T
		err      error
		panicked any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panicked: p}
			}
		}()
		v, err := fn()
		done <- result{v: v, err: err}
	}()
	r := <-done
	if r.panicked != nil {
		panic(r.panicked) // where the caller's recovery sees it
	}
	return r.v, r.err
}

// abort ends the viewer's socket after a failure to read the database:
// 1013 (try again later) when the database is unavailable, else 4802.
func (s *Server) abort(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the client left, or the server is closing the socket
	}
	unavailable := errors.Is(err, models.ErrUnavailable)
	if unavailable {
		s.log.WarnContext(ctx, "subscription ended: dependency unavailable", "err", err)
	} else {
		s.log.ErrorContext(ctx, "subscription failed", "err", err)
	}
	if sess := sessionFrom(ctx); sess != nil {
		sess.close(resumeClose(unavailable))
	}
}

// resumeClose is the close code and reason for a socket ended because the
// server failed to read what it owed the client: 1013 (try again later) when
// the database is unavailable, else 4802 (internal). Either way, the client
// resumes with `after`.
func resumeClose(unavailable bool) (int, string) {
	if unavailable {
		return CloseTryAgainLater, "unavailable: reconnect later and resume with after"
	}
	return CloseInternal, "internal error: reconnect and resume with after"
}

func send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}
