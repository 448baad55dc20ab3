package resolvers_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"dmgraph/auth"
	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/realtime/socket"
)

const (
	subMessages = `subscription($c: ID, $after: ID) { messageAdded(conversationId: $c, after: $after) { id text sender { id } conversation { id status } } }`
	subRequests = `subscription { messageRequestReceived { id messageCount sender { id } lastMessage { text } } }`
	subUpdates  = `subscription { conversationUpdated { id status readReceipts { user { id } lastReadMessage { id } } } }`
)

type liveMessage struct {
	MessageAdded struct {
		ID, Text     string
		Sender       struct{ ID string }
		Conversation struct{ ID, Status string }
	}
}

func TestLiveMessagesBothProtocols(t *testing.T) {
	for _, proto := range []string{protoTransportWS, protoLegacyWS} {
		t.Run(proto, func(t *testing.T) {
			e := newEnv(t)
			alice, bob := e.register("alice"), e.register("bob")
			e.friends(alice, bob)
			bobWS, aliceWS := e.connectWS(bob, proto), e.connectWS(alice, proto)
			mark := e.statements.Load()
			bobWS.subscribe("1", subMessages, nil)
			aliceWS.subscribe("1", subMessages, nil)
			e.waitLive(mark, 2, 2)

			s := e.send(alice, bob, "live hello")
			for _, ws := range []*wsClient{bobWS, aliceWS} { // the sender's own devices too
				var got liveMessage
				ws.data("1", &got)
				if got.MessageAdded.ID != s.MessageID || got.MessageAdded.Text != "live hello" || got.MessageAdded.Sender.ID != alice.ID {
					t.Fatalf("got %+v, want message %s from alice", got, s.MessageID)
				}
			}
		})
	}
}

