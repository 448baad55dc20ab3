package resolvers_test

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"dmgraph/faultnet"
	"dmgraph/testdb"
)

const signOutEverywhere = `mutation { signOutEverywhere }`

// login signs u in again, as another device would, and returns the token.
func (e *env) login(u user) string {
	e.t.Helper()
	var out struct{ Login struct{ Token string } }
	e.must("", `mutation($u: String!) { login(input: {username: $u, password: "correct horse"}) { token } }`,
		map[string]any{"u": u.Name}, &out)
	return out.Login.Token
}

// expectSignedOut checks that ws closes with 4401 "signed out" within a
// second of since.
func expectSignedOut(t *testing.T, what string, ws *wsClient, since time.Time) {
	t.Helper()
	code, reason := ws.closedWith(5 * time.Second)
	took := time.Since(since)
	if code != 4401 || reason != "signed out" {
		t.Fatalf("%s: close %d %q, want 4401 signed out", what, code, reason)
	}
	if took > time.Second {
		t.Fatalf("%s: closed %v after signing out, want within 1s", what, took)
	}
	t.Logf("%s closed with 4401 %v after signOutEverywhere", what, took.Round(time.Millisecond))
}

// Signing out everywhere voids every token of the user, on HTTP and
// websockets, and leaves other users alone.
func TestSignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	phone := alice.Token
	laptop := e.login(alice)

	wsPhone := e.dialWS(phone, wsOptions{})
	wsPhone.expect("connection_ack")
	mark := e.statements.Load()
	wsPhone.subscribe("1", subMessages, nil)
	wsLaptop := e.dialWS(laptop, wsOptions{proto: protoLegacyWS})
	wsLaptop.expect("connection_ack")
	wsBob := e.connectWS(bob, "")
	wsBob.subscribe("1", subMessages, nil)
	e.waitLive(mark, 2, 2)

	var out struct{ SignOutEverywhere bool }
	start := time.Now()
	e.must(laptop, signOutEverywhere, nil, &out)
	if !out.SignOutEverywhere {
		t.Fatal("signOutEverywhere returned false")
	}
	expectSignedOut(t, "graphql-transport-ws socket", wsPhone, start)
	expectSignedOut(t, "graphql-ws socket", wsLaptop, start)

	for name, tok := range map[string]string{"phone": phone, "laptop": laptop} {
		res := e.do(tok, `{ me { id } }`, nil)
		if res.code() != "UNAUTHENTICATED" {
			t.Fatalf("%s token after sign-out: HTTP %d %+v", name, res.Status, res.Errors)
		}
		ws := e.dialWS(tok, wsOptions{})
		if code, _ := ws.closedWith(5 * time.Second); code != 4403 {
			t.Fatalf("%s token on a new socket: close %d, want 4403", name, code)
		}
	}

	// Bob is untouched: his socket still delivers.
	s := e.send(bob, alice, "still here?")
	var got liveMessage
	wsBob.data("1", &got)
	if got.MessageAdded.ID != s.MessageID {
		t.Fatalf("bob's socket delivered %s, want %s", got.MessageAdded.ID, s.MessageID)
	}

	// Signing in again works, and the new token outlives the old ones.
	fresh := e.login(alice)
	var me struct{ Me struct{ ID string } }
	e.must(fresh, `{ me { id } }`, nil, &me)
	if me.Me.ID != alice.ID {
		t.Fatalf("me = %q, want %q", me.Me.ID, alice.ID)
	}
	e.connectWS(user{Token: fresh}, "").quiet(200 * time.Millisecond)

	// Anonymous callers can't sign anyone out.
	e.fail("", signOutEverywhere, nil, "UNAUTHENTICATED", "")
}

// With Redis, signing out on one instance closes the sockets and voids the
// tokens on the other too. Needs TEST_REDIS_URL.
func TestSignOutEverywhereAcrossInstances(t *testing.T) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set")
	}
	a, b, _ := twoInstances(t, redisURL, redisURL, redisURL)

	alice := a.register("alice")
	// B has checked (and remembers) the token before the sign-out.
	b.must(alice.Token, `{ me { id } }`, nil, nil)
	ws := b.connectWS(alice, "")
	mark := b.statements.Load()
	ws.subscribe("1", subMessages, nil)
	b.waitLive(mark, 1, 1)

	start := time.Now()
	a.must(alice.Token, signOutEverywhere, nil, nil)
	expectSignedOut(t, "socket on the other instance", ws, start)
	if res := b.do(alice.Token, `{ me { id } }`, nil); res.code() != "UNAUTHENTICATED" {
		t.Fatalf("old token on the other instance: HTTP %d %+v", res.Status, res.Errors)
	}
	// A token issued after the sign-out works on an instance that had
	// remembered the older version.
	b.must(a.login(alice), `{ me { id } }`, nil, nil)
}

