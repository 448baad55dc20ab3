package resolvers_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// Regression tests for the privacy-rule items of issue 14.

// secRefusal is what a client sees of a refused operation.
type secRefusal struct{ Code, Reason, Message string }

func secRefusalOf(t *testing.T, res response) secRefusal {
	t.Helper()
	if len(res.Errors) == 0 {
		t.Fatalf("expected an error, got data %s", res.Data)
	}
	return secRefusal{res.code(), res.reason(), res.Errors[0].Message}
}

// secSendRefusal is the refusal of a text message from a to b.
func secSendRefusal(e *env, a, b user) secRefusal {
	e.t.Helper()
	return secRefusalOf(e.t.(*testing.T), e.do(a.Token, sendMutation,
		map[string]any{"in": map[string]any{"recipientId": b.ID, "text": "hi"}}))
}

// Item 5: toward others, a 13–15-year-old answers exactly like an account on
// NO_ONE (a 17-year-old on their default, an adult who chose it), through
// canMessage and sendMessage, whatever the relation.
func TestSec05MinorAgeNotRevealed(t *testing.T) {
	e := newEnv(t)
	adult := e.registerAged("asker", 30)
	minor, teen17, closed := e.registerAged("minor", 14), e.registerAged("teen", 17), e.registerAged("closed", 40)
	e.setPolicy(closed, "NO_ONE")
	for _, u := range []user{minor, teen17, closed} {
		e.friends(adult, u) // even friends
	}
	stranger := e.registerAged("stranger", 25)
	for _, from := range []user{adult, stranger} {
		want := rulesCanMessage(e, from, closed)
		if want.Allowed || want.Reason == nil || *want.Reason != "RECIPIENT_ALLOWS_NO_ONE" {
			t.Fatalf("canMessage to NO_ONE = %s", want)
		}
		wantErr := secSendRefusal(e, from, closed)
		if wantErr.Code != "FORBIDDEN" || wantErr.Reason != "RECIPIENT_ALLOWS_NO_ONE" {
			t.Fatalf("send to NO_ONE = %+v", wantErr)
		}
		for _, to := range []user{minor, teen17} {
			if got := rulesCanMessage(e, from, to); got.String() != want.String() {
				t.Errorf("canMessage %s → %s = %s, want %s", from.Name, to.Name, got, want)
			}
			if got := secSendRefusal(e, from, to); got != wantErr {
				t.Errorf("send %s → %s = %+v, want %+v", from.Name, to.Name, got, wantErr)
			}
		}
	}
	// What others see of the minor's profile is what they see of anyone's.
	profile := func(viewer, u user) map[string]any {
		var out struct{ User map[string]any }
		e.must(viewer.Token, `query($id: ID!) { user(id: $id) { followerCount followingCount viewerFollows followsViewer
			isFriend isBlockedByViewer isSuggestedFriend suggestionReasons } }`, map[string]any{"id": u.ID}, &out)
		return out.User
	}
	if a, b := fmt.Sprint(profile(adult, minor)), fmt.Sprint(profile(adult, closed)); a != b {
		t.Errorf("profile of the minor %s, of the NO_ONE adult %s", a, b)
	}
	// The minor is still told why about their own sending and settings.
	if got := secSendRefusal(e, minor, adult); got.Code != "FORBIDDEN" || got.Reason != "AGE_RESTRICTED" {
		t.Errorf("minor sending = %+v, want FORBIDDEN/AGE_RESTRICTED", got)
	}
	if got := rulesCanMessage(e, minor, adult); got.Reason == nil || *got.Reason != "AGE_RESTRICTED" {
		t.Errorf("minor's canMessage = %s, want AGE_RESTRICTED", got)
	}
	e.fail(minor.Token, `mutation { updatePrivacySettings(input: {directMessagePolicy: FRIENDS}) { directMessagePolicy } }`,
		nil, "FORBIDDEN", "AGE_RESTRICTED")
}

