package resolvers_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"dmgraph/ratelimit"
	"dmgraph/realtime/socket"
	"dmgraph/resolvers"
)

// behindProxy makes the test client a trusted load balancer, so that each
// socket's X-Forwarded-For is its client's address.
func behindProxy(more func(*resolvers.Options)) envOption {
	return withHandlerOptions(func(o *resolvers.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		if more != nil {
			more(o)
		}
	})
}

// dialFrom opens a websocket as the client at addr, without connection_init.
func (e *env) dialFrom(addr, proto string) (*websocket.Conn, *http.Response, error) {
	if proto == "" {
		proto = protoTransportWS
	}
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
	c, res, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/query", http.Header{"X-Forwarded-For": {addr}})
	if c != nil {
		e.t.Cleanup(func() { _ = c.Close() })
	}
	return c, res, err
}

// signInFrom connects u from addr and waits for the server's answer to
// connection_init.
func (e *env) signInFrom(addr string, u user, proto string) *wsClient {
	e.t.Helper()
	c, res, err := e.dialFrom(addr, proto)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		e.t.Fatalf("%s from %s: dial: %v (HTTP %d)", u.Name, addr, err, status)
	}
	if proto == "" {
		proto = protoTransportWS
	}
	ws := &wsClient{t: e.t, c: c, proto: proto, msgs: make(chan wsMsg, 64)}
	ws.write(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"Authorization": "Bearer " + u.Token})})
	go ws.read()
	return ws
}

// closeCode reads c until the server closes it and returns the close code
// (0 when the connection ended without one, or stayed open for 5 s).
func closeCode(c *websocket.Conn) (int, string) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			return 0, err.Error()
		}
	}
}

// Item 3: sockets that never send connection_init, from one address or
// many, hold at most their address's share of the pending places, and never
// keep out a client that signs in promptly.
func TestSec03AnonymousSocketsCannotLockOutUsers(t *testing.T) {
	e := newEnv(t, withMaxPendingSockets(10), behindProxy(func(o *resolvers.Options) {
		o.SocketLimits.PendingPerAddress = 5
	}))
	sender := e.register("sender")
	users := make([]user, 12)
	for i := range users {
		users[i] = e.register("locked")
		e.friends(sender, users[i])
	}

	// One address opens the whole global cap and more, then others fill
	// it again, and overfill it. None is refused: a new socket takes the
	// place of its address's oldest, or of the oldest overall.
	var held []*websocket.Conn
	refused := 0
	for range 12 {
		c, _, err := e.dialFrom("203.0.113.66", "")
		if err != nil {
			refused++
			continue
		}
		held = append(held, c)
	}
	for i := range 3 {
		for range 5 {
			if _, _, err := e.dialFrom(fmt.Sprintf("203.0.113.%d", i+1), ""); err != nil {
				refused++
			}
		}
	}

	// Twelve users connect, each from an address of their own: all get in,
	// and all receive their message.
	socks := make([]*wsClient, len(users))
	for i, u := range users {
		socks[i] = e.signInFrom(fmt.Sprintf("198.51.100.%d", i+1), u, "")
		socks[i].expect("connection_ack")
		socks[i].subscribe("1", subMessages, nil)
	}
	waitFor(t, "the twelve subscriptions", 5*time.Second, func() bool { return e.hub.Subscriptions() == len(users) })
	for i, u := range users {
		s := e.send(sender, u, "you are in")
		var got liveMessage
		socks[i].data("1", &got)
		if got.MessageAdded.ID != s.MessageID {
			t.Fatalf("%s got %+v, want message %s", u.Name, got, s.MessageID)
		}
	}

	if refused > 0 {
		t.Fatalf("%d sockets refused: a new socket should take the oldest's place", refused)
	}
	// The first address kept at most five places: its seven oldest were
	// closed as it opened more.
	for i, c := range held[:7] {
		if code, reason := closeCode(c); code != socket.CloseInitTimeout {
			t.Fatalf("the holder's socket %d: close %d %q, want 4408", i, code, reason)
		}
	}
}

