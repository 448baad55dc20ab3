package resolvers_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"dmgraph/relay"
)

// End-to-end tests of "The rules" in the spec (issue 2), through the real
// HTTP handler. Helpers are prefixed with rules to keep them apart from the
// shared harness.

// rulesPermission is a canMessage answer.
type rulesPermission struct {
	Allowed  bool
	Delivery *string
	Reason   *string
}

func (p rulesPermission) String() string {
	d, r := "<nil>", "<nil>"
	if p.Delivery != nil {
		d = *p.Delivery
	}
	if p.Reason != nil {
		r = *p.Reason
	}
	return fmt.Sprintf("{allowed:%v delivery:%s reason:%s}", p.Allowed, d, r)
}

func rulesCanMessage(e *env, from, to user) rulesPermission {
	e.t.Helper()
	var out struct{ CanMessage rulesPermission }
	e.must(from.Token, `query($id: ID!) { canMessage(userId: $id) { allowed delivery reason } }`,
		map[string]any{"id": to.ID}, &out)
	return out.CanMessage
}

// rulesCounts is what u has in the inbox and in requests.
type rulesCounts struct{ Conversations, Requests int }

func rulesCountsOf(e *env, u user) rulesCounts {
	e.t.Helper()
	var out struct {
		Conversations   struct{ TotalCount int }
		MessageRequests struct{ TotalCount int }
	}
	e.must(u.Token, `{ conversations { totalCount } messageRequests { totalCount } }`, nil, &out)
	return rulesCounts{out.Conversations.TotalCount, out.MessageRequests.TotalCount}
}

type rulesMessage struct {
	ID               string
	Text             *string
	VideoUnavailable bool
	Video            *struct{ ID string }
}

type rulesConversation struct {
	ID          string
	Status      string
	UnreadCount int
	Messages    struct {
		TotalCount int
		Edges      []struct{ Node rulesMessage }
	}
}

// texts lists the texts of the conversation's messages, oldest first.
func (c rulesConversation) texts() []string {
	out := []string{}
	for _, edge := range c.Messages.Edges {
		if edge.Node.Text != nil {
			out = append(out, *edge.Node.Text)
		} else {
			out = append(out, "<video>")
		}
	}
	return out
}

const rulesConversationQuery = `query($id: ID!) { conversation(id: $id) {
	id status unreadCount
	messages(first: 100) { totalCount edges { node { id text videoUnavailable video { id } } } }
} }`

// rulesConversationOf returns conversation id as u sees it; it must be visible.
func rulesConversationOf(e *env, u user, id string) rulesConversation {
	e.t.Helper()
	var out struct{ Conversation *rulesConversation }
	e.must(u.Token, rulesConversationQuery, map[string]any{"id": id}, &out)
	if out.Conversation == nil {
		e.t.Fatalf("conversation %s is null for %s", id, u.Name)
	}
	return *out.Conversation
}

type rulesRequest struct {
	ID           string
	MessageCount int
	Sender       struct{ ID string }
	LastMessage  struct{ Text string }
	Conversation struct{ ID, Status string }
}

func rulesRequestsOf(e *env, u user) []rulesRequest {
	e.t.Helper()
	var out struct {
		MessageRequests struct {
			TotalCount int
			Edges      []struct{ Node rulesRequest }
		}
	}
	e.must(u.Token, `{ messageRequests(first: 100) { totalCount edges { node {
		id messageCount sender { id } lastMessage { text } conversation { id status } } } } }`, nil, &out)
	if out.MessageRequests.TotalCount != len(out.MessageRequests.Edges) {
		e.t.Fatalf("%s: messageRequests totalCount %d but %d edges", u.Name, out.MessageRequests.TotalCount, len(out.MessageRequests.Edges))
	}
	reqs := make([]rulesRequest, len(out.MessageRequests.Edges))
	for i, edge := range out.MessageRequests.Edges {
		reqs[i] = edge.Node
	}
	return reqs
}

// rulesOneRequest returns u's only request.
func rulesOneRequest(e *env, u user) rulesRequest {
	e.t.Helper()
	reqs := rulesRequestsOf(e, u)
	if len(reqs) != 1 {
		e.t.Fatalf("%s has requests %+v, want exactly one", u.Name, reqs)
	}
	return reqs[0]
}

func rulesPolicyOf(e *env, u user) string {
	e.t.Helper()
	var out struct {
		PrivacySettings struct{ DirectMessagePolicy string }
	}
	e.must(u.Token, `{ privacySettings { directMessagePolicy } }`, nil, &out)
	return out.PrivacySettings.DirectMessagePolicy
}

const rulesMarkRead = `mutation($id: ID!) { markConversationRead(conversationId: $id) { id unreadCount } }`

