package resolvers_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dmgraph/dm"
	"dmgraph/ratelimit"
	"dmgraph/relay"
)

// Groups end to end, on whichever database TEST_DATABASE_URL names.

const createGroupMutation = `mutation($title: String, $ids: [ID!]!) {
	createGroup(input: {title: $title, memberIds: $ids}) { conversation { id kind title viewerRole status } conversationEdge { cursor } }
}`

const addMembersMutation = `mutation($c: ID!, $ids: [ID!]!) {
	addGroupMembers(input: {conversationId: $c, userIds: $ids}) { added { id } invitations { id invitee { id } } conversation { id } }
}`

// createGroup makes owner a group with members, who must be owner's friends.
func (e *env) createGroup(owner user, title string, members ...user) string {
	e.t.Helper()
	var out struct {
		CreateGroup struct {
			Conversation struct{ ID, Kind, Title, ViewerRole, Status string }
		}
	}
	e.must(owner.Token, createGroupMutation, map[string]any{"title": title, "ids": ids(members)}, &out)
	c := out.CreateGroup.Conversation
	if c.Kind != "GROUP" || c.Title != title || c.ViewerRole != "OWNER" || c.Status != "ACTIVE" {
		e.t.Fatalf("created group: %+v", c)
	}
	return c.ID
}

func ids(us []user) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// befriended registers n users who are all friends of hub.
func (e *env) befriended(hub user, n int, name string) []user {
	e.t.Helper()
	out := make([]user, n)
	for i := range out {
		out[i] = e.register(name)
		e.friends(hub, out[i])
	}
	return out
}

type memberRow struct {
	ID, Role string
}

// members lists the group's members as viewer sees them, in join order.
func (e *env) members(viewer user, conv string) []memberRow {
	e.t.Helper()
	var out struct {
		Conversation struct {
			Members struct {
				Edges []struct {
					Role string
					Node struct{ ID string }
				}
				TotalCount int
			}
		}
	}
	e.must(viewer.Token, `query($c: ID!) { conversation(id: $c) { members(first: 100) { totalCount edges { role node { id } } } } }`,
		map[string]any{"c": conv}, &out)
	var rows []memberRow
	for _, edge := range out.Conversation.Members.Edges {
		rows = append(rows, memberRow{edge.Node.ID, edge.Role})
	}
	if out.Conversation.Members.TotalCount != len(rows) {
		e.t.Fatalf("totalCount %d, %d edges", out.Conversation.Members.TotalCount, len(rows))
	}
	return rows
}

