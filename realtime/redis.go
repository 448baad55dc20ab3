package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"dmgraph/models"
)

// DefaultChannel is the Redis pub/sub channel events travel on.
const DefaultChannel = "dmgraph:events"

// publishQueue bounds events waiting for Redis. A send never waits for
// Redis: when the queue is full (Redis down for long), events are dropped
// and clients catch up from the database with `after`.
const publishQueue = 4096

// Redis carries events between instances through Redis pub/sub. The
// publishing instance delivers to its own subscribers at once, without
// Redis, and skips its events when they come back; so a Redis outage only
// pauses delivery across instances.
type Redis struct {
	id      string
	client  *redis.Client
	channel string
	hub     *Hub
	log     *slog.Logger
	queue   chan models.Event
}

// NewRedis connects to url (redis://host:port/db) and uses channel (or
// DefaultChannel). Call Run to start moving events.
func NewRedis(url, channel string, hub *Hub, log *slog.Logger) (*Redis, error) {
	if channel == "" {
		channel = DefaultChannel
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	// Let a caller's deadline cut a command short too (go-redis otherwise
	// waits out ReadTimeout whatever the context says); Ready relies on it.
	opts.ContextTimeoutEnabled = true
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &Redis{id: hex.EncodeToString(id), client: redis.NewClient(opts), channel: channel, hub: hub, log: discardLogger(log),
		queue: make(chan models.Event, publishQueue)}, nil
}

// Publish delivers ev locally and queues it for Redis, without waiting.
func (r *Redis) Publish(_ context.Context, ev models.Event) {
	ev.Origin = r.id
	r.hub.Deliver(ev)
	select {
	case r.queue <- ev:
	default:
		r.log.Warn("redis publish queue full: event dropped", "kind", ev.Kind)
	}
}

// readyTimeout bounds Ready. /readyz asks its checks in turn within one 2 s
// budget: a Redis that accepts connections and never answers (a dead host,
// a partition) took all of it, and the database, asked next, was reported
// down as well.
const readyTimeout = time.Second

// Ready pings Redis, for at most readyTimeout.
func (r *Redis) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return r.client.Ping(ctx).Err()
}

// Run publishes queued events and delivers received ones to the hub until
// ctx ends. go-redis reconnects the subscription by itself after an outage.
func (r *Redis) Run(ctx context.Context) error {
	sub := r.client.Subscribe(ctx, r.channel)
	defer sub.Close()
	defer r.client.Close()
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		// Not fatal: the subscription retries in the background.
		r.log.Warn("redis subscribe", "err", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.publishLoop(ctx)
	}()
	in := sub.Channel(redis.WithChannelHealthCheckInterval(5 * time.Second))
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case msg, ok := <-in:
			if !ok {
				<-done
				return errors.New("redis subscription closed")
			}
			var ev models.Event
			if err := json.Unmarshal([]byte(msg.Payload), &ev); err != nil {
				r.log.Warn("redis: undecodable event", "err", err)
				continue
			}
			if ev.Origin != r.id {
				r.hub.Deliver(ev)
			}
		}
	}
}

func (r *Redis) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.queue:
			b, _ := json.Marshal(ev)
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := r.client.Publish(pctx, r.channel, b).Err()
			cancel()
			if err != nil && ctx.Err() == nil {
				r.log.Warn("redis publish failed: event dropped", "err", err)
			}
		}
	}
}

var _ Broker = (*Redis)(nil)