func TestLiveRequestsAcceptsAndReads(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.setPolicy(bob, "EVERYONE")
	bobWS, aliceWS, carolWS := e.connectWS(bob, ""), e.connectWS(alice, ""), e.connectWS(carol, "")
	mark := e.statements.Load()
	bobWS.subscribe("req", subRequests, nil)
	bobWS.subscribe("msg", subMessages, nil)
	aliceWS.subscribe("upd", subUpdates, nil)
	carolWS.subscribe("msg", subMessages, nil)
	carolWS.subscribe("req", subRequests, nil)
	e.waitLive(mark, 5, 2)

	s := e.send(alice, bob, "hello stranger")
	var req struct {
		MessageRequestReceived struct {
			ID           string
			MessageCount int
			Sender       struct{ ID string }
			LastMessage  struct{ Text string }
		}
	}
	bobWS.data("req", &req)
	if r := req.MessageRequestReceived; r.Sender.ID != alice.ID || r.MessageCount != 1 || r.LastMessage.Text != "hello stranger" {
		t.Fatalf("request event %+v", r)
	}
	// A request's messages are not delivered as messages until accepted.
	bobWS.quiet(200 * time.Millisecond)

	e.must(bob.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id } } }`, map[string]any{"id": req.MessageRequestReceived.ID}, nil)
	var upd struct {
		ConversationUpdated struct {
			ID, Status   string
			ReadReceipts []struct {
				User            struct{ ID string }
				LastReadMessage *struct{ ID string }
			}
		}
	}
	aliceWS.data("upd", &upd)
	if upd.ConversationUpdated.ID != s.ConversationID || upd.ConversationUpdated.Status != "ACTIVE" {
		t.Fatalf("accept event %+v", upd)
	}
	e.must(bob.Token, `mutation($id: ID!) { markConversationRead(conversationId: $id) { id } }`, map[string]any{"id": s.ConversationID}, nil)
	aliceWS.data("upd", &upd)
	if rr := upd.ConversationUpdated.ReadReceipts; len(rr) != 1 || rr[0].User.ID != bob.ID || rr[0].LastReadMessage == nil || rr[0].LastReadMessage.ID != s.MessageID {
		t.Fatalf("read event %+v", upd)
	}
	// Nobody else hears about any of it.
	carolWS.quiet(200 * time.Millisecond)
}

func TestLiveResumeAfterMissesNothing(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	first := e.send(alice, bob, "before the tunnel")

	// bob is offline while alice sends 50 messages.
	sent := make([]string, 50)
	for i := range sent {
		sent[i] = e.send(alice, bob, fmt.Sprint("m", i)).MessageID
	}
	ws := e.connectWS(bob, "")
	ws.subscribe("1", subMessages, map[string]any{"after": first.MessageID})
	for i, want := range sent {
		var got liveMessage
		ws.data("1", &got)
		if got.MessageAdded.ID != want {
			t.Fatalf("replayed message %d is %s (%s), want %s", i, got.MessageAdded.ID, got.MessageAdded.Text, want)
		}
	}
	live := e.send(alice, bob, "back online")
	var got liveMessage
	ws.data("1", &got)
	if got.MessageAdded.ID != live.MessageID {
		t.Fatalf("live message %s, want %s", got.MessageAdded.ID, live.MessageID)
	}
	ws.quiet(200 * time.Millisecond) // no duplicates
}

// A live message whose event shows that the subscriber missed nothing
// before it is sent as committed, without reading the database again; when
// the subscriber's watermark is behind what the event says came before, it
// reads what it is missing, as it always did.
func TestLiveDeliveryReadsOnlyWhatWasMissed(t *testing.T) {
	e := newEnv(t)
	alice, bob, dave := e.register("alice"), e.register("bob"), e.register("dave")
	e.friends(alice, bob)
	e.setPolicy(bob, "EVERYONE")
	e.send(alice, bob, "before subscribing")
	ws := e.connectWS(bob, "")
	mark := e.statements.Load()
	ws.subscribe("1", subMessages, nil)
	e.waitLive(mark, 1, 1)

	// rereads counts the subscription's "messages after the watermark"
	// reads while fn runs.
	rereads := func(fn func()) int {
		before := e.statements.Load()
		fn()
		n := 0
		for _, sql := range e.statementsSince(before) {
			if strings.Contains(sql, "ORDER BY msg.id LIMIT") {
				n++
			}
		}
		return n
	}
	receive := func(from user, text string) {
		t.Helper()
		s := e.send(from, bob, text)
		var got liveMessage
		ws.data("1", &got)
		if got.MessageAdded.ID != s.MessageID || got.MessageAdded.Text != text || got.MessageAdded.Sender.ID != from.ID ||
			got.MessageAdded.Conversation.ID != s.ConversationID || got.MessageAdded.Conversation.Status != "ACTIVE" {
			t.Fatalf("got %+v, want %s %q from %s", got, s.MessageID, text, from.ID)
		}
	}

	if n := rereads(func() { receive(alice, "one") }); n != 0 {
		t.Errorf("a message right after the watermark was read again %d times", n)
	}
	// A request to bob is not his to receive as a message, but it counts
	// among his conversations' messages: alice's next one says something
	// came in between, so the subscription reads, and skips the request.
	e.send(dave, bob, "a request")
	if n := rereads(func() { receive(alice, "two") }); n != 1 {
		t.Errorf("after a message the subscriber did not have: %d reads, want 1", n)
	}
	if n := rereads(func() { receive(alice, "three") }); n != 0 {
		t.Errorf("once caught up: %d reads, want 0", n)
	}
	ws.quiet(200 * time.Millisecond) // no duplicates, and never the request
}

func TestLiveScopeAndAccess(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.friends(alice, bob)
	e.friends(alice, carol)
	ab := e.send(alice, bob, "to bob")
	ws := e.connectWS(alice, "")
	mark := e.statements.Load()
	ws.subscribe("ab", subMessages, map[string]any{"c": ab.ConversationID})
	e.waitLive(mark, 1, 1)
	e.send(alice, carol, "to carol") // another conversation: not in scope
	e.send(bob, alice, "from bob")
	var got liveMessage
	ws.data("ab", &got)
	if got.MessageAdded.Text != "from bob" {
		t.Fatalf("scoped subscription got %+v", got)
	}
	// A conversation the viewer is not in is NOT_FOUND.
	cws := e.connectWS(carol, "")
	cws.subscribe("x", subMessages, map[string]any{"c": ab.ConversationID})
	m := cws.next() // an execution error travels in "next", as graphql-transport-ws allows
	if !strings.Contains(string(m.Payload), `"NOT_FOUND"`) || strings.Contains(string(m.Payload), "to bob") {
		t.Fatalf("error payload %s, want NOT_FOUND", m.Payload)
	}

	// Access is checked at delivery, not only when subscribing: dave
	// subscribes to a request he has not accepted and gets its messages only
	// once he accepts.
	dave := e.register("dave")
	e.setPolicy(dave, "EVERYONE")
	req := e.send(alice, dave, "a request")
	dws := e.connectWS(dave, "")
	mark = e.statements.Load()
	dws.subscribe("r", subMessages, map[string]any{"c": req.ConversationID})
	e.waitLive(mark, 2, 1)
	e.send(alice, dave, "still a request")
	dws.quiet(200 * time.Millisecond)
	e.must(dave.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id } } }`,
		map[string]any{"id": e.requests(dave)[0]}, nil)
	e.send(alice, dave, "accepted now")
	// The request's own messages came as a request, never as messages.
	dws.data("r", &got)
	if got.MessageAdded.Text != "accepted now" {
		t.Fatalf("after accept got %+v, want only the new message", got)
	}
	dws.quiet(200 * time.Millisecond)
}