func memberIDsOf(rows []memberRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

type groupMessage struct {
	ID, Text string
	Sender   struct{ ID string }
	System   *struct {
		Kind   string
		Title  *string
		Role   *string
		Member *struct{ ID string }
	} `json:"systemEvent"`
}

// history lists the group's messages as viewer sees them, oldest first.
func (e *env) history(viewer user, conv string) []groupMessage {
	e.t.Helper()
	var out struct {
		Conversation struct {
			Messages struct{ Edges []struct{ Node groupMessage } }
		}
	}
	e.must(viewer.Token, `query($c: ID!) { conversation(id: $c) { messages(first: 100) { edges { node {
		id text sender { id } systemEvent { kind title role member { id } } } } } } }`, map[string]any{"c": conv}, &out)
	var msgs []groupMessage
	for _, edge := range out.Conversation.Messages.Edges {
		msgs = append(msgs, edge.Node)
	}
	return msgs
}

func systemKinds(msgs []groupMessage) []string {
	var out []string
	for _, m := range msgs {
		if m.System != nil {
			out = append(out, m.System.Kind)
		} else {
			out = append(out, "TEXT:"+m.Text)
		}
	}
	return out
}

func (e *env) sendToGroup(u user, conv, text string) sent {
	e.t.Helper()
	return e.sendInput(u, map[string]any{"conversationId": conv, "text": text})
}

func TestGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	bob, carol, dave := e.register("bob"), e.register("carol"), e.register("dave")
	for _, u := range []user{bob, carol, dave} {
		e.friends(alice, u)
	}
	conv := e.createGroup(alice, "trip", bob, carol)

	// Every member sees it in the inbox, with the creation recorded.
	for _, u := range []user{alice, bob, carol} {
		if e.inbox(u)[conv] != "ACTIVE" {
			t.Fatalf("%s's inbox lacks the group: %v", u.Name, e.inbox(u))
		}
	}
	if got := memberIDsOf(e.members(bob, conv)); !slices.Equal(got, []string{alice.ID, bob.ID, carol.ID}) {
		t.Fatalf("members %v", got)
	}
	if got := e.members(carol, conv); got[0].Role != "OWNER" || got[1].Role != "MEMBER" {
		t.Fatalf("roles %+v", got)
	}

	// A message reaches every member; unread moves for all but the sender.
	s := e.sendToGroup(bob, conv, "hello all")
	if s.Delivery != "INBOX" || s.ConversationID != conv {
		t.Fatalf("send: %+v", s)
	}
	unread := func(u user) int {
		var out struct{ Conversation struct{ UnreadCount int } }
		e.must(u.Token, `query($c: ID!) { conversation(id: $c) { unreadCount } }`, map[string]any{"c": conv}, &out)
		return out.Conversation.UnreadCount
	}
	if unread(alice) != 1 || unread(carol) != 1 || unread(bob) != 0 {
		t.Fatalf("unread alice %d carol %d bob %d", unread(alice), unread(carol), unread(bob))
	}

	// Adding dave is recorded; dave sees the group from his addition on.
	var add struct {
		AddGroupMembers struct{ Added []struct{ ID string } }
	}
	e.fail(carol.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{dave.ID}}, "FORBIDDEN", "NOT_FRIENDS")
	e.must(alice.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{dave.ID}}, &add)
	if len(add.AddGroupMembers.Added) != 1 || add.AddGroupMembers.Added[0].ID != dave.ID {
		t.Fatalf("added %+v", add)
	}
	if got := systemKinds(e.history(dave, conv)); !slices.Equal(got, []string{"MEMBER_ADDED"}) {
		t.Fatalf("dave's history %v", got)
	}
	if got := systemKinds(e.history(bob, conv)); !slices.Equal(got, []string{"GROUP_CREATED", "TEXT:hello all", "MEMBER_ADDED"}) {
		t.Fatalf("bob's history %v", got)
	}

	// Rename by a plain member is refused; by the owner it is recorded.
	e.fail(bob.Token, `mutation($c: ID!) { renameGroup(conversationId: $c, title: "x") { id } }`, map[string]any{"c": conv}, "FORBIDDEN", "NOT_ADMIN")
	e.must(alice.Token, `mutation($c: ID!) { renameGroup(conversationId: $c, title: "road trip") { title } }`, map[string]any{"c": conv}, nil)

	// Carol leaves: she keeps the history up to then, read-only.
	var left struct{ LeaveGroup struct{ Status string } }
	e.must(carol.Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { status } }`, map[string]any{"c": conv}, &left)
	if left.LeaveGroup.Status != "LEFT" {
		t.Fatalf("after leaving: %+v", left)
	}
	e.sendToGroup(bob, conv, "after carol")
	h := systemKinds(e.history(carol, conv))
	if !slices.Equal(h, []string{"GROUP_CREATED", "TEXT:hello all", "MEMBER_ADDED", "GROUP_RENAMED", "MEMBER_LEFT"}) {
		t.Fatalf("carol's history %v", h)
	}
	e.fail(carol.Token, sendMutation, map[string]any{"in": map[string]any{"conversationId": conv, "text": "me again"}}, "FORBIDDEN", "NOT_MEMBER")
	if got := memberIDsOf(e.members(alice, conv)); !slices.Equal(got, []string{alice.ID, bob.ID, dave.ID}) {
		t.Fatalf("members after carol left %v", got)
	}

	// Added back, she resumes from the new join.
	e.must(alice.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{carol.ID}}, &add)
	e.sendToGroup(bob, conv, "welcome back")
	h = systemKinds(e.history(carol, conv))
	if !slices.Equal(h, []string{"MEMBER_ADDED", "TEXT:welcome back"}) {
		t.Fatalf("carol's history after rejoining %v", h)
	}

	// A stranger, and anyone anonymous, get NOT_FOUND.
	eve := e.register("eve")
	e.fail(eve.Token, `query($c: ID!) { conversation(id: $c) { id } }`, map[string]any{"c": conv}, "NOT_FOUND", "")
	e.fail(eve.Token, sendMutation, map[string]any{"in": map[string]any{"conversationId": conv, "text": "hi"}}, "NOT_FOUND", "")
	e.fail(eve.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{alice.ID}}, "NOT_FOUND", "")
}

func TestGroupAddRules(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	friend := e.register("friend")
	e.friends(alice, friend)
	conv := e.createGroup(alice, "", friend)

	canAdd := func(u user) (bool, string) {
		var out struct {
			CanAddToGroup struct {
				Allowed bool
				Reason  *string
			}
		}
		e.must(alice.Token, `query($c: ID!, $u: ID!) { canAddToGroup(conversationId: $c, userId: $u) { allowed reason } }`,
			map[string]any{"c": conv, "u": u.ID}, &out)
		r := ""
		if out.CanAddToGroup.Reason != nil {
			r = *out.CanAddToGroup.Reason
		}
		return out.CanAddToGroup.Allowed, r
	}
	addFails := func(u user, code, reason string) response {
		t.Helper()
		if ok, r := canAdd(u); ok || r != reason {
			t.Fatalf("canAddToGroup %s: %v %q, want %q", u.Name, ok, r, reason)
		}
		return e.fail(alice.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{u.ID}}, code, reason)
	}

	stranger := e.register("stranger")
	addFails(stranger, "FORBIDDEN", "NOT_FRIENDS")
	fan := e.register("fan")
	e.follow(fan, alice) // one way only
	addFails(fan, "FORBIDDEN", "NOT_FRIENDS")

	blocker := e.register("blocker")
	e.friends(alice, blocker)
	e.block(blocker, alice)
	addFails(blocker, "FORBIDDEN", "BLOCKED")
	blocked := e.register("blocked")
	e.friends(alice, blocked)
	e.block(alice, blocked)
	addFails(blocked, "FORBIDDEN", "BLOCKED")

	closed := e.register("closed")
	e.friends(alice, closed)
	e.setPolicy(closed, "NO_ONE")
	noOne := addFails(closed, "FORBIDDEN", "RECIPIENT_SETTING")

	// A 13–15-year-old friend is refused exactly as NO_ONE is.
	kid := e.registerAged("kid", 14)
	e.friends(alice, kid)
	minor := addFails(kid, "FORBIDDEN", "RECIPIENT_SETTING")
	if noOne.Errors[0].Message != minor.Errors[0].Message || fmt.Sprint(noOne.Errors[0].Extensions) != fmt.Sprint(minor.Errors[0].Extensions) {
		t.Fatalf("a minor's refusal differs from NO_ONE's:\n%+v\n%+v", noOne.Errors[0], minor.Errors[0])
	}
	// The minor themselves is told AGE_RESTRICTED.
	e.fail(kid.Token, createGroupMutation, map[string]any{"ids": []string{alice.ID}}, "FORBIDDEN", "AGE_RESTRICTED")

	// Member-only operations: a plain member can't remove, nor set roles.
	other := e.register("other")
	e.friends(alice, other)
	e.must(alice.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{other.ID}}, nil)
	e.fail(friend.Token, `mutation($c: ID!, $u: ID!) { removeGroupMember(conversationId: $c, userId: $u) { removedUserId } }`,
		map[string]any{"c": conv, "u": other.ID}, "FORBIDDEN", "NOT_ADMIN")
	e.fail(friend.Token, `mutation($c: ID!, $u: ID!) { setGroupMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }`,
		map[string]any{"c": conv, "u": other.ID}, "FORBIDDEN", "NOT_ADMIN")
	// An admin may remove plain members, not the owner.
	e.must(alice.Token, `mutation($c: ID!, $u: ID!) { setGroupMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }`,
		map[string]any{"c": conv, "u": friend.ID}, nil)
	e.fail(friend.Token, `mutation($c: ID!, $u: ID!) { removeGroupMember(conversationId: $c, userId: $u) { removedUserId } }`,
		map[string]any{"c": conv, "u": alice.ID}, "FORBIDDEN", "NOT_ADMIN")
	e.must(friend.Token, `mutation($c: ID!, $u: ID!) { removeGroupMember(conversationId: $c, userId: $u) { removedUserId } }`,
		map[string]any{"c": conv, "u": other.ID}, nil)
	if got := memberIDsOf(e.members(alice, conv)); !slices.Equal(got, []string{alice.ID, friend.ID}) {
		t.Fatalf("members %v", got)
	}
	// The removed member can no longer send, and sees no members.
	e.fail(other.Token, sendMutation, map[string]any{"in": map[string]any{"conversationId": conv, "text": "hi"}}, "FORBIDDEN", "NOT_MEMBER")
	if got := e.members(other, conv); len(got) != 0 {
		t.Fatalf("a removed member sees members %v", got)
	}
}

func TestGroupOwnerLeaves(t *testing.T) {
	e := newEnv(t)
	owner := e.register("owner")
	ms := e.befriended(owner, 3, "m")
	conv := e.createGroup(owner, "g", ms...)
	// Without an admin, the longest-standing member inherits.
	e.must(owner.Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { id } }`, map[string]any{"c": conv}, nil)
	if got := e.members(ms[1], conv); got[0].ID != ms[0].ID || got[0].Role != "OWNER" {
		t.Fatalf("after the owner left: %+v", got)
	}
	// With an admin, the admin inherits.
	e.must(ms[0].Token, `mutation($c: ID!, $u: ID!) { setGroupMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }`,
		map[string]any{"c": conv, "u": ms[2].ID}, nil)
	e.must(ms[0].Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { id } }`, map[string]any{"c": conv}, nil)
	got := e.members(ms[1], conv)
	if len(got) != 2 || got[1].ID != ms[2].ID || got[1].Role != "OWNER" || got[0].Role != "MEMBER" {
		t.Fatalf("after the second owner left: %+v", got)
	}
	h := systemKinds(e.history(ms[1], conv))
	if !slices.Equal(h, []string{"GROUP_CREATED", "MEMBER_LEFT", "ROLE_CHANGED", "ROLE_CHANGED", "MEMBER_LEFT", "ROLE_CHANGED"}) {
		t.Fatalf("history %v", h)
	}
}

// Concurrent additions past the limit: exactly the limit, never more.
func TestGroupConcurrentAdditionsStopAtMax(t *testing.T) {
	e := newEnv(t)
	owner := e.register("owner")
	first := e.befriended(owner, 29, "early")
	conv := e.createGroup(owner, "big", first...) // 30 members
	late := e.befriended(owner, 6, "late")
	var wg sync.WaitGroup
	codes := make([]string, len(late))
	for i, u := range late {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{u.ID}})
			codes[i] = res.code() + "/" + res.reason()
		}()
	}
	wg.Wait()
	ok, full := 0, 0
	for _, c := range codes {
		switch c {
		case "/":
			ok++
		case "FORBIDDEN/GROUP_FULL":
			full++
		default:
			t.Errorf("unexpected outcome %q", c)
		}
	}
	if n := len(e.members(owner, conv)); n != 32 || ok != 2 || full != 4 {
		t.Fatalf("members %d, added %d, refused %d; want 32, 2, 4", n, ok, full)
	}
}

// A leave and an add of the same person, at once: either order is a
// consistent group.
func TestGroupConcurrentLeaveAndAdd(t *testing.T) {
	e := newEnv(t)
	owner := e.register("owner")
	ms := e.befriended(owner, 2, "m")
	conv := e.createGroup(owner, "g", ms...)
	for range 5 {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			e.do(ms[0].Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { id } }`, map[string]any{"c": conv})
		}()
		go func() {
			defer wg.Done()
			e.do(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{ms[0].ID}})
		}()
		wg.Wait()
		got := memberIDsOf(e.members(owner, conv))
		in := slices.Contains(got, ms[0].ID)
		var status struct{ Conversation struct{ Status string } }
		e.must(ms[0].Token, `query($c: ID!) { conversation(id: $c) { status } }`, map[string]any{"c": conv}, &status)
		if in != (status.Conversation.Status == "ACTIVE") {
			t.Fatalf("member list %v and status %s disagree", got, status.Conversation.Status)
		}
		// Make sure both orders get a chance: put them back in.
		e.do(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{ms[0].ID}})
	}
}

