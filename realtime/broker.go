package realtime

import (
	"context"
	"log/slog"

	"dmgraph/models"
)

// Broker carries committed events to every instance's hub, this one's
// included. Publish must not wait on subscribers.
type Broker interface {
	Publish(ctx context.Context, ev models.Event)
	// Run delivers other instances' events until ctx ends. The in-memory
	// broker has none and returns at once.
	Run(ctx context.Context) error
	// Ready reports whether events can flow now.
	Ready(ctx context.Context) error
}

// Memory is the broker of a single process: publishing is delivering.
type Memory struct{ Hub *Hub }

// Publish delivers ev to the local hub.
func (m Memory) Publish(_ context.Context, ev models.Event) { m.Hub.Deliver(ev) }

// Run has nothing to receive.
func (Memory) Run(context.Context) error { return nil }

// Ready is always true.
func (Memory) Ready(context.Context) error { return nil }

var _ Broker = Memory{}

func discardLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
