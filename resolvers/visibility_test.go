package resolvers_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"dmgraph/relay"
)

// The spec's "Visibility", "Anonymous requests" and error-code rules, end to
// end through the real HTTP handler.

// visCodes are the only extensions.code values the spec allows.
var visCodes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "NOT_FOUND": true, "BAD_USER_INPUT": true,
	"CONFLICT": true, "RATE_LIMITED": true, "UNAVAILABLE": true, "INTERNAL": true,
}

// visLeak matches text that betrays internals: SQL, drivers, the ORM, Go
// source paths, stack traces.
var visLeak = regexp.MustCompile(`(?i)sql|pq:|pgx|postgres|gorm|constraint|duplicate key|\.go\b|\.go:\d|goroutine|runtime\.|panic|/work/|dmgraph/`)

// visCheckErrors fails when any error lacks an allowed code, carries
// extensions beyond code and reason, or leaks internals.
func visCheckErrors(t testing.TB, what string, res response) {
	t.Helper()
	for _, err := range res.Errors {
		code, _ := err.Extensions["code"].(string)
		if !visCodes[code] {
			t.Errorf("%s: error %+v has code %q, not one of the spec's codes", what, err, code)
		}
		for k := range err.Extensions {
			if k != "code" && k != "reason" && k != "field" && k != "retryAfter" {
				t.Errorf("%s: error %+v carries extension %q", what, err, k)
			}
		}
		if visLeak.MatchString(err.Message) {
			t.Errorf("%s: error message %q leaks internals", what, err.Message)
		}
	}
}

// visDataEmpty reports whether data holds nothing: absent, null, or an
// object whose every field is null.
func visDataEmpty(data json.RawMessage) bool {
	if len(data) == 0 || string(data) == "null" {
		return true
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return false
	}
	for _, v := range m {
		if v != nil {
			return false
		}
	}
	return true
}

// visExpect runs an operation that must fail with code (and reason, if
// given), return no data and leak nothing. It returns the response.
func visExpect(t testing.TB, e *env, what, token, query string, vars map[string]any, code, reason string) response {
	t.Helper()
	res := e.do(token, query, vars)
	visCheckErrors(t, what, res)
	if len(res.Errors) == 0 {
		t.Errorf("%s: succeeded with data %s, want %s", what, res.Data, code)
		return res
	}
	if res.code() != code || (reason != "" && res.reason() != reason) {
		t.Errorf("%s: got errors %+v, want code %s reason %q", what, res.Errors, code, reason)
	}
	if !visDataEmpty(res.Data) {
		t.Errorf("%s: error came with data %s", what, res.Data)
	}
	return res
}

// visID builds a global ID in the server's format, for IDs that exist
// nowhere and for crafted malformed ones.
func visID(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }

// visNum is the database number inside a global ID.
func visNum(t testing.TB, gid string) int64 {
	t.Helper()
	_, n, ok := relay.Parse(gid)
	if !ok {
		t.Fatalf("cannot parse global ID %q", gid)
	}
	return n
}

// visEntry is one operation that takes an ID in variable $id.
type visEntry struct {
	name  string
	query string
}

var (
	visConversationQuery  = visEntry{"query conversation", `query($id: ID!) { conversation(id: $id) { id status participants { id username } lastMessage { id text } messages { totalCount edges { node { text } } } } }`}
	visNodeQuery          = visEntry{"query node", `query($id: ID!) { node(id: $id) { id ... on Conversation { status participants { username } } ... on Message { text sender { username } } ... on MessageRequest { messageCount sender { username } } ... on Report { reason } ... on Video { caption url } ... on User { username } } }`}
	visSendToConversation = visEntry{"mutation sendMessage(conversationId)", `mutation($id: ID!) { sendMessage(input: {conversationId: $id, text: "let me in"}) { delivery message { id } conversation { id status } } }`}
	visMarkRead           = visEntry{"mutation markConversationRead", `mutation($id: ID!) { markConversationRead(conversationId: $id) { id unreadCount } }`}
	visAccept             = visEntry{"mutation acceptMessageRequest", `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id status } } }`}
	visDelete             = visEntry{"mutation deleteMessageRequest", `mutation($id: ID!) { deleteMessageRequest(requestId: $id) { removedRequestId } }`}
	visReport             = visEntry{"mutation reportMessageRequest", `mutation($id: ID!) { reportMessageRequest(input: {requestId: $id, reason: SPAM, details: "x", block: true}) { report { id reason } } }`}
)

var (
	visConversationEntries = []visEntry{visConversationQuery, visNodeQuery, visSendToConversation, visMarkRead}
	visRequestEntries      = []visEntry{visNodeQuery, visAccept, visDelete, visReport}
)

// visFixture is a small world: alice has a pending request to bob, bob and
// dave are friends with an active conversation, and carol knows nobody.
type visFixture struct {
	alice, bob, carol, dave user
	pending, active         sent // alice→bob (request), dave→bob (inbox)
	reply                   sent // bob→dave in the active conversation
	requestID               string
}