// Item 14: a sender whose setting is NO_ONE could never be answered, so
// they may not send at all, with their own reason; canMessage says the same.
// Changing the setting lets them send.
func TestSec14NoOneSenderCannotSend(t *testing.T) {
	e := newEnv(t)
	closed, open := e.registerAged("closed", 30), e.registerAged("open", 30)
	teen := e.registerAged("teen", 17) // starts on NO_ONE
	e.setPolicy(closed, "NO_ONE")
	e.setPolicy(open, "EVERYONE")
	for _, from := range []user{closed, teen} {
		got := secSendRefusal(e, from, open)
		if got.Code != "FORBIDDEN" || got.Reason != "SENDER_ALLOWS_NO_ONE" || got.Message == "" {
			t.Errorf("%s sending = %+v, want FORBIDDEN/SENDER_ALLOWS_NO_ONE", from.Name, got)
		}
		if p := rulesCanMessage(e, from, open); p.Allowed || p.Reason == nil || *p.Reason != "SENDER_ALLOWS_NO_ONE" {
			t.Errorf("%s canMessage = %s, want SENDER_ALLOWS_NO_ONE", from.Name, p)
		}
	}
	if n := rulesCountsOf(e, open); n != (rulesCounts{}) {
		t.Errorf("recipient has %+v after refused sends", n)
	}
	// An existing conversation doesn't let them reply either: the other
	// side could not answer.
	e.setPolicy(closed, "EVERYONE")
	e.send(open, closed, "hello")
	e.setPolicy(closed, "NO_ONE")
	res := e.fail(closed.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": open.ID, "text": "hi"}},
		"FORBIDDEN", "SENDER_ALLOWS_NO_ONE")
	var data struct{ SendMessage json.RawMessage }
	_ = json.Unmarshal(res.Data, &data)
	if string(data.SendMessage) != "" && string(data.SendMessage) != "null" {
		t.Errorf("refused send returned %s", data.SendMessage)
	}
	// With a setting that lets others answer, they send.
	e.setPolicy(teen, "FRIENDS")
	if s := e.send(teen, open, "hi"); s.Delivery != "REQUEST" {
		t.Errorf("16-17 on FRIENDS → stranger on EVERYONE: %s, want REQUEST", s.Delivery)
	}
	e.setPolicy(closed, "SUGGESTED_FRIENDS")
	if s := e.send(closed, open, "back"); s.Delivery != "INBOX" {
		t.Errorf("reply after leaving NO_ONE: %s, want INBOX", s.Delivery)
	}
}