// A group created by a 16–17-year-old: additions by others wait for the
// creator.
func TestGroupTeenCreatorApproves(t *testing.T) {
	e := newEnv(t)
	teen := e.registerAged("teen", 16)
	e.setPolicy(teen, "FRIENDS")
	pal, other, newcomer := e.register("pal"), e.register("other"), e.register("newcomer")
	e.friends(teen, pal)
	e.friends(teen, other)
	e.friends(pal, newcomer)
	conv := e.createGroup(teen, "teens", pal, other)

	var add struct {
		AddGroupMembers struct {
			Added       []struct{ ID string }
			Invitations []struct {
				ID      string
				Invitee struct{ ID string }
			}
		}
	}
	e.must(pal.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{newcomer.ID}}, &add)
	if len(add.AddGroupMembers.Added) != 0 || len(add.AddGroupMembers.Invitations) != 1 {
		t.Fatalf("add by a member: %+v", add)
	}
	inv := add.AddGroupMembers.Invitations[0].ID
	if got := memberIDsOf(e.members(teen, conv)); slices.Contains(got, newcomer.ID) {
		t.Fatalf("pending invitee is a member: %v", got)
	}
	// Pending, the invitee can't see the group.
	e.fail(newcomer.Token, `query($c: ID!) { conversation(id: $c) { id } }`, map[string]any{"c": conv}, "NOT_FOUND", "")
	var pending struct {
		Conversation struct{ PendingInvitations []struct{ ID string } }
	}
	e.must(teen.Token, `query($c: ID!) { conversation(id: $c) { pendingInvitations { id } } }`, map[string]any{"c": conv}, &pending)
	if len(pending.Conversation.PendingInvitations) != 1 || pending.Conversation.PendingInvitations[0].ID != inv {
		t.Fatalf("pending %+v", pending)
	}
	// Only the creator answers.
	e.fail(pal.Token, `mutation($i: ID!) { respondToGroupInvitation(invitationId: $i, accept: true) { removedInvitationId } }`,
		map[string]any{"i": inv}, "NOT_FOUND", "")
	e.must(teen.Token, `mutation($i: ID!) { respondToGroupInvitation(invitationId: $i, accept: true) { removedInvitationId } }`,
		map[string]any{"i": inv}, nil)
	if got := memberIDsOf(e.members(teen, conv)); !slices.Contains(got, newcomer.ID) {
		t.Fatalf("approved invitee is not a member: %v", got)
	}
	// The creator's own additions need no approval.
	late := e.register("late")
	e.friends(teen, late)
	e.must(teen.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{late.ID}}, &add)
	if len(add.AddGroupMembers.Added) != 1 {
		t.Fatalf("creator's add: %+v", add)
	}
}