func visSetup(t testing.TB, e *env) visFixture {
	t.Helper()
	var f visFixture
	f.alice, f.bob, f.carol, f.dave = e.register("alice"), e.register("bob"), e.register("carol"), e.register("dave")
	e.setPolicy(f.bob, "EVERYONE")
	e.setPolicy(f.carol, "EVERYONE")
	f.pending = e.send(f.alice, f.bob, "secret hello from alice")
	if f.pending.Delivery != "REQUEST" {
		t.Fatalf("alice→bob = %+v, want a request", f.pending)
	}
	e.friends(f.bob, f.dave)
	f.active = e.send(f.dave, f.bob, "secret from dave")
	f.reply = e.send(f.bob, f.dave, "secret reply from bob")
	if f.active.Delivery != "INBOX" || f.reply.ConversationID != f.active.ConversationID {
		t.Fatalf("dave↔bob = %+v / %+v, want one inbox conversation", f.active, f.reply)
	}
	reqs := e.requests(f.bob)
	if len(reqs) != 1 {
		t.Fatalf("bob has requests %v, want one", reqs)
	}
	f.requestID = reqs[0]
	return f
}

// visState is what bob, alice and carol can see; a refused operation must
// leave it unchanged.
type visState struct {
	BobRequests   []string
	AliceInbox    map[string]string
	BobInbox      map[string]string
	CarolInbox    map[string]string
	BobUnread     int
	DaveUnread    int
	PendingCount  int
	ActiveCount   int
	CarolBlocked  int
	AliceBlocked  int
	BobRequestMsg int
}

func visSnapshot(t testing.TB, e *env, f visFixture) visState {
	t.Helper()
	s := visState{
		BobRequests: e.requests(f.bob),
		AliceInbox:  e.inbox(f.alice),
		BobInbox:    e.inbox(f.bob),
		CarolInbox:  e.inbox(f.carol),
	}
	var conv struct {
		Conversation struct {
			UnreadCount int
			Messages    struct{ TotalCount int }
		}
	}
	q := `query($id: ID!) { conversation(id: $id) { unreadCount messages { totalCount } } }`
	e.must(f.bob.Token, q, map[string]any{"id": f.pending.ConversationID}, &conv)
	s.BobUnread, s.PendingCount = conv.Conversation.UnreadCount, conv.Conversation.Messages.TotalCount
	e.must(f.dave.Token, q, map[string]any{"id": f.active.ConversationID}, &conv)
	s.DaveUnread, s.ActiveCount = conv.Conversation.UnreadCount, conv.Conversation.Messages.TotalCount
	var blocked struct{ BlockedUsers struct{ TotalCount int } }
	e.must(f.carol.Token, `{ blockedUsers { totalCount } }`, nil, &blocked)
	s.CarolBlocked = blocked.BlockedUsers.TotalCount
	e.must(f.alice.Token, `{ blockedUsers { totalCount } }`, nil, &blocked)
	s.AliceBlocked = blocked.BlockedUsers.TotalCount
	var req struct {
		MessageRequests struct {
			Edges []struct{ Node struct{ MessageCount int } }
		}
	}
	e.must(f.bob.Token, `{ messageRequests { edges { node { messageCount } } } }`, nil, &req)
	for _, edge := range req.MessageRequests.Edges {
		s.BobRequestMsg += edge.Node.MessageCount
	}
	return s
}

func visSameState(t testing.TB, what string, before, after visState) {
	t.Helper()
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	if !bytes.Equal(a, b) {
		t.Errorf("%s changed state:\nbefore %s\nafter  %s", what, b, a)
	}
}

// visMissing is an ID of kind that exists nowhere.
func visMissing(kind string) string { return visID(kind + ":987654321") }

// A stranger gets NOT_FOUND from every entry point that takes a
// conversation, message or request ID, with exactly the error a
// nonexistent ID gets, and changes nothing.
func TestVisNonParticipantNotFound(t *testing.T) {
	e := newEnv(t)
	f := visSetup(t, e)
	before := visSnapshot(t, e, f)
	secrets := []string{f.alice.Name, f.bob.Name, f.dave.Name, "secret", "alice", "bob", "dave",
		strconv.FormatInt(visNum(t, f.pending.ConversationID), 10)}

	type target struct {
		what, id, kind string
		entries        []visEntry
	}
	targets := []target{
		{"pending conversation", f.pending.ConversationID, relay.KindConversation, visConversationEntries},
		{"active conversation", f.active.ConversationID, relay.KindConversation, visConversationEntries},
		{"request message", f.pending.MessageID, relay.KindMessage, []visEntry{visNodeQuery}},
		{"inbox message", f.reply.MessageID, relay.KindMessage, []visEntry{visNodeQuery}},
		{"message request", f.requestID, relay.KindMessageRequest, visRequestEntries},
	}
	for _, tg := range targets {
		for _, entry := range tg.entries {
			what := entry.name + " on " + tg.what
			got := visExpect(t, e, what, f.carol.Token, entry.query, map[string]any{"id": tg.id}, "NOT_FOUND", "")
			if len(got.Errors) == 0 {
				continue
			}
			// Indistinguishable from an ID that exists nowhere.
			missing := visExpect(t, e, what+" (missing ID)", f.carol.Token, entry.query,
				map[string]any{"id": visMissing(tg.kind)}, "NOT_FOUND", "")
			if len(missing.Errors) > 0 && (got.Errors[0].Message != missing.Errors[0].Message ||
				len(got.Errors) != len(missing.Errors) || got.reason() != missing.reason()) {
				t.Errorf("%s: stranger gets %+v but a missing ID gets %+v: the difference reveals the object exists",
					what, got.Errors, missing.Errors)
			}
			for _, err := range got.Errors {
				for _, s := range secrets {
					if strings.Contains(strings.ToLower(err.Message), strings.ToLower(s)) {
						t.Errorf("%s: error %q reveals %q", what, err.Message, s)
					}
				}
			}
		}
	}
	visSameState(t, "the stranger's attempts", before, visSnapshot(t, e, f))

	// The participants still reach everything.
	e.must(f.bob.Token, visNodeQuery.query, map[string]any{"id": f.requestID}, nil)
	e.must(f.alice.Token, visNodeQuery.query, map[string]any{"id": f.pending.MessageID}, nil)
	e.must(f.dave.Token, visNodeQuery.query, map[string]any{"id": f.reply.MessageID}, nil)
	e.must(f.alice.Token, visConversationQuery.query, map[string]any{"id": f.pending.ConversationID}, nil)
}