// Item 15a: a clientMessageId reused for another recipient, conversation,
// text or video is a CONFLICT; the same message again returns the original,
// whether it names the recipient or the conversation. Concurrent sends of
// different messages under one key store one and refuse the others, on the
// group-commit path too.
func TestSec15ClientMessageIDReuseConflicts(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.setPolicy(bob, "EVERYONE")
	e.setPolicy(carol, "EVERYONE")
	var video struct{ PublishVideo struct{ ID string } }
	e.must(alice.Token, `mutation { publishVideo(input: {caption: "v", url: "https://v.example/v.mp4"}) { id } }`, nil, &video)
	first := e.sendInput(alice, map[string]any{"recipientId": bob.ID, "text": "hello", "clientMessageId": "k1"})
	again := e.sendInput(alice, map[string]any{"recipientId": bob.ID, "text": "hello", "clientMessageId": "k1"})
	byConv := e.sendInput(alice, map[string]any{"conversationId": first.ConversationID, "text": "hello", "clientMessageId": "k1"})
	if again.MessageID != first.MessageID || byConv.MessageID != first.MessageID {
		t.Fatalf("retries returned %s and %s, want the original %s", again.MessageID, byConv.MessageID, first.MessageID)
	}
	other := e.send(alice, carol, "a conversation with carol")
	for name, in := range map[string]map[string]any{
		"another text":         {"recipientId": bob.ID, "text": "goodbye"},
		"another recipient":    {"recipientId": carol.ID, "text": "hello"},
		"another conversation": {"conversationId": other.ConversationID, "text": "hello"},
		"a video added":        {"recipientId": bob.ID, "text": "hello", "videoId": video.PublishVideo.ID},
		"no text":              {"recipientId": bob.ID, "videoId": video.PublishVideo.ID},
	} {
		in["clientMessageId"] = "k1"
		res := e.do(alice.Token, sendMutation, map[string]any{"in": in})
		if res.code() != "CONFLICT" || res.reason() != "CLIENT_MESSAGE_ID_REUSED" {
			t.Errorf("%s: got %+v, want CONFLICT/CLIENT_MESSAGE_ID_REUSED", name, res.Errors)
		}
	}
	if got := rulesConversationOf(e, bob, first.ConversationID).texts(); fmt.Sprint(got) != "[hello]" {
		t.Errorf("bob's conversation holds %v, want [hello]", got)
	}
	if got := rulesConversationOf(e, carol, other.ConversationID).texts(); len(got) != 1 {
		t.Errorf("carol's conversation holds %v, want one message", got)
	}

	// Racing sends under one new key: one is stored, every other answer is
	// that message (the same text) or CONFLICT (another text).
	const n = 8
	type answer struct {
		id, code, reason string
		text             string
	}
	answers := make(chan answer, n)
	for i := range n {
		go func() {
			text := fmt.Sprintf("race %d", i%2)
			res := e.do(alice.Token, sendMutation, map[string]any{"in": map[string]any{
				"recipientId": bob.ID, "text": text, "clientMessageId": "race"}})
			var out struct {
				SendMessage struct{ Message struct{ ID, Text string } }
			}
			_ = json.Unmarshal(res.Data, &out)
			answers <- answer{out.SendMessage.Message.ID, res.code(), res.reason(), text}
		}()
	}
	stored := map[string]string{} // message ID → text
	for range n {
		a := <-answers
		switch {
		case a.code == "" && a.id != "":
			stored[a.id] = a.text
		case a.code == "CONFLICT" && a.reason == "CLIENT_MESSAGE_ID_REUSED":
		default:
			t.Errorf("racing send: %+v", a)
		}
	}
	if len(stored) != 1 {
		t.Fatalf("racing sends stored %v, want one message", stored)
	}
	if got := rulesConversationOf(e, bob, first.ConversationID).texts(); len(got) != 2 {
		t.Errorf("bob's conversation holds %v, want hello and one race message", got)
	}
}

// secReceipts is the read receipts u sees in conversation conv.
func secReceipts(e *env, u user, conv string) []secReceipt {
	e.t.Helper()
	var out struct {
		Conversation struct{ ReadReceipts []secReceipt }
	}
	e.must(u.Token, `query($id: ID!) { conversation(id: $id) { readReceipts { user { id } lastReadMessage { id } readAt } } }`,
		map[string]any{"id": conv}, &out)
	return out.Conversation.ReadReceipts
}

type secReceipt struct {
	User            struct{ ID string }
	LastReadMessage *struct{ ID string }
	ReadAt          *string
}

// Item 12: while a block stands, neither side sees the other's read
// receipts move, in queries or live; after the unblock they show again.
func TestSec12BlockHidesReadReceipts(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	conv := e.send(bob, alice, "one").ConversationID
	e.send(alice, bob, "two")
	three := e.send(bob, alice, "three")
	if r := secReceipts(e, bob, conv); len(r) != 1 || r[0].LastReadMessage == nil || r[0].ReadAt == nil {
		t.Fatalf("before the block bob sees %+v, want alice's receipt", r)
	}
	ws := e.connectWS(bob, "")
	ws.subscribe("upd", subUpdates, nil)
	for end := time.Now().Add(10 * time.Second); e.hub.Subscriptions() < 1 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	type update struct {
		ConversationUpdated struct {
			ID           string
			ReadReceipts []struct {
				User            struct{ ID string }
				LastReadMessage *struct{ ID string }
			}
		}
	}
	e.block(alice, bob)
	var blockEvent update
	ws.data("upd", &blockEvent) // the block started

	e.must(alice.Token, `mutation($id: ID!) { markConversationRead(conversationId: $id) { id } }`, map[string]any{"id": conv}, nil)
	e.must(bob.Token, `mutation($id: ID!) { markConversationRead(conversationId: $id) { id } }`, map[string]any{"id": conv}, nil)
	for _, u := range []user{alice, bob} {
		r := secReceipts(e, u, conv)
		if len(r) != 1 || r[0].LastReadMessage != nil || r[0].ReadAt != nil {
			t.Errorf("%s sees receipts %+v while the block stands, want none moving", u.Name, r)
		}
	}

	// The next event bob gets is the unblock, not alice's read: it already
	// shows her position at "three".
	e.must(alice.Token, `mutation($id: ID!) { unblock(userId: $id) { id } }`, map[string]any{"id": bob.ID}, nil)
	var next update
	ws.data("upd", &next)
	r := next.ConversationUpdated.ReadReceipts
	if len(r) != 1 || r[0].LastReadMessage == nil || r[0].LastReadMessage.ID != three.MessageID {
		t.Errorf("bob's next update %+v, want the unblock showing alice read %s", next, three.MessageID)
	}
	if r := secReceipts(e, alice, conv); len(r) != 1 || r[0].LastReadMessage == nil || r[0].LastReadMessage.ID != three.MessageID {
		t.Errorf("after the unblock alice sees %+v, want bob's receipt at %s", r, three.MessageID)
	}
}