// Item 7: one user's signed-in sockets are capped; the next
// connection_init is refused with 4803, and a closed socket frees a place.
func TestSec07SocketsPerUserAreCapped(t *testing.T) {
	e := newEnv(t, withHandlerOptions(func(o *resolvers.Options) { o.SocketLimits.PerUser = 3 }))
	hog, other := e.register("hog"), e.register("other")
	var open []*wsClient
	for range 3 {
		open = append(open, e.connectWS(hog, ""))
	}
	extra := e.dialWS(hog.Token, wsOptions{})
	if code, reason := extra.closedWith(5 * time.Second); code != socket.CloseTooManySockets || !strings.Contains(reason, "too many connections") {
		t.Fatalf("the fourth socket: close %d %q, want %d", code, reason, socket.CloseTooManySockets)
	}
	e.connectWS(other, "") // another user is not affected

	open[0].close()
	waitFor(t, "a place freed by a closed socket", 5*time.Second, func() bool {
		ws := e.dialWS(hog.Token, wsOptions{})
		defer ws.close()
		m, ok := <-ws.msgs
		return ok && m.Type == "connection_ack"
	})
}

// Item 7: one address's open sockets are capped, signed in or not; more are
// refused with 429 and a coded error, while other addresses connect.
func TestSec07SocketsPerAddressAreCapped(t *testing.T) {
	e := newEnv(t, behindProxy(func(o *resolvers.Options) { o.SocketLimits.PerAddress = 3 }))
	u := e.register("crowd")
	e.signInFrom("203.0.113.9", u, "").expect("connection_ack")
	e.signInFrom("203.0.113.9", u, "").expect("connection_ack")
	if _, _, err := e.dialFrom("203.0.113.9", ""); err != nil {
		t.Fatal(err)
	}
	_, res, err := e.dialFrom("203.0.113.9", "")
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the fourth socket from one address: %v %v, want HTTP 429", err, res)
	}
	var body response
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.code() != "RATE_LIMITED" {
		t.Fatalf("refusal body: %+v %v", body, err)
	}
	checkRetryAfter(t, body)
	e.signInFrom("203.0.113.10", u, "").expect("connection_ack")
}

// Item 7: a subscription over HTTP is refused at once, naming the websocket
// endpoint, instead of holding the request open until an event.
func TestSec07SubscriptionOverHTTPIsRefused(t *testing.T) {
	e := newEnv(t)
	u := e.register("poster")
	client := &http.Client{Timeout: 5 * time.Second}
	post := func() (*http.Response, error) {
		body, _ := json.Marshal(map[string]any{"query": subMessages})
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		return client.Do(req)
	}
	get := func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/query?query="+url.QueryEscape(subMessages), nil)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		return client.Do(req)
	}
	for name, do := range map[string]func() (*http.Response, error){"POST": post, "GET": get} {
		res, err := do()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out response
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || out.code() != "BAD_USER_INPUT" || !strings.Contains(out.Errors[0].Message, "websocket") {
			t.Fatalf("%s: %+v %v, want BAD_USER_INPUT naming websockets", name, out, err)
		}
	}
	if n := e.hub.Subscriptions(); n != 0 {
		t.Fatalf("%d hub subscriptions left by HTTP requests", n)
	}
}

// Item 7: a body trickled in is cut at the body timeout: 408, and the
// connection closed.
func TestSec07SlowBodyIsCut(t *testing.T) {
	e := newEnv(t, withHandlerOptions(func(o *resolvers.Options) { o.BodyTimeout = 300 * time.Millisecond }))
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	go func() {
		for range 99 {
			time.Sleep(100 * time.Millisecond)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	var out response
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != http.StatusRequestTimeout || out.code() != "BAD_USER_INPUT" {
		t.Fatalf("trickled body: HTTP %d %+v, want 408", res.StatusCode, out)
	}
	// The server closes: EOF, or a reset when the trickle was still coming.
	var ne net.Error
	if _, err := io.ReadAll(c); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not closed: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut after %v", d)
	}
}

// Item 15: a body over 1 MiB is answered 413 with a coded error, whether
// its length is declared or it comes chunked; one at the limit is served.
func TestSec15BodyOver1MiBIs413(t *testing.T) {
	e := newEnv(t)
	body := func(size int) string {
		b := `{"query":"{ me { id } }","variables":{"pad":""}}`
		return strings.Replace(b, `""`, `"`+strings.Repeat("x", size-len(b))+`"`, 1)
	}
	for _, c := range []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"at the limit", 1 << 20, false, http.StatusOK},
		{"declared", 1<<20 + 1, false, http.StatusRequestEntityTooLarge},
		{"chunked at the limit", 1 << 20, true, http.StatusOK},
		{"chunked", 1<<20 + 1, true, http.StatusRequestEntityTooLarge},
	} {
		var r io.Reader = strings.NewReader(body(c.size))
		if c.chunked {
			r = io.MultiReader(r) // no length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", r)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var out response
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != c.status || (c.status != http.StatusOK) != (out.code() == "BAD_USER_INPUT") {
			t.Fatalf("%s: HTTP %d %+v %v, want %d", c.name, res.StatusCode, out.Errors, err, c.status)
		}
	}
}