// Only the recipient handles a request: its sender gets NOT_FOUND from
// accept, delete and report, and the request stays pending.
func TestVisSenderCannotHandleOwnRequest(t *testing.T) {
	e := newEnv(t)
	f := visSetup(t, e)
	before := visSnapshot(t, e, f)
	for _, entry := range []visEntry{visAccept, visDelete, visReport} {
		visExpect(t, e, "sender: "+entry.name, f.alice.Token, entry.query, map[string]any{"id": f.requestID}, "NOT_FOUND", "")
	}
	after := visSnapshot(t, e, f)
	visSameState(t, "the sender's attempts", before, after)
	if got := after.AliceInbox[f.pending.ConversationID]; got != "PENDING" {
		t.Fatalf("alice sees %q after her own accept attempt, want PENDING", got)
	}
	// The recipient can.
	var out struct {
		AcceptMessageRequest struct{ Conversation struct{ Status string } }
	}
	e.must(f.bob.Token, visAccept.query, map[string]any{"id": f.requestID}, &out)
	if got := out.AcceptMessageRequest.Conversation.Status; got != "ACTIVE" {
		t.Fatalf("bob accepted and sees %q", got)
	}
}

// A report is its author's alone: the reported sender and strangers get
// NOT_FOUND through node().
func TestVisReportNodeIsPrivate(t *testing.T) {
	e := newEnv(t)
	bob, erin, carol := e.register("bob"), e.register("erin"), e.register("carol")
	e.setPolicy(bob, "EVERYONE")
	e.send(erin, bob, "buy my stuff")
	reqs := e.requests(bob)
	if len(reqs) != 1 {
		t.Fatalf("bob has requests %v", reqs)
	}
	var out struct {
		ReportMessageRequest struct{ Report struct{ ID string } }
	}
	e.must(bob.Token, `mutation($id: ID!) { reportMessageRequest(input: {requestId: $id, reason: SPAM}) { report { id } } }`,
		map[string]any{"id": reqs[0]}, &out)
	id := out.ReportMessageRequest.Report.ID
	e.must(bob.Token, visNodeQuery.query, map[string]any{"id": id}, nil)
	visExpect(t, e, "reported sender: node(report)", erin.Token, visNodeQuery.query, map[string]any{"id": id}, "NOT_FOUND", "")
	visExpect(t, e, "stranger: node(report)", carol.Token, visNodeQuery.query, map[string]any{"id": id}, "NOT_FOUND", "")
	// The handled request is gone for everyone, its recipient included.
	visExpect(t, e, "recipient: node(reported request)", bob.Token, visNodeQuery.query, map[string]any{"id": reqs[0]}, "NOT_FOUND", "")
	visExpect(t, e, "recipient: accept reported request", bob.Token, visAccept.query, map[string]any{"id": reqs[0]}, "NOT_FOUND", "")
}

