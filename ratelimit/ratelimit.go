// Package ratelimit counts actions per key against limits: in memory for
// one process, or in Redis (GCRA, via go-redis/redis_rate) so that limits
// hold across instances.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limit allows Count actions per Period, all at once if need be.
type Limit struct {
	Count  int
	Period time.Duration
}

// Parse reads "COUNT/PERIOD", e.g. "10/15m" or "50/24h".
func Parse(s string) (Limit, error) {
	n, p, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count <= 0 {
		return Limit{}, fmt.Errorf("limit %q is not COUNT/PERIOD like 10/15m", s)
	}
	period, err := time.ParseDuration(p)
	if err != nil || period <= 0 {
		return Limit{}, fmt.Errorf("limit %q is not COUNT/PERIOD like 10/15m", s)
	}
	return Limit{Count: count, Period: period}, nil
}

func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.Count, l.Period) }

// Limiter decides whether an action under key may happen now.
type Limiter interface {
	// Take uses n of key's allowance (n = 0 only looks). It reports how long
	// to wait when the allowance is spent: 0 means allowed.
	Take(ctx context.Context, key string, l Limit, n int) (retryAfter time.Duration, err error)
}

// Memory keeps token buckets in this process.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewMemory returns an empty in-memory limiter.
func NewMemory() *Memory { return &Memory{buckets: map[string]*bucket{}, now: time.Now} }

// Take implements Limiter with a token bucket of Count tokens refilled over Period.
func (m *Memory) Take(_ context.Context, key string, l Limit, n int) (time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
	k := key + "|" + l.String()
	b := m.buckets[k]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.Period/time.Duration(l.Count)), l.Count)}
		m.buckets[k] = b
	}
	b.seen = now
	need := float64(max(n, 1))
	if tokens := b.lim.TokensAt(now); tokens < need {
		return time.Duration((need - tokens) * float64(l.Period) / float64(l.Count)), nil
	}
	if n > 0 {
		b.lim.AllowN(now, n)
	}
	return 0, nil
}

// prune forgets buckets idle for a day, so memory stays bounded by recent keys.
func (m *Memory) prune(now time.Time) {
	if len(m.buckets) < 10000 {
		return
	}
	for k, b := range m.buckets {
		if now.Sub(b.seen) > 24*time.Hour {
			delete(m.buckets, k)
		}
	}
}

// Redis keeps the counts in Redis, shared by every instance.
type Redis struct{ lim *redis_rate.Limiter }

// NewRedis uses the Redis at url (redis://host:port/db).
func NewRedis(url string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	return &Redis{lim: redis_rate.NewLimiter(redis.NewClient(opts))}, nil
}

// Take implements Limiter with GCRA in Redis.
func (r *Redis) Take(ctx context.Context, key string, l Limit, n int) (time.Duration, error) {
	limit := redis_rate.Limit{Rate: l.Count, Burst: l.Count, Period: l.Period}
	res, err := r.lim.AllowN(ctx, "dmgraph:"+key, limit, n)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		if res.Remaining >= 1 {
			return 0, nil
		}
		return max(res.RetryAfter, time.Second), nil
	}
	if res.Allowed >= n {
		return 0, nil
	}
	return max(res.RetryAfter, time.Second), nil
}
