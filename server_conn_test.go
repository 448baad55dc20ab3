package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"dmgraph/realtime/socket"
	"dmgraph/resolvers"
	"dmgraph/testdb"
)

// closedWithin reads c until the server closes it, and fails unless that
// happens within limit.
func closedWithin(t *testing.T, c net.Conn, what string, limit time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit + 5*time.Second))
	// The server closes: EOF, or a reset when the trickle was still coming.
	var ne net.Error
	if _, err := io.Copy(io.Discard, c); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the connection is still open after %v: %v", what, time.Since(start), err)
	}
	if d := time.Since(start); d > limit {
		t.Fatalf("%s: closed after %v, want within %v", what, d, limit)
	}
}

// trickle writes one byte of s every interval until s is written or the
// connection fails.
func trickle(c net.Conn, s string, interval time.Duration) {
	for i := range len(s) {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		time.Sleep(interval)
	}
}

// Item 7: a client that trickles its headers or its body, or keeps an idle
// connection, is cut off at HTTP_HEADER_TIMEOUT, HTTP_BODY_TIMEOUT and
// HTTP_IDLE_TIMEOUT.
func TestSec07ServerTimeouts(t *testing.T) {
	base := startServer(t, map[string]string{"PORT": "0", "DATABASE_URL": testdb.URL(t), "JWT_SECRET": "x",
		"HTTP_HEADER_TIMEOUT": "1s", "HTTP_BODY_TIMEOUT": "1s", "HTTP_IDLE_TIMEOUT": "1s"})
	addr := strings.TrimPrefix(base, "http://")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	const interval = 200 * time.Millisecond

	headers := dial()
	go trickle(headers, "POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: "+strings.Repeat("a", 100), interval)
	closedWithin(t, headers, "trickled headers", 3*time.Second)

	body := dial()
	fmt.Fprintf(body, "POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
	go trickle(body, `{"query": "{ me { id } }"`+strings.Repeat(" ", 74)+"}", interval)
	start := time.Now()
	_ = body.SetReadDeadline(start.Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(body), nil)
	if err != nil || res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("trickled body: %v %v, want 408", res, err)
	}
	closedWithin(t, body, "trickled body", 3*time.Second-time.Since(start))

	idle := dial()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err = http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", res, err)
	}
	closedWithin(t, idle, "idle keep-alive connection", 3*time.Second)
}

// The connection limits' settings: defaults, and refusals of bad values.
func TestSec07ConnectionSettings(t *testing.T) {
	c, err := loadConfig(func(string) string { return "" })
	if err != nil || c.HeaderTimeout != 10*time.Second || c.BodyTimeout != resolvers.DefaultBodyTimeout || c.IdleTimeout != 2*time.Minute ||
		c.MaxPendingSockets != socket.DefaultMaxPending || c.SocketLimits != socket.DefaultLimits {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	env := map[string]string{"WS_MAX_PENDING_SOCKETS": "7", "WS_MAX_PENDING_PER_ADDRESS": "3", "WS_MAX_SOCKETS_PER_ADDRESS": "50",
		"WS_MAX_SOCKETS_PER_USER": "4", "HTTP_BODY_TIMEOUT": "3s"}
	c, err = loadConfig(func(k string) string { return env[k] })
	want := socket.Limits{PendingPerAddress: 3, PerAddress: 50, PerUser: 4}
	if err != nil || c.MaxPendingSockets != 7 || c.SocketLimits != want || c.BodyTimeout != 3*time.Second {
		t.Fatalf("set: %+v %v", c, err)
	}
	for _, bad := range []map[string]string{{"WS_MAX_SOCKETS_PER_USER": "0"}, {"WS_MAX_SOCKETS_PER_ADDRESS": "-1"},
		{"WS_MAX_PENDING_PER_ADDRESS": "many"}, {"WS_MAX_PENDING_SOCKETS": "1e3"}, {"HTTP_BODY_TIMEOUT": "0s"}, {"HTTP_IDLE_TIMEOUT": "soon"}} {
		if _, err := loadConfig(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
