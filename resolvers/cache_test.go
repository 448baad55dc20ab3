package resolvers_test

import (
	"slices"
	"testing"

	"dmgraph/relay"
)

// Tests that mutation results carry what a normalized cache (Apollo's, or
// Relay's with @deleteEdge/@prependEdge/@appendEdge) needs to apply them
// without a refetch.

// inboxAfter returns the IDs of u's conversations after cursor, one page.
func (e *env) inboxAfter(u user, cursor string, n int) []string {
	e.t.Helper()
	var out struct {
		Conversations struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.must(u.Token, `query($after: String, $n: Int) { conversations(first: $n, after: $after) { edges { node { id } } } }`,
		map[string]any{"after": cursor, "n": n}, &out)
	ids := make([]string, len(out.Conversations.Edges))
	for i, edge := range out.Conversations.Edges {
		ids[i] = edge.Node.ID
	}
	return ids
}

// messagesAround returns the texts of a conversation's messages after or
// before a cursor.
func (e *env) messagesAround(u user, conv, dir, cursor string) []string {
	e.t.Helper()
	arg := "first: 10, after: $c"
	if dir == "before" {
		arg = "last: 10, before: $c"
	}
	var out struct {
		Conversation struct {
			Messages struct {
				Edges []struct{ Node struct{ Text string } }
			}
		}
	}
	e.must(u.Token, `query($id: ID!, $c: String) { conversation(id: $id) { messages(`+arg+`) { edges { node { text } } } } }`,
		map[string]any{"id": conv, "c": cursor}, &out)
	var texts []string
	for _, edge := range out.Conversation.Messages.Edges {
		texts = append(texts, edge.Node.Text)
	}
	return texts
}

const sendEdgesMutation = `mutation($in: SendMessageInput!) { sendMessage(input: $in) {
	message { id }
	messageEdge { cursor node { id text } }
	conversationEdge { cursor node { id lastMessage { id } } }
} }`

type sendEdges struct {
	SendMessage struct {
		Message     struct{ ID string }
		MessageEdge struct {
			Cursor string
			Node   struct{ ID, Text string }
		}
		ConversationEdge struct {
			Cursor string
			Node   struct {
				ID          string
				LastMessage struct{ ID string }
			}
		}
	}
}

// sendMessage's edges: the message's cursor pages its conversation both
// ways, and the conversation's cursor continues the inbox after it.
func TestSendMessageReturnsEdges(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.friends(alice, bob)
	e.friends(alice, carol)
	older := e.send(alice, carol, "to carol")
	e.send(alice, bob, "one")
	var out sendEdges
	e.must(alice.Token, sendEdgesMutation, map[string]any{"in": map[string]any{"recipientId": bob.ID, "text": "two"}}, &out)
	e.send(bob, alice, "three")

	s := out.SendMessage
	if s.MessageEdge.Node.ID != s.Message.ID || s.MessageEdge.Node.Text != "two" || s.MessageEdge.Cursor == "" {
		t.Fatalf("messageEdge = %+v", s.MessageEdge)
	}
	conv := s.ConversationEdge.Node.ID
	if s.ConversationEdge.Node.LastMessage.ID != s.Message.ID {
		t.Fatalf("conversationEdge = %+v, want the new message as lastMessage", s.ConversationEdge)
	}
	if got := e.messagesAround(alice, conv, "before", s.MessageEdge.Cursor); len(got) != 1 || got[0] != "one" {
		t.Fatalf("messages before the edge: %v, want [one]", got)
	}
	if got := e.messagesAround(alice, conv, "after", s.MessageEdge.Cursor); len(got) != 1 || got[0] != "three" {
		t.Fatalf("messages after the edge: %v, want [three]", got)
	}
	// After the edge come the older conversations (and, since the edge's
	// snapshot, the one that moved: bob's again).
	got := e.inboxAfter(alice, s.ConversationEdge.Cursor, 10)
	if !slices.Contains(got, older.ConversationID) {
		t.Fatalf("inbox after the send's edge: %v, want carol's conversation %s in it", got, older.ConversationID)
	}
	// A replay returns the same edges.
	in := map[string]any{"recipientId": bob.ID, "text": "idempotent", "clientMessageId": "k1"}
	var first, again sendEdges
	e.must(alice.Token, sendEdgesMutation, map[string]any{"in": in}, &first)
	e.must(alice.Token, sendEdgesMutation, map[string]any{"in": in}, &again)
	if first.SendMessage.MessageEdge != again.SendMessage.MessageEdge {
		t.Fatalf("replayed messageEdge %+v, first %+v", again.SendMessage.MessageEdge, first.SendMessage.MessageEdge)
	}
}

// acceptMessageRequest names the request gone and gives the conversation's
// inbox edge.
func TestAcceptMessageRequestPayload(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.setPolicy(bob, "EVERYONE")
	e.friends(bob, carol)
	older := e.send(carol, bob, "an older conversation")
	sent := e.send(alice, bob, "hello stranger")
	req := e.requests(bob)[0]
	var out struct {
		AcceptMessageRequest struct {
			RemovedRequestID string
			Conversation     struct{ ID, Status string }
			ConversationEdge struct {
				Cursor string
				Node   struct{ ID string }
			}
		}
	}
	e.must(bob.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) {
		removedRequestId conversation { id status } conversationEdge { cursor node { id } } } }`,
		map[string]any{"id": req}, &out)
	a := out.AcceptMessageRequest
	if a.RemovedRequestID != req || a.Conversation.ID != sent.ConversationID || a.Conversation.Status != "ACTIVE" ||
		a.ConversationEdge.Node.ID != sent.ConversationID {
		t.Fatalf("accept payload = %+v", a)
	}
	if got := e.inboxAfter(bob, a.ConversationEdge.Cursor, 10); !slices.Contains(got, older.ConversationID) || slices.Contains(got, sent.ConversationID) {
		t.Fatalf("inbox after the accepted edge: %v, want %s", got, older.ConversationID)
	}
}

// PrivacySettings is a node with a stable ID, reachable from me and
// updatePrivacySettings, and nobody else's business.
func TestPrivacySettingsIsANode(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	var me struct {
		Me struct {
			PrivacySettings struct{ ID, DirectMessagePolicy string }
		}
		PrivacySettings struct{ ID string }
	}
	e.must(alice.Token, `{ me { privacySettings { id directMessagePolicy } } privacySettings { id } }`, nil, &me)
	id := me.Me.PrivacySettings.ID
	if id == "" || me.PrivacySettings.ID != id || me.Me.PrivacySettings.DirectMessagePolicy != "SUGGESTED_FRIENDS" {
		t.Fatalf("alice's settings: %+v", me)
	}
	var upd struct {
		UpdatePrivacySettings struct{ ID, DirectMessagePolicy string }
	}
	e.must(alice.Token, `mutation { updatePrivacySettings(input: {directMessagePolicy: FRIENDS}) { id directMessagePolicy } }`, nil, &upd)
	if upd.UpdatePrivacySettings.ID != id || upd.UpdatePrivacySettings.DirectMessagePolicy != "FRIENDS" {
		t.Fatalf("updatePrivacySettings = %+v, want id %s", upd.UpdatePrivacySettings, id)
	}
	var node struct {
		Node struct{ ID, DirectMessagePolicy string }
	}
	const byNode = `query($id: ID!) { node(id: $id) { id ... on PrivacySettings { directMessagePolicy } } }`
	e.must(alice.Token, byNode, map[string]any{"id": id}, &node)
	if node.Node.ID != id || node.Node.DirectMessagePolicy != "FRIENDS" {
		t.Fatalf("node(settings) = %+v", node)
	}
	// Another user: NOT_FOUND by node, null through the user.
	e.fail(bob.Token, byNode, map[string]any{"id": id}, "NOT_FOUND", "")
	e.fail("", byNode, map[string]any{"id": id}, "UNAUTHENTICATED", "")
	var other struct {
		User struct{ PrivacySettings *struct{ ID string } }
	}
	e.must(bob.Token, `query($id: ID!) { user(id: $id) { privacySettings { id } } }`, map[string]any{"id": alice.ID}, &other)
	if other.User.PrivacySettings != nil {
		t.Fatalf("bob sees alice's settings: %+v", other.User.PrivacySettings)
	}
	// The number is the user's; the kind keeps it from meaning anything else.
	if _, n, _ := relay.Parse(id); relay.ID(relay.KindUser, n) != alice.ID {
		t.Fatalf("settings ID %s is not alice's", id)
	}
}
