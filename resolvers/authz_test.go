package resolvers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"dmgraph/relay"
)

// The authorization matrix: every Query, Mutation and Subscription field of
// schema.graphqls, tried by every role against one small world, with the
// outcome each role must get. A field added to the schema without rows here
// fails TestAuthzMatrixCoversSchema, naming the field.
//
// The world (azSetup): the owner is friends with the participant and they
// share an active conversation; a requester has an open message request to
// the owner; the owner has blocked the blocked user, who had written first;
// the stranger knows nobody; the minor is 14. The owner also has a video
// for friends only. "participant" is the other party of the thing the
// operation names: the friend for a conversation, message, user or video,
// the requester for a request. Profiles stay visible to a blocked user (a
// README choice); everything private does not.

var azRoles = []string{"anonymous", "owner", "participant", "stranger", "blocked", "minor"}

// azCase is one operation and what each role gets from it: OK, NULL (data
// is null, no error), a code, or CODE/REASON. For a subscription, 4403 means
// the socket is closed at connection_init. Variables: $user (the owner),
// $conv, $msg, $req, $video, $bconv (the blocked user's conversation with
// the owner), $owner (the owner's username), $name (a fresh
// username), $fb (a Graph API token of the caller's own).
type azCase struct {
	op   string
	kind string // whose other party is "participant": "req" for the requester, else the friend
	rows string
	// check, for OK rows, looks past "some data came back": it returns what
	// is wrong with data for role, or "".
	check func(role string, data json.RawMessage) string
}

// azCanMessage checks that canMessage tells each role the truth: only the
// friend and the stranger (the owner allows EVERYONE) may write.
func azCanMessage(role string, data json.RawMessage) string {
	var out struct{ CanMessage struct{ Allowed bool } }
	if err := json.Unmarshal(data, &out); err != nil {
		return err.Error()
	}
	want := role == "participant" || role == "stranger"
	if out.CanMessage.Allowed != want {
		return fmt.Sprintf("allowed = %v, want %v", out.CanMessage.Allowed, want)
	}
	return ""
}

// azBlockedCannotSend checks that the blocked user learns no more than
// sendMessage tells them: BLOCKED, and no request.
func azBlockedCannotSend(_ string, data json.RawMessage) string {
	var out struct {
		Conversation struct {
			ViewerCanSend          bool
			ViewerCannotSendReason string
			MessageRequest         *struct{ ID string }
		}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return err.Error()
	}
	if c := out.Conversation; c.ViewerCanSend || c.ViewerCannotSendReason != "BLOCKED" || c.MessageRequest != nil {
		return fmt.Sprintf("conversation = %+v, want no send, BLOCKED, no request", c)
	}
	return ""
}

// azOwnSettings checks that a user's privacySettings show to that user alone.
func azOwnSettings(role string, data json.RawMessage) string {
	var out struct {
		User struct{ PrivacySettings *struct{ ID string } }
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return err.Error()
	}
	if seen := out.User.PrivacySettings != nil; seen != (role == "owner") {
		return fmt.Sprintf("privacySettings seen: %v", seen)
	}
	return ""
}

// Shorthands for the common rows.
const (
	azSelf    = "anonymous=UNAUTHENTICATED owner=OK participant=OK stranger=OK blocked=OK minor=OK"
	azPublic  = "anonymous=OK owner=OK participant=OK stranger=OK blocked=OK minor=OK"
	azMembers = "anonymous=UNAUTHENTICATED owner=OK participant=OK stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"
	azOwner   = "anonymous=UNAUTHENTICATED owner=OK participant=NOT_FOUND stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"
)

// azNoCode is verifyPhoneNumber's row: nobody in the world asked for a code.
const azNoCode = "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/NO_CODE participant=BAD_USER_INPUT/NO_CODE " +
	"stranger=BAD_USER_INPUT/NO_CODE blocked=BAD_USER_INPUT/NO_CODE minor=BAD_USER_INPUT/NO_CODE"

