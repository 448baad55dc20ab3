package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// gqlClient posts GraphQL operations to one server's /query.
type gqlClient struct {
	url  string
	http *http.Client
}

func newGQLClient(base string) *gqlClient {
	tr := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	return &gqlClient{url: strings.TrimSuffix(base, "/") + "/query", http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// do runs one operation as token (none when empty) and decodes data into out
// (when not nil). Any GraphQL error or non-200 status is an error.
func (c *gqlClient) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("HTTP %d: %.200s", res.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("HTTP %d: %s %v", res.StatusCode, r.Errors[0].Message, r.Errors[0].Extensions["code"])
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", res.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// wsMessage is one graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

var wsDialer = &websocket.Dialer{
	Subprotocols:     []string{"graphql-transport-ws"},
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   1024,
	WriteBufferSize:  1024,
}

// wsSub is one graphql-transport-ws connection carrying one subscription.
type wsSub struct {
	conn   *websocket.Conn
	wmu    sync.Mutex
	done   chan struct{}
	errMu  sync.Mutex
	err    error
	closed bool
}

// subscribe dials base's /query, authenticates with token in
// connection_init, waits for connection_ack, and starts query as
// subscription "1". onNext gets each "next" payload's data; it runs on the
// connection's read goroutine.
func subscribe(ctx context.Context, base, token, query string, onNext func(data json.RawMessage)) (*wsSub, error) {
	u := "ws" + strings.TrimPrefix(strings.TrimSuffix(base, "/"), "http") + "/query"
	conn, _, err := wsDialer.DialContext(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	s := &wsSub{conn: conn, done: make(chan struct{})}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + token})
	if err := s.write(wsMessage{Type: "connection_init", Payload: init}); err != nil {
		conn.Close()
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = conn.SetReadDeadline(deadline)
	for {
		var m wsMessage
		if err := conn.ReadJSON(&m); err != nil {
			conn.Close()
			return nil, fmt.Errorf("waiting for connection_ack: %w", err)
		}
		if m.Type == "connection_ack" {
			break
		}
		if m.Type == "ping" {
			_ = s.write(wsMessage{Type: "pong"})
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	payload, _ := json.Marshal(map[string]any{"query": query})
	if err := s.write(wsMessage{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		conn.Close()
		return nil, err
	}
	go s.readLoop(onNext)
	return s, nil
}

func (s *wsSub) write(m wsMessage) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteJSON(m)
}

func (s *wsSub) readLoop(onNext func(json.RawMessage)) {
	defer close(s.done)
	for {
		var m wsMessage
		if err := s.conn.ReadJSON(&m); err != nil {
			s.fail(err)
			return
		}
		switch m.Type {
		case "next":
			var p struct {
				Data   json.RawMessage `json:"data"`
				Errors []gqlError      `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				s.fail(fmt.Errorf("next with errors: %s", m.Payload))
				continue
			}
			if onNext != nil {
				onNext(p.Data)
			}
		case "ping":
			_ = s.write(wsMessage{Type: "pong"})
		case "error":
			s.fail(fmt.Errorf("subscription error: %s", m.Payload))
		case "complete":
			s.fail(errors.New("subscription completed by the server"))
		}
	}
}

func (s *wsSub) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil && !s.closed {
		s.err = err
	}
}

// Err is the first failure seen, if any (not counting our own Close).
func (s *wsSub) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Close ends the connection and waits (bounded) for its reader.
func (s *wsSub) Close() {
	s.errMu.Lock()
	s.closed = true
	s.errMu.Unlock()
	s.wmu.Lock()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	s.wmu.Unlock()
	_ = s.conn.Close()
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
}

// closeAll closes subs concurrently, bounded.
func closeAll(subs []*wsSub) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, s := range subs {
		if s == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.Close()
		}()
	}
	wg.Wait()
}