type liveGroupMessage struct {
	MessageAdded struct {
		ID, Text    string
		SystemEvent *struct{ Kind string }
	}
}

// Group messages reach every member's sockets; a removed member's streams
// stop at their removal: the scoped one completes, and nothing sent after
// it reaches them, live or by resuming with after.
func TestGroupLive(t *testing.T) {
	e := newEnv(t)
	owner := e.register("owner")
	ms := e.befriended(owner, 3, "m")
	conv := e.createGroup(owner, "live", ms...)
	gone := ms[2]

	const sub = `subscription($c: ID, $after: ID) { messageAdded(conversationId: $c, after: $after) { id text systemEvent { kind } } }`
	everyone := append([]user{owner}, ms...)
	sockets := make([]*wsClient, len(everyone))
	mark := e.statements.Load()
	for i, u := range everyone {
		sockets[i] = e.connectWS(u, "")
		sockets[i].subscribe("all", sub, nil)
	}
	goneScoped := e.connectWS(gone, "")
	goneScoped.subscribe("one", sub, map[string]any{"c": conv})
	e.waitLive(mark, len(everyone)+1, len(everyone)+1)

	hello := e.sendToGroup(ms[0], conv, "hello group")
	for i, ws := range sockets {
		var got liveGroupMessage
		ws.data("all", &got)
		if got.MessageAdded.ID != hello.MessageID || got.MessageAdded.Text != "hello group" {
			t.Fatalf("member %d got %+v", i, got)
		}
	}
	var got liveGroupMessage
	goneScoped.data("one", &got)
	// Another device resumes from a position of the sequence (connectionParams
	// since, no after): its stream of the group ends with the removal too.
	since := e.position(gone)
	goneSince := e.dialWS("", wsOptions{payload: map[string]any{"Authorization": "Bearer " + gone.Token, "since": since}})
	goneSince.expect("connection_ack")
	goneSince.subscribe("since", sub, map[string]any{"c": conv})
	for e.hub.Subscriptions() < len(everyone)+2 {
		time.Sleep(5 * time.Millisecond)
	}

	// The removal reaches everyone, the removed member included; then
	// their scoped stream completes.
	e.must(owner.Token, `mutation($c: ID!, $u: ID!) { removeGroupMember(conversationId: $c, userId: $u) { removedUserId } }`,
		map[string]any{"c": conv, "u": gone.ID}, nil)
	var removal string
	for i, ws := range sockets {
		var got liveGroupMessage
		ws.data("all", &got)
		if got.MessageAdded.SystemEvent == nil || got.MessageAdded.SystemEvent.Kind != "MEMBER_REMOVED" {
			t.Fatalf("member %d got %+v, want the removal", i, got)
		}
		removal = got.MessageAdded.ID
	}
	goneScoped.data("one", &got)
	if got.MessageAdded.ID != removal {
		t.Fatalf("scoped stream got %+v, want the removal %s", got, removal)
	}
	if m := goneScoped.expect("complete"); m.ID != "one" {
		t.Fatalf("complete for %s", m.ID)
	}
	goneSince.data("since", &got)
	if got.MessageAdded.ID != removal {
		t.Fatalf("the since stream got %+v, want the removal %s", got, removal)
	}
	if m := goneSince.expect("complete"); m.ID != "since" {
		t.Fatalf("complete for %s", m.ID)
	}

	after := e.sendToGroup(ms[0], conv, "after the removal")
	for i, ws := range sockets[:3] {
		var got liveGroupMessage
		ws.data("all", &got)
		if got.MessageAdded.ID != after.MessageID {
			t.Fatalf("member %d got %+v", i, got)
		}
	}
	sockets[3].quiet(300 * time.Millisecond)

	// Resuming from before the removal replays up to it, and no further.
	ws := e.connectWS(gone, "")
	ws.subscribe("again", sub, map[string]any{"after": hello.MessageID})
	ws.data("again", &got)
	if got.MessageAdded.ID != removal {
		t.Fatalf("resume got %+v, want the removal %s", got, removal)
	}
	ws.quiet(300 * time.Millisecond)
}