var azMatrix = map[string][]azCase{
	// Queries.
	"me": {{op: `{ me { id username } }`, rows: "anonymous=NULL owner=OK participant=OK stranger=OK blocked=OK minor=OK"}},
	"user": {
		{op: `query($user: ID!) { user(id: $user) { id username } }`, rows: azSelf},
		{op: `query($user: ID!) { user(id: $user) { privacySettings { id directMessagePolicy } } }`, rows: azSelf, check: azOwnSettings},
	},
	"privacySettings": {{op: `{ privacySettings { directMessagePolicy } }`, rows: azSelf}},
	"conversations":   {{op: `{ conversations { totalCount edges { node { id lastMessage { text } } } } }`, rows: azSelf}},
	"messageRequests": {{op: `{ messageRequests { totalCount edges { node { id lastMessage { text } } } } }`, rows: azSelf}},
	"conversation": {
		{op: `query($conv: ID!) { conversation(id: $conv) { id messages { edges { node { text } } } } }`, rows: azMembers},
		{op: `query($conv: ID!) { conversation(id: $conv) { viewerCanSend viewerCannotSendReason messageRequest { id } } }`, rows: azMembers},
		// The blocked user still sees the conversation they started, and
		// that they can't send: what sendMessage would tell them anyway.
		{op: `query($bconv: ID!) { conversation(id: $bconv) { viewerCanSend viewerCannotSendReason messageRequest { id } } }`,
			rows: "anonymous=UNAUTHENTICATED owner=NOT_FOUND participant=NOT_FOUND stranger=NOT_FOUND blocked=OK minor=NOT_FOUND", check: azBlockedCannotSend},
	},
	"unreadConversationCount": {{op: `{ unreadConversationCount }`, rows: azSelf}},
	"node": {
		{op: `query($conv: ID!) { node(id: $conv) { id ... on Conversation { lastMessage { text } } } }`, rows: azMembers},
		{op: `query($msg: ID!) { node(id: $msg) { id ... on Message { text } } }`, rows: azMembers},
		{op: `query($req: ID!) { node(id: $req) { id ... on MessageRequest { lastMessage { text } } } }`, kind: "req",
			rows: "anonymous=UNAUTHENTICATED owner=OK participant=NOT_FOUND stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"},
		{op: `query($video: ID!) { node(id: $video) { id ... on Video { url } } }`, rows: azMembers},
		{op: `query($user: ID!) { node(id: $user) { id ... on User { username } } }`,
			rows: azSelf},
		{op: `query($settings: ID!) { node(id: $settings) { id ... on PrivacySettings { directMessagePolicy } } }`, rows: azOwner},
	},
	"canMessage":       {{op: `query($user: ID!) { canMessage(userId: $user) { allowed delivery reason } }`, rows: azSelf, check: azCanMessage}},
	"followers":        {{op: `query($user: ID!) { followers(userId: $user) { totalCount } }`, rows: azSelf}},
	"following":        {{op: `query($user: ID!) { following(userId: $user) { totalCount } }`, rows: azSelf}},
	"blockedUsers":     {{op: `{ blockedUsers { totalCount } }`, rows: azSelf}},
	"suggestedFriends": {{op: `{ suggestedFriends { totalCount } }`, rows: azSelf}},
	// Every change from the start of each role's own sequence: noSecrets
	// checks that none shows another's private data.
	"sync": {{op: `{ sync(since: "czow", first: 500) { position changes { kind conversation { id lastMessage { text } }
		message { text } request { lastMessage { text } } user { username } } } }`, rows: azSelf}},

	// Mutations.
	"register":          {{op: `mutation($name: String!) { register(input: {username: $name, password: "correct horse", displayName: "New", birthDate: "2001-01-01"}) { token } }`, rows: azPublic}},
	"login":             {{op: `mutation($owner: String!) { login(input: {username: $owner, password: "correct horse"}) { token } }`, rows: azPublic}},
	"signOutEverywhere": {{op: `mutation { signOutEverywhere }`, rows: azSelf}},
	"follow":            {{op: `mutation($user: ID!) { follow(userId: $user) { id } }`, rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=OK stranger=OK blocked=FORBIDDEN/BLOCKED minor=OK"}},
	"unfollow":          {{op: `mutation($user: ID!) { unfollow(userId: $user) { id } }`, rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=OK stranger=OK blocked=OK minor=OK"}},
	"block":             {{op: `mutation($user: ID!) { block(userId: $user) { id } }`, rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=OK stranger=OK blocked=OK minor=OK"}},
	"unblock":           {{op: `mutation($user: ID!) { unblock(userId: $user) { id } }`, rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=OK stranger=OK blocked=OK minor=OK"}},
	"updatePrivacySettings": {{op: `mutation { updatePrivacySettings(input: {directMessagePolicy: FRIENDS}) { directMessagePolicy } }`,
		rows: "anonymous=UNAUTHENTICATED owner=OK participant=OK stranger=OK blocked=OK minor=FORBIDDEN/AGE_RESTRICTED"}},
	"publishVideo": {{op: `mutation { publishVideo(input: {caption: "mine", url: "https://v.example/mine.mp4"}) { id } }`, rows: azSelf}},
	"updateVideo": {{op: `mutation($video: ID!) { updateVideo(input: {id: $video, visibility: PUBLIC}) { id } }`,
		rows: "anonymous=UNAUTHENTICATED owner=OK participant=FORBIDDEN/NOT_OWNER stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"}},
	"deleteVideo": {{op: `mutation($video: ID!) { deleteVideo(id: $video) { deletedVideoId } }`,
		rows: "anonymous=UNAUTHENTICATED owner=OK participant=FORBIDDEN/NOT_OWNER stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"}},
	"sendMessage": {
		{op: `mutation($user: ID!) { sendMessage(input: {recipientId: $user, text: "hi"}) { delivery } }`,
			rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=OK stranger=OK blocked=FORBIDDEN/BLOCKED minor=FORBIDDEN/AGE_RESTRICTED"},
		{op: `mutation($conv: ID!) { sendMessage(input: {conversationId: $conv, text: "hi"}) { delivery } }`, rows: azMembers},
		// The conversation the blocked user started before the block: the
		// block deleted the request, so the owner no longer has it.
		{op: `mutation($bconv: ID!) { sendMessage(input: {conversationId: $bconv, text: "hi"}) { delivery } }`,
			rows: "anonymous=UNAUTHENTICATED owner=NOT_FOUND participant=NOT_FOUND stranger=NOT_FOUND blocked=FORBIDDEN/BLOCKED minor=NOT_FOUND"},
	},
	"acceptMessageRequest": {{op: `mutation($req: ID!) { acceptMessageRequest(requestId: $req) { conversation { id } } }`, kind: "req", rows: azOwner}},
	"deleteMessageRequest": {{op: `mutation($req: ID!) { deleteMessageRequest(requestId: $req) { removedRequestId } }`, kind: "req", rows: azOwner}},
	"reportMessageRequest": {{op: `mutation($req: ID!) { reportMessageRequest(input: {requestId: $req, reason: SPAM}) { report { id } } }`, kind: "req", rows: azOwner}},
	"markConversationRead": {{op: `mutation($conv: ID!) { markConversationRead(conversationId: $conv) { id } }`, rows: azMembers}},

	// Groups: $group is the owner's group with the friend (participant).
	"createGroup": {{op: `mutation($user: ID!) { createGroup(input: {memberIds: [$user]}) { conversation { id } } }`,
		rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=OK stranger=FORBIDDEN/NOT_FRIENDS blocked=FORBIDDEN/BLOCKED minor=FORBIDDEN/AGE_RESTRICTED"}},
	"canAddToGroup": {{op: `query($group: ID!, $user: ID!) { canAddToGroup(conversationId: $group, userId: $user) { allowed reason } }`, rows: azMembers}},
	"addGroupMembers": {{op: `mutation($group: ID!, $user: ID!) { addGroupMembers(input: {conversationId: $group, userIds: [$user]}) { added { id } } }`,
		rows: azMembers}},
	"removeGroupMember": {{op: `mutation($group: ID!, $user: ID!) { removeGroupMember(conversationId: $group, userId: $user) { removedUserId } }`,
		rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=FORBIDDEN/NOT_ADMIN stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"}},
	"leaveGroup": {{op: `mutation($group: ID!) { leaveGroup(conversationId: $group) { status } }`, rows: azMembers}},
	"renameGroup": {{op: `mutation($group: ID!) { renameGroup(conversationId: $group, title: "renamed") { title } }`,
		rows: "anonymous=UNAUTHENTICATED owner=OK participant=FORBIDDEN/NOT_ADMIN stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"}},
	"setGroupMemberRole": {{op: `mutation($group: ID!, $user: ID!) { setGroupMemberRole(conversationId: $group, userId: $user, role: ADMIN) { id } }`,
		rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF participant=FORBIDDEN/NOT_ADMIN stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"}},
	// Nobody in this world created a group at 16 or 17.
	"respondToGroupInvitation": {{op: `mutation($inv: ID!) { respondToGroupInvitation(invitationId: $inv, accept: true) { removedInvitationId } }`,
		rows: "anonymous=UNAUTHENTICATED owner=NOT_FOUND participant=NOT_FOUND stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"}},
	"setPhoneNumber":        {{op: `mutation($phone: String!) { setPhoneNumber(input: {phoneNumber: $phone}) { expiresAt } }`, rows: azSelf}},
	"verifyPhoneNumber":     {{op: `mutation { verifyPhoneNumber(code: "123456") { id } }`, rows: azNoCode}},
	"syncContacts":          {{op: `mutation { syncContacts(input: {phoneNumbers: ["+33612345678"]}) { syncedCount } }`, rows: azSelf}},
	"removeSyncedContacts":  {{op: `mutation { removeSyncedContacts }`, rows: azSelf}},
	"linkFacebookAccount":   {{op: `mutation($fb: String!) { linkFacebookAccount(accessToken: $fb) { facebookUserId } }`, rows: azSelf}},
	"unlinkFacebookAccount": {{op: `mutation { unlinkFacebookAccount }`, rows: azSelf}},

	// Subscriptions.
	"messageAdded": {{op: `subscription($conv: ID) { messageAdded(conversationId: $conv) { id text } }`,
		rows: "anonymous=4403 owner=OK participant=OK stranger=NOT_FOUND blocked=NOT_FOUND minor=NOT_FOUND"}},
	"messageRequestReceived": {{op: `subscription { messageRequestReceived { id lastMessage { text } } }`,
		rows: "anonymous=4403 owner=OK participant=OK stranger=OK blocked=OK minor=OK"}},
	"conversationUpdated": {{op: `subscription { conversationUpdated { id lastMessage { text } } }`,
		rows: "anonymous=4403 owner=OK participant=OK stranger=OK blocked=OK minor=OK"}},
	"changes": {{op: `subscription { changes { kind conversation { lastMessage { text } } message { text } request { lastMessage { text } } } }`,
		rows: "anonymous=4403 owner=OK participant=OK stranger=OK blocked=OK minor=OK"}},
}

// azSchemaFields lists every Query, Mutation and Subscription field.
func azSchemaFields(t testing.TB) map[string]string {
	t.Helper()
	schema := loadSchema(t)
	fields := map[string]string{}
	for _, def := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		for _, f := range def.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				fields[f.Name] = def.Name
			}
		}
	}
	return fields
}

// azRows parses "role=OUTCOME …" and checks that every role has one.
func azRows(t testing.TB, field, rows string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kv := range strings.Fields(rows) {
		role, want, _ := strings.Cut(kv, "=")
		out[role] = want
	}
	for _, role := range azRoles {
		if out[role] == "" {
			t.Errorf("authorization matrix: field %q has no row for role %q", field, role)
		}
	}
	if len(out) != len(azRoles) {
		t.Errorf("authorization matrix: field %q has rows for unknown roles: %s", field, rows)
	}
	return out
}

// Every field of the schema has a row for every role, and the table names
// no field the schema lacks.
func TestAuthzMatrixCoversSchema(t *testing.T) {
	fields := azSchemaFields(t)
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cases := azMatrix[name]
		if len(cases) == 0 {
			t.Errorf("%s.%s has no rows in the authorization matrix (resolvers/authz_test.go): add one per role", fields[name], name)
		}
		for _, c := range cases {
			azRows(t, name, c.rows)
		}
	}
	for name := range azMatrix {
		if _, ok := fields[name]; !ok {
			t.Errorf("the authorization matrix has rows for %q, which the schema lacks", name)
		}
	}
}

// azWorld is the small world of the matrix.
type azWorld struct {
	e         *env
	users     map[string]user // by role; "participant" is the friend
	requester user
	vars      map[string]any
	// secrets are texts, each with the tokens of the only users who may
	// see it.
	secrets map[string][]string
}

var azSeq int

func azSetup(t *testing.T, e *env) *azWorld {
	t.Helper()
	azSeq++
	w := &azWorld{e: e, users: map[string]user{}}
	owner, friend := e.register("owner"), e.register("friend")
	e.setPolicy(owner, "EVERYONE")
	e.friends(owner, friend)
	convSecret := fmt.Sprintf("conversation secret %d", azSeq)
	inConv := e.send(friend, owner, convSecret)
	requester := e.register("requester")
	reqSecret := fmt.Sprintf("request secret %d", azSeq)
	e.send(requester, owner, reqSecret)
	reqs := e.requests(owner)
	if len(reqs) != 1 {
		t.Fatalf("owner has requests %v, want one", reqs)
	}
	stranger := e.register("stranger")
	blocked := e.register("blocked")
	beforeBlock := e.send(blocked, owner, "before the block")
	e.block(owner, blocked)
	minor := e.registerAged("minor", 14)
	var video struct{ PublishVideo struct{ ID string } }
	e.must(owner.Token, `mutation { publishVideo(input: {caption: "friends only", url: "https://v.example/f.mp4", visibility: FRIENDS}) { id } }`, nil, &video)

	group := e.createGroup(owner, "az", friend)
	w.users = map[string]user{"owner": owner, "participant": friend, "stranger": stranger, "blocked": blocked, "minor": minor}
	w.requester = requester
	w.secrets = map[string][]string{
		convSecret: {owner.Token, friend.Token},
		reqSecret:  {owner.Token, requester.Token},
	}
	w.vars = map[string]any{"user": owner.ID, "owner": owner.Name, "conv": inConv.ConversationID,
		"msg": inConv.MessageID, "req": reqs[0], "video": video.PublishVideo.ID, "bconv": beforeBlock.ConversationID,
		"settings": azSettingsID(owner), "group": group, "inv": relay.ID(relay.KindInvitation, 1<<40)}
	return w
}

// azSettingsID is the global ID of u's privacy settings.
func azSettingsID(u user) string {
	_, id, _ := relay.Parse(u.ID)
	return relay.ID(relay.KindPrivacySettings, id)
}

// actor is who plays role for a case of kind.
func (w *azWorld) actor(role, kind string) user {
	if role == "participant" && kind == "req" {
		return w.requester
	}
	return w.users[role]
}

// varsFor picks the variables op declares, with fresh ones for this call.
func (w *azWorld) varsFor(op, role string, n int) map[string]any {
	all := map[string]any{"name": fmt.Sprintf("azn%d%d%s", azSeq, n, role[:2]),
		"phone": fmt.Sprintf("+3361234%04d", (azSeq*10+n)%10000), "fb": fmt.Sprintf("fb-%d-%d-%s", azSeq, n, role)}
	w.e.graph.add(all["fb"].(string), fmt.Sprintf("%d%d%d", azSeq, n, len(role)))
	for k, v := range w.vars {
		all[k] = v
	}
	return visVars(op, all)
}

// azOrder runs refusals first and successes last, the owner's very last,
// so that no success changes what a later role is tried against.
func azOrder(rows map[string]string) []string {
	order := append([]string(nil), azRoles...)
	rank := func(role string) int {
		switch {
		case role == "owner":
			return 2
		case rows[role] == "OK" || rows[role] == "NULL":
			return 1
		}
		return 0
	}
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	return order
}

func TestAuthzMatrix(t *testing.T) {
	fields := azSchemaFields(t)
	e := newEnv(t)
	names := make([]string, 0, len(azMatrix))
	for name := range azMatrix {
		names = append(names, name)
	}
	sort.Strings(names)
	tried := 0
	for _, name := range names {
		for i, c := range azMatrix[name] {
			rows := azRows(t, name, c.rows)
			w := azSetup(t, e)
			var accepted []string
			for n, role := range azOrder(rows) {
				what := fmt.Sprintf("%s #%d as %s", name, i+1, role)
				u := w.actor(role, c.kind)
				if role == "anonymous" {
					u = user{}
				}
				vars := w.varsFor(c.op, role, n)
				switch {
				case fields[name] != "Subscription":
					w.call(t, what, u, role, c, vars, rows[role])
				case rows[role] == "OK":
					accepted = append(accepted, role)
				default:
					w.refuseSubscription(t, what, u, c.op, vars, rows[role])
				}
				tried++
			}
			if len(accepted) > 0 {
				w.acceptSubscriptions(t, name, c, accepted)
			}
		}
	}
	t.Logf("authorization matrix: %d fields, %d rows tried", len(names), tried)
}

// call runs a query or mutation as u and checks the outcome.
func (w *azWorld) call(t *testing.T, what string, u user, role string, c azCase, vars map[string]any, want string) {
	t.Helper()
	res := w.e.do(u.Token, c.op, vars)
	visCheckErrors(t, what, res)
	w.noSecrets(t, what, u, string(res.Data))
	switch want {
	case "OK":
		if len(res.Errors) > 0 || visDataEmpty(res.Data) {
			t.Errorf("%s: want data, got %s %+v", what, res.Data, res.Errors)
		} else if c.check != nil {
			if problem := c.check(role, res.Data); problem != "" {
				t.Errorf("%s: %s", what, problem)
			}
		}
	case "NULL":
		if len(res.Errors) > 0 || !visDataEmpty(res.Data) {
			t.Errorf("%s: want null, got %s %+v", what, res.Data, res.Errors)
		}
	default:
		code, reason, _ := strings.Cut(want, "/")
		if res.code() != code || (reason != "" && res.reason() != reason) || !visDataEmpty(res.Data) {
			t.Errorf("%s: want %s, got data %s errors %+v", what, want, res.Data, res.Errors)
		}
		if code == "UNAUTHENTICATED" && res.Status != http.StatusOK {
			t.Errorf("%s: HTTP %d for an anonymous caller, want 200", what, res.Status)
		}
	}
}

// noSecrets fails when body shows u a text that is not theirs to see.
func (w *azWorld) noSecrets(t *testing.T, what string, u user, body string) {
	t.Helper()
	for secret, allowed := range w.secrets {
		if strings.Contains(body, secret) && !slices.Contains(allowed, u.Token) {
			t.Errorf("%s: the response shows %q: %s", what, secret, body)
		}
	}
}

// refuseSubscription opens a socket as u and checks that it is refused:
// closed at connection_init (4403) or the subscription answered with code.
func (w *azWorld) refuseSubscription(t *testing.T, what string, u user, op string, vars map[string]any, want string) {
	t.Helper()
	ws := w.e.dialWS(u.Token, wsOptions{})
	if want == "4403" {
		if code, _ := ws.closedWith(5 * time.Second); code != 4403 {
			t.Errorf("%s: close %d, want 4403", what, code)
		}
		return
	}
	ws.expect("connection_ack")
	ws.subscribe("1", op, vars)
	m := ws.next()
	var p struct {
		Errors []gqlError
		Data   json.RawMessage
	}
	_ = json.Unmarshal(m.Payload, &p)
	res := response{Status: http.StatusOK, Data: p.Data, Errors: p.Errors}
	visCheckErrors(t, what, res)
	w.noSecrets(t, what, u, string(m.Payload))
	if res.code() != want || !visDataEmpty(res.Data) {
		t.Errorf("%s: want %s, got %s %s", what, want, m.Type, m.Payload)
	}
	ws.close()
}

// acceptSubscriptions subscribes every role in roles at once, then makes
// something happen to the owner: the owner's subscription must deliver it,
// and no one else's may, but the friend's own message on messageAdded.
func (w *azWorld) acceptSubscriptions(t *testing.T, name string, c azCase, roles []string) {
	t.Helper()
	sockets := map[string]*wsClient{}
	for _, role := range roles {
		ws := w.e.connectWS(w.actor(role, c.kind), "")
		ws.subscribe("1", c.op, w.varsFor(c.op, role, 0))
		sockets[role] = ws
	}
	for role, ws := range sockets {
		select {
		case m := <-ws.msgs:
			t.Errorf("%s as %s: unexpected %s %s before anything happened", name, role, m.Type, m.Payload)
		case <-time.After(100 * time.Millisecond):
		}
	}
	owner, friend := w.users["owner"], w.users["participant"]
	mine := map[string]bool{"owner": true}
	switch name {
	case "messageAdded", "changes":
		w.e.send(friend, owner, "live to the owner")
		mine["participant"] = true // the sender's own message
	case "messageRequestReceived":
		w.e.send(w.e.register("newcomer"), owner, "live to the owner")
	case "conversationUpdated":
		w.e.send(owner, friend, "for the friend to read") // a read that moves
		w.e.must(friend.Token, `mutation($conv: ID!) { markConversationRead(conversationId: $conv) { id } }`,
			map[string]any{"conv": w.vars["conv"]}, nil)
	default:
		t.Fatalf("%s: no event to cause", name)
	}
	for role, ws := range sockets {
		what := fmt.Sprintf("%s as %s", name, role)
		if !mine[role] {
			select {
			case m := <-ws.msgs:
				t.Errorf("%s: got the owner's event: %s %s", what, m.Type, m.Payload)
			case <-time.After(300 * time.Millisecond):
			}
			ws.close()
			continue
		}
		m := ws.next()
		if m.Type != "next" || !strings.Contains(string(m.Payload), `"data"`) || strings.Contains(string(m.Payload), `"errors"`) {
			t.Errorf("%s: want an event, got %s %s", what, m.Type, m.Payload)
		}
		w.noSecrets(t, what, w.actor(role, c.kind), string(m.Payload))
		ws.close()
	}
}