func TestLiveAuth(t *testing.T) {
	e := newEnv(t)
	bob := e.register("bob")

	ws := e.dialWS("", wsOptions{payload: map[string]any{}})
	if code, _ := ws.closedWith(5 * time.Second); code != 4403 {
		t.Fatalf("no token: close code %d, want 4403", code)
	}
	legacy := e.dialWS("", wsOptions{proto: protoLegacyWS, payload: map[string]any{"Authorization": "Bearer nope"}})
	legacy.expect("connection_error")
	if code, _ := legacy.closedWith(5 * time.Second); code != 4403 {
		t.Fatalf("legacy bad token: close code %d, want 4403", code)
	}
	// Key case and authToken are both accepted.
	for _, payload := range []map[string]any{{"authorization": "Bearer " + bob.Token}, {"authToken": bob.Token}} {
		ok := e.dialWS("", wsOptions{payload: payload})
		ok.expect("connection_ack")
	}
	// A token that expires closes the socket with 4401.
	short, _ := auth.NewTokens("test-secret", 1500*time.Millisecond)
	tok, _, _ := short.Issue(userNumber(t, bob), 0)
	exp := e.dialWS(tok, wsOptions{})
	exp.expect("connection_ack")
	if code, reason := exp.closedWith(10 * time.Second); code != 4401 || reason != "token expired" {
		t.Fatalf("expiry: close %d %q, want 4401 token expired", code, reason)
	}
	// Browsers from other sites are refused.
	if _, res, err := websocketDial(e, "https://evil.example"); err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin: %v", err)
	}
	if _, _, err := websocketDial(e, "http://localhost:3000"); err != nil {
		t.Fatalf("localhost origin refused: %v", err)
	}
}

// A subscriber that doesn't read never slows a sender, and is closed with
// 4800, which the stock client retries.
func TestLiveSlowConsumer(t *testing.T) {
	e := newEnv(t, withHubBuffer(4), withTinySockets())
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	slow := e.dialWS(bob.Token, wsOptions{readBuffer: 4096})
	mark := e.statements.Load()
	slow.subscribe("1", subMessages, nil)
	e.waitLive(mark, 1, 1)
	big := strings.Repeat("x", 4000)
	start := time.Now()
	for i := 0; i < 400 && e.hub.Dropped() == 0; i++ {
		e.send(alice, bob, big)
	}
	if e.hub.Dropped() == 0 {
		t.Fatal("the slow subscriber was never dropped")
	}
	t.Logf("sends took %v until the slow reader was dropped", time.Since(start))
	go slow.read()
	if code, _ := slow.closedWith(10 * time.Second); code != socket.CloseSlowConsumer {
		t.Fatalf("slow consumer closed with %d, want %d", code, socket.CloseSlowConsumer)
	}
}

