package resolvers_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"dmgraph/relay"
)

const (
	protoTransportWS = "graphql-transport-ws"
	protoLegacyWS    = "graphql-ws"
)

// wsMsg is a message of either protocol.
type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient is a minimal GraphQL-over-websocket client for tests.
type wsClient struct {
	t     testing.TB
	c     *websocket.Conn
	proto string
	msgs  chan wsMsg
	// closeErr is the connection's end, once msgs is closed.
	closeErr error
}

type wsOptions struct {
	proto      string
	payload    map[string]any // connection_init payload; nil sends a bearer token
	origin     string
	readBuffer int // a tiny TCP receive buffer makes a slow reader
}

// dialWS connects and sends connection_init; it does not wait for the ack.
func (e *env) dialWS(token string, o wsOptions) *wsClient {
	e.t.Helper()
	if o.proto == "" {
		o.proto = protoTransportWS
	}
	d := websocket.Dialer{Subprotocols: []string{o.proto}, HandshakeTimeout: 5 * time.Second}
	if o.readBuffer > 0 {
		d.NetDial = func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(o.readBuffer)
			}
			return c, err
		}
	}
	h := http.Header{}
	if o.origin != "" {
		h.Set("Origin", o.origin)
	}
	c, res, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/query", h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		e.t.Fatalf("dial websocket: %v (HTTP %d)", err, status)
	}
	ws := &wsClient{t: e.t, c: c, proto: o.proto, msgs: make(chan wsMsg, 1024)}
	payload := o.payload
	if payload == nil {
		payload = map[string]any{"Authorization": "Bearer " + token}
	}
	ws.write(wsMsg{Type: "connection_init", Payload: mustMarshal(payload)})
	if o.readBuffer == 0 {
		go ws.read()
	}
	e.t.Cleanup(ws.close)
	return ws
}

func (e *env) connectWS(u user, proto string) *wsClient {
	e.t.Helper()
	ws := e.dialWS(u.Token, wsOptions{proto: proto})
	ws.expect("connection_ack")
	return ws
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (ws *wsClient) read() {
	defer close(ws.msgs)
	for {
		var m wsMsg
		if err := ws.c.ReadJSON(&m); err != nil {
			ws.closeErr = err
			return
		}
		if m.Type == "ka" || m.Type == "ping" {
			continue
		}
		ws.msgs <- m
	}
}

func (ws *wsClient) write(m wsMsg) {
	ws.t.Helper()
	if err := ws.c.WriteJSON(m); err != nil {
		ws.t.Fatalf("websocket write: %v", err)
	}
}

func (ws *wsClient) close() { _ = ws.c.Close() }

// subscribe starts a subscription with the given id.
func (ws *wsClient) subscribe(id, query string, vars map[string]any) {
	ws.t.Helper()
	typ := "subscribe"
	if ws.proto == protoLegacyWS {
		typ = "start"
	}
	ws.write(wsMsg{ID: id, Type: typ, Payload: mustMarshal(map[string]any{"query": query, "variables": vars})})
}

// next returns the next message, failing after a timeout.
func (ws *wsClient) next() wsMsg {
	ws.t.Helper()
	select {
	case m, ok := <-ws.msgs:
		if !ok {
			ws.t.Fatalf("websocket closed: %v", ws.closeErr)
		}
		return m
	case <-time.After(10 * time.Second):
		ws.t.Fatal("no websocket message within 10s")
	}
	return wsMsg{}
}

// expect reads the next message and checks its type.
func (ws *wsClient) expect(typ string) wsMsg {
	ws.t.Helper()
	m := ws.next()
	if m.Type != typ {
		ws.t.Fatalf("got %s %s, want %s", m.Type, m.Payload, typ)
	}
	return m
}

// data reads the next result of subscription id and decodes its data.
func (ws *wsClient) data(id string, out any) {
	ws.t.Helper()
	m := ws.next()
	if m.ID != id {
		ws.t.Fatalf("result for subscription %s, want %s", m.ID, id)
	}
	ws.decode(m, out)
}

// refused reads the answer to subscription id that refused it, and the
// complete that ends it.
func (ws *wsClient) refused(id string) response {
	ws.t.Helper()
	m := ws.next()
	var res response
	if err := json.Unmarshal(m.Payload, &res); err != nil || m.ID != id || !visDataEmpty(res.Data) || len(res.Errors) == 0 {
		ws.t.Fatalf("got %s %s %s, want subscription %s refused", m.ID, m.Type, m.Payload, id)
	}
	if m := ws.expect("complete"); m.ID != id {
		ws.t.Fatalf("complete for %s, want %s", m.ID, id)
	}
	if bad := rateLimitsWithoutRetryAfter(res); len(bad) > 0 {
		ws.t.Fatalf("RATE_LIMITED without retryAfter: %+v", bad)
	}
	return res
}

// decode checks that m is a result without errors, and decodes its data.
func (ws *wsClient) decode(m wsMsg, out any) {
	ws.t.Helper()
	typ := "next"
	if ws.proto == protoLegacyWS {
		typ = "data"
	}
	if m.Type != typ {
		ws.t.Fatalf("got %s %s, want %s", m.Type, m.Payload, typ)
	}
	var res struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if err := json.Unmarshal(m.Payload, &res); err != nil || len(res.Errors) > 0 {
		ws.t.Fatalf("bad result %s: %v", m.Payload, err)
	}
	if err := json.Unmarshal(res.Data, out); err != nil {
		ws.t.Fatalf("decode %s: %v", res.Data, err)
	}
}

// quiet checks that nothing arrives for a while.
func (ws *wsClient) quiet(d time.Duration) {
	ws.t.Helper()
	select {
	case m, ok := <-ws.msgs:
		if ok {
			ws.t.Fatalf("unexpected message %s %s", m.Type, m.Payload)
		}
	case <-time.After(d):
	}
}

// closedWith waits for the server to close the socket and returns the code.
func (ws *wsClient) closedWith(timeout time.Duration) (int, string) {
	ws.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-ws.msgs:
			if ok {
				continue
			}
			var ce *websocket.CloseError
			if errors.As(ws.closeErr, &ce) {
				return ce.Code, ce.Text
			}
			ws.t.Fatalf("socket ended without a close frame: %v", ws.closeErr)
		case <-deadline:
			ws.t.Fatal("socket still open")
		}
	}
}

// websocketDial opens and closes a websocket with an Origin header.
func websocketDial(e *env, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{Subprotocols: []string{protoTransportWS}, HandshakeTimeout: 5 * time.Second}
	c, res, err := d.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+"/query", h)
	if c != nil {
		c.Close()
	}
	return c, res, err
}

// userNumber is the database ID inside a user's global ID.
func userNumber(t testing.TB, u user) int64 {
	t.Helper()
	_, id, ok := relay.Parse(u.ID)
	if !ok {
		t.Fatalf("bad user ID %q", u.ID)
	}
	return id
}