// The inbox mixes 1:1 conversations and groups by last activity, and a
// page costs the same statements whatever its size, group fields included:
// members with roles, read counts of the last messages, system events.
func TestGroupInboxMixesAndStaysFlat(t *testing.T) {
	e := newEnv(t)
	viewer := e.register("viewer")
	friends := e.befriended(viewer, 6, "f")
	var order []string // newest activity first
	for i := range 20 {
		var conv string
		if i%2 == 0 {
			conv = e.createGroup(viewer, fmt.Sprint("g", i), friends[i%6], friends[(i+1)%6])
			e.sendToGroup(friends[i%6], conv, fmt.Sprint("group says ", i))
		} else {
			other := e.register("other")
			e.friends(viewer, other)
			e.send(viewer, other, "hello")
			conv = e.send(other, viewer, fmt.Sprint("direct says ", i)).ConversationID
		}
		order = append([]string{conv}, order...)
	}
	const q = `query($n: Int) { conversations(first: $n) { totalCount edges { node {
		id kind title status unreadCount viewerRole viewerCanSend lastMessageAt pendingInvitations { id invitee { id } }
		members(first: 32) { totalCount edges { role joinedAt node { id username isFriend } } }
		readReceipts { user { id } lastReadMessage { id } }
		lastMessage { id text readByCount sender { username } systemEvent { kind member { id } } }
		messages(last: 3) { edges { node { id text readByCount systemEvent { kind } } } }
	} } } }`
	count := func(n int) int64 {
		var out struct {
			Conversations struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID, Kind    string
						Members     struct{ TotalCount int }
						LastMessage struct{ Text string }
					}
				}
			}
		}
		before := e.statements.Load()
		e.must(viewer.Token, q, map[string]any{"n": n}, &out)
		used := e.statements.Load() - before
		if testing.Verbose() {
			for _, sql := range e.statementsSince(before) {
				t.Logf("first %d: %.120s", n, sql)
			}
		}
		c := out.Conversations
		if c.TotalCount != 20 || len(c.Edges) != n {
			t.Fatalf("first %d: totalCount %d, %d edges", n, c.TotalCount, len(c.Edges))
		}
		for i, edge := range c.Edges {
			node := edge.Node
			wantKind, wantMembers := "DIRECT", 2
			if i%2 == 1 { // the newest is the last direct one
				wantKind, wantMembers = "GROUP", 3
			}
			if node.ID != order[i] || node.Kind != wantKind || node.Members.TotalCount != wantMembers {
				t.Fatalf("first %d: edge %d is %+v, want %s %s with %d members", n, i, node, order[i], wantKind, wantMembers)
			}
		}
		return used
	}
	small, large := count(2), count(20)
	t.Logf("statements: first 2 → %d, first 20 → %d", small, large)
	if large != small {
		t.Errorf("first 20 used %d statements, first 2 used %d: the count grows with the page", large, small)
	}
}

