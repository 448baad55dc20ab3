package resolvers_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dmgraph/dm"
	"dmgraph/ratelimit"
)

// small sets every limit to n per hour.
func small(n int) *dm.Limits {
	l := ratelimit.Limit{Count: n, Period: time.Hour}
	return &dm.Limits{Limiter: ratelimit.NewMemory(), LoginFailures: l, LoginIP: ratelimit.Limit{Count: 100, Period: time.Hour},
		RegisterIP: ratelimit.Limit{Count: 100, Period: time.Hour}, Send: l, NewRequests: l}
}

func checkRetryAfter(t *testing.T, res response) {
	t.Helper()
	if ra, ok := res.Errors[0].Extensions["retryAfter"].(float64); !ok || ra < 1 {
		t.Fatalf("retryAfter = %v, want seconds ≥ 1", res.Errors[0].Extensions["retryAfter"])
	}
}

// rateLimitsWithoutRetryAfter are the RATE_LIMITED errors of res that don't
// say how long to wait. The harness fails every test that meets one, so
// each RATE_LIMITED the suite provokes is checked.
func rateLimitsWithoutRetryAfter(res response) []gqlError {
	var bad []gqlError
	for _, e := range res.Errors {
		if ra, ok := e.Extensions["retryAfter"].(float64); e.Extensions["code"] == "RATE_LIMITED" && (!ok || ra < 1) {
			bad = append(bad, e)
		}
	}
	return bad
}

func TestLimitFailedLogins(t *testing.T) {
	e := newEnv(t, withLimits(small(3)))
	u := e.register("victim")
	login := `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token } }`
	for i := range 3 {
		e.fail("", login, map[string]any{"u": u.Name, "p": "wrong password"}, "UNAUTHENTICATED", "")
		_ = i
	}
	res := e.fail("", login, map[string]any{"u": u.Name, "p": "correct horse"}, "RATE_LIMITED", "TOO_MANY_ATTEMPTS")
	checkRetryAfter(t, res)
	// Another username is not affected.
	other := e.register("other")
	e.must("", login, map[string]any{"u": other.Name, "p": "correct horse"}, nil)
}

func TestLimitSendBursts(t *testing.T) {
	e := newEnv(t, withLimits(small(5)))
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	for i := range 5 {
		e.send(alice, bob, fmt.Sprint("burst ", i))
	}
	res := e.fail(alice.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": bob.ID, "text": "one too many"}},
		"RATE_LIMITED", "TOO_MANY_ATTEMPTS")
	checkRetryAfter(t, res)
	e.send(bob, alice, "bob is not limited") // per user
}

func TestLimitNewRequestsPerDay(t *testing.T) {
	limits := small(100)
	limits.NewRequests = ratelimit.Limit{Count: 2, Period: 24 * time.Hour}
	e := newEnv(t, withLimits(limits))
	spammer := e.register("spammer")
	var targets []user
	for range 3 {
		u := e.register("target")
		e.setPolicy(u, "EVERYONE")
		targets = append(targets, u)
	}
	e.send(spammer, targets[0], "hi 1")
	e.send(spammer, targets[0], "more in the same request: not a new one")
	e.send(spammer, targets[1], "hi 2")
	e.sendFails(spammer, targets[2], "hi 3", "RATE_LIMITED", "NEW_REQUEST_LIMIT")
	if reqs := e.requests(targets[2]); len(reqs) != 0 {
		t.Fatalf("the refused request exists: %v", reqs)
	}
}

func TestLimitRegistrationsPerAddress(t *testing.T) {
	limits := small(100)
	limits.RegisterIP = ratelimit.Limit{Count: 2, Period: time.Hour}
	e := newEnv(t, withLimits(limits))
	e.register("first")
	e.register("second")
	res := e.fail("", `mutation { register(input: {username: "third_one", password: "correct horse", displayName: "T", birthDate: "1990-01-01"}) { token } }`,
		nil, "RATE_LIMITED", "TOO_MANY_ATTEMPTS")
	checkRetryAfter(t, res)
}

// Parallel sends can't open more requests than the cap.
func TestLimitNewRequestCapHoldsUnderConcurrency(t *testing.T) {
	limits := small(1000)
	limits.NewRequests = ratelimit.Limit{Count: 2, Period: 24 * time.Hour}
	e := newEnv(t, withLimits(limits))
	spammer := e.register("spammer")
	var targets []user
	for range 20 {
		u := e.register("target")
		e.setPolicy(u, "EVERYONE")
		targets = append(targets, u)
	}
	var opened atomic.Int32
	var wg sync.WaitGroup
	for _, target := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do(spammer.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": target.ID, "text": "hi"}})
			if len(res.Errors) == 0 {
				opened.Add(1)
			} else if res.reason() != "NEW_REQUEST_LIMIT" {
				t.Errorf("unexpected error %+v", res.Errors)
			}
		}()
	}
	wg.Wait()
	if n := opened.Load(); n != 2 {
		t.Fatalf("%d requests opened with a cap of 2", n)
	}
}