func rulesDeref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// 1. Privacy settings and every refusal reason, with canMessage agreeing and
// sending nothing.
func TestRulesPrivacySettingsAndRefusals(t *testing.T) {
	e := newEnv(t)

	fresh := e.register("fresh")
	if got := rulesPolicyOf(e, fresh); got != "SUGGESTED_FRIENDS" {
		t.Fatalf("a new account's policy is %s, want SUGGESTED_FRIENDS", got)
	}
	var upd struct {
		UpdatePrivacySettings struct{ DirectMessagePolicy string }
	}
	e.must(fresh.Token, `mutation { updatePrivacySettings(input: {directMessagePolicy: NO_ONE}) { directMessagePolicy } }`, nil, &upd)
	if upd.UpdatePrivacySettings.DirectMessagePolicy != "NO_ONE" || rulesPolicyOf(e, fresh) != "NO_ONE" {
		t.Fatalf("update returned %+v, now %s; want NO_ONE", upd, rulesPolicyOf(e, fresh))
	}

	type want struct {
		delivery     string // when allowed
		code, reason string // when refused
	}
	cases := []struct {
		name  string
		setup func(s, r user)
		self  bool
		want  want
	}{
		{name: "self", self: true, want: want{code: "BAD_USER_INPUT", reason: "SELF"}},
		{name: "self even with NO_ONE", self: true, setup: func(s, r user) { e.setPolicy(s, "NO_ONE") },
			want: want{code: "BAD_USER_INPUT", reason: "SELF"}},
		{name: "default policy, strangers", want: want{code: "FORBIDDEN", reason: "FRIENDS_AND_SUGGESTED_ONLY"}},
		{name: "default policy, sender follows recipient", setup: func(s, r user) { e.follow(s, r) },
			want: want{code: "FORBIDDEN", reason: "FRIENDS_AND_SUGGESTED_ONLY"}},
		{name: "default policy, friends", setup: func(s, r user) { e.friends(s, r) }, want: want{delivery: "INBOX"}},
		{name: "FRIENDS, strangers", setup: func(s, r user) { e.setPolicy(r, "FRIENDS") },
			want: want{code: "FORBIDDEN", reason: "FRIENDS_ONLY"}},
		{name: "FRIENDS, sender follows recipient", setup: func(s, r user) { e.setPolicy(r, "FRIENDS"); e.follow(s, r) },
			want: want{code: "FORBIDDEN", reason: "FRIENDS_ONLY"}},
		{name: "FRIENDS, friends", setup: func(s, r user) { e.setPolicy(r, "FRIENDS"); e.friends(s, r) },
			want: want{delivery: "INBOX"}},
		{name: "NO_ONE, strangers", setup: func(s, r user) { e.setPolicy(r, "NO_ONE") },
			want: want{code: "FORBIDDEN", reason: "RECIPIENT_ALLOWS_NO_ONE"}},
		{name: "NO_ONE, friends", setup: func(s, r user) { e.setPolicy(r, "NO_ONE"); e.friends(s, r) },
			want: want{code: "FORBIDDEN", reason: "RECIPIENT_ALLOWS_NO_ONE"}},
		{name: "EVERYONE, strangers", setup: func(s, r user) { e.setPolicy(r, "EVERYONE") },
			want: want{delivery: "REQUEST"}},
		{name: "EVERYONE, recipient follows sender", setup: func(s, r user) { e.setPolicy(r, "EVERYONE"); e.follow(r, s) },
			want: want{delivery: "INBOX"}},
		{name: "recipient blocked sender", setup: func(s, r user) { e.setPolicy(r, "EVERYONE"); e.block(r, s) },
			want: want{code: "FORBIDDEN", reason: "BLOCKED"}},
		{name: "sender blocked recipient", setup: func(s, r user) { e.setPolicy(r, "EVERYONE"); e.block(s, r) },
			want: want{code: "FORBIDDEN", reason: "BLOCKED"}},
		{name: "blocked friends", setup: func(s, r user) { e.friends(s, r); e.block(r, s) },
			want: want{code: "FORBIDDEN", reason: "BLOCKED"}},
		{name: "block comes before NO_ONE", setup: func(s, r user) { e.setPolicy(r, "NO_ONE"); e.block(s, r) },
			want: want{code: "FORBIDDEN", reason: "BLOCKED"}},
	}
	for _, c := range cases {
		s := e.register("s")
		r := e.register("r")
		if c.self {
			r = s
		}
		if c.setup != nil {
			c.setup(s, r)
		}

		// canMessage answers without sending anything.
		perm := rulesCanMessage(e, s, r)
		if again := rulesCanMessage(e, s, r); again.String() != perm.String() {
			t.Fatalf("%s: canMessage changed from %s to %s", c.name, perm, again)
		}
		if got := rulesCountsOf(e, s); got != (rulesCounts{}) {
			t.Fatalf("%s: after canMessage the sender has %+v, want nothing", c.name, got)
		}
		if got := rulesCountsOf(e, r); got != (rulesCounts{}) {
			t.Fatalf("%s: after canMessage the recipient has %+v, want nothing", c.name, got)
		}

		res := e.do(s.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": r.ID, "text": "hello"}})
		if c.want.code != "" {
			if perm.Allowed || perm.Delivery != nil || rulesDeref(perm.Reason) != c.want.reason {
				t.Fatalf("%s: canMessage = %s, want refused with %s", c.name, perm, c.want.reason)
			}
			if res.code() != c.want.code || res.reason() != c.want.reason {
				t.Fatalf("%s: send got %+v, want %s/%s", c.name, res.Errors, c.want.code, c.want.reason)
			}
			if res.Errors[0].Message == "" {
				t.Fatalf("%s: refusal has no message", c.name)
			}
			if got := rulesCountsOf(e, s); got != (rulesCounts{}) {
				t.Fatalf("%s: after a refused send the sender has %+v, want nothing", c.name, got)
			}
			if got := rulesCountsOf(e, r); got != (rulesCounts{}) {
				t.Fatalf("%s: after a refused send the recipient has %+v, want nothing", c.name, got)
			}
			continue
		}
		if !perm.Allowed || rulesDeref(perm.Delivery) != c.want.delivery || perm.Reason != nil {
			t.Fatalf("%s: canMessage = %s, want allowed with %s", c.name, perm, c.want.delivery)
		}
		if len(res.Errors) > 0 {
			t.Fatalf("%s: send failed: %+v", c.name, res.Errors)
		}
		var out struct {
			SendMessage struct {
				Delivery     string
				Conversation struct{ ID, Status string }
			}
		}
		if err := json.Unmarshal(res.Data, &out); err != nil {
			t.Fatal(err)
		}
		if out.SendMessage.Delivery != c.want.delivery {
			t.Fatalf("%s: delivery %s, want %s", c.name, out.SendMessage.Delivery, c.want.delivery)
		}
		wantSender, wantRecipient := rulesCounts{1, 0}, rulesCounts{1, 0}
		if c.want.delivery == "REQUEST" {
			wantRecipient = rulesCounts{0, 1}
		}
		if got := rulesCountsOf(e, s); got != wantSender {
			t.Fatalf("%s: sender has %+v, want %+v", c.name, got, wantSender)
		}
		if got := rulesCountsOf(e, r); got != wantRecipient {
			t.Fatalf("%s: recipient has %+v, want %+v", c.name, got, wantRecipient)
		}
	}

	// Both sides of a block get exactly the same refusal: nobody learns who blocked whom.
	a, b := e.register("a"), e.register("b")
	e.friends(a, b)
	e.block(b, a)
	in := func(to user) map[string]any {
		return map[string]any{"in": map[string]any{"recipientId": to.ID, "text": "hi"}}
	}
	ab := e.fail(a.Token, sendMutation, in(b), "FORBIDDEN", "BLOCKED")
	ba := e.fail(b.Token, sendMutation, in(a), "FORBIDDEN", "BLOCKED")
	if ab.Errors[0].Message != ba.Errors[0].Message {
		t.Fatalf("block messages differ: %q vs %q", ab.Errors[0].Message, ba.Errors[0].Message)
	}
	if pa, pb := rulesCanMessage(e, a, b), rulesCanMessage(e, b, a); pa.String() != pb.String() {
		t.Fatalf("canMessage differs across a block: %s vs %s", pa, pb)
	}
}

// Age is judged at every check, never stored: a 15-year-old's direct
// messages open when they turn 16, and EVERYONE becomes a choice at 18.
func TestRulesAgeBandsFollowTheClock(t *testing.T) {
	e := newEnv(t)
	teen, adult := e.registerAged("teen", 15), e.registerAged("adult", 30)
	e.friends(teen, adult)
	const update = `mutation($p: DirectMessagePolicy!) { updatePrivacySettings(input: {directMessagePolicy: $p}) { directMessagePolicy } }`
	year := 365 * 24 * time.Hour

	e.fail(teen.Token, update, map[string]any{"p": "FRIENDS"}, "FORBIDDEN", "AGE_RESTRICTED")
	if p := rulesCanMessage(e, adult, teen); p.Allowed {
		t.Fatalf("canMessage to a 15-year-old friend = %s, want refused", p)
	}

	e.clock.advance(year) // 16
	e.setPolicy(teen, "FRIENDS")
	if p := rulesCanMessage(e, adult, teen); !p.Allowed {
		t.Fatalf("canMessage to a 16-year-old friend on FRIENDS = %s, want allowed", p)
	}
	e.fail(teen.Token, update, map[string]any{"p": "EVERYONE"}, "FORBIDDEN", "AGE_RESTRICTED")

	e.clock.advance(2 * year) // 18
	e.setPolicy(teen, "EVERYONE")
}

// 2. Rules 4 and 5 don't apply once the recipient wrote or accepted; NO_ONE
// still stops everything.
func TestRulesReplyBypassesFriendsOnly(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(alice, "EVERYONE")
	e.setPolicy(bob, "FRIENDS")

	// alice could not open contact with bob...
	if p := rulesCanMessage(e, alice, bob); p.Allowed || rulesDeref(p.Reason) != "FRIENDS_ONLY" {
		t.Fatalf("before bob writes, canMessage(alice→bob) = %s, want FRIENDS_ONLY", p)
	}
	// ...but bob writes to her first.
	first := e.send(bob, alice, "hi alice, I'm bob")
	if first.Delivery != "REQUEST" || first.Status != "PENDING" {
		t.Fatalf("bob's first message = %+v, want REQUEST/PENDING", first)
	}
	if p := rulesCanMessage(e, alice, bob); !p.Allowed || rulesDeref(p.Delivery) != "INBOX" {
		t.Fatalf("after bob wrote, canMessage(alice→bob) = %s, want allowed INBOX", p)
	}
	reply := e.send(alice, bob, "hi bob")
	if reply.Delivery != "INBOX" || reply.Status != "ACTIVE" || reply.ConversationID != first.ConversationID {
		t.Fatalf("alice's reply = %+v, want INBOX/ACTIVE in %s", reply, first.ConversationID)
	}
	if got := e.inbox(bob)[first.ConversationID]; got != "ACTIVE" {
		t.Fatalf("bob sees %q, want ACTIVE", got)
	}
	if reqs := e.requests(alice); len(reqs) != 0 {
		t.Fatalf("alice still has requests %v", reqs)
	}
	// Still not friends, yet the conversation goes on both ways.
	if s := e.send(alice, bob, "again"); s.Delivery != "INBOX" {
		t.Fatalf("alice's next message delivery %s, want INBOX", s.Delivery)
	}
	if s := e.send(bob, alice, "sure"); s.Delivery != "INBOX" {
		t.Fatalf("bob's next message delivery %s, want INBOX", s.Delivery)
	}
	// NO_ONE stops even an accepted conversation.
	e.setPolicy(bob, "NO_ONE")
	e.sendFails(alice, bob, "still there?", "FORBIDDEN", "RECIPIENT_ALLOWS_NO_ONE")
	e.fail(alice.Token, sendMutation, map[string]any{"in": map[string]any{"conversationId": first.ConversationID, "text": "hello?"}},
		"FORBIDDEN", "RECIPIENT_ALLOWS_NO_ONE")
	if p := rulesCanMessage(e, alice, bob); p.Allowed || rulesDeref(p.Reason) != "RECIPIENT_ALLOWS_NO_ONE" {
		t.Fatalf("canMessage = %s, want RECIPIENT_ALLOWS_NO_ONE", p)
	}
	if got := rulesConversationOf(e, bob, first.ConversationID).Messages.TotalCount; got != 4 {
		t.Fatalf("bob sees %d messages, want 4", got)
	}
}

func TestRulesAcceptedConversationSurvivesPolicyChange(t *testing.T) {
	e := newEnv(t)

	// Accepted explicitly.
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")
	s := e.send(alice, bob, "hi")
	req := rulesOneRequest(e, bob)
	e.must(bob.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id } } }`, map[string]any{"id": req.ID}, nil)
	e.setPolicy(bob, "FRIENDS")
	if p := rulesCanMessage(e, alice, bob); !p.Allowed || rulesDeref(p.Delivery) != "INBOX" {
		t.Fatalf("after accept + FRIENDS, canMessage = %s, want INBOX", p)
	}
	if got := e.send(alice, bob, "still here"); got.Delivery != "INBOX" || got.ConversationID != s.ConversationID {
		t.Fatalf("after accept + FRIENDS: %+v, want INBOX in %s", got, s.ConversationID)
	}
	e.setPolicy(bob, "SUGGESTED_FRIENDS")
	if got := e.send(alice, bob, "and here"); got.Delivery != "INBOX" {
		t.Fatalf("after accept + SUGGESTED_FRIENDS: delivery %s, want INBOX", got.Delivery)
	}
	e.setPolicy(bob, "NO_ONE")
	e.sendFails(alice, bob, "hello?", "FORBIDDEN", "RECIPIENT_ALLOWS_NO_ONE")
	if got := rulesConversationOf(e, bob, s.ConversationID).texts(); !slices.Equal(got, []string{"hi", "still here", "and here"}) {
		t.Fatalf("bob sees %v", got)
	}

	// Accepted automatically: carol followed dave when he wrote.
	carol, dave := e.register("carol"), e.register("dave")
	e.setPolicy(carol, "EVERYONE")
	e.follow(carol, dave)
	if got := e.send(dave, carol, "hey"); got.Delivery != "INBOX" {
		t.Fatalf("dave→carol (carol follows dave) delivery %s, want INBOX", got.Delivery)
	}
	e.must(carol.Token, `mutation($id: ID!) { unfollow(userId: $id) { id } }`, map[string]any{"id": dave.ID}, nil)
	e.setPolicy(carol, "FRIENDS")
	if got := e.send(dave, carol, "still?"); got.Delivery != "INBOX" {
		t.Fatalf("dave→carol after unfollow + FRIENDS: delivery %s, want INBOX", got.Delivery)
	}
}

// 3. deleteMessageRequest.
func TestRulesDeleteMessageRequest(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.setPolicy(bob, "EVERYONE")
	first := e.send(alice, bob, "one")
	e.send(alice, bob, "two")
	req := rulesOneRequest(e, bob)
	if req.MessageCount != 2 {
		t.Fatalf("messageCount = %d, want 2", req.MessageCount)
	}

	// Neither a stranger nor the sender can delete it.
	del := `mutation($id: ID!) { deleteMessageRequest(requestId: $id) { removedRequestId removedConversationId } }`
	e.fail(carol.Token, del, map[string]any{"id": req.ID}, "NOT_FOUND", "")
	e.fail(alice.Token, del, map[string]any{"id": req.ID}, "NOT_FOUND", "")
	rulesOneRequest(e, bob)

	var out struct {
		DeleteMessageRequest struct{ RemovedRequestID, RemovedConversationID string }
	}
	e.must(bob.Token, del, map[string]any{"id": req.ID}, &out)
	if got := out.DeleteMessageRequest; got.RemovedRequestID != req.ID || got.RemovedConversationID != first.ConversationID {
		t.Fatalf("delete returned %+v, want request %q of conversation %q", got, req.ID, first.ConversationID)
	}
	if reqs := rulesRequestsOf(e, bob); len(reqs) != 0 {
		t.Fatalf("bob still has requests %+v", reqs)
	}
	if got := rulesCountsOf(e, bob); got != (rulesCounts{}) {
		t.Fatalf("bob has %+v after delete, want nothing", got)
	}
	// alice is not told.
	if got := e.inbox(alice)[first.ConversationID]; got != "PENDING" {
		t.Fatalf("alice sees %q, want PENDING", got)
	}
	if got := rulesConversationOf(e, alice, first.ConversationID).texts(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("alice sees %v", got)
	}
	e.fail(bob.Token, rulesConversationQuery, map[string]any{"id": first.ConversationID}, "NOT_FOUND", "")
	e.fail(bob.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": req.ID}, "NOT_FOUND", "")
	e.fail(bob.Token, del, map[string]any{"id": req.ID}, "NOT_FOUND", "")
	e.fail(bob.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id } } }`, map[string]any{"id": req.ID}, "NOT_FOUND", "")

	// A later message opens a fresh request that shows only what came after.
	again := e.send(alice, bob, "three")
	if again.Delivery != "REQUEST" || again.Status != "PENDING" {
		t.Fatalf("alice's next message = %+v, want REQUEST/PENDING", again)
	}
	fresh := rulesOneRequest(e, bob)
	if fresh.ID == req.ID || fresh.MessageCount != 1 || fresh.LastMessage.Text != "three" ||
		fresh.Sender.ID != alice.ID || fresh.Conversation.Status != "REQUEST" {
		t.Fatalf("fresh request = %+v (old id %s)", fresh, req.ID)
	}
	conv := rulesConversationOf(e, bob, fresh.Conversation.ID)
	if got := conv.texts(); !slices.Equal(got, []string{"three"}) || conv.Messages.TotalCount != 1 {
		t.Fatalf("bob sees %v (totalCount %d), want only [three]", got, conv.Messages.TotalCount)
	}
	if conv.UnreadCount != 1 {
		t.Fatalf("bob's unreadCount = %d, want 1", conv.UnreadCount)
	}
	var last struct {
		Conversation struct {
			LastMessage struct{ Text string }
		}
	}
	e.must(bob.Token, `query($id: ID!) { conversation(id: $id) { lastMessage { text } } }`, map[string]any{"id": fresh.Conversation.ID}, &last)
	if last.Conversation.LastMessage.Text != "three" {
		t.Fatalf("bob's lastMessage = %+v", last)
	}
	// alice still has the whole history; bob can't reach the deleted part by node either.
	if got := rulesConversationOf(e, alice, again.ConversationID).texts(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("alice sees %v", got)
	}
	const node = `query($id: ID!) { node(id: $id) { id } }`
	e.fail(bob.Token, node, map[string]any{"id": first.MessageID}, "NOT_FOUND", "")
	e.must(bob.Token, node, map[string]any{"id": again.MessageID}, nil)
	e.must(alice.Token, node, map[string]any{"id": first.MessageID}, nil)
	e.fail(carol.Token, node, map[string]any{"id": again.MessageID}, "NOT_FOUND", "")
	e.fail(carol.Token, node, map[string]any{"id": again.ConversationID}, "NOT_FOUND", "")
	// The request limit counts every request message since bob last
	// accepted, the deleted ones too, so alice can't tell (issue 14, item 9).
	e.sendFails(alice, bob, "four", "FORBIDDEN", "REQUEST_LIMIT")
	if p := rulesCanMessage(e, alice, bob); p.Allowed || rulesDeref(p.Reason) != "REQUEST_LIMIT" {
		t.Fatalf("canMessage at the limit = %s, want REQUEST_LIMIT", p)
	}
	if got := rulesOneRequest(e, bob).MessageCount; got != 1 {
		t.Fatalf("messageCount = %d, want 1", got)
	}
	// Accepting now shows bob the fresh part only, and lifts the limit.
	e.must(bob.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id } } }`, map[string]any{"id": fresh.ID}, nil)
	if got := rulesConversationOf(e, bob, fresh.Conversation.ID).texts(); !slices.Equal(got, []string{"three"}) {
		t.Fatalf("after accept bob sees %v", got)
	}
	if got := e.send(alice, bob, "four"); got.Delivery != "INBOX" {
		t.Fatalf("after accept alice's message = %+v, want INBOX", got)
	}
}

// 4. reportMessageRequest.
func TestRulesReportMessageRequest(t *testing.T) {
	e := newEnv(t)
	const report = `mutation($in: ReportMessageRequestInput!) { reportMessageRequest(input: $in) {
		report { id reason details createdAt } removedRequestId removedConversationId sender { id isBlockedByViewer } } }`
	type reportOut struct {
		ReportMessageRequest struct {
			Report struct {
				ID, Reason, CreatedAt string
				Details               *string
			}
			RemovedRequestID, RemovedConversationID string
			Sender                                  struct {
				ID                string
				IsBlockedByViewer bool
			}
		}
	}
	// payload checks what a cache needs to drop the request and update its sender.
	payload := func(out reportOut, req rulesRequest, sender user, blocked bool) {
		t.Helper()
		p := out.ReportMessageRequest
		if p.RemovedRequestID != req.ID || p.RemovedConversationID != req.Conversation.ID ||
			p.Sender.ID != sender.ID || p.Sender.IsBlockedByViewer != blocked {
			t.Fatalf("report payload = %+v, want request %s of %s, sender %s blocked %v", p, req.ID, req.Conversation.ID, sender.ID, blocked)
		}
	}
	blocked := func(u user) []string {
		var out struct {
			BlockedUsers struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
		}
		e.must(u.Token, `{ blockedUsers { totalCount edges { node { id } } } }`, nil, &out)
		ids := []string{}
		for _, edge := range out.BlockedUsers.Edges {
			ids = append(ids, edge.Node.ID)
		}
		if out.BlockedUsers.TotalCount != len(ids) {
			t.Fatalf("blockedUsers totalCount %d, %d edges", out.BlockedUsers.TotalCount, len(ids))
		}
		return ids
	}

	// Without block.
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.setPolicy(bob, "EVERYONE")
	e.send(alice, bob, "buy cheap coins")
	req := rulesOneRequest(e, bob)
	e.fail(carol.Token, report, map[string]any{"in": map[string]any{"requestId": req.ID, "reason": "SPAM"}}, "NOT_FOUND", "")
	e.fail(bob.Token, report, map[string]any{"in": map[string]any{"requestId": req.ID, "reason": "SPAM",
		"details": strings.Repeat("x", 1001)}}, "BAD_USER_INPUT", "")
	rulesOneRequest(e, bob)

	var out reportOut
	e.must(bob.Token, report, map[string]any{"in": map[string]any{"requestId": req.ID, "reason": "SPAM", "details": "coin spam"}}, &out)
	payload(out, req, alice, false)
	r := out.ReportMessageRequest.Report
	if r.ID == "" || r.Reason != "SPAM" || rulesDeref(r.Details) != "coin spam" {
		t.Fatalf("report = %+v", r)
	}
	if _, err := time.Parse(time.RFC3339, r.CreatedAt); err != nil {
		t.Fatalf("createdAt %q: %v", r.CreatedAt, err)
	}
	if reqs := rulesRequestsOf(e, bob); len(reqs) != 0 {
		t.Fatalf("bob still has requests %+v", reqs)
	}
	var node struct{ Node struct{ ID, Reason string } }
	e.must(bob.Token, `query($id: ID!) { node(id: $id) { id ... on Report { reason } } }`, map[string]any{"id": r.ID}, &node)
	if node.Node.ID != r.ID || node.Node.Reason != "SPAM" {
		t.Fatalf("bob's report by node = %+v", node)
	}
	e.fail(alice.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": r.ID}, "NOT_FOUND", "")
	e.fail(bob.Token, rulesConversationQuery, map[string]any{"id": req.Conversation.ID}, "NOT_FOUND", "")
	e.fail(bob.Token, report, map[string]any{"in": map[string]any{"requestId": req.ID, "reason": "SPAM"}}, "NOT_FOUND", "")
	if ids := blocked(bob); len(ids) != 0 {
		t.Fatalf("a report without block blocked %v", ids)
	}
	// alice can still write, and that opens a fresh request.
	s := e.send(alice, bob, "hello again")
	if s.Delivery != "REQUEST" {
		t.Fatalf("after report, delivery %s, want REQUEST", s.Delivery)
	}
	fresh := rulesOneRequest(e, bob)
	if fresh.ID == req.ID || fresh.MessageCount != 1 {
		t.Fatalf("fresh request = %+v", fresh)
	}
	if got := rulesConversationOf(e, bob, fresh.Conversation.ID).texts(); !slices.Equal(got, []string{"hello again"}) {
		t.Fatalf("bob sees %v", got)
	}

	// With block.
	dave, erin := e.register("dave"), e.register("erin")
	e.setPolicy(erin, "EVERYONE")
	e.send(dave, erin, "hey you")
	req = rulesOneRequest(e, erin)
	out = reportOut{}
	e.must(erin.Token, report, map[string]any{"in": map[string]any{"requestId": req.ID, "reason": "HARASSMENT", "block": true}}, &out)
	if r := out.ReportMessageRequest.Report; r.Reason != "HARASSMENT" || r.Details != nil {
		t.Fatalf("report = %+v", r)
	}
	payload(out, req, dave, true)
	if reqs := rulesRequestsOf(e, erin); len(reqs) != 0 {
		t.Fatalf("erin still has requests %+v", reqs)
	}
	if ids := blocked(erin); !slices.Equal(ids, []string{dave.ID}) {
		t.Fatalf("erin's blockedUsers = %v, want [%s]", ids, dave.ID)
	}
	var u struct {
		User struct{ IsBlockedByViewer bool }
	}
	e.must(erin.Token, `query($id: ID!) { user(id: $id) { isBlockedByViewer } }`, map[string]any{"id": dave.ID}, &u)
	if !u.User.IsBlockedByViewer {
		t.Fatal("erin's view of dave: isBlockedByViewer false")
	}
	e.sendFails(dave, erin, "why?", "FORBIDDEN", "BLOCKED")
	if reqs := rulesRequestsOf(e, erin); len(reqs) != 0 {
		t.Fatalf("erin has requests %+v after a blocked send", reqs)
	}
}

// 5. Blocking.
func TestRulesBlockRemovesPendingRequest(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")
	first := e.send(alice, bob, "hi")
	rulesOneRequest(e, bob)

	var blk struct {
		Block struct {
			ID                string
			IsBlockedByViewer bool
		}
	}
	e.must(bob.Token, `mutation($id: ID!) { block(userId: $id) { id isBlockedByViewer } }`, map[string]any{"id": alice.ID}, &blk)
	if blk.Block.ID != alice.ID || !blk.Block.IsBlockedByViewer {
		t.Fatalf("block returned %+v", blk)
	}
	if reqs := rulesRequestsOf(e, bob); len(reqs) != 0 {
		t.Fatalf("bob still has requests %+v", reqs)
	}
	e.sendFails(alice, bob, "hello?", "FORBIDDEN", "BLOCKED")
	e.sendFails(bob, alice, "go away", "FORBIDDEN", "BLOCKED")
	if got := rulesCountsOf(e, bob); got != (rulesCounts{}) {
		t.Fatalf("bob has %+v", got)
	}

	var unb struct {
		Unblock struct{ IsBlockedByViewer bool }
	}
	e.must(bob.Token, `mutation($id: ID!) { unblock(userId: $id) { isBlockedByViewer } }`, map[string]any{"id": alice.ID}, &unb)
	if unb.Unblock.IsBlockedByViewer {
		t.Fatal("unblock returned isBlockedByViewer true")
	}
	s := e.send(alice, bob, "sorry")
	if s.Delivery != "REQUEST" || s.ConversationID != first.ConversationID {
		t.Fatalf("after unblock: %+v", s)
	}
	fresh := rulesOneRequest(e, bob)
	if fresh.MessageCount != 1 {
		t.Fatalf("fresh request messageCount = %d", fresh.MessageCount)
	}
	if got := rulesConversationOf(e, bob, fresh.Conversation.ID).texts(); !slices.Equal(got, []string{"sorry"}) {
		t.Fatalf("bob sees %v, want only [sorry]", got)
	}
}

func TestRulesBlockKeepsActiveConversationReadable(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	s := e.send(alice, bob, "hi bob")
	e.send(bob, alice, "hi alice")

	e.block(bob, alice)
	for _, u := range []user{alice, bob} {
		c := rulesConversationOf(e, u, s.ConversationID)
		if c.Status != "ACTIVE" || !slices.Equal(c.texts(), []string{"hi bob", "hi alice"}) {
			t.Fatalf("%s sees %+v during the block", u.Name, c)
		}
		if _, ok := e.inbox(u)[s.ConversationID]; !ok {
			t.Fatalf("%s's inbox lost the conversation", u.Name)
		}
	}
	e.sendFails(alice, bob, "?", "FORBIDDEN", "BLOCKED")
	e.sendFails(bob, alice, "!", "FORBIDDEN", "BLOCKED")
	for _, u := range []user{alice, bob} {
		e.fail(u.Token, sendMutation, map[string]any{"in": map[string]any{"conversationId": s.ConversationID, "text": "via id"}},
			"FORBIDDEN", "BLOCKED")
	}
	if got := rulesConversationOf(e, alice, s.ConversationID).Messages.TotalCount; got != 2 {
		t.Fatalf("messages after refused sends = %d, want 2", got)
	}

	e.must(bob.Token, `mutation($id: ID!) { unblock(userId: $id) { id } }`, map[string]any{"id": alice.ID}, nil)
	// The follows are gone, and the block ended bob's invitation (issue 14,
	// item 8): alice is a stranger to bob's SUGGESTED_FRIENDS until he writes.
	e.sendFails(alice, bob, "back?", "FORBIDDEN", "FRIENDS_AND_SUGGESTED_ONLY")
	if got := e.send(bob, alice, "welcome back"); got.Delivery != "INBOX" || got.Status != "ACTIVE" {
		t.Fatalf("bob after unblock: %+v", got)
	}
	if got := e.send(alice, bob, "back"); got.Delivery != "INBOX" || got.Status != "ACTIVE" {
		t.Fatalf("alice after bob wrote: %+v", got)
	}
}

func TestRulesBlockRemovesFollows(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)

	type rel struct {
		FollowerCount, FollowingCount          int
		ViewerFollows, FollowsViewer, IsFriend bool
		IsBlockedByViewer                      bool
	}
	view := func(viewer, of user) rel {
		var out struct{ User rel }
		e.must(viewer.Token, `query($id: ID!) { user(id: $id) {
			followerCount followingCount viewerFollows followsViewer isFriend isBlockedByViewer } }`,
			map[string]any{"id": of.ID}, &out)
		return out.User
	}
	if got, want := view(alice, bob), (rel{1, 1, true, true, true, false}); got != want {
		t.Fatalf("before block alice sees bob as %+v, want %+v", got, want)
	}

	e.block(bob, alice)
	if got, want := view(bob, alice), (rel{0, 0, false, false, false, true}); got != want {
		t.Fatalf("bob sees alice as %+v, want %+v", got, want)
	}
	if got, want := view(alice, bob), (rel{0, 0, false, false, false, false}); got != want {
		t.Fatalf("alice sees bob as %+v, want %+v", got, want)
	}
	for _, u := range []user{alice, bob} {
		var out struct {
			Followers struct{ TotalCount int }
			Following struct{ TotalCount int }
		}
		e.must(u.Token, `query($id: ID!) { followers(userId: $id) { totalCount } following(userId: $id) { totalCount } }`,
			map[string]any{"id": u.ID}, &out)
		if out.Followers.TotalCount != 0 || out.Following.TotalCount != 0 {
			t.Fatalf("%s after block: %+v", u.Name, out)
		}
	}
	// alice can't follow bob back while he blocks her.
	e.fail(alice.Token, `mutation($id: ID!) { follow(userId: $id) { id } }`, map[string]any{"id": bob.ID}, "FORBIDDEN", "BLOCKED")
	if got := view(alice, bob); got.FollowerCount != 0 || got.ViewerFollows {
		t.Fatalf("a refused follow left %+v", got)
	}

	e.must(bob.Token, `mutation($id: ID!) { unblock(userId: $id) { id } }`, map[string]any{"id": alice.ID}, nil)
	e.follow(alice, bob)
	if got, want := view(alice, bob), (rel{1, 0, true, false, false, false}); got != want {
		t.Fatalf("after unblock and follow alice sees bob as %+v, want %+v", got, want)
	}
}

// 6. Reading.
func TestRulesUnreadCountAndReadReceipts(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	a1 := e.send(alice, bob, "a1")
	a2 := e.send(alice, bob, "a2")
	conv := a1.ConversationID

	unread := func(u user) int {
		e.t.Helper()
		return rulesConversationOf(e, u, conv).UnreadCount
	}
	if got := unread(bob); got != 2 {
		t.Fatalf("bob's unreadCount = %d, want 2", got)
	}
	if got := unread(alice); got != 0 {
		t.Fatalf("alice's unreadCount = %d, want 0 (her own messages)", got)
	}
	// The inbox agrees.
	var inbox struct {
		Conversations struct {
			Edges []struct{ Node struct{ UnreadCount int } }
		}
	}
	e.must(bob.Token, `{ conversations { edges { node { unreadCount } } } }`, nil, &inbox)
	if len(inbox.Conversations.Edges) != 1 || inbox.Conversations.Edges[0].Node.UnreadCount != 2 {
		t.Fatalf("bob's inbox = %+v", inbox)
	}

	type receipt struct {
		User            struct{ ID string }
		LastReadMessage *struct{ ID, Text string }
		ReadAt          *string
	}
	receiptsOf := func(u user) []receipt {
		e.t.Helper()
		var out struct {
			Conversation struct{ ReadReceipts []receipt }
		}
		e.must(u.Token, `query($id: ID!) { conversation(id: $id) { readReceipts { user { id } lastReadMessage { id text } readAt } } }`,
			map[string]any{"id": conv}, &out)
		return out.Conversation.ReadReceipts
	}
	if rs := receiptsOf(alice); len(rs) != 1 || rs[0].User.ID != bob.ID || rs[0].LastReadMessage != nil {
		t.Fatalf("before bob reads, alice sees receipts %+v, want bob's with no message", rs)
	}

	var marked struct {
		MarkConversationRead struct {
			ID          string
			UnreadCount int
		}
	}
	e.must(bob.Token, rulesMarkRead, map[string]any{"id": conv}, &marked)
	if marked.MarkConversationRead.UnreadCount != 0 || marked.MarkConversationRead.ID != conv {
		t.Fatalf("markConversationRead returned %+v", marked)
	}
	if got := unread(bob); got != 0 {
		t.Fatalf("after read bob's unreadCount = %d", got)
	}
	rs := receiptsOf(alice)
	if len(rs) != 1 || rs[0].User.ID != bob.ID || rs[0].LastReadMessage == nil || rs[0].LastReadMessage.ID != a2.MessageID || rs[0].ReadAt == nil {
		t.Fatalf("after bob read, alice sees %+v, want bob at %s", rs, a2.MessageID)
	}
	if _, err := time.Parse(time.RFC3339, *rs[0].ReadAt); err != nil {
		t.Fatalf("readAt %q: %v", *rs[0].ReadAt, err)
	}

	// Only messages after the read count.
	a3 := e.send(alice, bob, "a3")
	if got := unread(bob); got != 1 {
		t.Fatalf("after a3 bob's unreadCount = %d, want 1", got)
	}
	if rs := receiptsOf(alice); rs[0].LastReadMessage.ID != a2.MessageID {
		t.Fatalf("bob's receipt moved without reading: %+v", rs)
	}
	b1 := e.send(bob, alice, "b1")
	if got := unread(alice); got != 1 {
		t.Fatalf("alice's unreadCount = %d, want 1 (only bob's b1)", got)
	}
	e.must(alice.Token, rulesMarkRead, map[string]any{"id": conv}, nil)
	if got := unread(alice); got != 0 {
		t.Fatalf("after read alice's unreadCount = %d", got)
	}
	if rs := receiptsOf(bob); len(rs) != 1 || rs[0].User.ID != alice.ID || rs[0].LastReadMessage == nil || rs[0].LastReadMessage.ID != b1.MessageID {
		t.Fatalf("bob sees receipts %+v, want alice at b1", rs)
	}
	_ = a3

	// A non-participant can't mark it read.
	carol := e.register("carol")
	e.fail(carol.Token, rulesMarkRead, map[string]any{"id": conv}, "NOT_FOUND", "")
}

// 7. Videos.
func TestRulesVideos(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol, dave := e.register("alice"), e.register("bob"), e.register("carol"), e.register("dave")
	e.friends(alice, bob)

	publish := func(u user, vis string) string {
		e.t.Helper()
		var out struct {
			PublishVideo struct {
				ID, Visibility, Caption, URL string
				Owner                        struct{ ID string }
			}
		}
		e.must(u.Token, `mutation($v: VideoVisibility) { publishVideo(input: {caption: "my clip", url: "https://cdn.example/v.mp4", visibility: $v}) {
			id visibility caption url owner { id } } }`, map[string]any{"v": vis}, &out)
		v := out.PublishVideo
		if v.ID == "" || v.Visibility != vis || v.Owner.ID != u.ID || v.Caption != "my clip" || v.URL != "https://cdn.example/v.mp4" {
			e.t.Fatalf("published %+v", v)
		}
		return v.ID
	}
	const sendVideo = `mutation($in: SendMessageInput!) {
		sendMessage(input: $in) { delivery message { id text videoUnavailable video { id owner { id } } } conversation { id } }
	}`
	type sendOut struct {
		SendMessage struct {
			Delivery     string
			Message      rulesMessage
			Conversation struct{ ID string }
		}
	}
	// messageSeen returns how u sees message id in conversation conv.
	messageSeen := func(u user, conv, id string) rulesMessage {
		e.t.Helper()
		for _, edge := range rulesConversationOf(e, u, conv).Messages.Edges {
			if edge.Node.ID == id {
				return edge.Node
			}
		}
		e.t.Fatalf("%s can't find message %s", u.Name, id)
		return rulesMessage{}
	}

	// Share your own PUBLIC video.
	v := publish(alice, "PUBLIC")
	var out sendOut
	e.must(alice.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": bob.ID, "videoId": v}}, &out)
	msg := out.SendMessage.Message
	conv := out.SendMessage.Conversation.ID
	if out.SendMessage.Delivery != "INBOX" || msg.Text != nil || msg.Video == nil || msg.Video.ID != v || msg.VideoUnavailable {
		t.Fatalf("sent %+v", out.SendMessage)
	}
	if m := messageSeen(bob, conv, msg.ID); m.Video == nil || m.Video.ID != v || m.VideoUnavailable {
		t.Fatalf("bob sees %+v", m)
	}

	// Someone else's PRIVATE video can't be shared; nor a FRIENDS one by a non-friend.
	private := publish(carol, "PRIVATE")
	e.fail(alice.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": bob.ID, "text": "look", "videoId": private}}, "NOT_FOUND", "")
	friendsOnly := publish(carol, "FRIENDS")
	e.fail(alice.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": bob.ID, "videoId": friendsOnly}}, "NOT_FOUND", "")
	e.friends(alice, carol)
	out = sendOut{}
	e.must(alice.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": bob.ID, "videoId": friendsOnly}}, &out)
	// bob isn't carol's friend: he can't watch it.
	if m := messageSeen(bob, conv, out.SendMessage.Message.ID); m.Video != nil || !m.VideoUnavailable {
		t.Fatalf("bob sees carol's FRIENDS video: %+v", m)
	}
	if got := rulesConversationOf(e, alice, conv).Messages.TotalCount; got != 2 {
		t.Fatalf("%d messages, want 2 (refused shares stored nothing)", got)
	}

	// A video alone can't open a request, but can follow text inside one.
	e.setPolicy(dave, "EVERYONE")
	e.fail(alice.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": dave.ID, "videoId": v}}, "BAD_USER_INPUT", "TEXT_REQUIRED")
	if got := rulesCountsOf(e, dave); got != (rulesCounts{}) {
		t.Fatalf("dave has %+v after a refused video-only request", got)
	}
	if _, ok := e.inbox(alice)[conv]; !ok || len(e.inbox(alice)) != 1 {
		t.Fatalf("alice's inbox %v, want only the conversation with bob", e.inbox(alice))
	}
	e.send(alice, dave, "hi dave, a clip for you")
	out = sendOut{}
	e.must(alice.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": dave.ID, "videoId": v}}, &out)
	if out.SendMessage.Delivery != "REQUEST" {
		t.Fatalf("video inside the request: delivery %s, want REQUEST", out.SendMessage.Delivery)
	}
	daveReq := rulesOneRequest(e, dave)
	if daveReq.MessageCount != 2 {
		t.Fatalf("dave's request messageCount = %d, want 2", daveReq.MessageCount)
	}
	daveMsg := out.SendMessage.Message.ID
	if m := messageSeen(dave, daveReq.Conversation.ID, daveMsg); m.Video == nil || m.Video.ID != v {
		t.Fatalf("dave sees %+v", m)
	}

	// Made PRIVATE: recipients lose it, the owner keeps it.
	var upd struct {
		UpdateVideo struct{ ID, Visibility string }
	}
	e.must(alice.Token, `mutation($id: ID!) { updateVideo(input: {id: $id, visibility: PRIVATE}) { id visibility } }`, map[string]any{"id": v}, &upd)
	if upd.UpdateVideo.Visibility != "PRIVATE" {
		t.Fatalf("updateVideo returned %+v", upd)
	}
	if m := messageSeen(bob, conv, msg.ID); m.Video != nil || !m.VideoUnavailable {
		t.Fatalf("after PRIVATE bob sees %+v, want null/unavailable", m)
	}
	if m := messageSeen(dave, daveReq.Conversation.ID, daveMsg); m.Video != nil || !m.VideoUnavailable {
		t.Fatalf("after PRIVATE dave sees %+v, want null/unavailable", m)
	}
	if m := messageSeen(alice, conv, msg.ID); m.Video == nil || m.Video.ID != v || m.VideoUnavailable {
		t.Fatalf("after PRIVATE the owner sees %+v", m)
	}
	// Nobody else may change it, and bob can't share it anymore.
	e.fail(bob.Token, `mutation($id: ID!) { deleteVideo(id: $id) { deletedVideoId } }`, map[string]any{"id": v}, "NOT_FOUND", "")
	e.fail(bob.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": alice.ID, "videoId": v}}, "NOT_FOUND", "")

	// Deleted: nobody sees it.
	var del struct {
		DeleteVideo struct {
			DeletedVideoID string
			Owner          struct{ ID string }
		}
	}
	e.must(alice.Token, `mutation($id: ID!) { deleteVideo(id: $id) { deletedVideoId owner { id } } }`, map[string]any{"id": v}, &del)
	if del.DeleteVideo.DeletedVideoID != v || del.DeleteVideo.Owner.ID != alice.ID {
		t.Fatalf("deleteVideo returned %+v", del.DeleteVideo)
	}
	for _, u := range []user{alice, bob} {
		if m := messageSeen(u, conv, msg.ID); m.Video != nil || !m.VideoUnavailable {
			t.Fatalf("after delete %s sees %+v, want null/unavailable", u.Name, m)
		}
	}
	if m := messageSeen(alice, daveReq.Conversation.ID, daveMsg); m.Video != nil || !m.VideoUnavailable {
		t.Fatalf("after delete alice sees %+v in the request", m)
	}
	// A message that never had a video is not "unavailable".
	if m := messageSeen(dave, daveReq.Conversation.ID, rulesConversationOf(e, dave, daveReq.Conversation.ID).Messages.Edges[0].Node.ID); m.VideoUnavailable {
		t.Fatalf("a text message shows videoUnavailable: %+v", m)
	}
	e.fail(alice.Token, sendVideo, map[string]any{"in": map[string]any{"recipientId": bob.ID, "videoId": v}}, "NOT_FOUND", "")
}

// 8. Input limits.
func TestRulesInputLimits(t *testing.T) {
	e := newEnv(t)
	const register = `mutation($u: String!, $p: String!, $d: String!, $b: Date!) {
		register(input: {username: $u, password: $p, displayName: $d, birthDate: $b}) { token user { id username } }
	}`
	reg := func(username, password, birth string) response {
		e.t.Helper()
		return e.do("", register, map[string]any{"u": username, "p": password, "d": "Some One", "b": birth})
	}
	badInput := func(what string, res response) {
		t.Helper()
		if res.code() != "BAD_USER_INPUT" || res.Errors[0].Message == "" {
			t.Fatalf("%s: got %+v, want BAD_USER_INPUT with a message", what, res.Errors)
		}
	}
	const adult = "2000-01-01"
	const pw = "long enough"

	badInput("one-character username", reg("a", pw, adult))
	badInput("username with a dash", reg("al-ice", pw, adult))
	badInput("username with a space", reg("al ice", pw, adult))
	badInput("username with an accent", reg("alicé", pw, adult))
	badInput("25-character username", reg(strings.Repeat("a", 25), pw, adult))
	badInput("7-character password", reg("shortpw", "1234567", adult))
	badInput("empty display name", e.do("", register, map[string]any{"u": "noname", "p": pw, "d": "  ", "b": adult}))
	today := e.clock.now().UTC()
	badInput("12 years old", reg("young", pw, today.AddDate(-13, 0, 1).Format(time.DateOnly)))
	badInput("born tomorrow", reg("unborn", pw, today.AddDate(0, 0, 1).Format(time.DateOnly)))
	badInput("not a date", reg("nodate", pw, "2000-13-45"))

	var ok struct {
		Register struct {
			Token string
			User  struct{ ID, Username string }
		}
	}
	for _, name := range []string{"ab", strings.Repeat("b", 24), "x.y_z9"} {
		res := reg(name, "exactly8", adult)
		if len(res.Errors) > 0 {
			t.Fatalf("register %q: %+v", name, res.Errors)
		}
	}
	if res := reg("teen", pw, today.AddDate(-13, 0, 0).Format(time.DateOnly)); len(res.Errors) > 0 {
		t.Fatalf("13 today: %+v", res.Errors)
	}
	e.must("", register, map[string]any{"u": "Alice", "p": pw, "d": "Alice", "b": adult}, &ok)
	if ok.Register.User.Username != "alice" || ok.Register.Token == "" {
		t.Fatalf("registered %+v, want username alice", ok.Register)
	}
	e.fail("", register, map[string]any{"u": "alice", "p": pw, "d": "Other", "b": adult}, "CONFLICT", "")
	e.fail("", register, map[string]any{"u": "ALICE", "p": pw, "d": "Other", "b": adult}, "CONFLICT", "")

	// Login: any case works; a wrong password and an unknown user look the same.
	const login = `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { token user { id } } }`
	var in struct {
		Login struct {
			Token string
			User  struct{ ID string }
		}
	}
	e.must("", login, map[string]any{"u": "ALICE", "p": pw}, &in)
	if in.Login.User.ID != ok.Register.User.ID || in.Login.Token == "" {
		t.Fatalf("login returned %+v", in)
	}
	wrongPw := e.do("", login, map[string]any{"u": "alice", "p": "not the password"})
	unknown := e.do("", login, map[string]any{"u": "nobody", "p": pw})
	invalid := e.do("", login, map[string]any{"u": "!", "p": pw})
	if wrongPw.code() == "" || wrongPw.Errors[0].Message == "" {
		t.Fatalf("wrong password: %+v", wrongPw.Errors)
	}
	for name, res := range map[string]response{"unknown user": unknown, "invalid username": invalid} {
		if res.code() != wrongPw.code() || len(res.Errors) == 0 || res.Errors[0].Message != wrongPw.Errors[0].Message {
			t.Fatalf("%s: %+v, wrong password: %+v; want the same", name, res.Errors, wrongPw.Errors)
		}
	}
	if len(wrongPw.Data) > 0 && string(wrongPw.Data) != "null" {
		t.Fatalf("wrong password returned data %s", wrongPw.Data)
	}

	// Messages.
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	sendBad := func(what string, in map[string]any) {
		t.Helper()
		badInput(what, e.do(alice.Token, sendMutation, map[string]any{"in": in}))
	}
	sendBad("empty text", map[string]any{"recipientId": bob.ID, "text": ""})
	sendBad("blank text", map[string]any{"recipientId": bob.ID, "text": " \n\t "})
	sendBad("no text", map[string]any{"recipientId": bob.ID})
	sendBad("4001 characters", map[string]any{"recipientId": bob.ID, "text": strings.Repeat("a", 4001)})
	sendBad("4001 two-byte characters", map[string]any{"recipientId": bob.ID, "text": strings.Repeat("é", 4001)})
	if got := rulesCountsOf(e, alice); got != (rulesCounts{}) {
		t.Fatalf("rejected sends created %+v", got)
	}
	s := e.send(alice, bob, strings.Repeat("a", 4000))
	e.send(alice, bob, strings.Repeat("é", 4000))
	e.send(alice, bob, "   "+strings.Repeat("b", 4000)+"\n") // trimmed first
	sendBad("both recipient and conversation", map[string]any{"recipientId": bob.ID, "conversationId": s.ConversationID, "text": "hi"})
	sendBad("neither recipient nor conversation", map[string]any{"text": "hi"})
	sendBad("blank text in a conversation", map[string]any{"conversationId": s.ConversationID, "text": "  "})
	if got := rulesConversationOf(e, bob, s.ConversationID).Messages.TotalCount; got != 3 {
		t.Fatalf("bob sees %d messages, want 3", got)
	}
	var txt struct {
		Conversation struct {
			LastMessage struct{ Text string }
		}
	}
	e.must(bob.Token, `query($id: ID!) { conversation(id: $id) { lastMessage { text } } }`, map[string]any{"id": s.ConversationID}, &txt)
	if txt.Conversation.LastMessage.Text != strings.Repeat("b", 4000) {
		t.Fatalf("stored text not trimmed: %d characters", len(txt.Conversation.LastMessage.Text))
	}

	// Videos.
	const publish = `mutation($c: String!, $u: String!) { publishVideo(input: {caption: $c, url: $u}) { id visibility } }`
	pub := func(caption, url string) response {
		t.Helper()
		return e.do(alice.Token, publish, map[string]any{"c": caption, "u": url})
	}
	badInput("2001-character caption", pub(strings.Repeat("c", 2001), "https://cdn.example/a.mp4"))
	badInput("ftp url", pub("ok", "ftp://x"))
	badInput("javascript url", pub("ok", "javascript:alert(1)"))
	badInput("relative url", pub("ok", "/videos/a.mp4"))
	var v struct {
		PublishVideo struct{ ID, Visibility string }
	}
	e.must(alice.Token, publish, map[string]any{"c": strings.Repeat("c", 2000), "u": "http://cdn.example/a.mp4"}, &v)
	if v.PublishVideo.Visibility != "PUBLIC" {
		t.Fatalf("default visibility %s, want PUBLIC", v.PublishVideo.Visibility)
	}
	e.must(alice.Token, publish, map[string]any{"c": "", "u": "HTTPS://cdn.example/b.mp4"}, nil)
}

// 9. Pagination.
func TestRulesMessagePagination(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	const n = 7
	var ids []string
	var conv string
	for i := range n {
		s := e.send(alice, bob, fmt.Sprint("m", i))
		ids = append(ids, s.MessageID)
		conv = s.ConversationID
	}

	type page struct {
		TotalCount int
		Edges      []struct {
			Cursor string
			Node   struct{ ID, Text string }
		}
		PageInfo struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
	}
	const q = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) { conversation(id: $id) {
		messages(first: $first, after: $after, last: $last, before: $before) {
			totalCount edges { cursor node { id text } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`
	get := func(vars map[string]any) page {
		t.Helper()
		vars["id"] = conv
		var out struct{ Conversation struct{ Messages page } }
		e.must(bob.Token, q, vars, &out)
		return out.Conversation.Messages
	}
	idsOf := func(p page) []string {
		out := []string{}
		for _, edge := range p.Edges {
			out = append(out, edge.Node.ID)
		}
		return out
	}

	// last: 2 is the newest two, oldest first.
	p := get(map[string]any{"last": 2})
	if got := idsOf(p); !slices.Equal(got, ids[n-2:]) || !p.PageInfo.HasPreviousPage || p.TotalCount != n {
		t.Fatalf("last 2 = %v %+v, want %v with hasPreviousPage", got, p.PageInfo, ids[n-2:])
	}
	if p.Edges[0].Node.Text != "m5" || p.Edges[1].Node.Text != "m6" {
		t.Fatalf("last 2 texts %+v", p.Edges)
	}
	if p.PageInfo.StartCursor == nil || *p.PageInfo.StartCursor != p.Edges[0].Cursor ||
		p.PageInfo.EndCursor == nil || *p.PageInfo.EndCursor != p.Edges[1].Cursor {
		t.Fatalf("cursors %+v vs edges %+v", p.PageInfo, p.Edges)
	}
	// Paging back with before.
	back := idsOf(p)
	for p.PageInfo.HasPreviousPage {
		p = get(map[string]any{"last": 2, "before": *p.PageInfo.StartCursor})
		if len(p.Edges) == 0 {
			t.Fatal("empty page while hasPreviousPage")
		}
		back = append(idsOf(p), back...)
	}
	if !slices.Equal(back, ids) {
		t.Fatalf("paging back gave %v, want %v", back, ids)
	}
	p = get(map[string]any{"last": 2, "before": p.Edges[0].Cursor})
	if len(p.Edges) != 0 || p.PageInfo.HasPreviousPage {
		t.Fatalf("before the oldest: %+v", p)
	}

	// Forward with first/after covers every message once.
	var fwd []string
	var after any
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("forward paging does not end")
		}
		p = get(map[string]any{"first": 3, "after": after})
		fwd = append(fwd, idsOf(p)...)
		if !p.PageInfo.HasNextPage {
			break
		}
		after = *p.PageInfo.EndCursor
	}
	if !slices.Equal(fwd, ids) {
		t.Fatalf("paging forward gave %v, want %v", fwd, ids)
	}
	// Default page size holds all seven; first: 0 holds none but still counts.
	if p = get(map[string]any{}); len(p.Edges) != n || p.PageInfo.HasNextPage {
		t.Fatalf("default page: %d edges, %+v", len(p.Edges), p.PageInfo)
	}
	if p = get(map[string]any{"first": 0}); len(p.Edges) != 0 || p.TotalCount != n {
		t.Fatalf("first 0: %+v", p)
	}

	// Bad arguments.
	bad := func(what string, vars map[string]any) {
		t.Helper()
		vars["id"] = conv
		res := e.do(bob.Token, q, vars)
		if res.code() != "BAD_USER_INPUT" {
			t.Fatalf("%s: got %+v, want BAD_USER_INPUT", what, res.Errors)
		}
	}
	bad("first 101", map[string]any{"first": 101})
	bad("last 101", map[string]any{"last": 101})
	bad("first -1", map[string]any{"first": -1})
	bad("first and last", map[string]any{"first": 1, "last": 1})
	bad("garbage after", map[string]any{"after": "not-a-cursor"})
	bad("garbage before", map[string]any{"last": 2, "before": "%%%"})
	bad("an ID as cursor", map[string]any{"after": conv})
	// 100 is fine.
	if p = get(map[string]any{"first": 100}); len(p.Edges) != n {
		t.Fatalf("first 100: %d edges", len(p.Edges))
	}
}

