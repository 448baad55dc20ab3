package socket

import (
	"context"

	"dmgraph/models"
)

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
		return stopped[*models.Change](ctx, err)
	}
	out := make(chan *models.Change)
	catchUp := func() bool {
		for {
			batch, err := bounded(ctx, s.timeout, func(ctx context.Context) ([]*models.Change, error) {
				return log.Changes(ctx, last, replayBatch)
			})
			if err != nil {
				s.abort(ctx, err)
				return false
			}
			for _, c := range batch {
				if !send(ctx, out, c) {
					return false
				}
				last = c.ID
			}
			if len(batch) < replayBatch {
				return true
			}
		}
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
