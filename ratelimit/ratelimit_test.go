package ratelimit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// eachLimiter runs test on the in-memory limiter and, when TEST_REDIS_URL
// names a Redis (as in CI), on the Redis one; otherwise it says it skipped it.
func eachLimiter(t *testing.T, test func(t *testing.T, l Limiter)) {
	t.Run("memory", func(t *testing.T) { test(t, NewMemory()) })
	t.Run("redis", func(t *testing.T) { test(t, testRedis(t)) })
}

// testRedis is the Redis limiter on TEST_REDIS_URL (as in CI); without it
// the test says it skipped.
func testRedis(t *testing.T) *Redis {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		t.Skip("TEST_REDIS_URL is not set: the Redis limiter is not tested")
	}
	r, err := NewRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.client.Close() })
	return r
}

func TestTakeUpToTheLimit(t *testing.T) {
	ctx := context.Background()
	eachLimiter(t, func(t *testing.T, l Limiter) {
		key := fmt.Sprintf("test:%s:%d", t.Name(), time.Now().UnixNano())
		lim := Limit{Count: 3, Period: time.Hour}
		for i := range 3 {
			if wait, err := l.Take(ctx, key, lim, 0); err != nil || wait != 0 {
				t.Fatalf("peek %d: %v %v", i, wait, err)
			}
			if wait, err := l.Take(ctx, key, lim, 1); err != nil || wait != 0 {
				t.Fatalf("take %d: %v %v", i, wait, err)
			}
		}
		for _, n := range []int{0, 1} {
			wait, err := l.Take(ctx, key, lim, n)
			if err != nil || wait <= 0 || wait > time.Hour {
				t.Fatalf("over the limit (n=%d): wait %v, %v", n, wait, err)
			}
		}
		// Another key is independent.
		if wait, _ := l.Take(ctx, key+":other", lim, 1); wait != 0 {
			t.Fatalf("other key waited %v", wait)
		}
	})
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Limit{
		"10/15m":    {10, 15 * time.Minute},
		" 50/24h\n": {50, 24 * time.Hour},
		"1/1ns":     {1, time.Nanosecond},
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
		if got, _ := Parse(want.String()); got != want {
			t.Errorf("%v does not parse back: %+v", want, got)
		}
	}
	for _, bad := range []string{"", "10", "/1m", "x/1m", "0/1m", "-1/1m", "5/-1s", "5/0s", "5/forever", "5/", "1.5/1m"} {
		got, err := Parse(bad)
		if err == nil || got != (Limit{}) || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("%q: %+v %v, want an error naming it", bad, got, err)
		}
	}
}

// The window is exact: never more than Count in any Period, whatever the
// timing, and room comes back as the oldest actions leave the window.
func TestMemoryWindowIsExact(t *testing.T) {
	m := NewMemory()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	m.now = func() time.Time { return now }
	lim := Limit{Count: 10, Period: 15 * time.Minute}
	taken := 0
	for range 15 * 60 { // one attempt a second for 15 minutes
		if wait, _ := m.Take(context.Background(), "k", lim, 1); wait == 0 {
			taken++
		}
		now = now.Add(time.Second)
	}
	if taken != 10 {
		t.Fatalf("%d actions in 15 minutes, want 10", taken)
	}
	now = start.Add(15*time.Minute - 500*time.Millisecond) // the first action is 0.5 s from leaving
	wait, _ := m.Take(context.Background(), "k", lim, 1)
	if wait != 500*time.Millisecond {
		t.Fatalf("wait %v just before the first action leaves the window, want 500ms", wait)
	}
	now = now.Add(wait)
	if wait, _ := m.Take(context.Background(), "k", lim, 1); wait != 0 {
		t.Fatalf("still waiting %v after the oldest left", wait)
	}
}

// The wait is until enough of the oldest actions leave the window for n
// more; n = 0 waits as for one and records nothing.
func TestMemoryWaitForSeveral(t *testing.T) {
	m := NewMemory()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	m.now = func() time.Time { return now }
	ctx := context.Background()
	lim := Limit{Count: 3, Period: 10 * time.Minute}
	for range 3 {
		if wait, err := m.Take(ctx, "k", lim, 1); wait != 0 || err != nil {
			t.Fatalf("take at %v: %v %v", now.Sub(start), wait, err)
		}
		now = now.Add(time.Minute)
	}
	// Actions at 0, 1 and 2 minutes; it is now 3 minutes. More than the
	// whole allowance can never fit: it is told to wait a whole period.
	for n, want := range map[int]time.Duration{0: 7 * time.Minute, 1: 7 * time.Minute, 2: 8 * time.Minute, 3: 9 * time.Minute, 4: lim.Period} {
		if wait, err := m.Take(ctx, "k", lim, n); wait != want || err != nil {
			t.Errorf("n=%d: wait %v %v, want %v", n, wait, err, want)
		}
	}
	// The window is (now-Period, now]: an action exactly Period ago is out.
	now = start.Add(lim.Period)
	if wait, _ := m.Take(ctx, "k", lim, 1); wait != 0 {
		t.Errorf("exactly a period after the first action: wait %v", wait)
	}
	if got := len(m.logs["k|"+lim.String()]); got != 3 {
		t.Errorf("%d actions in the window, want 3", got)
	}
	// Less than a millisecond to go still says to wait a millisecond.
	now = start.Add(lim.Period + time.Minute - time.Microsecond)
	if wait, _ := m.Take(ctx, "k", lim, 1); wait != time.Millisecond {
		t.Errorf("a microsecond before room: wait %v, want 1ms", wait)
	}
	// Only looking leaves no trace.
	if wait, _ := m.Take(ctx, "fresh", lim, 0); wait != 0 {
		t.Errorf("peek at a fresh key: wait %v", wait)
	}
	if _, ok := m.logs["fresh|"+lim.String()]; ok {
		t.Error("a peek recorded a key")
	}
}

// From 10,000 keys on, keys idle for more than a day are forgotten.
func TestMemoryForgetsIdleKeys(t *testing.T) {
	m := NewMemory()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	lim := Limit{Count: 1, Period: time.Hour}
	takeAt := func(at time.Time, key string) {
		t.Helper()
		saved := now
		now = at
		defer func() { now = saved }()
		if _, err := m.Take(context.Background(), key, lim, 1); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 9997 {
		takeAt(now.Add(-25*time.Hour), fmt.Sprint("idle", i))
	}
	takeAt(now.Add(-24*time.Hour), "day-old")
	if _, err := m.Take(context.Background(), "a", lim, 1); err != nil {
		t.Fatal(err)
	}
	if len(m.logs) != 9999 {
		t.Fatalf("%d keys below the bound, want all 9999 kept", len(m.logs))
	}
	if _, err := m.Take(context.Background(), "b", lim, 1); err != nil {
		t.Fatal(err)
	}
	if len(m.logs) != 3 {
		t.Fatalf("%d keys after pruning, want 3 (a, b and the one exactly a day old)", len(m.logs))
	}
	for _, k := range []string{"a|" + lim.String(), "b|" + lim.String(), "day-old|" + lim.String()} {
		if _, ok := m.logs[k]; !ok {
			t.Errorf("%s was forgotten", k)
		}
	}
}
