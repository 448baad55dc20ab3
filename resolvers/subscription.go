package resolvers

import (
	"context"
	"errors"
	"sync"
	"time"

	"dmgraph/metrics"
	"dmgraph/models"
	"dmgraph/realtime"
	"dmgraph/relay"
)

type subscriptionResolver struct{ *Resolver }

// replayBatch is how many messages a resume reads per query.
const replayBatch = 100

// MessageAdded streams messages by ID from a watermark: the `after` given,
// or the newest message when subscribing. Events only wake the stream up; it
// reads "messages after the watermark" from the database, in ID order. Since
// each user's message IDs are handed out in commit order (store.lockUsers),
// that read can never skip one, so replay and live delivery are one gap-free,
// duplicate-free sequence.
func (r *subscriptionResolver) MessageAdded(ctx context.Context, conversationID *string, after *string) (<-chan *models.Message, error) {
	convID, err := decodeOptional(relay.KindConversation, conversationID)
	if err != nil {
		return nil, err
	}
	afterID, err := decodeOptional(relay.KindMessage, after)
	if err != nil {
		return nil, err
	}
	if _, err := bounded(ctx, r.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, r.svc.CheckMessageScope(ctx, convID)
	}); err != nil {
		return nil, err
	}
	var scope int64
	if convID != nil {
		scope = *convID
	}
	// Subscribe before reading the watermark, so nothing committed in
	// between is missed.
	sub, err := r.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	var last int64
	if afterID != nil {
		last = *afterID
	} else if last, err = bounded(ctx, r.timeout, func(ctx context.Context) (int64, error) {
		return r.svc.LatestMessageID(ctx, scope)
	}); err != nil {
		sub.Close()
		return nil, err
	}
	out := make(chan *models.Message)
	go func() {
		defer close(out)
		defer sub.Close()
		// catchUp sends every message after the watermark.
		catchUp := func() bool {
			for {
				batch, err := bounded(ctx, r.timeout, func(ctx context.Context) ([]*models.Message, error) {
					return r.svc.MessagesAfter(ctx, scope, last, replayBatch)
				})
				if err != nil {
					r.abort(ctx, err)
					return false
				}
				for _, m := range batch {
					if !send(ctx, out, m) {
						return false
					}
					last = m.ID
				}
				if len(batch) < replayBatch {
					return true
				}
			}
		}
		if afterID != nil && !catchUp() {
			return
		}
		r.live(ctx, sub, func(ev models.Event) bool {
			if ev.Kind != models.EventMessageAdded || (scope != 0 && ev.ConversationID != scope) || ev.MessageID <= last {
				return true // not ours, or already sent by an earlier catch-up
			}
			return catchUp()
		})
	}()
	return out, nil
}

func (r *subscriptionResolver) MessageRequestReceived(ctx context.Context) (<-chan *models.MessageRequest, error) {
	sub, err := r.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan *models.MessageRequest)
	go func() {
		defer close(out)
		defer sub.Close()
		r.live(ctx, sub, func(ev models.Event) bool {
			if ev.Kind != models.EventRequestReceived {
				return true
			}
			req, err := bounded(ctx, r.timeout, func(ctx context.Context) (*models.MessageRequest, error) {
				return r.svc.MessageRequest(ctx, ev.RequestID)
			})
			return deliver(ctx, r, out, req, err)
		})
	}()
	return out, nil
}

func (r *subscriptionResolver) ConversationUpdated(ctx context.Context) (<-chan *models.ConversationView, error) {
	sub, err := r.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan *models.ConversationView)
	go func() {
		defer close(out)
		defer sub.Close()
		r.live(ctx, sub, func(ev models.Event) bool {
			if ev.Kind != models.EventConversationUpdated {
				return true
			}
			view, err := bounded(ctx, r.timeout, func(ctx context.Context) (*models.ConversationView, error) {
				return r.svc.Conversation(ctx, ev.ConversationID)
			})
			return deliver(ctx, r, out, view, err)
		})
	}()
	return out, nil
}

// subscribe registers the viewer with the hub; closing the result ends it.
func (r *subscriptionResolver) subscribe(ctx context.Context) (*subscription, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	sess := sessionFrom(ctx)
	if sess != nil && !sess.addSubscription() {
		return nil, models.RateLimited(models.ReasonTooManyAttempts, "too many subscriptions on one connection", time.Second)
	}
	r.metrics.SubscriptionStarted()
	return &subscription{Subscription: r.hub.Subscribe(viewer), metrics: r.metrics, session: sess}, nil
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

// live hands each event to handle until the client leaves, handle says
// stop, or the subscription falls behind; a subscriber that fell behind is
// disconnected with 4429 so that it resumes with `after`.
func (r *subscriptionResolver) live(ctx context.Context, sub *subscription, handle func(models.Event) bool) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				if sub.Overflowed() {
					reason := "slow consumer: reconnect and resume with after"
					if sub.Resynced() {
						reason = "events may have been lost: reconnect and resume with after"
					}
					if s := sessionFrom(ctx); s != nil {
						s.close(CloseSlowConsumer, reason)
					}
				}
				return
			}
			if !handle(*ev) {
				return
			}
		}
	}
}

// deliver sends v unless reading it failed. Not found means the viewer may
// no longer see it (access is checked again at delivery): skip it. Any other
// failure ends the socket so the client resumes from the database.
func deliver[T any](ctx context.Context, r *subscriptionResolver, out chan<- *T, v *T, err error) bool {
	switch {
	case errors.Is(err, models.ErrNotFound):
		return true
	case err != nil:
		r.abort(ctx, err)
		return false
	}
	return send(ctx, out, v)
}

// bounded runs one database read of a subscription within the operation
// timeout: the subscription lives on, but none of its reads may hang.
func bounded[T any](ctx context.Context, d time.Duration, read func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return read(ctx)
}

// abort ends the viewer's socket after a failure to read the database:
// 1013 (try again later) when the database is unavailable, else 1011.
func (r *subscriptionResolver) abort(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the client left, or the server is closing the socket
	}
	code, reason := 1011, "internal error: reconnect and resume with after"
	if errors.Is(err, models.ErrUnavailable) {
		code, reason = CloseTryAgainLater, "unavailable: reconnect later and resume with after"
		r.log.WarnContext(ctx, "subscription ended: dependency unavailable", "err", err)
	} else {
		r.log.ErrorContext(ctx, "subscription failed", "err", err)
	}
	if s := sessionFrom(ctx); s != nil {
		s.close(code, reason)
	}
}

func send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}