// Item 8: a block ends what the blocker had opened toward the blocked user,
// an accepted conversation or their own pending request: after an unblock,
// the blocked user's messages are judged as a stranger's (here FRIENDS_ONLY)
// until the blocker writes again.
func TestSec08BlockEndsBlockersInvitation(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reply bool // whether C answered A's request (ACTIVE) or not (A PENDING)
	}{{"accepted conversation", true}, {"pending request", false}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a, c := e.register("a"), e.register("c")
			e.setPolicy(a, "FRIENDS")
			e.setPolicy(c, "EVERYONE")
			conv := e.send(a, c, "hi c").ConversationID
			if tt.reply {
				if s := e.send(c, a, "hi a"); s.Delivery != "INBOX" {
					t.Fatalf("c's reply: %s, want INBOX", s.Delivery)
				}
			} else if p := rulesCanMessage(e, c, a); !p.Allowed || rulesDeref(p.Delivery) != "INBOX" {
				t.Fatalf("before the block c may answer a's request: %s", p)
			}
			e.block(a, c)
			e.must(a.Token, `mutation($id: ID!) { unblock(userId: $id) { id } }`, map[string]any{"id": c.ID}, nil)
			before := rulesConversationOf(e, a, conv).Messages.TotalCount

			if p := rulesCanMessage(e, c, a); p.Allowed || rulesDeref(p.Reason) != "FRIENDS_ONLY" {
				t.Errorf("after block and unblock, canMessage c→a = %s, want FRIENDS_ONLY", p)
			}
			e.sendFails(c, a, "still there?", "FORBIDDEN", "FRIENDS_ONLY")
			if n := rulesConversationOf(e, a, conv).Messages.TotalCount; n != before {
				t.Errorf("a's conversation went from %d to %d messages", before, n)
			}
			// a writing again invites c again.
			e.send(a, c, "back")
			if s := e.send(c, a, "welcome back"); s.Delivery != "INBOX" {
				t.Errorf("c's answer after a wrote again: %s, want INBOX", s.Delivery)
			}
		})
	}
}

// secSenderView is everything the sender can observe of their request.
type secSenderView struct {
	CanMessage string
	SendError  secRefusal
	Status     string
	Messages   int
	Unread     int
	Receipts   int
	Requests   int
	Inbox      int
}