// Membership, title and role changes are typed changes in every member's
// sequence, each with the system message that records it; a removed
// member's sequence stops at their removal.
func TestGroupChangesInSequence(t *testing.T) {
	e := newEnv(t)
	owner := e.register("owner")
	ms := e.befriended(owner, 2, "m")
	bob, carol := ms[0], ms[1]
	from := map[string]string{}
	for _, u := range []user{owner, bob, carol} {
		from[u.Name] = e.position(u)
	}
	conv := e.createGroup(owner, "seq", bob, carol)
	e.sendToGroup(bob, conv, "hi")
	e.must(owner.Token, `mutation($c: ID!) { renameGroup(conversationId: $c, title: "renamed") { id } }`, map[string]any{"c": conv}, nil)
	e.must(owner.Token, `mutation($c: ID!, $u: ID!) { setGroupMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }`,
		map[string]any{"c": conv, "u": bob.ID}, nil)
	e.must(bob.Token, `mutation($c: ID!, $u: ID!) { removeGroupMember(conversationId: $c, userId: $u) { removedUserId } }`,
		map[string]any{"c": conv, "u": carol.ID}, nil)
	e.sendToGroup(owner, conv, "after carol")

	want := []string{"MEMBER_JOINED", "MESSAGE_ADDED", "GROUP_RENAMED", "MEMBER_ROLE_CHANGED", "MEMBER_LEFT"}
	for _, u := range []user{owner, bob, carol} {
		rows := e.changesSince(u, from[u.Name])
		w := want
		if u != carol {
			w = append(slices.Clone(want), "MESSAGE_ADDED")
		}
		if got := kinds(rows); !slices.Equal(got, w) {
			t.Fatalf("%s's changes %v, want %v", u.Name, got, w)
		}
		for _, r := range rows {
			if r.ConversationID == nil || *r.ConversationID != conv || r.Message == nil {
				t.Fatalf("%s's %s change: conversation %v, message %v", u.Name, r.Kind, r.ConversationID, r.Message)
			}
		}
		if joined := rows[0]; joined.User == nil || joined.User.ID != u.ID {
			t.Fatalf("%s's MEMBER_JOINED names %+v", u.Name, joined.User)
		}
		if role := rows[3]; role.User == nil || role.User.ID != bob.ID {
			t.Fatalf("%s's MEMBER_ROLE_CHANGED names %+v", u.Name, role.User)
		}
		if left := rows[4]; left.User == nil || left.User.ID != carol.ID {
			t.Fatalf("%s's MEMBER_LEFT names %+v", u.Name, left.User)
		}
	}
	// Carol still sees the change that removed her, with its message, and
	// her conversation as LEFT.
	rows := e.changesSince(carol, from[carol.Name])
	if last := rows[len(rows)-1]; last.Conversation == nil || last.Conversation.Status != "LEFT" {
		t.Fatalf("carol's last change %+v", last)
	}
}

// Creating groups and adding people are limited per user and day, with
// GROUP_LIMIT and a retryAfter; a refused creation costs nothing.
func TestGroupLimits(t *testing.T) {
	e := newEnv(t, withLimits(&dm.Limits{Limiter: ratelimit.NewMemory(),
		GroupsCreated:  ratelimit.Limit{Count: 2, Period: 24 * time.Hour},
		GroupAdditions: ratelimit.Limit{Count: 3, Period: 24 * time.Hour}}))
	owner := e.register("owner")
	ms := e.befriended(owner, 4, "m")
	stranger := e.register("stranger")
	e.fail(owner.Token, createGroupMutation, map[string]any{"ids": []string{stranger.ID}}, "FORBIDDEN", "NOT_FRIENDS")
	conv := e.createGroup(owner, "one", ms[0])
	e.createGroup(owner, "two", ms[0])
	res := e.fail(owner.Token, createGroupMutation, map[string]any{"ids": []string{ms[0].ID}}, "RATE_LIMITED", "GROUP_LIMIT")
	if _, ok := res.Errors[0].Extensions["retryAfter"]; !ok {
		t.Fatalf("no retryAfter: %+v", res.Errors[0])
	}
	e.must(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{ms[1].ID}}, nil)
	// A refused addition costs nothing.
	stranger2 := e.register("stranger")
	e.fail(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{stranger2.ID}}, "FORBIDDEN", "NOT_FRIENDS")
	e.must(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{ms[2].ID}}, nil)
	// Three added, the refused one refunded: one more fits, then no more.
	e.must(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{ms[3].ID}}, nil)
	extra := e.befriended(owner, 1, "x")[0]
	e.fail(owner.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{extra.ID}}, "RATE_LIMITED", "GROUP_LIMIT")
	if got := e.members(owner, conv); len(got) != 5 {
		t.Fatalf("members %v, want the owner and four", got)
	}
}

