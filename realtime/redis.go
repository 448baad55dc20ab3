package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
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
//
// Pub/sub keeps nothing for a subscriber that is away, and events published
// while Redis is unreachable are dropped, so an outage loses events. Since a
// subscription reads the database only when an event wakes it, the
// instances make up for it by resyncing (Hub.Resync: every subscriber
// reconnects and reads what it missed with `after`) whenever events may have
// been lost: when this instance's subscription to Redis comes back after a
// drop (it missed what others published meanwhile), and when another
// instance announces, once Redis is back, that it could not publish some
// events (EventResync).
type Redis struct {
	id      string
	client  *redis.Client
	channel string
	hub     *Hub
	log     *slog.Logger
	queue   chan models.Event
	// lost is set when an event could not be published; the publisher then
	// announces EventResync as soon as Redis answers again.
	lost    atomic.Bool
	resyncs atomic.Int64

	resyncMu      sync.Mutex
	lastResync    time.Time
	resyncPending bool // a resync is scheduled for the end of the interval
}

// minResyncInterval spaces resyncs: each one makes every local subscriber
// reconnect, and an overloaded cluster announcing lost events every second
// must not turn that into a reconnect storm. A resync asked for sooner is
// not dropped but deferred to the end of the interval, so the events lost
// meanwhile are still recovered.
const minResyncInterval = 2 * time.Second

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
		r.lost.Store(true)
		r.log.Warn("redis publish queue full: event dropped", "kind", ev.Kind)
	}
}

// Resyncs counts the times this instance ended its subscriptions because
// events may have been lost.
func (r *Redis) Resyncs() int64 { return r.resyncs.Load() }

// resync ends every local subscription, now or at the end of the interval
// (minResyncInterval); its clients resume with `after`.
func (r *Redis) resync(why string) {
	r.resyncMu.Lock()
	defer r.resyncMu.Unlock()
	wait := minResyncInterval - time.Since(r.lastResync)
	switch {
	case r.resyncPending:
		return // the scheduled one covers this
	case wait > 0:
		r.resyncPending = true
		time.AfterFunc(wait, func() {
			r.resyncMu.Lock()
			r.resyncPending = false
			r.lastResync = time.Now()
			r.resyncMu.Unlock()
			r.resyncNow(why)
		})
		return
	}
	r.lastResync = time.Now()
	r.resyncNow(why)
}

func (r *Redis) resyncNow(why string) {
	n := r.hub.Resync()
	r.resyncs.Add(1)
	r.log.Warn("redis: events may have been lost; subscribers resume from the database", "why", why, "subscriptions", n)
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
// ctx ends. go-redis reconnects the subscription by itself after an outage
// (and its health check notices a connection that went silent); each
// reconnection shows up as a new subscribe confirmation, which is when this
// instance resyncs.
func (r *Redis) Run(ctx context.Context) error {
	sub := r.client.Subscribe(ctx, r.channel)
	defer sub.Close()
	defer r.client.Close()
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		// Not fatal: the subscription retries in the background, and its
		// confirmation, when it comes, resyncs whatever subscribed meanwhile.
		r.log.Warn("redis subscribe", "err", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.publishLoop(ctx)
	}()
	in := sub.ChannelWithSubscriptions(redis.WithChannelHealthCheckInterval(5 * time.Second))
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
			switch msg := msg.(type) {
			case *redis.Subscription:
				// The first confirmation was read above; any later one
				// is go-redis subscribing again on a new connection.
				if msg.Kind == "subscribe" {
					r.resync("resubscribed to redis")
				}
			case *redis.Message:
				var ev models.Event
				if err := json.Unmarshal([]byte(msg.Payload), &ev); err != nil {
					r.log.Warn("redis: undecodable event", "err", err)
					continue
				}
				switch {
				case ev.Origin == r.id:
					// Delivered locally when published.
				case ev.Kind == EventResync:
					r.resync("instance " + ev.Origin + " could not publish some events")
				default:
					if ev.Message != nil {
						ev.Message.ShareReads() // one read of its sender for all local subscribers
					}
					r.hub.Deliver(ev)
				}
			}
		}
	}
}

// publishLoop publishes queued events. After a failure it first announces
// EventResync, before any other event, and retries that every second while
// the queue is idle, so the others resync even if nothing else happens.
func (r *Redis) publishLoop(ctx context.Context) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			if r.lost.Load() {
				r.announceLost(ctx)
			}
		case ev := <-r.queue:
			if r.lost.Load() && !r.announceLost(ctx) {
				// Redis still fails: the coming notice covers this one too.
				continue
			}
			if err := r.publish(ctx, ev); err != nil && ctx.Err() == nil {
				r.lost.Store(true)
				r.log.Warn("redis publish failed: event dropped", "err", err)
			}
		}
	}
}

// announceLost publishes EventResync and reports whether it got through.
func (r *Redis) announceLost(ctx context.Context) bool {
	// Cleared first: an event dropped while the notice is on its way sets
	// it again, for another notice.
	r.lost.Store(false)
	if err := r.publish(ctx, models.Event{Kind: EventResync, Origin: r.id}); err != nil {
		r.lost.Store(true)
		return false
	}
	r.log.Info("redis: back; told the other instances to resync")
	return true
}

func (r *Redis) publish(ctx context.Context, ev models.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return r.client.Publish(pctx, r.channel, b).Err()
}

var _ Broker = (*Redis)(nil)