// Item 15: an operation started under the ID of one still running closes
// the socket with 4409, on both protocols; an ID whose operation ended may
// be used again.
func TestSec15RepeatedSubscriptionIDCloses4409(t *testing.T) {
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		t.Run(proto, func(t *testing.T) {
			e := newEnv(t)
			alice, bob := e.register("alice"), e.register("bob")
			e.friends(alice, bob)
			ws := e.connectWS(bob, proto)
			stop := "complete"
			if proto == protoLegacyWS {
				stop = "stop"
			}

			// A query ends by itself; its ID is free again.
			ws.subscribe("q", `{ me { id } }`, nil)
			var me struct{ Me struct{ ID string } }
			ws.data("q", &me)
			ws.expect("complete")
			ws.subscribe("q", `{ me { id } }`, nil)
			ws.data("q", &me)
			ws.expect("complete")

			// A subscription the client stopped frees its ID too.
			ws.subscribe("s", subMessages, nil)
			waitFor(t, "the subscription", 5*time.Second, func() bool { return e.hub.Subscriptions() == 1 })
			ws.write(wsMsg{ID: "s", Type: stop})
			ws.expect("complete") // gqlgen's, for the stopped one: it has left the hub
			ws.subscribe("s", subMessages, nil)
			waitFor(t, "the second subscription", 5*time.Second, func() bool { return e.hub.Subscriptions() == 1 })
			sent := e.send(alice, bob, "still one")
			var got liveMessage
			ws.data("s", &got)
			if got.MessageAdded.ID != sent.MessageID {
				t.Fatalf("got %+v, want %s", got, sent.MessageID)
			}

			// The same ID while it runs: 4409.
			ws.subscribe("s", subMessages, nil)
			if code, reason := ws.closedWith(5 * time.Second); code != socket.CloseSubscriberExists || reason != "Subscriber for s already exists" {
				t.Fatalf("close %d %q, want 4409", code, reason)
			}
			waitFor(t, "the socket's subscriptions ended", 5*time.Second, func() bool { return e.hub.Subscriptions() == 0 })
		})
	}
}

// Sign-ups from addresses of one IPv6 /64 share one per-address limit, as
// sockets do: a subscriber cannot multiply it by changing addresses.
func TestSec07RegistrationsPerIPv6Subnet(t *testing.T) {
	limits := small(100)
	limits.RegisterIP = ratelimit.Limit{Count: 2, Period: time.Hour}
	e := newEnv(t, withLimits(limits), behindProxy(nil))
	registerFrom := func(addr, name string) response {
		body, _ := json.Marshal(map[string]any{"query": `mutation($u: String!) { register(input: {username: $u, password: "correct horse", displayName: "N", birthDate: "1990-01-01"}) { token } }`,
			"variables": map[string]any{"u": name}})
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", addr)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out response
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i, addr := range []string{"2001:db8:7:7::1", "2001:db8:7:7::2"} {
		if res := registerFrom(addr, fmt.Sprintf("v6user%d", i)); len(res.Errors) != 0 {
			t.Fatalf("sign-up %d refused: %+v", i+1, res.Errors)
		}
	}
	res := registerFrom("2001:db8:7:7:ffff::3", "v6user2")
	if res.code() != "RATE_LIMITED" {
		t.Fatalf("a third sign-up from the same /64: %+v, want RATE_LIMITED", res.Errors)
	}
	checkRetryAfter(t, res)
	if res := registerFrom("2001:db8:7:8::1", "v6user3"); len(res.Errors) != 0 {
		t.Fatalf("a sign-up from another /64 refused: %+v", res.Errors)
	}
}
