package resolvers_test

// The change sequence: sync, the changes subscription, and resuming from a
// position given in connectionParams.

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// changeFields are the fields the tests read of a Change.
const changeFields = `position kind conversationId requestId
	conversation { id status } message { id text } request { id messageCount } user { id }
	privacySettings { directMessagePolicy }`

type changeRow struct {
	Position       string
	Kind           string
	ConversationID *string
	RequestID      *string
	Conversation   *struct{ ID, Status string }
	Message        *struct {
		ID   string
		Text *string
	}
	Request *struct {
		ID           string
		MessageCount int
	}
	User            *struct{ ID string }
	PrivacySettings *struct{ DirectMessagePolicy string }
}

// position is u's current position.
func (e *env) position(u user) string {
	e.t.Helper()
	var out struct{ Sync struct{ Position string } }
	e.must(u.Token, `{ sync { position changes { kind } } }`, nil, &out)
	return out.Sync.Position
}

// changesSince reads every change of u's after since, page by page.
func (e *env) changesSince(u user, since string) []changeRow {
	e.t.Helper()
	var all []changeRow
	for {
		var out struct {
			Sync struct {
				Changes  []changeRow
				Position string
				HasMore  bool
			}
		}
		e.must(u.Token, `query($s: Cursor) { sync(since: $s, first: 3) { position hasMore changes { `+changeFields+` } } }`,
			map[string]any{"s": since}, &out)
		all = append(all, out.Sync.Changes...)
		if !out.Sync.HasMore {
			if n := len(out.Sync.Changes); n > 0 && out.Sync.Position != out.Sync.Changes[n-1].Position {
				e.t.Fatalf("page position %s, want its last change's %s", out.Sync.Position, out.Sync.Changes[n-1].Position)
			}
			return all
		}
		since = out.Sync.Position
	}
}

func kinds(rows []changeRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Kind
	}
	return out
}

