// Package ratelimit counts actions per key against limits, as exact sliding
// windows ("at most 10 in any 15 minutes"): in memory for one process, or in
// Redis so that limits hold across instances.
package ratelimit

import (
	"container/list"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
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

// Limiter decides whether an action under key may happen now. Limits are
// exact sliding windows: at most Count actions in any Period.
type Limiter interface {
	// Take uses n of key's allowance (n = 0 only looks). It reports how long
	// to wait when the allowance is spent: 0 means allowed.
	Take(ctx context.Context, key string, l Limit, n int) (retryAfter time.Duration, err error)
	// Refund gives back up to n of the actions most recently taken under
	// key and l, for an action charged before its outcome was known (a
	// login attempt that turned out right).
	Refund(ctx context.Context, key string, l Limit, n int) error
}

// Memory keeps each key's recent takes in this process.
type Memory struct {
	mu   sync.Mutex
	logs map[string][]take // per key and limit, oldest first
	// recent orders the keys of logs by their latest take, least recent
	// first, so that pruning reads only the keys it forgets; places finds
	// a key's element.
	recent list.List
	places map[string]*list.Element
	now    func() time.Time
}

// take is one Take of n actions: one entry however large n is, so that
// charging thousands at once stays cheap.
type take struct {
	at time.Time
	n  int
}

// NewMemory returns an empty in-memory limiter.
func NewMemory() *Memory {
	return &Memory{logs: map[string][]take{}, places: map[string]*list.Element{}, now: time.Now}
}

// Take implements Limiter. An n larger than l.Count never fits: it is told
// to wait a whole Period.
func (m *Memory) Take(_ context.Context, key string, l Limit, n int) (time.Duration, error) {
	now := m.now()
	need := max(n, 1)
	if need > l.Count {
		return l.Period, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key + "|" + l.String()
	log := m.logs[k]
	cut := 0
	for cut < len(log) && !log[cut].at.After(now.Add(-l.Period)) {
		cut++
	}
	log = log[cut:]
	used := 0
	for _, t := range log {
		used += t.n
	}
	if excess := used + need - l.Count; excess > 0 {
		// Wait until enough of the oldest actions leave the window.
		m.logs[k] = log
		for _, t := range log {
			if excess -= t.n; excess <= 0 {
				return max(t.at.Add(l.Period).Sub(now), time.Millisecond), nil
			}
		}
	}
	if n > 0 {
		log = append(log, take{at: now, n: n})
		m.touch(k)
	}
	m.store(k, log)
	m.prune(now)
	return 0, nil
}

// Refund implements Limiter.
func (m *Memory) Refund(_ context.Context, key string, l Limit, n int) error {
	if n <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key + "|" + l.String()
	log := m.logs[k]
	for n > 0 && len(log) > 0 {
		last := &log[len(log)-1]
		if last.n > n {
			last.n -= n
			break
		}
		n -= last.n
		log = log[:len(log)-1]
	}
	// After a partial refund, k keeps the place in recent of the newest take
	// it gave back: it may be pruned a little later than it could be, never
	// earlier.
	m.store(k, log)
	return nil
}

// touch moves k to the back of recent: it has just taken.
func (m *Memory) touch(k string) {
	if e, ok := m.places[k]; ok {
		m.recent.MoveToBack(e)
	} else {
		m.places[k] = m.recent.PushBack(k)
	}
}

// store keeps k's log, or forgets k when its log is empty.
func (m *Memory) store(k string, log []take) {
	if len(log) > 0 {
		m.logs[k] = log
		return
	}
	delete(m.logs, k)
	if e, ok := m.places[k]; ok {
		m.recent.Remove(e)
		delete(m.places, k)
	}
}

// prune forgets keys idle for a day, from 10,000 keys on, so memory stays
// bounded by recent keys. It reads recent from its least recent end and
// stops at the first key taken within the day: each forgotten key is read
// once, plus one key per call, however many keys there are.
func (m *Memory) prune(now time.Time) {
	if len(m.logs) < 10000 {
		return
	}
	for e := m.recent.Front(); e != nil; e = m.recent.Front() {
		k := e.Value.(string)
		if log := m.logs[k]; now.Sub(log[len(log)-1].at) <= 24*time.Hour {
			return
		}
		m.store(k, nil)
	}
}

// Redis keeps each key's recent takes in a Redis sorted set, shared by
// every instance; one Lua script checks and records atomically. A take of
// n is one member, "seq:n", scored with its time.
type Redis struct{ client *redis.Client }

// NewRedis uses the Redis at url (redis://host:port/db).
func NewRedis(url string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	return &Redis{client: redis.NewClient(opts)}, nil
}

// luaWeight is how many actions a member of a log holds: "seq:n" holds n;
// a plain "seq" (written by an earlier version) holds one.
const luaWeight = `
local function weight(member) return tonumber(string.match(member, ':(%d+)$') or '1') end
`

// takeScript: KEYS[1] the log; ARGV now (ms), period (ms), count, n.
// Returns 0 when allowed, else the milliseconds to wait.
var takeScript = redis.NewScript(luaWeight + `
local key, now, period, count, n = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local need = math.max(n, 1)
if need > count then return period end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
local log = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #log, 2 do used = used + weight(log[i]) end
local excess = used + need - count
if excess > 0 then
  for i = 1, #log, 2 do
    excess = excess - weight(log[i])
    if excess <= 0 then return math.max(tonumber(log[i + 1]) + period - now, 1) end
  end
end
if n > 0 then
  redis.call('ZADD', key, now, redis.call('INCR', key .. ':seq') .. ':' .. n)
end
redis.call('PEXPIRE', key, period)
redis.call('PEXPIRE', key .. ':seq', period)
return 0
`)

// Take implements Limiter.
func (r *Redis) Take(ctx context.Context, key string, l Limit, n int) (time.Duration, error) {
	k := redisKey(key, l)
	wait, err := takeScript.Run(ctx, r.client, []string{k},
		time.Now().UnixMilli(), l.Period.Milliseconds(), l.Count, n).Int64()
	if err != nil {
		return 0, err
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// refundScript: KEYS[1] the log; ARGV n. The newest takes leave the sorted
// set, the last one only in part when it holds more than is left to give.
var refundScript = redis.NewScript(luaWeight + `
local key, n = KEYS[1], tonumber(ARGV[1])
while n > 0 do
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #newest == 0 then break end
  redis.call('ZREM', key, newest[1])
  local w = weight(newest[1])
  if w > n then
    redis.call('ZADD', key, newest[2], redis.call('INCR', key .. ':seq') .. ':' .. (w - n))
  end
  n = n - w
end
return 0
`)

// Refund implements Limiter: the newest actions leave the sorted set.
func (r *Redis) Refund(ctx context.Context, key string, l Limit, n int) error {
	if n <= 0 {
		return nil
	}
	return refundScript.Run(ctx, r.client, []string{redisKey(key, l)}, n).Err()
}

func redisKey(key string, l Limit) string { return "dmgraph:limit:" + key + "|" + l.String() }
