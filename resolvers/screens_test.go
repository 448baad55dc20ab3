package resolvers_test

import (
	"fmt"
	"testing"
)

// What a conversation screen and the inbox tab need, without asking twice.

const convScreenQuery = `query($id: ID!) { conversation(id: $id) {
	status viewerCanSend viewerCannotSendReason messageRequest { id messageCount }
	unreadCount
} }`

type convScreen struct {
	Status                 string
	ViewerCanSend          bool
	ViewerCannotSendReason *string
	MessageRequest         *struct {
		ID           string
		MessageCount int
	}
	UnreadCount int
}

func (e *env) convScreen(u user, conv string) convScreen {
	e.t.Helper()
	var out struct{ Conversation convScreen }
	e.must(u.Token, convScreenQuery, map[string]any{"id": conv}, &out)
	return out.Conversation
}

// canMessageOf is canMessage's answer for u about other, as "ALLOWED" or
// the reason.
func (e *env) canMessageOf(u, other user) string {
	e.t.Helper()
	var out struct {
		CanMessage struct {
			Allowed bool
			Reason  *string
		}
	}
	e.must(u.Token, `query($id: ID!) { canMessage(userId: $id) { allowed reason } }`, map[string]any{"id": other.ID}, &out)
	if out.CanMessage.Allowed {
		return "ALLOWED"
	}
	return fmt.Sprint(deref(out.CanMessage.Reason))
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// sendAnswer is viewerCanSend and its reason as canMessageOf spells them.
func (c convScreen) sendAnswer() string {
	if c.ViewerCanSend {
		if c.ViewerCannotSendReason != nil {
			return "ALLOWED with reason " + *c.ViewerCannotSendReason
		}
		return "ALLOWED"
	}
	return deref(c.ViewerCannotSendReason)
}

// viewerCanSend follows the send rules through a request's life and a
// block, and always agrees with canMessage and with sendMessage itself.
func TestViewerCanSendFollowsTheRules(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")
	first := e.send(alice, bob, "one")
	conv := first.ConversationID
	check := func(step string, u, other user, want string) {
		t.Helper()
		got := e.convScreen(u, conv).sendAnswer()
		if got != want {
			t.Fatalf("%s: %s's viewerCanSend says %s, want %s", step, u.Name, got, want)
		}
		if can := e.canMessageOf(u, other); can != got {
			t.Fatalf("%s: %s's viewerCanSend says %s, canMessage %s", step, u.Name, got, can)
		}
	}
	check("pending", alice, bob, "ALLOWED")
	check("request", bob, alice, "ALLOWED")
	e.send(alice, bob, "two")
	e.send(alice, bob, "three")
	check("three requests", alice, bob, "REQUEST_LIMIT")
	e.sendFails(alice, bob, "four", "FORBIDDEN", "REQUEST_LIMIT")

	e.block(bob, alice)
	// The block removed the request: bob no longer sees the conversation.
	e.fail(bob.Token, convScreenQuery, map[string]any{"id": conv}, "NOT_FOUND", "")
	check("blocked", alice, bob, "BLOCKED")
	e.sendFails(alice, bob, "five", "FORBIDDEN", "BLOCKED")

	// Friends talk freely, until one of them stops taking messages.
	carol := e.register("carol")
	e.friends(bob, carol)
	conv = e.send(carol, bob, "hi").ConversationID
	check("friends", bob, carol, "ALLOWED")
	e.setPolicy(carol, "NO_ONE")
	check("recipient allows no one", bob, carol, "RECIPIENT_ALLOWS_NO_ONE")
	e.sendFails(bob, carol, "still there?", "FORBIDDEN", "RECIPIENT_ALLOWS_NO_ONE")
}

// messageRequest is the recipient's open request, and nobody else's.
func TestConversationMessageRequest(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")
	conv := e.send(alice, bob, "one").ConversationID
	e.send(alice, bob, "two")
	reqs := e.requests(bob)
	got := e.convScreen(bob, conv)
	if got.Status != "REQUEST" || got.MessageRequest == nil || got.MessageRequest.ID != reqs[0] || got.MessageRequest.MessageCount != 2 {
		t.Fatalf("bob's conversation = %+v, want request %s with 2 messages", got, reqs[0])
	}
	if got := e.convScreen(alice, conv); got.Status != "PENDING" || got.MessageRequest != nil {
		t.Fatalf("the sender sees %+v, want PENDING and no request", got)
	}
	e.must(bob.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { removedRequestId } }`, map[string]any{"id": reqs[0]}, nil)
	if got := e.convScreen(bob, conv); got.Status != "ACTIVE" || got.MessageRequest != nil {
		t.Fatalf("after accept bob sees %+v, want ACTIVE and no request", got)
	}
}

// unreadConversationCount counts the inbox conversations whose unreadCount
// is above 0: not messages, not requests.
func TestUnreadConversationCount(t *testing.T) {
	e := newEnv(t)
	viewer := e.register("viewer")
	e.setPolicy(viewer, "EVERYONE")
	count := func() int {
		t.Helper()
		var out struct {
			UnreadConversationCount int
			Conversations           struct {
				Edges []struct{ Node struct{ UnreadCount int } }
			}
		}
		e.must(viewer.Token, `{ unreadConversationCount conversations(first: 100) { edges { node { unreadCount } } } }`, nil, &out)
		unread := 0
		for _, edge := range out.Conversations.Edges {
			if edge.Node.UnreadCount > 0 {
				unread++
			}
		}
		if out.UnreadConversationCount != unread {
			t.Fatalf("unreadConversationCount %d, but %d conversations have unread messages", out.UnreadConversationCount, unread)
		}
		return unread
	}
	if n := count(); n != 0 {
		t.Fatalf("a new user has %d unread conversations", n)
	}
	a, b := e.register("a"), e.register("b")
	e.friends(viewer, a)
	e.friends(viewer, b)
	convA := e.send(a, viewer, "1").ConversationID
	e.send(a, viewer, "2")
	e.send(b, viewer, "3")
	c := e.register("c")
	e.setPolicy(c, "EVERYONE")
	e.send(viewer, c, "mine are never unread")
	e.send(e.register("stranger"), viewer, "a request is not counted")
	if n := count(); n != 2 {
		t.Fatalf("unread conversations = %d, want 2", n)
	}
	e.must(viewer.Token, `mutation($id: ID!) { markConversationRead(conversationId: $id) { id } }`, map[string]any{"id": convA}, nil)
	if n := count(); n != 1 {
		t.Fatalf("after reading one, unread conversations = %d, want 1", n)
	}
}

// A page of the inbox, whose permissions are read in one statement for all
// its conversations, gives each conversation the answer canMessage gives for
// its other participant alone.
func TestInboxViewerCanSendAgreesWithCanMessage(t *testing.T) {
	e := newEnv(t)
	viewer := e.register("viewer")
	friend, quiet, blocker, limited := e.register("friend"), e.register("quiet"), e.register("blocker"), e.register("limited")
	e.friends(viewer, friend)
	e.friends(viewer, quiet)
	for _, u := range []user{blocker, limited} {
		e.setPolicy(u, "EVERYONE")
	}
	for _, u := range []user{friend, quiet, blocker} {
		e.send(viewer, u, "hello")
	}
	for range 3 {
		e.send(viewer, limited, "hello?")
	}
	e.setPolicy(quiet, "NO_ONE")
	e.block(blocker, viewer)
	want := map[string]string{friend.ID: "ALLOWED", quiet.ID: "RECIPIENT_ALLOWS_NO_ONE",
		blocker.ID: "BLOCKED", limited.ID: "REQUEST_LIMIT"}
	var out struct {
		Conversations struct {
			Edges []struct {
				Node struct {
					convScreen
					Participants []struct{ ID string }
				}
			}
		}
	}
	e.must(viewer.Token, `{ conversations(first: 10) { edges { node { viewerCanSend viewerCannotSendReason participants { id } } } } }`, nil, &out)
	if len(out.Conversations.Edges) != len(want) {
		t.Fatalf("%d conversations, want %d", len(out.Conversations.Edges), len(want))
	}
	byID := map[string]user{friend.ID: friend, quiet.ID: quiet, blocker.ID: blocker, limited.ID: limited}
	for _, edge := range out.Conversations.Edges {
		var other user
		for _, p := range edge.Node.Participants {
			if u, ok := byID[p.ID]; ok {
				other = u
			}
		}
		answer, can := edge.Node.sendAnswer(), e.canMessageOf(viewer, other)
		if answer != want[other.ID] || answer != can {
			t.Errorf("conversation with %s: viewerCanSend says %s, want %s (canMessage: %s)", other.Name, answer, want[other.ID], can)
		}
	}
}
