package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Pruning follows each key's latest take: keys idle for more than a day
// leave, and a key taken again within its day stays, wherever it was first
// taken. The order of recent keys always matches the logs.
func TestMemoryPrunesByLatestTake(t *testing.T) {
	m := NewMemory()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	m.now = func() time.Time { return now }
	ctx := context.Background()
	lim := Limit{Count: 1, Period: time.Hour}
	take := func(key string) {
		t.Helper()
		if wait, err := m.Take(ctx, key, lim, 1); wait != 0 || err != nil {
			t.Fatalf("take %s at %v: %v %v", key, now.Sub(start), wait, err)
		}
	}
	take("refreshed") // first in line: pruning reads it before the idle keys
	for i := range 9997 {
		take(fmt.Sprint("idle", i))
	}
	checkRecent(t, m)
	now = start.Add(23 * time.Hour)
	take("refreshed")
	take("live")
	now = start.Add(24*time.Hour + time.Second)
	take("last") // the 10,000th key
	checkRecent(t, m)
	if len(m.logs) != 3 {
		t.Fatalf("%d keys after pruning, want 3 (refreshed, live, last)", len(m.logs))
	}
	for _, k := range []string{"refreshed", "live", "last"} {
		if _, ok := m.logs[k+"|"+lim.String()]; !ok {
			t.Errorf("%s was forgotten", k)
		}
	}
	// A key whose log empties, by a refund or by its window passing, leaves
	// the order too.
	if err := m.Refund(ctx, "live", lim, 1); err != nil {
		t.Fatal(err)
	}
	now = now.Add(lim.Period)
	if wait, err := m.Take(ctx, "last", lim, 0); wait != 0 || err != nil {
		t.Fatalf("peek after the window: %v %v", wait, err)
	}
	checkRecent(t, m)
	if len(m.logs) != 1 {
		t.Fatalf("keys %v, want only refreshed's", m.logs)
	}
}

// checkRecent fails unless recent lists exactly the keys of logs, by their
// latest take, least recent first, and places finds each.
func checkRecent(t *testing.T, m *Memory) {
	t.Helper()
	if m.recent.Len() != len(m.logs) || len(m.places) != len(m.logs) {
		t.Fatalf("%d keys in order, %d placed, %d logs", m.recent.Len(), len(m.places), len(m.logs))
	}
	var prev time.Time
	for e := m.recent.Front(); e != nil; e = e.Next() {
		k := e.Value.(string)
		log, ok := m.logs[k]
		if !ok || m.places[k] != e {
			t.Fatalf("%s is in order but has no log or another place", k)
		}
		if latest := log[len(log)-1].at; latest.Before(prev) {
			t.Fatalf("%s (latest take %v) after a key taken at %v", k, latest, prev)
		} else {
			prev = latest
		}
	}
}

// BenchmarkMemoryTake is an allowed Take among many live keys, each taken
// once per window: the cost should not grow with the number of keys.
func BenchmarkMemoryTake(b *testing.B) {
	for _, keys := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			m := NewMemory()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			m.now = func() time.Time { return now }
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprint("user", i)
			}
			// One take a microsecond, round the keys: each key's last take has
			// just left its window when its turn comes again.
			lim := Limit{Count: 1, Period: time.Duration(keys) * time.Microsecond}
			ctx := context.Background()
			i := 0
			next := func() {
				if wait, _ := m.Take(ctx, names[i%keys], lim, 1); wait != 0 {
					b.Fatalf("take %d waited %v", i, wait)
				}
				now = now.Add(time.Microsecond)
				i++
			}
			for range keys {
				next()
			}
			for b.Loop() {
				next()
			}
		})
	}
}