// IDs that don't decode, that are of the wrong kind, or that exist nowhere
// are NOT_FOUND on every entry point, even for a participant.
func TestVisUndecodableIDsNotFound(t *testing.T) {
	e := newEnv(t)
	f := visSetup(t, e)
	var vid struct{ PublishVideo struct{ ID string } }
	e.must(f.bob.Token, `mutation { publishVideo(input: {caption: "c", url: "https://v.example/1.mp4"}) { id } }`, nil, &vid)
	before := visSnapshot(t, e, f)

	bad := []struct{ what, id string }{
		{"garbage", "garbage"},
		{"empty", ""},
		{"punctuation", "!!!@@@###"},
		{"padded std base64", base64.StdEncoding.EncodeToString([]byte("Conversation:1")) + "=="},
		{"base64 of prose", visID("hello world")},
		{"base64 of json", visID(`{"id":1}`)},
		{"no number", visID("Conversation:")},
		{"no kind", visID(":1")},
		{"non-numeric", visID("Conversation:abc")},
		{"zero", visID("Conversation:0")},
		{"negative", visID("Conversation:-1")},
		{"leading zero", visID("Conversation:01")},
		{"overflow", visID("Conversation:99999999999999999999")},
		{"unknown kind", visID("Widget:1")},
		{"very long", strings.Repeat("QUJD", 5000)},
		{"sql", visID("Conversation:1 OR 1=1")},
	}
	wrongKind := []struct{ what, id string }{
		{"user ID", f.bob.ID},
		{"video ID", vid.PublishVideo.ID},
	}
	missing := []struct{ what, kind string }{
		{"missing", ""},
		{"max int64", "9223372036854775807"},
	}
	type entryCase struct {
		entry visEntry
		kind  string
		wrong []string // IDs of other kinds, valid for the viewer
	}
	cases := []entryCase{
		{visConversationQuery, relay.KindConversation, []string{f.pending.MessageID, f.requestID}},
		{visSendToConversation, relay.KindConversation, []string{f.pending.MessageID, f.requestID}},
		{visMarkRead, relay.KindConversation, []string{f.pending.MessageID, f.requestID}},
		{visAccept, relay.KindMessageRequest, []string{f.pending.ConversationID, f.pending.MessageID}},
		{visDelete, relay.KindMessageRequest, []string{f.pending.ConversationID, f.pending.MessageID}},
		{visReport, relay.KindMessageRequest, []string{f.pending.ConversationID, f.pending.MessageID}},
		{visNodeQuery, relay.KindMessage, nil},
		{visNodeQuery, relay.KindMessageRequest, nil},
		{visNodeQuery, relay.KindConversation, nil},
		{visNodeQuery, relay.KindVideo, nil},
		{visNodeQuery, relay.KindUser, nil},
		{visNodeQuery, relay.KindReport, nil},
		{visEntry{"query user(id)", `query($id: ID!) { user(id: $id) { id } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"query canMessage", `query($id: ID!) { canMessage(userId: $id) { allowed reason } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"query followers", `query($id: ID!) { followers(userId: $id) { totalCount } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"query following", `query($id: ID!) { following(userId: $id) { totalCount } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"mutation follow", `mutation($id: ID!) { follow(userId: $id) { id } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"mutation unfollow", `mutation($id: ID!) { unfollow(userId: $id) { id } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"mutation block", `mutation($id: ID!) { block(userId: $id) { id } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"mutation unblock", `mutation($id: ID!) { unblock(userId: $id) { id } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"mutation sendMessage(recipientId)", `mutation($id: ID!) { sendMessage(input: {recipientId: $id, text: "hi"}) { delivery } }`}, relay.KindUser, []string{f.pending.ConversationID}},
		{visEntry{"mutation updateVideo", `mutation($id: ID!) { updateVideo(input: {id: $id, visibility: PRIVATE}) { id } }`}, relay.KindVideo, []string{f.pending.ConversationID, f.bob.ID}},
		{visEntry{"mutation deleteVideo", `mutation($id: ID!) { deleteVideo(id: $id) { deletedVideoId } }`}, relay.KindVideo, []string{f.pending.ConversationID, f.bob.ID}},
	}
	for _, c := range cases {
		label := c.entry.name + " [" + c.kind + "]"
		for _, b := range bad {
			visExpect(t, e, label+" with "+b.what, f.bob.Token, c.entry.query, map[string]any{"id": b.id}, "NOT_FOUND", "")
		}
		for _, m := range missing {
			id := visMissing(c.kind)
			if m.kind != "" {
				id = visID(c.kind + ":" + m.kind)
			}
			visExpect(t, e, label+" with "+m.what, f.bob.Token, c.entry.query, map[string]any{"id": id}, "NOT_FOUND", "")
		}
		for _, id := range c.wrong {
			visExpect(t, e, label+" with an ID of another kind", f.bob.Token, c.entry.query, map[string]any{"id": id}, "NOT_FOUND", "")
		}
	}
	for _, w := range wrongKind {
		for _, entry := range []visEntry{visConversationQuery, visSendToConversation, visMarkRead, visAccept, visDelete, visReport} {
			visExpect(t, e, entry.name+" with a "+w.what, f.bob.Token, entry.query, map[string]any{"id": w.id}, "NOT_FOUND", "")
		}
	}
	// A video ID that doesn't decode, in an otherwise valid send.
	visExpect(t, e, "sendMessage with a garbage videoId", f.bob.Token,
		`mutation($to: ID!) { sendMessage(input: {recipientId: $to, videoId: "garbage", text: "look"}) { delivery } }`,
		map[string]any{"to": f.dave.ID}, "NOT_FOUND", "")
	visSameState(t, "undecodable IDs", before, visSnapshot(t, e, f))
}

// visAnonymousOps has one operation per Query and Mutation field, keyed by field name.
// IDs are real ones ({{user}}, {{conv}}, {{req}}, {{video}}), so that a
// refusal can only come from the missing sign-in.
var visAnonymousOps = map[string]string{
	"me":                      `{ me { id } }`,
	"user":                    `query($user: ID!) { user(id: $user) { id username } }`,
	"node":                    `query($conv: ID!) { node(id: $conv) { id } }`,
	"privacySettings":         `{ privacySettings { directMessagePolicy } }`,
	"conversations":           `{ conversations { totalCount edges { node { id } } } }`,
	"conversation":            `query($conv: ID!) { conversation(id: $conv) { id } }`,
	"messageRequests":         `{ messageRequests { totalCount } }`,
	"unreadConversationCount": `{ unreadConversationCount }`,
	"sync":                    `{ sync(since: "czow") { position } }`,
	"canMessage":              `query($user: ID!) { canMessage(userId: $user) { allowed delivery reason } }`,
	"followers":               `query($user: ID!) { followers(userId: $user) { totalCount edges { node { id } } } }`,
	"following":               `query($user: ID!) { following(userId: $user) { totalCount edges { node { id } } } }`,
	"blockedUsers":            `{ blockedUsers { totalCount } }`,
	"suggestedFriends":        `{ suggestedFriends { totalCount } }`,

	"register":              `mutation($name: String!) { register(input: {username: $name, password: "correct horse", displayName: "Anon", birthDate: "2001-01-01"}) { token user { id username } } }`,
	"login":                 `mutation($name: String!) { login(input: {username: $name, password: "correct horse"}) { token user { id } } }`,
	"signOutEverywhere":     `mutation { signOutEverywhere }`,
	"follow":                `mutation($user: ID!) { follow(userId: $user) { id } }`,
	"unfollow":              `mutation($user: ID!) { unfollow(userId: $user) { id } }`,
	"block":                 `mutation($user: ID!) { block(userId: $user) { id } }`,
	"unblock":               `mutation($user: ID!) { unblock(userId: $user) { id } }`,
	"updatePrivacySettings": `mutation { updatePrivacySettings(input: {directMessagePolicy: NO_ONE}) { directMessagePolicy } }`,
	"publishVideo":          `mutation { publishVideo(input: {caption: "anon", url: "https://v.example/a.mp4"}) { id } }`,
	"updateVideo":           `mutation($video: ID!) { updateVideo(input: {id: $video, visibility: PRIVATE}) { id } }`,
	"deleteVideo":           `mutation($video: ID!) { deleteVideo(id: $video) { deletedVideoId } }`,
	"sendMessage":           `mutation($user: ID!) { sendMessage(input: {recipientId: $user, text: "anon"}) { delivery } }`,
	"acceptMessageRequest":  `mutation($req: ID!) { acceptMessageRequest(requestId: $req) { conversation { id } } }`,
	"deleteMessageRequest":  `mutation($req: ID!) { deleteMessageRequest(requestId: $req) { removedRequestId } }`,
	"reportMessageRequest":  `mutation($req: ID!) { reportMessageRequest(input: {requestId: $req, reason: SPAM}) { report { id } } }`,
	"markConversationRead":  `mutation($conv: ID!) { markConversationRead(conversationId: $conv) { id } }`,
	"setPhoneNumber":        `mutation { setPhoneNumber(input: {phoneNumber: "+33612345678"}) { expiresAt } }`,
	"verifyPhoneNumber":     `mutation { verifyPhoneNumber(code: "123456") { id } }`,
	"syncContacts":          `mutation { syncContacts(input: {phoneNumbers: ["+33612345678"]}) { syncedCount } }`,
	"removeSyncedContacts":  `mutation { removeSyncedContacts }`,
	"linkFacebookAccount":   `mutation { linkFacebookAccount(accessToken: "anon") { facebookUserId } }`,
	"unlinkFacebookAccount": `mutation { unlinkFacebookAccount }`,

	"canAddToGroup":            `query($conv: ID!, $user: ID!) { canAddToGroup(conversationId: $conv, userId: $user) { allowed } }`,
	"createGroup":              `mutation($user: ID!) { createGroup(input: {memberIds: [$user]}) { conversation { id } } }`,
	"addGroupMembers":          `mutation($conv: ID!, $user: ID!) { addGroupMembers(input: {conversationId: $conv, userIds: [$user]}) { added { id } } }`,
	"removeGroupMember":        `mutation($conv: ID!, $user: ID!) { removeGroupMember(conversationId: $conv, userId: $user) { removedUserId } }`,
	"leaveGroup":               `mutation($conv: ID!) { leaveGroup(conversationId: $conv) { id } }`,
	"renameGroup":              `mutation($conv: ID!) { renameGroup(conversationId: $conv, title: "t") { id } }`,
	"setGroupMemberRole":       `mutation($conv: ID!, $user: ID!) { setGroupMemberRole(conversationId: $conv, userId: $user, role: ADMIN) { id } }`,
	"respondToGroupInvitation": `mutation($req: ID!) { respondToGroupInvitation(invitationId: $req, accept: true) { removedInvitationId } }`,
}

// visVars picks the variables an operation declares, among the known ones.
func visVars(query string, all map[string]any) map[string]any {
	vars := map[string]any{}
	for k, v := range all {
		if strings.Contains(query, "$"+k+":") {
			vars[k] = v
		}
	}
	return vars
}

// loadSchema parses schema.graphqls.
func loadSchema(t testing.TB) *ast.Schema {
	t.Helper()
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gqlErr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gqlErr != nil {
		t.Fatalf("load schema: %v", gqlErr)
	}
	return schema
}

// visSchemaFields lists the fields of the Query and Mutation types in schema.graphqls.
func visSchemaFields(t testing.TB) []string {
	t.Helper()
	schema := loadSchema(t)
	var names []string
	for _, def := range []*ast.Definition{schema.Query, schema.Mutation} {
		for _, f := range def.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				names = append(names, f.Name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// Anonymous callers may register, log in and read me (null); every other
// Query and Mutation field is UNAUTHENTICATED.
func TestVisAnonymous(t *testing.T) {
	e := newEnv(t)
	f := visSetup(t, e)
	var vid struct{ PublishVideo struct{ ID string } }
	e.must(f.bob.Token, `mutation { publishVideo(input: {caption: "c", url: "https://v.example/1.mp4"}) { id } }`, nil, &vid)
	before := visSnapshot(t, e, f)

	fields := visSchemaFields(t)
	for _, name := range fields {
		if _, ok := visAnonymousOps[name]; !ok {
			t.Errorf("schema field %q has no anonymous test operation", name)
		}
	}
	if len(fields) != len(visAnonymousOps) {
		t.Errorf("schema has %d root fields, the table %d", len(fields), len(visAnonymousOps))
	}

	all := map[string]any{
		"user": f.bob.ID, "conv": f.pending.ConversationID, "req": f.requestID, "video": vid.PublishVideo.ID,
		"name": "anon" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10),
	}
	order := []string{"register", "login"} // login needs the account register creates
	for _, name := range fields {
		if name != "register" && name != "login" {
			order = append(order, name)
		}
	}
	for _, name := range order {
		query := visAnonymousOps[name]
		if query == "" {
			continue
		}
		vars := visVars(query, all)
		switch name {
		case "register", "login":
			var out map[string]struct {
				Token string
				User  struct{ ID string }
			}
			e.must("", query, vars, &out)
			if p := out[name]; p.Token == "" || p.User.ID == "" {
				t.Errorf("anonymous %s returned %+v", name, p)
			}
		case "me":
			res := e.do("", query, vars)
			if len(res.Errors) != 0 || res.Status != http.StatusOK || string(res.Data) != `{"me":null}` {
				t.Errorf("anonymous me: status %d data %s errors %+v, want me: null", res.Status, res.Data, res.Errors)
			}
		default:
			visExpect(t, e, "anonymous "+name, "", query, vars, "UNAUTHENTICATED", "")
		}
	}
	visSameState(t, "anonymous operations", before, visSnapshot(t, e, f))
	var v struct {
		Node struct{ Visibility string }
	}
	e.must(f.bob.Token, `query($id: ID!) { node(id: $id) { ... on Video { visibility } } }`, map[string]any{"id": vid.PublishVideo.ID}, &v)
	if v.Node.Visibility != "PUBLIC" {
		t.Errorf("bob's video is %q after anonymous updates, want PUBLIC", v.Node.Visibility)
	}
}

// An anonymous caller learns nothing from an ID either: signing in comes
// first, so a garbage ID is UNAUTHENTICATED too, not NOT_FOUND.
func TestVisAnonymousGarbageIDsUnauthenticated(t *testing.T) {
	e := newEnv(t)
	for name, query := range visAnonymousOps {
		if name == "register" || name == "login" || name == "me" || !strings.Contains(query, ": ID!") {
			continue
		}
		vars := visVars(query, map[string]any{"user": "garbage", "conv": "garbage", "req": "garbage", "video": "garbage"})
		visExpect(t, e, "anonymous "+name+" with a garbage ID", "", query, vars, "UNAUTHENTICATED", "")
	}
}

// visPost posts a query with a raw Authorization header ("" for none).
func visPost(t testing.TB, e *env, authorization, query string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer res.Body.Close()
	var out response
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	out.Status = res.StatusCode
	return out
}

func visToken(t testing.TB, method jwt.SigningMethod, key any, claims jwt.RegisteredClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A bad, forged or expired token is refused with UNAUTHENTICATED, for every
// operation, even ones anonymous callers may use: with HTTP 200 under
// application/json, as the GraphQL-over-HTTP spec asks (TestHTTPMediaTypes
// has the 401 under application/graphql-response+json).
func TestVisInvalidToken(t *testing.T) {
	e := newEnv(t)
	bob := e.register("bob")
	sub := strconv.FormatInt(visNum(t, bob.ID), 10)
	secret := []byte("test-secret")
	now := time.Now()
	claims := func(iss string, exp time.Time) jwt.RegisteredClaims {
		return jwt.RegisteredClaims{Issuer: iss, Subject: sub, IssuedAt: jwt.NewNumericDate(exp.Add(-time.Hour)),
			ExpiresAt: jwt.NewNumericDate(exp)}
	}

	// The crafted token is right in every way but the ones under test.
	good := visToken(t, jwt.SigningMethodHS256, secret, claims("dmgraph", now.Add(time.Hour)))
	var me struct{ Me struct{ ID string } }
	e.must(good, `{ me { id } }`, nil, &me)
	if me.Me.ID != bob.ID {
		t.Fatalf("crafted token signs in as %q, want bob %q", me.Me.ID, bob.ID)
	}

	noExp := claims("dmgraph", now)
	noExp.ExpiresAt = nil
	tokens := map[string]string{
		"garbage":            "Bearer garbage",
		"empty bearer":       "Bearer ",
		"truncated":          "Bearer " + bob.Token[:len(bob.Token)-5],
		"tampered signature": "Bearer " + bob.Token[:len(bob.Token)-2] + "xx",
		"expired":            "Bearer " + visToken(t, jwt.SigningMethodHS256, secret, claims("dmgraph", now.Add(-time.Minute))),
		"wrong secret":       "Bearer " + visToken(t, jwt.SigningMethodHS256, []byte("not-the-secret"), claims("dmgraph", now.Add(time.Hour))),
		"wrong issuer":       "Bearer " + visToken(t, jwt.SigningMethodHS256, secret, claims("someone-else", now.Add(time.Hour))),
		"no expiry":          "Bearer " + visToken(t, jwt.SigningMethodHS256, secret, noExp),
		"alg none":           "Bearer " + visToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("dmgraph", now.Add(time.Hour))),
		"HS512":              "Bearer " + visToken(t, jwt.SigningMethodHS512, secret, claims("dmgraph", now.Add(time.Hour))),
		"basic scheme":       "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:correct horse")),
		"no scheme":          bob.Token,
	}
	queries := []string{
		`{ me { id } }`,
		`{ conversations { totalCount } }`,
		`mutation { login(input: {username: "` + bob.Name + `", password: "correct horse"}) { token } }`,
	}
	for what, header := range tokens {
		for _, q := range queries {
			res := visPost(t, e, header, q)
			visCheckErrors(t, what, res)
			if res.Status != http.StatusOK || res.code() != "UNAUTHENTICATED" || !visDataEmpty(res.Data) {
				t.Errorf("%s token on %s: status %d errors %+v data %s, want 200 UNAUTHENTICATED", what, q, res.Status, res.Errors, res.Data)
			}
		}
	}
	// The genuine token still works.
	if res := visPost(t, e, "Bearer "+bob.Token, `{ me { id } }`); res.Status != http.StatusOK || len(res.Errors) != 0 {
		t.Fatalf("bob's own token: status %d errors %+v", res.Status, res.Errors)
	}
}

// Client mistakes are BAD_USER_INPUT, and no error text betrays SQL, the
// driver, the ORM or Go source.
func TestVisErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	f := visSetup(t, e)
	cases := []struct {
		what, query string
		vars        map[string]any
		code        string
	}{
		{"unclosed selection", `{ me { id `, nil, "BAD_USER_INPUT"},
		{"not graphql", `SELECT * FROM users`, nil, "BAD_USER_INPUT"},
		{"empty document", ``, nil, "BAD_USER_INPUT"},
		{"unknown field", `{ me { id password } }`, nil, "BAD_USER_INPUT"},
		{"unknown root field", `{ users { id } }`, nil, "BAD_USER_INPUT"},
		{"missing argument", `{ conversation { id } }`, nil, "BAD_USER_INPUT"},
		{"bad enum", `mutation { updatePrivacySettings(input: {directMessagePolicy: ALL}) { directMessagePolicy } }`, nil, "BAD_USER_INPUT"},
		{"variable of the wrong type", `query($n: Int) { conversations(first: $n) { totalCount } }`, map[string]any{"n": "ten"}, "BAD_USER_INPUT"},
		{"missing variable", `query($id: ID!) { conversation(id: $id) { id } }`, nil, "BAD_USER_INPUT"},
		{"bad date", `mutation { register(input: {username: "zz", password: "correct horse", displayName: "Z", birthDate: "2001-13-45"}) { token } }`, nil, "BAD_USER_INPUT"},
		{"page too large", `{ conversations(first: 101) { totalCount } }`, nil, "BAD_USER_INPUT"},
		{"negative page", `{ messageRequests(first: -1) { totalCount } }`, nil, "BAD_USER_INPUT"},
		{"bad cursor", `{ conversations(after: "' OR 1=1 --") { totalCount } }`, nil, "BAD_USER_INPUT"},
		{"cursor of another shape", `query($c: String) { blockedUsers(after: $c) { totalCount } }`, map[string]any{"c": f.bob.ID}, "BAD_USER_INPUT"},
		{"injection in username", `{ user(username: "x'; DROP TABLE users; --") { id } }`, nil, "NOT_FOUND"},
		{"max int64 message", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": visID("Message:9223372036854775807")}, "NOT_FOUND"},
		{"max int64 conversation", `query($id: ID!) { conversation(id: $id) { id } }`, map[string]any{"id": visID("Conversation:9223372036854775807")}, "NOT_FOUND"},
		{"text too long", `mutation($to: ID!, $t: String) { sendMessage(input: {recipientId: $to, text: $t}) { delivery } }`, map[string]any{"to": f.dave.ID, "t": strings.Repeat("x", 4001)}, "BAD_USER_INPUT"},
		{"both recipient and conversation", `mutation($to: ID!, $c: ID!) { sendMessage(input: {recipientId: $to, conversationId: $c, text: "x"}) { delivery } }`, map[string]any{"to": f.dave.ID, "c": f.active.ConversationID}, "BAD_USER_INPUT"},
		{"taken username", `mutation($u: String!) { register(input: {username: $u, password: "correct horse", displayName: "Z", birthDate: "2001-01-01"}) { token } }`, map[string]any{"u": f.alice.Name}, "CONFLICT"},
		{"taken username, other case", `mutation($u: String!) { register(input: {username: $u, password: "correct horse", displayName: "Z", birthDate: "2001-01-01"}) { token } }`, map[string]any{"u": strings.ToUpper(f.alice.Name)}, "CONFLICT"},
	}
	for _, c := range cases {
		visExpect(t, e, c.what, f.bob.Token, c.query, c.vars, c.code, "")
	}

}

// A request body the server can't read is the client's fault too: it must
// get BAD_USER_INPUT, not INTERNAL (which is also logged as a server error)
// and not an error without a code.
func TestVisMalformedRequestBodyIsBadUserInput(t *testing.T) {
	e := newEnv(t)
	bob := e.register("bob")
	cases := []struct{ what, contentType, body string }{
		{"truncated JSON", "application/json", `{"query": "{ me { id } }"`},
		{"query not a string", "application/json", `{"query": 5}`},
		{"variables not an object", "application/json", `{"query": "{ me { id } }", "variables": "x"}`},
		{"unsupported content type", "text/plain", `{ me { id } }`},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.contentType)
		req.Header.Set("Authorization", "Bearer "+bob.Token)
		httpRes, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var res response
		err = json.NewDecoder(httpRes.Body).Decode(&res)
		httpRes.Body.Close()
		if err != nil {
			t.Fatalf("%s: decode: %v", c.what, err)
		}
		visCheckErrors(t, c.what, res)
		if res.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: status %d errors %+v, want BAD_USER_INPUT", c.what, httpRes.StatusCode, res.Errors)
		}
	}
}

// Videos: PRIVATE is the owner's alone, FRIENDS reaches mutual follows
// only, and someone else's video can't be changed: FORBIDDEN NOT_OWNER
// when the viewer can see it, NOT_FOUND when not.
func TestVisVideoVisibility(t *testing.T) {
	e := newEnv(t)
	bob, friend, carol, fan := e.register("bob"), e.register("friend"), e.register("carol"), e.register("fan")
	e.friends(bob, friend)
	e.follow(fan, bob) // one way: not a friend

	publish := func(vis string) string {
		var out struct {
			PublishVideo struct{ ID, Visibility string }
		}
		e.must(bob.Token, `mutation($v: VideoVisibility) { publishVideo(input: {caption: "bob's clip", url: "https://v.example/b.mp4", visibility: $v}) { id visibility } }`,
			map[string]any{"v": vis}, &out)
		if out.PublishVideo.Visibility != vis {
			t.Fatalf("published %+v, want %s", out.PublishVideo, vis)
		}
		return out.PublishVideo.ID
	}
	public, friends, private := publish("PUBLIC"), publish("FRIENDS"), publish("PRIVATE")

	nodeQuery := `query($id: ID!) { node(id: $id) { id ... on Video { caption url visibility owner { id } } } }`
	sees := func(u user, id, want string) {
		t.Helper()
		var out struct {
			Node struct {
				ID, Visibility string
				Owner          struct{ ID string }
			}
		}
		e.must(u.Token, nodeQuery, map[string]any{"id": id}, &out)
		if out.Node.ID != id || out.Node.Visibility != want || out.Node.Owner.ID != bob.ID {
			t.Errorf("%s sees %+v, want %s video %s of bob", u.Name, out.Node, want, id)
		}
	}
	hidden := func(u user, id, what string) {
		t.Helper()
		visExpect(t, e, u.Name+": node("+what+")", u.Token, nodeQuery, map[string]any{"id": id}, "NOT_FOUND", "")
	}

	for _, u := range []user{bob, friend, carol, fan} {
		sees(u, public, "PUBLIC")
	}
	sees(bob, friends, "FRIENDS")
	sees(friend, friends, "FRIENDS")
	hidden(carol, friends, "FRIENDS video, stranger")
	hidden(fan, friends, "FRIENDS video, one-way follower")
	sees(bob, private, "PRIVATE")
	hidden(carol, private, "PRIVATE video, stranger")
	hidden(friend, private, "PRIVATE video, friend")

	// Hidden looks exactly like missing.
	got := e.do(carol.Token, nodeQuery, map[string]any{"id": private})
	missing := e.do(carol.Token, nodeQuery, map[string]any{"id": visMissing(relay.KindVideo)})
	if len(got.Errors) == 0 || len(missing.Errors) == 0 || got.Errors[0].Message != missing.Errors[0].Message {
		t.Errorf("private video error %+v differs from missing video error %+v", got.Errors, missing.Errors)
	}

	update := `mutation($id: ID!, $v: VideoVisibility!) { updateVideo(input: {id: $id, visibility: $v}) { id visibility } }`
	del := `mutation($id: ID!) { deleteVideo(id: $id) { deletedVideoId } }`
	visExpect(t, e, "carol: updateVideo(public)", carol.Token, update, map[string]any{"id": public, "v": "PRIVATE"}, "FORBIDDEN", "NOT_OWNER")
	visExpect(t, e, "friend: updateVideo(friends)", friend.Token, update, map[string]any{"id": friends, "v": "PUBLIC"}, "FORBIDDEN", "NOT_OWNER")
	visExpect(t, e, "carol: updateVideo(friends)", carol.Token, update, map[string]any{"id": friends, "v": "PUBLIC"}, "NOT_FOUND", "")
	visExpect(t, e, "carol: updateVideo(private)", carol.Token, update, map[string]any{"id": private, "v": "PUBLIC"}, "NOT_FOUND", "")
	visExpect(t, e, "friend: updateVideo(private)", friend.Token, update, map[string]any{"id": private, "v": "PUBLIC"}, "NOT_FOUND", "")
	visExpect(t, e, "carol: deleteVideo(public)", carol.Token, del, map[string]any{"id": public}, "FORBIDDEN", "NOT_OWNER")
	visExpect(t, e, "carol: deleteVideo(private)", carol.Token, del, map[string]any{"id": private}, "NOT_FOUND", "")

	// Nothing changed.
	sees(bob, public, "PUBLIC")
	sees(bob, friends, "FRIENDS")
	sees(bob, private, "PRIVATE")
	hidden(carol, private, "PRIVATE video after carol's attempts")

	// The owner can; visibility follows at once.
	var out struct{ UpdateVideo struct{ Visibility string } }
	e.must(bob.Token, update, map[string]any{"id": private, "v": "FRIENDS"}, &out)
	if out.UpdateVideo.Visibility != "FRIENDS" {
		t.Fatalf("bob's update returned %q", out.UpdateVideo.Visibility)
	}
	sees(friend, private, "FRIENDS")
	hidden(carol, private, "formerly PRIVATE, now FRIENDS video, stranger")
	e.must(bob.Token, update, map[string]any{"id": public, "v": "PRIVATE"}, nil)
	hidden(carol, public, "formerly PUBLIC, now PRIVATE video")
	hidden(friend, public, "formerly PUBLIC, now PRIVATE video, friend")
}