func TestLiveNoGoroutineLeak(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	warm := e.send(alice, bob, "warm up")
	base := settledGoroutines()

	var clients []*wsClient
	for range 20 {
		ws := e.connectWS(bob, "")
		// From the warm-up on: the next message arrives whether it is sent
		// before or after the subscription's start (a busy machine).
		ws.subscribe("1", subMessages, map[string]any{"after": warm.MessageID})
		ws.subscribe("2", subUpdates, nil)
		clients = append(clients, ws)
	}
	for end := time.Now().Add(10 * time.Second); e.hub.Subscriptions() < 40 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	e.send(alice, bob, "to everyone")
	for _, ws := range clients {
		var got liveMessage
		ws.data("1", &got)
		ws.close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for ourGoroutines() > base+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := ourGoroutines(); n > base+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after closing, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
	if n := e.hub.Subscriptions(); n != 0 {
		t.Fatalf("%d hub subscriptions left", n)
	}
}

// A subscription over socket.MaxSubscriptions is refused alone: the
// socket's others run on, and one of them ending makes room.
func TestLiveSubscriptionsPerSocketAreCapped(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	ws := e.connectWS(bob, "")
	mark := e.statements.Load()
	for i := range socket.MaxSubscriptions {
		ws.subscribe(fmt.Sprint(i), subMessages, nil)
	}
	e.waitLive(mark, socket.MaxSubscriptions, socket.MaxSubscriptions)
	ws.subscribe("over", subMessages, nil)
	res := ws.refused("over")
	if res.code() != "RATE_LIMITED" || res.reason() != models.ReasonTooManySubscriptions {
		t.Fatalf("the subscription over the limit: %+v, want RATE_LIMITED/%s", res.Errors, models.ReasonTooManySubscriptions)
	}
	checkRetryAfter(t, res)

	ws.write(wsMsg{ID: "0", Type: "complete"})
	waitFor(t, "the completed subscription's end", 5*time.Second, func() bool { return e.hub.Subscriptions() < socket.MaxSubscriptions })
	mark = e.statements.Load()
	ws.subscribe("again", subMessages, nil)
	e.waitLive(mark, socket.MaxSubscriptions, 1)
	sent := e.send(alice, bob, "to every subscription")
	got := map[string]bool{}
	for len(got) < socket.MaxSubscriptions {
		m := ws.next()
		if m.Type == "complete" && m.ID == "0" {
			continue // gqlgen's answer to the client's complete
		}
		var v struct{ MessageAdded struct{ ID string } }
		ws.decode(m, &v)
		if v.MessageAdded.ID != sent.MessageID || got[m.ID] {
			t.Fatalf("subscription %s got message %s, want %s once", m.ID, v.MessageAdded.ID, sent.MessageID)
		}
		got[m.ID] = true
	}
	if got["0"] || !got["again"] {
		t.Fatalf("delivered to %v: want the 63 still running and the new one", got)
	}
}

// Sockets that never authenticate are capped: a new one takes the place of
// the one that waited longest, which is closed with 4408; one that
// authenticated no longer counts.
func TestLivePendingSocketsAreCapped(t *testing.T) {
	e := newEnv(t, withMaxPendingSockets(2))
	u := e.register("patient")
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/query"
	d := websocket.Dialer{Subprotocols: []string{protoTransportWS}, HandshakeTimeout: 5 * time.Second}
	var open []*websocket.Conn
	for range 3 {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
	}
	_ = open[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	var ce *websocket.CloseError
	if _, _, err := open[0].ReadMessage(); !errors.As(err, &ce) || ce.Code != 4408 {
		t.Fatalf("the oldest unauthenticated socket: %v, want close 4408", err)
	}
	// The second authenticates; a new one then takes no one's place.
	_ = open[1].WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + u.Token}})
	var ack map[string]any
	if err := open[1].ReadJSON(&ack); err != nil || ack["type"] != "connection_ack" {
		t.Fatalf("ack: %v %v", ack, err)
	}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("after one authenticated: %v", err)
	}
	defer c.Close()
	_ = open[2].WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + u.Token}})
	if err := open[2].ReadJSON(&ack); err != nil || ack["type"] != "connection_ack" {
		t.Fatalf("the third socket lost its place: %v %v", ack, err)
	}
}

// brokenViews breaks the conversation loader's reads while mode says so:
// viewsFail fails them at once, viewsHang holds them until their context
// ends (a database that stopped answering).
type brokenViews struct {
	dm.Store
	mode *atomic.Int32
}

const (
	viewsWork = iota
	viewsFail
	viewsHang
)

func (b brokenViews) Views(ctx context.Context, viewer int64, ids []int64) (map[int64]*models.ConversationView, error) {
	switch b.mode.Load() {
	case viewsFail:
		return nil, fmt.Errorf("views: %w", models.ErrUnavailable)
	case viewsHang:
		<-ctx.Done()
		return nil, fmt.Errorf("views: %w: %w", models.ErrUnavailable, ctx.Err())
	}
	return b.Store.Views(ctx, viewer, ids)
}

