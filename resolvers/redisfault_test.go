package resolvers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"dmgraph/faultnet"
	"dmgraph/realtime/socket"
)

// The Redis cut: two instances share one database and one Redis, each
// instance's Redis traffic going through its own faultnet proxy. bob
// subscribes on A, alice sends through B. While Redis is cut (for both
// instances, or for one only), sends still succeed (the database is the
// truth), /readyz on a cut instance says the broker is down, B's own
// subscribers still get everything, and delivery across instances pauses.
// Once restored, the brokers reconnect by themselves; the subscriber that
// stayed connected on A gets the outage's messages without waiting for a new
// one, then live delivery across instances goes on; and a subscriber
// resuming with `after` gets every message of the outage exactly once, in
// order. Needs TEST_REDIS_URL.
func TestRedisCutPausesAndResumes(t *testing.T) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set")
	}
	for _, c := range []redisCutCase{
		{"both refused", faultnet.Refuse, true, true},
		{"both blackholed", faultnet.Blackhole, true, true},
		{"sender's instance refused", faultnet.Refuse, false, true},
		{"subscriber's instance blackholed", faultnet.Blackhole, true, false},
	} {
		t.Run(c.name, func(t *testing.T) { redisCut(t, redisURL, c) })
	}
}

// redisCutCase says how to cut: which instances lose Redis, and how.
type redisCutCase struct {
	name       string
	mode       faultnet.Mode
	cutA, cutB bool // A holds the subscriber, B the sender
}

const (
	redisOutageSends = 10
	redisLiveWithin  = 5 * time.Second  // a live message in steady state
	redisResumeBound = 10 * time.Second // delivery back after a restore
)

