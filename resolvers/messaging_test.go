package resolvers_test

import (
	"fmt"
	"sync"
	"testing"
)

func TestFollowedSenderLandsInInbox(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.follow(bob, alice) // bob follows alice: her messages are welcome
	e.setPolicy(bob, "EVERYONE")

	s := e.send(alice, bob, "hi bob")
	if s.Delivery != "INBOX" || s.Status != "ACTIVE" {
		t.Fatalf("got %+v, want INBOX and ACTIVE", s)
	}
	if got := e.inbox(bob)[s.ConversationID]; got != "ACTIVE" {
		t.Fatalf("bob's inbox status = %q, want ACTIVE", got)
	}
	if reqs := e.requests(bob); len(reqs) != 0 {
		t.Fatalf("bob has requests %v, want none", reqs)
	}
}

func TestStrangerLandsInRequestsUntilAccepted(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")

	s := e.send(alice, bob, "hello stranger")
	if s.Delivery != "REQUEST" || s.Status != "PENDING" {
		t.Fatalf("got %+v, want REQUEST and PENDING", s)
	}
	if got := e.inbox(alice)[s.ConversationID]; got != "PENDING" {
		t.Fatalf("alice sees %q, want PENDING", got)
	}
	if _, ok := e.inbox(bob)[s.ConversationID]; ok {
		t.Fatal("the request is in bob's inbox")
	}
	var req struct {
		MessageRequests struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID           string
					Sender       struct{ ID string }
					MessageCount int
					LastMessage  struct{ Text string }
					Conversation struct{ ID, Status string }
				}
			}
		}
	}
	e.must(bob.Token, `{ messageRequests { totalCount edges { node { id sender { id } messageCount lastMessage { text } conversation { id status } } } } }`, nil, &req)
	if req.MessageRequests.TotalCount != 1 || len(req.MessageRequests.Edges) != 1 {
		t.Fatalf("bob's requests = %+v, want one", req)
	}
	n := req.MessageRequests.Edges[0].Node
	if n.Sender.ID != alice.ID || n.MessageCount != 1 || n.LastMessage.Text != "hello stranger" ||
		n.Conversation.ID != s.ConversationID || n.Conversation.Status != "REQUEST" {
		t.Fatalf("request = %+v", n)
	}

	// The sender sees no read receipt while pending, even after bob reads.
	e.must(bob.Token, `mutation($id: ID!) { markConversationRead(conversationId: $id) { unreadCount } }`,
		map[string]any{"id": s.ConversationID}, nil)
	var receipts struct {
		Conversation struct {
			ReadReceipts []struct{ User struct{ ID string } }
		}
	}
	e.must(alice.Token, `query($id: ID!) { conversation(id: $id) { readReceipts { user { id } } } }`,
		map[string]any{"id": s.ConversationID}, &receipts)
	if len(receipts.Conversation.ReadReceipts) != 0 {
		t.Fatalf("pending sender sees receipts %+v", receipts)
	}

	var accepted struct {
		AcceptMessageRequest struct{ Conversation struct{ ID, Status string } }
	}
	e.must(bob.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id status } } }`,
		map[string]any{"id": n.ID}, &accepted)
	if got := accepted.AcceptMessageRequest.Conversation.Status; got != "ACTIVE" {
		t.Fatalf("after accept bob sees %q", got)
	}
	if got := e.inbox(alice)[s.ConversationID]; got != "ACTIVE" {
		t.Fatalf("after accept alice sees %q, want ACTIVE", got)
	}
	if reqs := e.requests(bob); len(reqs) != 0 {
		t.Fatalf("bob still has requests %v", reqs)
	}
	e.must(alice.Token, `query($id: ID!) { conversation(id: $id) { readReceipts { user { id } } } }`,
		map[string]any{"id": s.ConversationID}, &receipts)
	if len(receipts.Conversation.ReadReceipts) != 1 || receipts.Conversation.ReadReceipts[0].User.ID != bob.ID {
		t.Fatalf("after accept alice sees receipts %+v, want bob's", receipts)
	}
	if s := e.send(alice, bob, "thanks!"); s.Delivery != "INBOX" {
		t.Fatalf("after accept delivery = %s, want INBOX", s.Delivery)
	}
}

func TestReplyAcceptsRequest(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")
	first := e.send(alice, bob, "hey")
	reply := e.send(bob, alice, "oh hi")
	if reply.Delivery != "INBOX" || reply.Status != "ACTIVE" || reply.ConversationID != first.ConversationID {
		t.Fatalf("reply = %+v, want INBOX/ACTIVE in %s", reply, first.ConversationID)
	}
	if got := e.inbox(alice)[first.ConversationID]; got != "ACTIVE" {
		t.Fatalf("alice sees %q, want ACTIVE", got)
	}
	if reqs := e.requests(bob); len(reqs) != 0 {
		t.Fatalf("bob still has requests %v", reqs)
	}
}

func TestRequestLimit(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")
	for i := range 3 {
		if s := e.send(alice, bob, fmt.Sprint("msg ", i)); s.Delivery != "REQUEST" {
			t.Fatalf("message %d delivery %s", i, s.Delivery)
		}
	}
	e.sendFails(alice, bob, "one more", "FORBIDDEN", "REQUEST_LIMIT")
	var out struct {
		MessageRequests struct {
			Edges []struct{ Node struct{ MessageCount int } }
		}
	}
	e.must(bob.Token, `{ messageRequests { edges { node { messageCount } } } }`, nil, &out)
	if got := out.MessageRequests.Edges[0].Node.MessageCount; got != 3 {
		t.Fatalf("messageCount = %d, want 3", got)
	}
}

// Two users who write to each other for the first time at the same moment
// end up in one conversation.
func TestConcurrentFirstMessagesShareOneConversation(t *testing.T) {
	e := newEnv(t)
	for round := range 5 {
		alice, bob := e.register("alice"), e.register("bob")
		e.friends(alice, bob)
		var wg sync.WaitGroup
		results := make([]sent, 2)
		wg.Add(2)
		go func() { defer wg.Done(); results[0] = e.send(alice, bob, "hi from alice") }()
		go func() { defer wg.Done(); results[1] = e.send(bob, alice, "hi from bob") }()
		wg.Wait()
		if results[0].ConversationID != results[1].ConversationID {
			t.Fatalf("round %d: two conversations %s and %s", round, results[0].ConversationID, results[1].ConversationID)
		}
		if n := len(e.inbox(alice)); n != 1 {
			t.Fatalf("round %d: alice has %d conversations, want 1", round, n)
		}
	}
}

// Concurrent retries with one clientMessageId store one message.
func TestConcurrentClientMessageIDRetries(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	const retries = 8
	ids := make([]string, retries)
	var wg sync.WaitGroup
	for i := range retries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = e.sendInput(alice, map[string]any{"recipientId": bob.ID, "text": "once", "clientMessageId": "c-1"}).MessageID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("retries returned different messages: %v", ids)
		}
	}
	var out struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					Messages struct{ TotalCount int }
				}
			}
		}
	}
	e.must(bob.Token, `{ conversations { edges { node { messages { totalCount } } } } }`, nil, &out)
	if got := out.Conversations.Edges[0].Node.Messages.TotalCount; got != 1 {
		t.Fatalf("bob sees %d messages, want 1", got)
	}
	// A retry after the fact returns the original too.
	if again := e.sendInput(alice, map[string]any{"recipientId": bob.ID, "text": "once", "clientMessageId": "c-1"}); again.MessageID != ids[0] {
		t.Fatalf("late retry returned %s, want %s", again.MessageID, ids[0])
	}
}