// "Seen by": readByCount counts the other members who read a message; a
// read across a block, either way, is not shown.
func TestGroupReadBy(t *testing.T) {
	e := newEnv(t)
	owner := e.register("owner")
	ms := e.befriended(owner, 3, "m")
	conv := e.createGroup(owner, "seen", ms...)
	msg := e.sendToGroup(owner, conv, "did you see this?")
	read := func(u user) {
		e.must(u.Token, `mutation($c: ID!) { markConversationRead(conversationId: $c) { unreadCount } }`, map[string]any{"c": conv}, nil)
	}
	readBy := func(viewer user) (int, int) {
		var out struct {
			Conversation struct {
				LastMessage struct {
					ID          string
					ReadByCount int
				}
				ReadReceipts []struct{ User struct{ ID string } }
			}
		}
		e.must(viewer.Token, `query($c: ID!) { conversation(id: $c) { lastMessage { id readByCount } readReceipts { user { id } } } }`,
			map[string]any{"c": conv}, &out)
		if out.Conversation.LastMessage.ID != msg.MessageID {
			t.Fatalf("last message %s, want %s", out.Conversation.LastMessage.ID, msg.MessageID)
		}
		return out.Conversation.LastMessage.ReadByCount, len(out.Conversation.ReadReceipts)
	}
	if n, _ := readBy(owner); n != 0 {
		t.Fatalf("read by %d before anyone read", n)
	}
	read(ms[0])
	read(ms[1])
	if n, receipts := readBy(owner); n != 2 || receipts != 3 {
		t.Fatalf("read by %d with %d receipts, want 2 and 3", n, receipts)
	}
	// ms[1] blocks the owner: the owner no longer sees ms[1]'s read, nor
	// ms[1] the owner's receipt.
	e.block(ms[1], owner)
	if n, receipts := readBy(owner); n != 1 || receipts != 2 {
		t.Fatalf("after the block: read by %d with %d receipts, want 1 and 2", n, receipts)
	}
	// The block removed nobody: ms[1] still gets the owner's messages.
	e.sendToGroup(owner, conv, "still here")
	if h := systemKinds(e.history(ms[1], conv)); h[len(h)-1] != "TEXT:still here" {
		t.Fatalf("ms[1]'s history %v", h)
	}
}

// An invitation is the creator's to answer; to anyone else, a former member
// included, it is as missing as an ID that names nothing.
func TestGroupInvitationNotFoundToFormerMembers(t *testing.T) {
	e := newEnv(t)
	teen := e.registerAged("teen", 17)
	e.setPolicy(teen, "FRIENDS")
	pal, gone, newcomer := e.register("pal"), e.register("gone"), e.register("newcomer")
	e.friends(teen, pal)
	e.friends(teen, gone)
	e.friends(pal, newcomer)
	conv := e.createGroup(teen, "teens", pal, gone)
	e.must(gone.Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { id } }`, map[string]any{"c": conv}, nil)
	var add struct {
		AddGroupMembers struct{ Invitations []struct{ ID string } }
	}
	e.must(pal.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{newcomer.ID}}, &add)
	respond := `mutation($i: ID!) { respondToGroupInvitation(invitationId: $i, accept: true) { removedInvitationId } }`
	missing := e.fail(gone.Token, respond, map[string]any{"i": relay.ID(relay.KindInvitation, 1<<40)}, "NOT_FOUND", "")
	got := e.fail(gone.Token, respond, map[string]any{"i": add.AddGroupMembers.Invitations[0].ID}, "NOT_FOUND", "")
	if fmt.Sprint(got.Errors) != fmt.Sprint(missing.Errors) {
		t.Fatalf("a former member's answer differs from a missing invitation's:\n%+v\n%+v", got.Errors, missing.Errors)
	}
}

// A former member sees the group under the title it had when they went:
// renames after that are none of theirs.
func TestGroupFormerMemberSeesTitleOfTheirTime(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	ms := e.befriended(alice, 3, "m")
	conv := e.createGroup(alice, "as it was", ms...)
	rename := `mutation($c: ID!, $t: String) { renameGroup(conversationId: $c, title: $t) { title } }`
	e.must(alice.Token, rename, map[string]any{"c": conv, "t": "when bob left"}, nil)
	e.must(ms[0].Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { title } }`, map[string]any{"c": conv}, nil)
	e.must(alice.Token, rename, map[string]any{"c": conv, "t": nil}, nil)
	e.must(alice.Token, `mutation($c: ID!, $u: ID!) { removeGroupMember(conversationId: $c, userId: $u) { removedUserId } }`,
		map[string]any{"c": conv, "u": ms[1].ID}, nil)
	e.must(alice.Token, rename, map[string]any{"c": conv, "t": "after both"}, nil)
	title := func(u user) (*string, *string) {
		var out struct {
			Conversation  struct{ Title *string }
			Conversations struct {
				Edges []struct{ Node struct{ Title *string } }
			}
		}
		e.must(u.Token, `query($c: ID!) { conversation(id: $c) { title } conversations { edges { node { title } } } }`,
			map[string]any{"c": conv}, &out)
		if len(out.Conversations.Edges) != 1 {
			t.Fatalf("%s's inbox: %+v", u.Name, out.Conversations)
		}
		return out.Conversation.Title, out.Conversations.Edges[0].Node.Title
	}
	for _, c := range []struct {
		u    user
		want string // "" for none
	}{{alice, "after both"}, {ms[2], "after both"}, {ms[0], "when bob left"}, {ms[1], ""}} {
		one, inInbox := title(c.u)
		for _, got := range []*string{one, inInbox} {
			if (got == nil) != (c.want == "") || (got != nil && *got != c.want) {
				t.Errorf("%s sees the title %v, want %q", c.u.Name, got, c.want)
			}
		}
	}
}