// A sign-out that another instance missed, because its Redis was cut, takes
// effect there once the broker is back: the instance forgets the token
// versions it remembered and rechecks its open sockets. Needs TEST_REDIS_URL.
func TestSignOutEverywhereDuringRedisOutage(t *testing.T) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set")
	}
	proxy, viaProxy := throughProxy(t, redisURL)
	a, b, _ := twoInstances(t, redisURL, redisURL, viaProxy)

	alice := a.register("alice")
	b.must(alice.Token, `{ me { id } }`, nil, nil) // B remembers the version
	ws := b.connectWS(alice, "")                   // a socket with no subscription

	proxy.Set(faultnet.Refuse)
	waitFor(t, "B's /readyz reports the broker down", 5*time.Second, func() bool { return b.readyStatus() == http.StatusServiceUnavailable })
	a.must(alice.Token, signOutEverywhere, nil, nil) // B can't hear of it
	proxy.Set(faultnet.Forward)
	restored := time.Now()

	if code, reason := ws.closedWith(10 * time.Second); code != 4401 || reason != "signed out" {
		t.Fatalf("B's socket: close %d %q, want 4401 signed out", code, reason)
	}
	took := time.Since(restored)
	if res := b.do(alice.Token, `{ me { id } }`, nil); res.code() != "UNAUTHENTICATED" {
		t.Fatalf("the revoked token on B after the outage: HTTP %d %+v", res.Status, res.Errors)
	}
	t.Logf("sign-out missed during a Redis outage: B closed the socket %v after Redis came back", took.Round(time.Millisecond))
}

// A sign-out whose event never reaches an instance (no broker between the
// two here, as after a crash between commit and publish) still closes that
// instance's sockets: they are rechecked against the database every
// TokenRecheckInterval. Until then, the socket may not run operations once
// the instance has learnt of the new version.
func TestSignOutEverywhereWithoutTheEvent(t *testing.T) {
	db := testdb.URL(t)
	a := newEnv(t, withDatabase(db))
	b := newEnv(t, withDatabase(db), withTokenRecheck(300*time.Millisecond))

	alice := a.register("alice")
	ws := b.connectWS(alice, "")
	ws.subscribe("1", subMessages, nil)
	start := time.Now()
	a.must(alice.Token, signOutEverywhere, nil, nil)
	code, reason := ws.closedWith(5 * time.Second)
	if code != 4401 || reason != "signed out" {
		t.Fatalf("B's socket: close %d %q, want 4401 signed out", code, reason)
	}
	t.Logf("sign-out without its event: B closed the socket %v later", time.Since(start).Round(time.Millisecond))
}

// Once an instance knows of a sign-out, a socket that signed in with an
// older token can run no operation.
func TestSignedOutSocketRunsNothing(t *testing.T) {
	db := testdb.URL(t)
	a := newEnv(t, withDatabase(db))
	b := newEnv(t, withDatabase(db))
	alice, bob := a.register("alice"), a.register("bob")
	a.friends(alice, bob)
	ws := b.connectWS(alice, "")
	a.must(alice.Token, signOutEverywhere, nil, nil)
	// B learns of the new version without the event: alice signs in there.
	fresh := b.login(alice)
	if res := b.do(alice.Token, `{ me { id } }`, nil); res.code() != "UNAUTHENTICATED" {
		t.Fatalf("old token on B: HTTP %d", res.Status)
	}
	b.must(fresh, `{ me { id } }`, nil, nil)
	ws.subscribe("1", `mutation($to: ID!) { sendMessage(input: {recipientId: $to, text: "from a revoked socket"}) { delivery } }`,
		map[string]any{"to": bob.ID})
	// The socket answers UNAUTHENTICATED or closes first; never with data.
	timeout := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case m, ok := <-ws.msgs:
			if !ok {
				open = false
				break
			}
			if m.Type == "complete" {
				continue
			}
			if !strings.Contains(string(m.Payload), "UNAUTHENTICATED") || strings.Contains(string(m.Payload), "delivery") {
				t.Fatalf("operation on a revoked socket: %s %s", m.Type, m.Payload)
			}
		case <-timeout:
			t.Fatal("the revoked socket stayed open")
		}
	}
	var ce *websocket.CloseError
	if !errors.As(ws.closeErr, &ce) || ce.Code != 4401 {
		t.Fatalf("revoked socket ended with %v, want close 4401", ws.closeErr)
	}
	if got := a.inbox(bob); len(got) != 0 {
		t.Fatalf("bob's inbox after the refused send: %v", got)
	}
}
