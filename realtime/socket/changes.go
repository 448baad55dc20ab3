package socket

import (
	"context"
	"errors"

	"dmgraph/models"
)

// ErrLast, returned by a view with its value, delivers the value and ends
// the stream: nothing after it is the viewer's.
var ErrLast = errors.New("the stream ends with this value")

// ChangeLog is what a stream of changes reads, as the viewer in ctx.
type ChangeLog interface {
	// LatestChange is the position of the viewer's newest change.
	LatestChange(ctx context.Context) (int64, error)
	// Changes reads up to limit changes after position since, in order.
	Changes(ctx context.Context, since int64, limit int) ([]*models.Change, error)
}

// Changes streams the viewer's changes after position since, or after
// their newest when since is nil: those already recorded first, then live
// ones. Whatever event wakes it up, it reads what follows its position from
// the log, so replay and live delivery are one sequence, with no gap and no
// duplicate: each user's positions are handed out in commit order.
func (s *Server) Changes(ctx context.Context, log ChangeLog, since *int64) (<-chan *models.Change, error) {
	return ChangesAs(ctx, s, log, since, func(_ context.Context, c *models.Change) (*models.Change, error) { return c, nil })
}

// ChangesAs is Changes seen through view, which reads what a change shows
// as the viewer; a nil result, or NOT_FOUND (the viewer may no longer see
// it), skips the change, and ErrLast ends the stream after the value. The
// single-kind subscriptions are such views.
func ChangesAs[T any](ctx context.Context, s *Server, log ChangeLog, since *int64,
	view func(context.Context, *models.Change) (*T, error)) (<-chan *T, error) {
	// Subscribe before reading the position, so nothing committed in
	// between is missed.
	p := newPump(ctx)
	sub, err := s.subscribe(ctx, p.kick)
	if err != nil {
		return nil, err
	}
	var last int64
	if since != nil {
		last = *since
	} else if last, err = bounded(ctx, s.timeout, log.LatestChange); err != nil {
		sub.Close()
		return stopped[*T](ctx, err)
	}
	out := make(chan *T)
	catchUp := func() bool {
		return replay(ctx, s, &last, func(ctx context.Context, after int64) ([]*models.Change, error) {
			return log.Changes(ctx, after, replayBatch)
		}, func(c *models.Change) (int64, bool) {
			v, err := bounded(ctx, s.timeout, func(ctx context.Context) (*T, error) { return view(ctx, c) })
			end := errors.Is(err, ErrLast)
			if end {
				err = nil
			}
			if v == nil && err == nil {
				return c.ID, !end // not for this view
			}
			return c.ID, deliver(ctx, s, out, v, err) && !end
		})
	}
	var first func() bool
	if since != nil {
		first = catchUp
	}
	p.start(sub, first, func(ev models.Event) bool {
		if ev.Kind == models.EventSignedOut {
			return true // the session closes the socket
		}
		return catchUp()
	}, func() { close(out) })
	return out, nil
}
