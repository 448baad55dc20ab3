package resolvers_test

import (
	"testing"
	"time"

	"dmgraph/realtime/socket"
	"dmgraph/resolvers"
)

// The server pings every socket: a client that answers (as every websocket
// library does while it reads) stays connected however idle, and one that
// stopped reading is dropped once it misses the pong deadline.
func TestKeepaliveDropsOnlyDeadPeers(t *testing.T) {
	e := newEnv(t, withHandlerOptions(func(o *resolvers.Options) {
		o.Keepalive = socket.Keepalive{Ping: 100 * time.Millisecond, Pong: 400 * time.Millisecond}
	}))
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)

	alive := e.connectWS(alice, "")
	alive.subscribe("1", subMessages, nil)
	// Several pong deadlines pass with nothing to say.
	alive.quiet(1500 * time.Millisecond)

	// A client that hears pings and never answers them.
	dead := e.dialWS(alice.Token, wsOptions{readBuffer: 4096}) // no reader yet
	dead.c.SetPingHandler(func(string) error { return nil })
	start := time.Now()
	go dead.read()
	ended := false
	for !ended {
		select {
		case _, ok := <-dead.msgs:
			ended = !ok
		case <-time.After(3 * time.Second):
			t.Fatal("the silent peer was not dropped within 3 s")
		}
	}
	took := time.Since(start)
	sent := e.send(bob, alice, "still there?")
	var got liveMessage
	alive.data("1", &got)
	if got.MessageAdded.ID != sent.MessageID {
		t.Fatalf("the idle socket delivered %s, want %s", got.MessageAdded.ID, sent.MessageID)
	}
	t.Logf("silent peer dropped after %v; the answering one is still open", took.Round(time.Millisecond))
}
