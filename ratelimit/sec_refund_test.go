package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSec04TakeIsAtomicUnderParallelCharges: 40 parallel charges of one
// key under a limit of 10 let exactly 10 through, on every limiter.
func TestSec04TakeIsAtomicUnderParallelCharges(t *testing.T) {
	ctx := context.Background()
	eachLimiter(t, func(t *testing.T, l Limiter) {
		key := fmt.Sprintf("test:sec04:%s:%d", t.Name(), time.Now().UnixNano())
		lim := Limit{Count: 10, Period: time.Hour}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wait, err := l.Take(ctx, key, lim, 1)
				if err != nil {
					t.Error(err)
				}
				if wait == 0 {
					allowed.Add(1)
				}
			}()
		}
		wg.Wait()
		if got := allowed.Load(); got != 10 {
			t.Fatalf("%d of 40 parallel charges allowed, want 10", got)
		}
	})
}

// TestSec04RefundGivesBackTheNewest: a refund frees exactly what it gives
// back, never more than was taken, and touches no other key or limit.
func TestSec04RefundGivesBackTheNewest(t *testing.T) {
	ctx := context.Background()
	eachLimiter(t, func(t *testing.T, l Limiter) {
		key := fmt.Sprintf("test:sec04r:%s:%d", t.Name(), time.Now().UnixNano())
		other := key + ":other"
		lim := Limit{Count: 3, Period: time.Hour}
		take := func(k string) time.Duration {
			t.Helper()
			wait, err := l.Take(ctx, k, lim, 1)
			if err != nil {
				t.Fatal(err)
			}
			return wait
		}
		for range 3 {
			if take(key) != 0 || take(other) != 0 {
				t.Fatal("refused within the limit")
			}
		}
		if take(key) == 0 {
			t.Fatal("a fourth take allowed")
		}
		if err := l.Refund(ctx, key, lim, 1); err != nil {
			t.Fatal(err)
		}
		if take(key) != 0 {
			t.Fatal("no room after a refund of one")
		}
		if take(key) == 0 {
			t.Fatal("a refund of one freed more than one")
		}
		if take(other) == 0 {
			t.Fatal("a refund on one key freed another")
		}
		if err := l.Refund(ctx, key, Limit{Count: 3, Period: time.Minute}, 3); err != nil {
			t.Fatal(err)
		}
		if take(key) == 0 {
			t.Fatal("a refund under another limit freed this one")
		}
		for _, n := range []int{0, -1} {
			if err := l.Refund(ctx, key, lim, n); err != nil {
				t.Fatal(err)
			}
			if take(key) == 0 {
				t.Fatalf("a refund of %d freed room", n)
			}
		}
		if err := l.Refund(ctx, key, lim, 10); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if take(key) != 0 {
				t.Fatalf("take %d after refunding everything refused", i)
			}
		}
		if take(key) == 0 {
			t.Fatal("refunding more than was taken left credit")
		}
	})
}
