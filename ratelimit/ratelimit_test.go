package ratelimit

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

func limiters(t *testing.T) map[string]Limiter {
	out := map[string]Limiter{"memory": NewMemory()}
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		r, err := NewRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		out["redis"] = r
	}
	return out
}

func TestTakeUpToTheLimit(t *testing.T) {
	ctx := context.Background()
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			key := fmt.Sprintf("test:%s:%d", name, time.Now().UnixNano())
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
}

func TestParse(t *testing.T) {
	l, err := Parse("10/15m")
	if err != nil || l.Count != 10 || l.Period != 15*time.Minute {
		t.Fatalf("%+v %v", l, err)
	}
	for _, bad := range []string{"", "10", "x/1m", "0/1m", "5/-1s", "5/forever"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
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
