package dm_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"dmgraph/auth"
	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/ratelimit"
	"dmgraph/relay"
)

// spyLimiter passes every call on to its Limiter and records the ones made
// from inside the store: there the send's transaction holds row locks.
type spyLimiter struct {
	ratelimit.Limiter
	mu     sync.Mutex
	calls  int
	inside []string // the stack of each call made from inside the store
}

func (l *spyLimiter) record() {
	buf := make([]byte, 64<<10)
	stack := string(buf[:runtime.Stack(buf, false)])
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if strings.Contains(stack, "dmgraph/store.") {
		l.inside = append(l.inside, stack)
	}
}

func (l *spyLimiter) Take(ctx context.Context, key string, lim ratelimit.Limit, n int) (time.Duration, error) {
	l.record()
	return l.Limiter.Take(ctx, key, lim, n)
}

func (l *spyLimiter) Refund(ctx context.Context, key string, lim ratelimit.Limit, n int) error {
	l.record()
	return l.Limiter.Refund(ctx, key, lim, n)
}

// Many concurrent sends, a third of them refused by the cap on new
// requests: the cap holds exactly, and the store never calls the limiter
// (Redis, with TEST_REDIS_URL) while a send's transaction is open.
func TestSendCallsNoLimiterUnderRowLocks(t *testing.T) {
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			spy := &spyLimiter{Limiter: l}
			const senders, targets, limit = 6, 9, 6
			svc := lockTestService(t, spy, limit)
			ctx := context.Background()
			users := make([][]int64, senders) // each sender, then their targets
			for i := range users {
				for j := range targets + 1 {
					users[i] = append(users[i], registerUser(t, svc, fmt.Sprintf("s%dt%d", i, j)))
				}
			}
			// Each sender writes to every target twice at once: new requests,
			// extensions and refusals in the same batches.
			var mu sync.Mutex
			sent, capped := map[int64]int{}, map[int64]int{}
			var wg sync.WaitGroup
			for _, group := range users {
				for _, target := range group[1:] {
					for range 2 {
						wg.Go(func() {
							text := "hello"
							_, err := svc.SendMessage(models.WithViewer(ctx, group[0]),
								dm.SendInput{RecipientID: &target, Text: &text})
							mu.Lock()
							defer mu.Unlock()
							var e *models.Error
							switch {
							case err == nil:
								sent[group[0]]++
							case errors.As(err, &e) && e.Reason == models.ReasonNewRequestLimit:
								capped[group[0]]++
							default:
								t.Errorf("send: %v", err)
							}
						})
					}
				}
			}
			wg.Wait()
			for _, group := range users {
				reqs := 0
				for _, target := range group[1:] {
					conn, err := svc.MessageRequests(models.WithViewer(ctx, target), relay.Args{Limit: 10})
					if err != nil {
						t.Fatal(err)
					}
					reqs += len(conn.Edges)
				}
				// Two sends per target: one opens a request and one extends it,
				// or the cap refuses both.
				if reqs != limit || sent[group[0]] != 2*limit || capped[group[0]] != 2*(targets-limit) {
					t.Errorf("sender %d: %d requests opened with a cap of %d; %d sent, %d capped",
						group[0], reqs, limit, sent[group[0]], capped[group[0]])
				}
			}
			spy.mu.Lock()
			defer spy.mu.Unlock()
			if spy.calls == 0 {
				t.Fatal("the limiter was never called: the spy sees nothing")
			}
			if len(spy.inside) > 0 {
				t.Fatalf("%d of %d limiter calls were made inside the store's send transaction; the first:\n%s",
					len(spy.inside), spy.calls, spy.inside[0])
			}
		})
	}
}

// lockTestService is a Service on a fresh store whose only tight limit is
// the cap on new requests, newRequests a day.
func lockTestService(t *testing.T, l ratelimit.Limiter, newRequests int) *dm.Service {
	return testService(t, l, auth.Hasher{Cost: 4}, func(limits *dm.Limits) {
		limits.RegisterIP = ratelimit.Limit{Count: 1000, Period: time.Hour}
		limits.Send = ratelimit.Limit{Count: 1000, Period: time.Hour}
		limits.NewRequests = ratelimit.Limit{Count: newRequests, Period: 24 * time.Hour}
	})
}

// registerUser registers an adult who accepts messages from everyone.
func registerUser(t *testing.T, svc *dm.Service, name string) int64 {
	t.Helper()
	s, err := svc.Register(context.Background(), dm.RegisterParams{Username: name, Password: "correct horse",
		DisplayName: name, BirthDate: models.Date{Time: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdatePrivacySettings(models.WithViewer(context.Background(), s.User.ID), models.PolicyEveryone); err != nil {
		t.Fatal(err)
	}
	return s.User.ID
}
