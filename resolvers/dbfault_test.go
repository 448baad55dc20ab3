package resolvers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"dmgraph/faultnet"
	"dmgraph/testdb"
)

// post sends one operation without failing the test, for goroutines.
func (e *env) post(token, query string, vars map[string]any) (response, error) {
	return postGraphQL(context.Background(), http.DefaultClient, e.srv.URL, token, query, vars)
}

// throughProxy starts a faultnet proxy in front of the server that rawURL
// (postgres://… or redis://…) names, and returns it with rawURL pointed at
// it. The proxy closes when the test ends.
func throughProxy(t *testing.T, rawURL string) (*faultnet.Proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultnet.Start(context.Background(), u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	u.Host = p.Addr()
	return p, u.String()
}

// readyStatus is /readyz's HTTP status.
func (e *env) readyStatus() int {
	res, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		return 0
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// waitFor polls cond every 20 ms and returns how long it took to hold, or
// fails after limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// faultSender sends numbered messages on one friend pair, each with its own
// clientMessageId, and retries a message with the same ID until the server
// acknowledges it: the way a client should ride out an outage.
type faultSender struct {
	from, to user
	prefix   string

	mu       sync.Mutex
	acked    map[string]string // clientMessageId → message ID
	failures int
	slowest  time.Duration // the longest an attempt took
	bad      []string      // failures without the UNAVAILABLE code, or that leak
}

const faultSend = `mutation($to: ID!, $text: String!, $cid: String!) {
	sendMessage(input: {recipientId: $to, text: $text, clientMessageId: $cid}) { message { id } }
}`

func (s *faultSender) run(ctx context.Context, e *env) {
	for i := 0; i < 10_000 && ctx.Err() == nil; i++ {
		cid := fmt.Sprintf("%s-%d", s.prefix, i)
		for attempt := 0; ; attempt++ {
			if attempt == 1000 {
				s.note("gave up on " + cid)
				return
			}
			start := time.Now()
			res, err := e.post(s.from.Token, faultSend, map[string]any{"to": s.to.ID, "text": cid, "cid": cid})
			took := time.Since(start)
			s.mu.Lock()
			s.slowest = max(s.slowest, took)
			s.mu.Unlock()
			var out struct {
				SendMessage struct{ Message struct{ ID string } }
			}
			if err == nil && len(res.Errors) == 0 && json.Unmarshal(res.Data, &out) == nil && out.SendMessage.Message.ID != "" {
				s.mu.Lock()
				s.acked[cid] = out.SendMessage.Message.ID
				s.mu.Unlock()
				break
			}
			s.mu.Lock()
			s.failures++
			s.mu.Unlock()
			switch {
			case err != nil:
				s.note(fmt.Sprintf("%s: %v", cid, err))
			case res.code() != "UNAVAILABLE" || visLeak.MatchString(fmt.Sprint(res.Errors)):
				s.note(fmt.Sprintf("%s: HTTP %d %+v", cid, res.Status, res.Errors))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (s *faultSender) note(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) < 10 {
		s.bad = append(s.bad, msg)
	}
}

// stored lists the clientMessageIds of the pair's conversation, as the
// sender sees them, oldest first.
func (s *faultSender) stored(t *testing.T, e *env) []string {
	t.Helper()
	// A probe message finds the conversation; it has no client ID.
	var probe struct {
		SendMessage struct{ Conversation struct{ ID string } }
	}
	e.must(s.from.Token, `mutation($to: ID!) { sendMessage(input: {recipientId: $to, text: "probe"}) { conversation { id } } }`,
		map[string]any{"to": s.to.ID}, &probe)
	var ids []string
	after := any(nil)
	for range 200 {
		var out struct {
			Conversation struct {
				Messages struct {
					Edges []struct {
						Node struct{ ClientMessageID string }
					}
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
		}
		e.must(s.from.Token, `query($c: ID!, $after: String) { conversation(id: $c) {
			messages(first: 100, after: $after) { edges { node { clientMessageId } } pageInfo { hasNextPage endCursor } } } }`,
			map[string]any{"c": probe.SendMessage.Conversation.ID, "after": after}, &out)
		for _, edge := range out.Conversation.Messages.Edges {
			if edge.Node.ClientMessageID != "" {
				ids = append(ids, edge.Node.ClientMessageID)
			}
		}
		if !out.Conversation.Messages.PageInfo.HasNextPage {
			return ids
		}
		after = out.Conversation.Messages.PageInfo.EndCursor
	}
	t.Fatal("too many pages")
	return nil
}

// duringCut checks, while the database is cut, that a query, a token the
// instance must look up (HTTP and websocket) and a new subscription all get
// a prompt UNAVAILABLE, and returns a summary of how long each took.
func duringCut(t *testing.T, e, other *env, known user, timeout time.Duration) string {
	t.Helper()
	bound := timeout + time.Second
	var took []string
	timed := func(what string, f func()) {
		start := time.Now()
		f()
		d := time.Since(start)
		if d > bound {
			t.Errorf("%s took %v during the cut, want at most %v", what, d, bound)
		}
		took = append(took, fmt.Sprintf("%s %v", what, d.Round(time.Millisecond)))
	}
	timed("query", func() {
		res, err := e.post(known.Token, `{ conversations(first: 5) { totalCount } }`, nil)
		if err != nil || res.code() != "UNAVAILABLE" {
			t.Errorf("query during the cut: %v %+v", err, res.Errors)
		}
		visCheckErrors(t, "query during the cut", res)
	})
	newcomer := other.register("newcomer")
	timed("uncached token", func() {
		res, err := e.post(newcomer.Token, `{ me { id } }`, nil)
		if err != nil || res.Status != http.StatusOK || res.code() != "UNAVAILABLE" {
			t.Errorf("a token to look up during the cut: %v HTTP %d %+v", err, res.Status, res.Errors)
		}
	})
	timed("websocket init", func() {
		ws := e.dialWS(newcomer.Token, wsOptions{})
		if code, _ := ws.closedWith(bound + time.Second); code != 1013 {
			t.Errorf("websocket init during the cut: close %d, want 1013", code)
		}
	})
	timed("subscribe", func() {
		ws := e.connectWS(known, "")
		ws.subscribe("1", subMessages, nil)
		m := ws.next()
		if !strings.Contains(string(m.Payload), "UNAVAILABLE") || visLeak.Match(m.Payload) {
			t.Errorf("subscribe during the cut: %s %s", m.Type, m.Payload)
		}
		ws.close()
	})
	return "during the cut " + strings.Join(took, ", ")
}

// The database goes away mid-load, as a dropped network or a failover
// would: requests fail promptly with UNAVAILABLE, /readyz says so, the server
// serves again by itself within 5 s of the network coming back, and clients
// that retry with their clientMessageId end with every message stored
// exactly once. PostgreSQL only: SQLite has no connection to cut.
func TestDatabaseCut(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no network connection to cut")
	}
	const timeout = 2 * time.Second
	direct := testdb.URL(t)
	proxy, viaProxy := throughProxy(t, direct)
	e := newEnv(t, withDatabase(viaProxy), withOperationTimeout(timeout))
	// Another instance, on the database directly, signs up users whose
	// token versions e has never read: their first request to e needs the
	// database.
	other := newEnv(t, withDatabase(direct))

	modes := []struct {
		name string
		mode faultnet.Mode
	}{{"refused", faultnet.Refuse}, {"blackholed", faultnet.Blackhole}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var senders []*faultSender
			for i := range 4 {
				a, b := e.register("cutA"), e.register("cutB")
				e.friends(a, b)
				senders = append(senders, &faultSender{from: a, to: b, prefix: fmt.Sprintf("%s-%d", m.name, i), acked: map[string]string{}})
			}
			load, stop := context.WithTimeout(context.Background(), 60*time.Second)
			defer stop()
			var wg sync.WaitGroup
			for _, s := range senders {
				wg.Go(func() { s.run(load, e) })
			}
			time.Sleep(time.Second)

			proxy.Set(m.mode)
			cutAt := time.Now()
			notReady := waitFor(t, "/readyz reports the outage", 5*time.Second, func() bool { return e.readyStatus() == http.StatusServiceUnavailable })
			probes := duringCut(t, e, other, senders[0].to, timeout)
			time.Sleep(2*time.Second - time.Since(cutAt))

			proxy.Set(faultnet.Forward)
			restored := time.Now()
			probe := func() bool {
				res, err := e.post(senders[0].from.Token, `{ conversations(first: 1) { totalCount } }`, nil)
				return err == nil && len(res.Errors) == 0
			}
			serving := waitFor(t, "serving again after the restore", 5*time.Second, probe)
			ready := waitFor(t, "/readyz ready again", 5*time.Second, func() bool { return e.readyStatus() == http.StatusOK })
			time.Sleep(time.Second)
			stop()
			wg.Wait()

			sent, failures := 0, 0
			var slowest time.Duration
			for _, s := range senders {
				for _, b := range s.bad {
					t.Errorf("%s: %s", s.prefix, b)
				}
				sent += len(s.acked)
				failures += s.failures
				slowest = max(slowest, s.slowest)
				stored := s.stored(t, e)
				seen := map[string]int{}
				for _, cid := range stored {
					seen[cid]++
				}
				for cid := range s.acked {
					if seen[cid] != 1 {
						t.Errorf("%s: acknowledged message %s is stored %d times", s.prefix, cid, seen[cid])
					}
				}
				if len(stored) != len(s.acked) {
					t.Errorf("%s: %d messages stored, %d acknowledged", s.prefix, len(stored), len(s.acked))
				}
			}
			if t.Failed() {
				for _, line := range strings.Split(e.logs.String(), "\n") {
					if strings.Contains(line, "internal error") {
						t.Logf("server log: %.400s", line)
					}
				}
			}
			if failures == 0 {
				t.Error("no request failed during the cut: the cut did not bite")
			}
			if slowest > timeout+time.Second {
				t.Errorf("a request took %v, want at most the %v timeout and a margin", slowest, timeout)
			}
			t.Logf("database %s for %v: %d sends acknowledged and stored once each, %d attempts failed with UNAVAILABLE (slowest attempt %v), %s; /readyz down after %v, serving %v and ready %v after the restore, %d connections cut or refused at the proxy",
				m.name, restored.Sub(cutAt).Round(time.Millisecond), sent, failures, slowest.Round(time.Millisecond), probes,
				notReady.Round(time.Millisecond), serving.Round(time.Millisecond), ready.Round(time.Millisecond), proxy.Cuts.Load())
		})
	}
}