func TestRulesConversationAndUserListPagination(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	var friends []user
	var convs []string
	for range 5 {
		f := e.register("friend")
		e.friends(alice, f)
		friends = append(friends, f)
		convs = append(convs, e.send(alice, f, "hi").ConversationID)
	}
	// The oldest conversation gets new activity: it moves to the top.
	e.send(friends[0], alice, "bump")
	want := []string{convs[0], convs[4], convs[3], convs[2], convs[1]}

	type page struct {
		TotalCount int
		Edges      []struct{ Node struct{ ID string } }
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			EndCursor                    *string
		}
	}
	var got []string
	var after any
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("conversation paging does not end")
		}
		var out struct{ Conversations page }
		e.must(alice.Token, `query($after: String) { conversations(first: 2, after: $after) {
			totalCount edges { node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`,
			map[string]any{"after": after}, &out)
		if out.Conversations.TotalCount != 5 {
			t.Fatalf("totalCount = %d, want 5", out.Conversations.TotalCount)
		}
		for _, edge := range out.Conversations.Edges {
			got = append(got, edge.Node.ID)
		}
		if !out.Conversations.PageInfo.HasNextPage {
			break
		}
		after = *out.Conversations.PageInfo.EndCursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("conversations paged %v, want %v", got, want)
	}
	for _, q := range []string{
		`{ conversations(first: 101) { totalCount } }`,
		`{ conversations(after: "bogus") { totalCount } }`,
		`{ messageRequests(first: 101) { totalCount } }`,
		`{ messageRequests(after: "bogus") { totalCount } }`,
		`{ blockedUsers(first: 101) { totalCount } }`,
	} {
		e.fail(alice.Token, q, nil, "BAD_USER_INPUT", "")
	}

	// followers / following.
	type users struct {
		TotalCount int
		Edges      []struct {
			Cursor string
			Node   struct{ ID string }
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
	}
	list := func(field string, of user, first int, after any) users {
		t.Helper()
		var out map[string]users
		e.must(alice.Token, fmt.Sprintf(`query($id: ID!, $first: Int, $after: String) { %s(userId: $id, first: $first, after: $after) {
			totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, field),
			map[string]any{"id": of.ID, "first": first, "after": after}, &out)
		return out[field]
	}
	// alice follows everyone, so both lists hold all five, newest first.
	wantUsers := []string{friends[4].ID, friends[3].ID, friends[2].ID, friends[1].ID, friends[0].ID}
	for _, field := range []string{"followers", "following"} {
		var ids []string
		after = nil
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatalf("%s paging does not end", field)
			}
			p := list(field, alice, 2, after)
			if p.TotalCount != 5 || len(p.Edges) > 2 {
				t.Fatalf("%s page: totalCount %d, %d edges", field, p.TotalCount, len(p.Edges))
			}
			for _, edge := range p.Edges {
				ids = append(ids, edge.Node.ID)
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			after = *p.PageInfo.EndCursor
		}
		if !slices.Equal(ids, wantUsers) {
			t.Fatalf("%s = %v, want %v", field, ids, wantUsers)
		}
	}
	// One friend unfollows alice: her followers shrink, her following doesn't.
	e.must(friends[2].Token, `mutation($id: ID!) { unfollow(userId: $id) { id } }`, map[string]any{"id": alice.ID}, nil)
	if p := list("followers", alice, 10, nil); p.TotalCount != 4 || len(p.Edges) != 4 {
		t.Fatalf("followers after unfollow: %+v", p)
	}
	if p := list("following", alice, 10, nil); p.TotalCount != 5 {
		t.Fatalf("following after unfollow: %+v", p)
	}
	if p := list("following", friends[2], 10, nil); p.TotalCount != 0 || len(p.Edges) != 0 {
		t.Fatalf("friend's following after unfollow: %+v", p)
	}
	if p := list("followers", friends[2], 10, nil); p.TotalCount != 1 || p.Edges[0].Node.ID != alice.ID {
		t.Fatalf("friend's followers: %+v", p)
	}
	for _, vars := range []map[string]any{{"first": 101}, {"after": "bogus"}} {
		vars["id"] = alice.ID
		e.fail(alice.Token, `query($id: ID!, $first: Int, $after: String) { followers(userId: $id, first: $first, after: $after) { totalCount } }`,
			vars, "BAD_USER_INPUT", "")
		e.fail(alice.Token, `query($id: ID!, $first: Int, $after: String) { following(userId: $id, first: $first, after: $after) { totalCount } }`,
			vars, "BAD_USER_INPUT", "")
	}
}

// A report keeps a copy of the messages it covers, for moderators.
func TestRulesReportKeepsMessageCopies(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPolicy(bob, "EVERYONE")
	e.send(alice, bob, "buy cheap followers")
	e.send(alice, bob, "limited offer!!")
	var out struct {
		ReportMessageRequest struct{ Report struct{ ID string } }
	}
	e.must(bob.Token, `mutation($id: ID!) { reportMessageRequest(input: {requestId: $id, reason: SPAM}) { report { id } } }`,
		map[string]any{"id": e.requests(bob)[0]}, &out)
	_, reportID, _ := relay.Parse(out.ReportMessageRequest.Report.ID)
	copies, err := e.store.ReportMessages(t.Context(), reportID)
	if err != nil || len(copies) != 2 || *copies[0].Text != "buy cheap followers" || *copies[1].Text != "limited offer!!" {
		t.Fatalf("report copies: %v %v", copies, err)
	}
}
