package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Charging thousands at once (syncContacts) records one entry, in memory
// and in Redis, and counts as thousands.
func TestSec06TakeManyIsOneEntry(t *testing.T) {
	ctx := context.Background()
	eachLimiter(t, func(t *testing.T, l Limiter) {
		key := fmt.Sprintf("test:many:%s:%d", t.Name(), time.Now().UnixNano())
		lim := Limit{Count: 10000, Period: time.Hour}
		if wait, err := l.Take(ctx, key, lim, 5000); err != nil || wait != 0 {
			t.Fatalf("take 5000: %v %v", wait, err)
		}
		if wait, err := l.Take(ctx, key, lim, 4999); err != nil || wait != 0 {
			t.Fatalf("take 4999 more: %v %v", wait, err)
		}
		if wait, err := l.Take(ctx, key, lim, 2); err != nil || wait <= 0 || wait > time.Hour {
			t.Fatalf("take 2 over 9999 of 10000: wait %v, %v", wait, err)
		}
		if wait, err := l.Take(ctx, key, lim, 1); err != nil || wait != 0 {
			t.Fatalf("take the last one: %v %v", wait, err)
		}
		if got := entries(t, l, key, lim); got != 3 {
			t.Fatalf("%d entries for three takes, want 3", got)
		}
		// More than the whole allowance never fits, and records nothing.
		if wait, err := l.Take(ctx, key+":big", lim, 10001); err != nil || wait != time.Hour {
			t.Fatalf("take 10001 of 10000: wait %v, %v; want a whole period", wait, err)
		}
		if got := entries(t, l, key+":big", lim); got != 0 {
			t.Fatalf("a refused take left %d entries", got)
		}
	})
}

func entries(t *testing.T, l Limiter, key string, lim Limit) int {
	t.Helper()
	switch l := l.(type) {
	case *Memory:
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.logs[key+"|"+lim.String()])
	case *Redis:
		n, err := l.client.ZCard(context.Background(), "dmgraph:limit:"+key+"|"+lim.String()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	t.Fatalf("unknown limiter %T", l)
	return 0
}

// Room comes back take by take, each with its weight: the wait is until
// enough of the oldest takes have left the window.
func TestSec06WeightedWindow(t *testing.T) {
	m := NewMemory()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	lim := Limit{Count: 10, Period: time.Hour}
	ctx := context.Background()
	t0 := now
	if wait, _ := m.Take(ctx, "k", lim, 6); wait != 0 {
		t.Fatal("first take refused")
	}
	now = now.Add(10 * time.Minute)
	t1 := now
	if wait, _ := m.Take(ctx, "k", lim, 3); wait != 0 {
		t.Fatal("second take refused")
	}
	now = now.Add(10 * time.Minute)
	// 9 used: 2 more must wait for the 6 to leave; 8 more for the 3 as well.
	if wait, _ := m.Take(ctx, "k", lim, 2); wait != t0.Add(time.Hour).Sub(now) {
		t.Fatalf("wait %v, want %v", wait, t0.Add(time.Hour).Sub(now))
	}
	if wait, _ := m.Take(ctx, "k", lim, 8); wait != t1.Add(time.Hour).Sub(now) {
		t.Fatalf("wait %v, want %v", wait, t1.Add(time.Hour).Sub(now))
	}
	now = t0.Add(time.Hour)
	if wait, _ := m.Take(ctx, "k", lim, 7); wait != 0 {
		t.Fatalf("after the 6 left, 7 more waited %v", wait)
	}
	if wait, _ := m.Take(ctx, "k", lim, 1); wait == 0 {
		t.Fatal("an eleventh action in the window was allowed")
	}
}

// A Redis log written before takes had weights (plain members) still counts
// one per member.
func TestSec06RedisReadsUnweightedMembers(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	lim := Limit{Count: 3, Period: time.Hour}
	key := fmt.Sprintf("test:old:%d", time.Now().UnixNano())
	k := "dmgraph:limit:" + key + "|" + lim.String()
	ms := float64(time.Now().UnixMilli())
	if err := r.client.ZAdd(ctx, k, redisZ(ms, "1"), redisZ(ms, "2")).Err(); err != nil {
		t.Fatal(err)
	}
	defer r.client.Del(ctx, k, k+":seq")
	if wait, err := r.Take(ctx, key, lim, 1); err != nil || wait != 0 {
		t.Fatalf("third of three: %v %v", wait, err)
	}
	if wait, err := r.Take(ctx, key, lim, 1); err != nil || wait == 0 {
		t.Fatalf("fourth of three: %v %v", wait, err)
	}
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

// A refund gives back actions, not takes: the newest take shrinks when it
// holds more than the refund.
func TestSec06RefundIsWeighted(t *testing.T) {
	ctx := context.Background()
	eachLimiter(t, func(t *testing.T, l Limiter) {
		key := fmt.Sprintf("test:refundw:%s:%d", t.Name(), time.Now().UnixNano())
		lim := Limit{Count: 10, Period: time.Hour}
		for _, n := range []int{5, 3} {
			if wait, err := l.Take(ctx, key, lim, n); err != nil || wait != 0 {
				t.Fatalf("take %d: %v %v", n, wait, err)
			}
		}
		if err := l.Refund(ctx, key, lim, 4); err != nil { // 8 - 4 = 4 used
			t.Fatal(err)
		}
		if got := entries(t, l, key, lim); got != 1 {
			t.Fatalf("%d entries after refunding the newest take and part of the other, want 1", got)
		}
		if wait, err := l.Take(ctx, key, lim, 6); err != nil || wait != 0 {
			t.Fatalf("6 more after the refund: %v %v", wait, err)
		}
		if wait, err := l.Take(ctx, key, lim, 1); err != nil || wait == 0 {
			t.Fatalf("an eleventh action: %v %v", wait, err)
		}
	})
}