// Item 9: the sender can't tell whether the recipient kept, deleted or
// reported (without a block) their request: the limit of 3 counts their
// request messages since the recipient last accepted one, and every answer
// and view of theirs is the same in the three cases. A report that also
// blocks shows BLOCKED, as any block does.
func TestSec09RequestLimitHidesDeleteAndReport(t *testing.T) {
	e := newEnv(t)
	views := map[string]secSenderView{}
	for _, mode := range []string{"open", "deleted", "reported", "deleted twice"} {
		s, r := e.register("s"), e.register("r")
		e.setPolicy(r, "EVERYONE")
		answer := func() {
			reqs := e.requests(r)
			if len(reqs) != 1 {
				t.Fatalf("%s: recipient has requests %v", mode, reqs)
			}
			switch {
			case mode == "deleted" || mode == "deleted twice":
				e.must(r.Token, `mutation($id: ID!) { deleteMessageRequest(requestId: $id) { removedRequestId } }`, map[string]any{"id": reqs[0]}, nil)
			case mode == "reported":
				e.must(r.Token, `mutation($id: ID!) { reportMessageRequest(input: {requestId: $id, reason: SPAM}) { report { id } } }`,
					map[string]any{"id": reqs[0]}, nil)
			}
		}
		conv := e.send(s, r, "one").ConversationID
		answer()
		for i, text := range []string{"two", "three"} {
			if got := e.send(s, r, text); got.Delivery != "REQUEST" || got.Status != "PENDING" {
				t.Fatalf("%s: message %d: %+v", mode, i+2, got)
			}
			if mode == "deleted twice" && i == 0 {
				answer()
			}
		}
		if mode != "open" && mode != "deleted twice" {
			answer()
		}
		var v secSenderView
		p := rulesCanMessage(e, s, r)
		v.CanMessage = p.String()
		v.SendError = secSendRefusal(e, s, r)
		c := rulesConversationOf(e, s, conv)
		v.Status, v.Messages, v.Unread = c.Status, c.Messages.TotalCount, c.UnreadCount
		v.Receipts = len(secReceipts(e, s, conv))
		n := rulesCountsOf(e, s)
		v.Requests, v.Inbox = n.Requests, n.Conversations
		views[mode] = v
		if v.SendError.Code != "FORBIDDEN" || v.SendError.Reason != "REQUEST_LIMIT" {
			t.Errorf("%s: the fourth message = %+v, want FORBIDDEN/REQUEST_LIMIT", mode, v.SendError)
		}
	}
	for mode, v := range views {
		if v != views["open"] {
			t.Errorf("the sender sees\n%+v when %s,\n%+v when open", v, mode, views["open"])
		}
	}

	// A report that blocks is a block, and says so.
	s, r := e.register("s"), e.register("r")
	e.setPolicy(r, "EVERYONE")
	e.send(s, r, "one")
	e.must(r.Token, `mutation($id: ID!) { reportMessageRequest(input: {requestId: $id, reason: SPAM, block: true}) { report { id } } }`,
		map[string]any{"id": e.requests(r)[0]}, nil)
	if p := rulesCanMessage(e, s, r); rulesDeref(p.Reason) != "BLOCKED" {
		t.Errorf("after a report that blocks: %s, want BLOCKED", p)
	}
}

// The sender's own block and unblock neither resets the request limit nor
// reveals what the recipient did: with the request open, deleted or
// reported, the sender hears REQUEST_LIMIT after unblocking, every time.
func TestSec09SendersOwnBlockRevealsNothing(t *testing.T) {
	e := newEnv(t)
	for _, mode := range []string{"open", "deleted", "reported"} {
		s, r := e.register("s"), e.register("r")
		e.setPolicy(r, "EVERYONE")
		for _, text := range []string{"one", "two", "three"} {
			e.send(s, r, text)
		}
		switch reqs := e.requests(r); mode {
		case "deleted":
			e.must(r.Token, `mutation($id: ID!) { deleteMessageRequest(requestId: $id) { removedRequestId } }`, map[string]any{"id": reqs[0]}, nil)
		case "reported":
			e.must(r.Token, `mutation($id: ID!) { reportMessageRequest(input: {requestId: $id, reason: SPAM}) { report { id } } }`,
				map[string]any{"id": reqs[0]}, nil)
		}
		for round := range 2 {
			e.block(s, r)
			e.must(s.Token, `mutation($id: ID!) { unblock(userId: $id) { id } }`, map[string]any{"id": r.ID}, nil)
			if p := rulesCanMessage(e, s, r); p.Allowed || rulesDeref(p.Reason) != "REQUEST_LIMIT" {
				t.Errorf("%s, after block and unblock %d: canMessage %s, want REQUEST_LIMIT", mode, round+1, p)
			}
			if got := secSendRefusal(e, s, r); got.Code != "FORBIDDEN" || got.Reason != "REQUEST_LIMIT" {
				t.Errorf("%s, after block and unblock %d: send %+v, want REQUEST_LIMIT", mode, round+1, got)
			}
		}
	}
}