func (e *env) acceptRequest(u user, req string) {
	e.t.Helper()
	e.must(u.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { removedRequestId } }`, map[string]any{"id": req}, nil)
}

func (e *env) markRead(u user, conv string) {
	e.t.Helper()
	e.must(u.Token, `mutation($id: ID!) { markConversationRead(conversationId: $id) { id } }`, map[string]any{"id": conv}, nil)
}

// Every kind of change reaches the sequence of each user who can observe
// it, in order, with the nodes a cache needs.
func TestSyncRecordsEveryKindInOrder(t *testing.T) {
	e := newEnv(t)
	amy, zed, cat, dan := e.register("amy"), e.register("zed"), e.register("cat"), e.register("dan")
	e.setPolicy(zed, "EVERYONE")
	fromAmy, fromZed := e.position(amy), e.position(zed)

	first := e.send(amy, zed, "one")
	e.send(amy, zed, "two")
	req := e.requests(zed)[0]
	e.acceptRequest(zed, req)
	reply := e.send(zed, amy, "hi")
	e.markRead(amy, reply.ConversationID)
	e.markRead(amy, reply.ConversationID) // read already: no change
	e.follow(amy, zed)
	e.must(amy.Token, `mutation($id: ID!) { unfollow(userId: $id) { id } }`, map[string]any{"id": zed.ID}, nil)
	e.setPolicy(amy, "FRIENDS")
	e.setPolicy(amy, "FRIENDS") // unchanged: no change
	e.send(cat, zed, "from cat")
	e.must(zed.Token, `mutation($id: ID!) { deleteMessageRequest(requestId: $id) { removedRequestId } }`, map[string]any{"id": e.requests(zed)[0]}, nil)
	e.send(dan, zed, "from dan")
	e.must(zed.Token, `mutation($id: ID!) { reportMessageRequest(input: {requestId: $id, reason: SPAM}) { removedRequestId } }`,
		map[string]any{"id": e.requests(zed)[0]}, nil)
	e.block(zed, amy)
	e.must(zed.Token, `mutation($id: ID!) { unblock(userId: $id) { id } }`, map[string]any{"id": amy.ID}, nil)

	a := e.changesSince(amy, fromAmy)
	want := []string{"MESSAGE_ADDED", "MESSAGE_ADDED", "CONVERSATION_ACCEPTED", "MESSAGE_ADDED", "CONVERSATION_READ",
		"USER_FOLLOWED", "USER_UNFOLLOWED", "SETTINGS_UPDATED", "CONVERSATION_BLOCKED", "CONVERSATION_UNBLOCKED"}
	if got := kinds(a); !slices.Equal(got, want) {
		t.Fatalf("amy's changes %v, want %v", got, want)
	}
	z := e.changesSince(zed, fromZed)
	want = []string{"REQUEST_RECEIVED", "REQUEST_EXTENDED", "REQUEST_ACCEPTED", "MESSAGE_ADDED", "CONVERSATION_READ",
		"REQUEST_RECEIVED", "REQUEST_DELETED", "REQUEST_RECEIVED", "REQUEST_REPORTED", "USER_BLOCKED", "USER_UNBLOCKED"}
	if got := kinds(z); !slices.Equal(got, want) {
		t.Fatalf("zed's changes %v, want %v", got, want)
	}
	for _, rows := range [][]changeRow{a, z} {
		for i := 1; i < len(rows); i++ {
			if rows[i].Position == rows[i-1].Position {
				t.Fatalf("two changes at position %s", rows[i].Position)
			}
		}
	}

	// The nodes, as they stand now.
	if m := a[0].Message; m == nil || m.ID != first.MessageID || a[0].Conversation.Status != "ACTIVE" {
		t.Errorf("amy's first change: message %+v, conversation %+v", a[0].Message, a[0].Conversation)
	}
	if z[0].Request != nil || z[0].RequestID == nil || *z[0].RequestID != req {
		t.Errorf("zed's request, accepted since, should be gone but named: %+v %v", z[0].Request, z[0].RequestID)
	}
	if z[4].User == nil || z[4].User.ID != amy.ID {
		t.Errorf("zed's read receipt change names %+v, want amy", z[4].User)
	}
	if a[7].PrivacySettings == nil || a[7].PrivacySettings.DirectMessagePolicy != "FRIENDS" {
		t.Errorf("amy's settings change carries %+v", a[7].PrivacySettings)
	}
	if c := z[6]; c.Conversation != nil || c.Message != nil || c.ConversationID == nil || c.RequestID == nil {
		t.Errorf("a deleted request's change shows %+v", c)
	}
	if c := a[8]; c.Conversation == nil || c.Conversation.ID != reply.ConversationID || c.User == nil || c.User.ID != zed.ID {
		t.Errorf("amy's block change: %+v", c)
	}

	// Without since: nothing, and the position to start from.
	if p := e.position(amy); p != a[len(a)-1].Position {
		t.Errorf("current position %s, want the last change's %s", p, a[len(a)-1].Position)
	}
	// Nobody sees another's sequence: cat's holds only cat's message.
	if got := kinds(e.changesSince(cat, fromAmy)); !slices.Equal(got, []string{"MESSAGE_ADDED"}) {
		t.Errorf("cat's changes %v", got)
	}
}

func TestSyncRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	amy := e.register("amy")
	e.fail("", `{ sync { position } }`, nil, "UNAUTHENTICATED", "")
	e.fail(amy.Token, `{ sync(since: "nope") { position } }`, nil, "BAD_USER_INPUT", "")
	e.fail(amy.Token, `{ sync(first: 501) { position } }`, nil, "BAD_USER_INPUT", "")
	e.fail(amy.Token, `{ sync(first: -1) { position } }`, nil, "BAD_USER_INPUT", "")
}

// A second device of the same user hears every change the first makes, in
// the order and at the positions sync gives.
func TestChangesReachEveryDeviceOfTheUser(t *testing.T) {
	e := newEnv(t)
	amy, zed := e.register("amy"), e.register("zed")
	e.setPolicy(zed, "EVERYONE")
	from := e.position(zed)
	laptop := e.connectWS(zed, "")
	laptop.subscribe("c", `subscription($s: Cursor) { changes(since: $s) { `+changeFields+` } }`, map[string]any{"s": from})

	e.send(amy, zed, "one")
	e.acceptRequest(zed, e.requests(zed)[0])
	reply := e.send(zed, amy, "hi")
	e.send(amy, zed, "back")
	e.markRead(zed, reply.ConversationID)
	e.block(zed, amy)
	e.setPolicy(zed, "NO_ONE")

	want := e.changesSince(zed, from)
	for i, w := range want {
		var got struct{ Changes changeRow }
		laptop.data("c", &got)
		if got.Changes.Position != w.Position || got.Changes.Kind != w.Kind {
			t.Fatalf("change %d: live %s %s, sync %s %s", i, got.Changes.Position, got.Changes.Kind, w.Position, w.Kind)
		}
	}
	if len(want) != 7 {
		t.Fatalf("sync gave %d changes, want 7: %v", len(want), kinds(want))
	}
	laptop.quiet(200 * time.Millisecond)
}

// A connection whose connectionParams carry a position replays what
// followed it on every subscription, then goes live: changes, and
// messageAdded without `after`.
func TestChangesResumeFromConnectionParams(t *testing.T) {
	e := newEnv(t)
	amy, zed := e.register("amy"), e.register("zed")
	e.friends(amy, zed)
	e.send(amy, zed, "before")
	since := e.position(zed)
	missed := []string{e.send(amy, zed, "missed 1").MessageID, e.send(zed, amy, "missed 2").MessageID}

	ws := e.dialWS("", wsOptions{payload: map[string]any{"Authorization": "Bearer " + zed.Token, "since": since}})
	ws.expect("connection_ack")
	ws.subscribe("c", `subscription { changes { position kind message { id } } }`, nil)
	ws.subscribe("m", `subscription { messageAdded { id } }`, nil)
	got := map[string][]string{}
	for range 4 {
		m := ws.expect("next")
		var res struct {
			Data struct {
				Changes      *struct{ Message struct{ ID string } }
				MessageAdded *struct{ ID string }
			}
		}
		if err := jsonUnmarshal(m.Payload, &res); err != nil {
			t.Fatal(err)
		}
		if c := res.Data.Changes; c != nil {
			got[m.ID] = append(got[m.ID], c.Message.ID)
		} else {
			got[m.ID] = append(got[m.ID], res.Data.MessageAdded.ID)
		}
	}
	for _, id := range []string{"c", "m"} {
		if !slices.Equal(got[id], missed) {
			t.Errorf("subscription %s replayed %v, want %v", id, got[id], missed)
		}
	}
	live := e.send(amy, zed, "live").MessageID
	for range 2 {
		m := ws.expect("next")
		if !strings.Contains(string(m.Payload), live) {
			t.Errorf("live %s: %s", m.ID, m.Payload)
		}
	}
	ws.quiet(200 * time.Millisecond)

	bad := e.dialWS("", wsOptions{payload: map[string]any{"Authorization": "Bearer " + zed.Token, "since": "junk"}})
	bad.expect("connection_ack")
	bad.subscribe("c", `subscription { changes { position } }`, nil)
	if m := bad.next(); !strings.Contains(string(m.Payload), "BAD_USER_INPUT") {
		t.Errorf("a bad position: %s", m.Payload)
	}
}

// A video made private, or deleted, changes every message that shares it,
// for everyone who can see the message.
func TestSyncVideoAvailabilityChangesItsMessages(t *testing.T) {
	e := newEnv(t)
	amy, zed := e.register("amy"), e.register("zed")
	e.friends(amy, zed)
	var v struct{ PublishVideo struct{ ID string } }
	e.must(amy.Token, `mutation { publishVideo(input: {caption: "c", url: "https://v.example/1.mp4"}) { id } }`, nil, &v)
	shared := e.sendInput(amy, map[string]any{"recipientId": zed.ID, "videoId": v.PublishVideo.ID})
	from := e.position(zed)
	update := `mutation($id: ID!, $vis: VideoVisibility!) { updateVideo(input: {id: $id, visibility: $vis}) { id } }`
	e.must(amy.Token, update, map[string]any{"id": v.PublishVideo.ID, "vis": "PRIVATE"}, nil)
	e.must(amy.Token, update, map[string]any{"id": v.PublishVideo.ID, "vis": "PRIVATE"}, nil) // unchanged

	var out struct {
		Sync struct {
			Changes []struct {
				Kind    string
				Message struct {
					ID               string
					VideoUnavailable bool
				}
			}
		}
	}
	e.must(zed.Token, `query($s: Cursor) { sync(since: $s) { changes { kind message { id videoUnavailable } } } }`,
		map[string]any{"s": from}, &out)
	c := out.Sync.Changes
	if len(c) != 1 || c[0].Kind != "MESSAGE_UPDATED" || c[0].Message.ID != shared.MessageID || !c[0].Message.VideoUnavailable {
		t.Fatalf("zed's changes after the video went private: %+v", c)
	}
	if got := kinds(e.changesSince(amy, from)); !slices.Equal(got, []string{"MESSAGE_UPDATED"}) {
		t.Fatalf("amy's: %v", got)
	}
}

// A block ends follows both ways, and each follower's sequence says so,
// also when the two never talked (no conversation to name).
func TestBlockEndsFollowsInEachFollowersSequence(t *testing.T) {
	e := newEnv(t)
	amy, zed := e.register("amy"), e.register("zed")
	e.follow(amy, zed)
	e.follow(zed, amy)
	fromAmy, fromZed := e.position(amy), e.position(zed)
	e.block(zed, amy)

	for _, c := range []struct {
		who   user
		from  string
		want  []string
		other user
	}{
		{amy, fromAmy, []string{"USER_UNFOLLOWED"}, zed},
		{zed, fromZed, []string{"USER_UNFOLLOWED", "USER_BLOCKED"}, amy},
	} {
		got := e.changesSince(c.who, c.from)
		if !slices.Equal(kinds(got), c.want) {
			t.Fatalf("%s's changes %v, want %v", c.who.Name, kinds(got), c.want)
		}
		if u := got[0].User; u == nil || u.ID != c.other.ID {
			t.Errorf("%s's USER_UNFOLLOWED names %+v, want %s", c.who.Name, u, c.other.ID)
		}
	}
}

// messageAdded resumed from a position replays the messages the change
// sequence holds after it, as changes does, even in a conversation that is
// a request again by now (its replay once read the current inbox instead).
func TestMessageAddedResumesAsTheSequenceDoes(t *testing.T) {
	e := newEnv(t)
	cy, di := e.register("cy"), e.register("di")
	e.setPolicy(di, "EVERYONE")
	e.send(cy, di, "hi di")
	e.acceptRequest(di, e.requests(di)[0])
	since := e.position(di)
	m2 := e.send(di, cy, "while away").MessageID // di's own message, in an ACTIVE conversation
	e.block(di, cy)
	e.must(di.Token, `mutation($id: ID!) { unblock(userId: $id) { id } }`, map[string]any{"id": cy.ID}, nil)
	e.send(cy, di, "again") // a new request: di's side is REQUEST again

	ws := e.dialWS("", wsOptions{payload: map[string]any{"Authorization": "Bearer " + di.Token, "since": since}})
	ws.expect("connection_ack")
	ws.subscribe("m", `subscription { messageAdded { id } }`, nil)
	var got struct{ MessageAdded struct{ ID string } }
	ws.data("m", &got)
	if got.MessageAdded.ID != m2 {
		t.Fatalf("messageAdded replayed %s first, want %s", got.MessageAdded.ID, m2)
	}
	ws.quiet(300 * time.Millisecond) // the new request's message is not an inbox message
}