// "Seen by" counts only members who could see the message: not one added
// after it, nor one who left before it, whatever their read position says.
func TestGroupReadByCountsThoseWhoCouldSee(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	ms := e.befriended(alice, 3, "m")
	bob, carol, dave := ms[0], ms[1], ms[2]
	conv := e.createGroup(alice, "g", bob, carol)
	markRead := func(u user) {
		e.must(u.Token, `mutation($c: ID!) { markConversationRead(conversationId: $c) { id } }`, map[string]any{"c": conv}, nil)
	}
	readBy := func(viewer user, msg string) int {
		var out struct{ Node struct{ ReadByCount int } }
		e.must(viewer.Token, `query($m: ID!) { node(id: $m) { ... on Message { readByCount } } }`, map[string]any{"m": msg}, &out)
		return out.Node.ReadByCount
	}
	early := e.sendToGroup(bob, conv, "early").MessageID
	markRead(alice)
	e.must(alice.Token, addMembersMutation, map[string]any{"c": conv, "ids": []string{dave.ID}}, nil)
	markRead(dave) // dave's read position passes "early", which he never saw
	e.must(carol.Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { id } }`, map[string]any{"c": conv}, nil)
	late := e.sendToGroup(bob, conv, "late").MessageID
	markRead(carol) // carol, gone, reads what she can: not "late"
	markRead(alice)
	if n := readBy(bob, early); n != 2 {
		t.Errorf("early: read by %d, want 2 (alice, carol)", n)
	}
	if n := readBy(bob, late); n != 1 {
		t.Errorf("late: read by %d, want 1 (alice)", n)
	}
}

// A group message's event carries, for every member, the newest message
// they had before it (Prev): a subscriber that has everything up to there
// delivers it as committed, without reading the database, even when the
// members' histories differ.
func TestGroupLiveDeliversWithoutReading(t *testing.T) {
	e := newEnv(t)
	owner := e.register("owner")
	ms := e.befriended(owner, 4, "m")
	conv := e.createGroup(owner, "prev", ms...)
	// Different pasts: two members also talk 1:1.
	e.friends(ms[1], ms[2])
	e.send(ms[1], ms[2], "just us")
	everyone := append([]user{owner}, ms...)
	sockets := make([]*wsClient, len(everyone))
	mark := e.statements.Load()
	for i, u := range everyone {
		sockets[i] = e.connectWS(u, "")
		sockets[i].subscribe("all", `subscription { messageAdded { id text } }`, nil)
	}
	e.waitLive(mark, len(everyone), len(everyone))
	for round := range 3 {
		before := e.statements.Load()
		var want string
		if round == 1 {
			want = e.send(ms[2], ms[1], "1:1 in between").MessageID // moves two members' pasts
			for _, i := range []int{2, 3} {
				var got liveGroupMessage
				sockets[i].data("all", &got)
			}
		}
		want = e.sendToGroup(ms[round], conv, fmt.Sprint("round ", round)).MessageID
		for i, ws := range sockets {
			var got liveGroupMessage
			ws.data("all", &got)
			if got.MessageAdded.ID != want {
				t.Fatalf("round %d: member %d got %+v, want %s", round, i, got, want)
			}
		}
		for _, sql := range e.statementsSince(before) {
			if strings.Contains(sql, "FROM messages msg") {
				t.Fatalf("round %d: a subscriber read the database to deliver: %.120s", round, sql)
			}
		}
	}
}
