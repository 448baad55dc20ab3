package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dial opens a graphql-transport-ws socket in group and subscribes to
// messageAdded.
func dial(t *testing.T, srv *httptest.Server, group string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/query", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + group})
	if err := c.WriteJSON(wsMessage{Type: "connection_init", Payload: init}); err != nil {
		t.Fatal(err)
	}
	for {
		var m wsMessage
		if err := c.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "connection_ack" {
			break
		}
	}
	sub, _ := json.Marshal(map[string]string{"query": `subscription { messageAdded { id text } }`})
	if err := c.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: sub}); err != nil {
		t.Fatal(err)
	}
	return c
}

// next reads the socket's next data message, skipping keep-alives.
func next(c *websocket.Conn, within time.Duration) (wsMessage, error) {
	_ = c.SetReadDeadline(time.Now().Add(within))
	for {
		var m wsMessage
		if err := c.ReadJSON(&m); err != nil {
			return m, err
		}
		if m.Type != "pong" && m.Type != "ping" {
			return m, nil
		}
	}
}

func (b *broadcaster) members(group string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.groups[group])
}

func send(t *testing.T, srv *httptest.Server, group, text string) string {
	t.Helper()
	res, err := http.Post(srv.URL+"/send?group="+group, "text/plain", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("/send: HTTP %d", res.StatusCode)
	}
	return res.Header.Get("X-Delivered")
}

func TestSendReachesItsGroupOnly(t *testing.T) {
	b := newBroadcaster()
	srv := httptest.NewServer(newMux(b))
	defer srv.Close()
	a1, a2, other := dial(t, srv, "a"), dial(t, srv, "a"), dial(t, srv, "b")
	for deadline := time.Now().Add(5 * time.Second); b.members("a") < 2 || b.members("b") < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions joined: a %d, b %d", b.members("a"), b.members("b"))
		}
	}
	if got := send(t, srv, "a", "hello a"); got != "2" {
		t.Fatalf("delivered to %s subscriptions, want 2", got)
	}
	for _, c := range []*websocket.Conn{a1, a2} {
		m, err := next(c, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Data struct{ MessageAdded struct{ ID, Text string } }
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || m.Type != "next" || p.Data.MessageAdded.Text != "hello a" || p.Data.MessageAdded.ID != "1" {
			t.Fatalf("got %s %s (%v), want next with id 1 and text hello a", m.Type, m.Payload, err)
		}
	}
	if m, err := next(other, 300*time.Millisecond); err == nil {
		t.Fatalf("group b got %s %s", m.Type, m.Payload)
	}

	a1.Close()
	for deadline := time.Now().Add(5 * time.Second); b.members("a") != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a closed socket still counted: %d in a", b.members("a"))
		}
	}
	if got := send(t, srv, "a", "again"); got != "1" {
		t.Fatalf("after a socket left, delivered to %s, want 1", got)
	}
}