// brokenEvent is bob subscribed to his messages after a first one from
// alice, while the conversation reads break as mode says, and alice's next
// message, lost, is the event that meets them.
type brokenEvent struct {
	e           *env
	ws          *wsClient
	bob         user
	first, lost sent
	mode        *atomic.Int32
}

func breakViewsUnderEvent(t *testing.T, mode int32, opts ...envOption) brokenEvent {
	b := brokenEvent{mode: new(atomic.Int32)}
	b.e = newEnv(t, append(opts, withStore(func(s dm.Store) dm.Store { return brokenViews{s, b.mode} }))...)
	alice := b.e.register("alice")
	b.bob = b.e.register("bob")
	b.e.friends(alice, b.bob)
	b.first = b.e.send(alice, b.bob, "before")
	b.ws = b.e.connectWS(b.bob, "")
	b.ws.subscribe("1", subMessages, map[string]any{"after": b.first.MessageID})
	b.ws.quiet(200 * time.Millisecond)
	b.mode.Store(mode)
	b.lost = b.e.send(alice, b.bob, "while the database is broken")
	return b
}

// resumes repairs the reads, and checks that bob, resuming after the first
// message, gets the one whose event failed.
func (b brokenEvent) resumes(t *testing.T) {
	t.Helper()
	b.mode.Store(viewsWork)
	ws := b.e.connectWS(b.bob, "")
	ws.subscribe("1", subMessages, map[string]any{"after": b.first.MessageID})
	var got liveMessage
	ws.data("1", &got)
	if got.MessageAdded.ID != b.lost.MessageID || got.MessageAdded.Conversation.ID == "" {
		t.Fatalf("resumed with %+v, want message %s", got.MessageAdded, b.lost.MessageID)
	}
}

// An event whose fields cannot be read (the database failed, not the data)
// ends the socket with 1013 instead of arriving as an error: the client
// resumes with `after` and gets the message.
func TestLiveFailedEventEndsTheSocket(t *testing.T) {
	b := breakViewsUnderEvent(t, viewsFail)
	if code, reason := b.ws.closedWith(5 * time.Second); code != 1013 {
		t.Fatalf("closed with %d %q, want 1013", code, reason)
	}
	b.resumes(t)
}

// An event's field reads are bounded like a query's, although the
// subscription itself has no deadline: a hung read ends the socket with 1013
// after the operation timeout, and the client resumes.
func TestLiveHungEventReadEndsTheSocket(t *testing.T) {
	b := breakViewsUnderEvent(t, viewsHang, withOperationTimeout(time.Second))
	// The event's read began during the send; half the timeout is slack for
	// a slow machine, and still far from an immediate close.
	start := time.Now()
	if code, reason := b.ws.closedWith(10 * time.Second); code != 1013 {
		t.Fatalf("closed with %d %q, want 1013", code, reason)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("closed after %v, before the operation timeout", d)
	}
	b.resumes(t)
}

// waitLive waits until the hub holds subs subscriptions and, since the
// statement count mark, watermarks subscriptions to messageAdded without
// `after` have read the message they start after: from then on, whatever
// is sent reaches them.
func (e *env) waitLive(mark int64, subs, watermarks int) {
	e.t.Helper()
	read := 0
	for end := time.Now().Add(10 * time.Second); ; {
		since := e.statementsSince(mark)
		for _, sql := range since {
			if strings.Contains(sql, "MAX(last_message_id)") { // store.LatestDeliverableID
				read++
			}
		}
		mark += int64(len(since))
		if e.hub.Subscriptions() >= subs && read >= watermarks {
			return
		}
		if time.Now().After(end) {
			e.t.Fatalf("after 10s: %d subscriptions, %d starting points read; want %d and %d", e.hub.Subscriptions(), read, subs, watermarks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settledGoroutines is ourGoroutines once it has stayed the same for 50ms
// (at most 5s): what an idle server runs.
func settledGoroutines() int {
	n, same := ourGoroutines(), 0
	for end := time.Now().Add(5 * time.Second); same < 10 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
		if m := ourGoroutines(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

// ourGoroutines counts the goroutines other than the database pool's: the
// pool keeps more connections (each with a reader on PostgreSQL) after 20
// subscriptions read at once, which is not a leak.
func ourGoroutines() int {
	buf := make([]byte, 8<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "jackc/pgx") && !strings.Contains(g, "database/sql.") {
			n++
		}
	}
	return n
}