func redisCut(t *testing.T, redisURL string, c redisCutCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+cutHold(t))
	defer cancel()
	pa, urlA := throughProxy(t, redisURL)
	pb, urlB := throughProxy(t, redisURL)
	a, b, channel := twoInstances(t, redisURL, urlA, urlB)

	alice, bob := b.register("alice"), b.register("bob")
	b.friends(alice, bob)
	seed := b.send(alice, bob, "seed")

	var acked []string // every message alice sent after the seed, in order
	var problems []string
	send := func(text string) time.Duration {
		t.Helper()
		start := time.Now()
		res := b.do(alice.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": bob.ID, "text": text, "clientMessageId": text}})
		took := time.Since(start)
		problems = append(problems, leakProblems("sendMessage "+text, res)...)
		if len(res.Errors) > 0 {
			t.Fatalf("send %q: %+v", text, res.Errors)
		}
		var out struct {
			SendMessage struct{ Message struct{ ID string } }
		}
		if err := json.Unmarshal(res.Data, &out); err != nil || out.SendMessage.Message.ID == "" {
			t.Fatalf("send %q: %s", text, res.Data)
		}
		acked = append(acked, out.SendMessage.Message.ID)
		return took
	}

	// bob listens on A (across Redis) and on B (local to the sender).
	subCtx, stopSubs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopSubs(); wg.Wait() }()
	start := func(s *resumingSub) *resumingSub {
		wg.Add(1)
		go func() { defer wg.Done(); s.run(subCtx, 100) }()
		return s
	}
	liveA := start(newResumingSub("bob@A", a.srv.URL, bob.Token, "", seed.MessageID))
	localB := start(newResumingSub("bob@B", b.srv.URL, bob.Token, "", seed.MessageID))
	cutWaitUntil(t, 10*time.Second, "both subscriptions registered", func() bool {
		return a.hub.Subscriptions() == 1 && b.hub.Subscriptions() == 1
	})

	// Before: delivery across instances works.
	for i := range 3 {
		send(fmt.Sprint("before ", i))
		if !liveA.waitFor(len(acked), redisLiveWithin) {
			t.Fatalf("before the cut, A did not deliver message %d within %v", i, redisLiveWithin)
		}
	}
	lastBefore := acked[len(acked)-1]
	cutCheckReady(t, a, "A before the cut", true)
	cutCheckReady(t, b, "B before the cut", true)

	// Cut.
	if c.cutA {
		pa.Set(c.mode)
	}
	if c.cutB {
		pb.Set(c.mode)
	}
	cutAt := time.Now()
	cutWaitUntil(t, 15*time.Second, "/readyz to report the broker down on the cut instances", func() bool {
		return (!c.cutA || cutBrokerDown(t, a)) && (!c.cutB || cutBrokerDown(t, b))
	})
	readyDown := time.Since(cutAt)
	deliveredA := len(liveA.deliveries())
	var slowest time.Duration
	for i := range redisOutageSends {
		slowest = max(slowest, send(fmt.Sprint("outage ", i)))
	}
	if slowest > 2*time.Second {
		t.Errorf("a send took %v while Redis was cut: sending must not wait for Redis", slowest)
	}
	if !localB.waitFor(len(acked), redisLiveWithin) {
		t.Errorf("B's own subscriber did not get the outage messages live: %d of %d", len(localB.deliveries()), len(acked))
	}
	time.Sleep(cutHold(t))
	across := len(liveA.deliveries()) - deliveredA
	if across != 0 {
		t.Errorf("A delivered %d messages across a cut Redis", across)
	}
	cutCheckReady(t, a, "A during the cut", !c.cutA)
	cutCheckReady(t, b, "B during the cut", !c.cutB)

	// Restore, and measure how long each part takes to come back. No
	// message is sent until bob's connected subscriber on A has caught up.
	pa.Set(faultnet.Forward)
	pb.Set(faultnet.Forward)
	restoredAt := time.Now()
	cutWaitUntil(t, redisResumeBound, "/readyz to report ready on both instances", func() bool {
		return !cutBrokerDown(t, a) && !cutBrokerDown(t, b)
	})
	readyBack := time.Since(restoredAt)
	waitForSubscribers(t, redisURL, channel, 2)
	subscribedBack := time.Since(restoredAt)
	if !liveA.waitFor(len(acked), redisResumeBound-time.Since(restoredAt)) {
		t.Fatalf("%v after Redis was restored, bob's connected subscriber on A has %d of the %d messages (readyz back in %v, both subscribed in %v)",
			redisResumeBound, len(liveA.deliveries())-deliveredA, len(acked)-deliveredA, readyBack, subscribedBack)
	}
	caughtUp := time.Since(restoredAt)
	// After: live across instances again, each message within the bound.
	var firstLive time.Duration
	for i := range 3 {
		start := time.Now()
		send(fmt.Sprint("after ", i))
		if !liveA.waitFor(len(acked), redisLiveWithin) {
			t.Fatalf("after the restore, A did not deliver message %d within %v", i, redisLiveWithin)
		}
		if i == 0 {
			firstLive = time.Since(start)
		}
	}

	// A subscriber that resumes on A from the last message before the cut.
	resumed := start(newResumingSub("bob@A resumed", a.srv.URL, bob.Token, "", lastBefore))
	wantResumed := acked[slices.Index(acked, lastBefore)+1:]
	if !resumed.waitFor(len(wantResumed), redisLiveWithin) {
		t.Errorf("the resumed subscriber got %d of %d messages", len(resumed.deliveries()), len(wantResumed))
	}
	if !localB.waitFor(len(acked), redisLiveWithin) {
		t.Errorf("B's subscriber got %d of %d messages", len(localB.deliveries()), len(acked))
	}
	time.Sleep(300 * time.Millisecond) // late duplicates
	stopSubs()
	wg.Wait()

	reconnects := map[string]int{}
	for _, sc := range []struct {
		s    *resumingSub
		want []string
	}{{liveA, acked}, {localB, acked}, {resumed, wantResumed}} {
		var got []string
		for _, d := range sc.s.deliveries() {
			got = append(got, d.ID)
		}
		if !slices.Equal(got, sc.want) {
			t.Errorf("%s received %d messages, want the %d sent, once each and in order:\n got %v\nwant %v", sc.s.name, len(got), len(sc.want), got, sc.want)
		}
		problems = append(problems, sc.s.problems...)
		reconnects[sc.s.name] = sc.s.conns - 1
		for code := range sc.s.closes {
			if code != socket.CloseResync && code != socket.CloseSlowConsumer {
				t.Errorf("%s was closed with %d; only %d or %d (resume with after) may end a subscription here",
					sc.s.name, code, socket.CloseResync, socket.CloseSlowConsumer)
			}
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("redis cut (%s): readyz down %v after the cut; %d sends during the outage (slowest %v), %d delivered across; after restore: readyz ready in %v, both instances subscribed in %v, connected subscriber on A caught up in %v, next live message across in %v; %d messages delivered once and in order on A and B, %d (%d from the outage) to the subscriber resuming with after; reconnects %v",
		c.name, readyDown.Round(time.Millisecond), redisOutageSends, slowest.Round(time.Millisecond), across,
		readyBack.Round(time.Millisecond), subscribedBack.Round(time.Millisecond), caughtUp.Round(time.Millisecond), firstLive.Round(time.Millisecond),
		len(acked), len(wantResumed), redisOutageSends, reconnects)
}

// cutWaitUntil polls cond until it holds, failing the test after timeout.
func cutWaitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cutReadyz asks /readyz, which answers within its own 2 s bound.
func cutReadyz(t *testing.T, e *env) (int, []string) {
	t.Helper()
	client := http.Client{Timeout: 5 * time.Second}
	res, err := client.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer res.Body.Close()
	var body struct {
		Status string
		Down   []string
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("readyz answer: %v", err)
	}
	return res.StatusCode, body.Down
}

// cutBrokerDown reports whether /readyz answers 503 with the broker down.
func cutBrokerDown(t *testing.T, e *env) bool {
	t.Helper()
	code, down := cutReadyz(t, e)
	if code == http.StatusOK {
		return false
	}
	if code != http.StatusServiceUnavailable || !slices.Equal(down, []string{"broker"}) {
		t.Fatalf("readyz: %d %v, want 503 with only the broker down", code, down)
	}
	return true
}

func cutCheckReady(t *testing.T, e *env, what string, want bool) {
	t.Helper()
	if got := !cutBrokerDown(t, e); got != want {
		t.Fatalf("%s: ready is %v, want %v", what, got, want)
	}
}

// cutHold is how long the outage lasts once its sends are done: 1 s, or
// REDIS_CUT_HOLD (say 30s), to hold it past go-redis's health checks and
// pool backoffs.
func cutHold(t *testing.T) time.Duration {
	t.Helper()
	s := os.Getenv("REDIS_CUT_HOLD")
	if s == "" {
		return time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("REDIS_CUT_HOLD=%q: want a positive Go duration", s)
	}
	return d
}
