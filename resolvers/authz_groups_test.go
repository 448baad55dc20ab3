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

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"dmgraph/relay"
)

// The group authorization matrix: every root field that names a group, one
// of its messages or one of its invitations, tried by every kind of viewer
// of one group, with the outcome each must get. It sits beside the general
// matrix (authz_test.go), whose world has a single adult-owned group and
// only two viewers of it.
//
// The world (gaSetup): a 16-year-old owner (policy FRIENDS, so they may
// create groups) made a group with an admin, a plain member, a target (a
// plain member the operations act on), and two who are gone: the former
// member left, the removed member was removed. After they went, the group
// was renamed and a secret was sent. The plain member then asked to add the
// invited user, which, the creator being 16, waits for the owner's
// approval. The stranger knows none of them. Everyone, the invited user
// and the stranger included, is a friend of the newcomer, whom operations
// add.

var gaRoles = []string{"anonymous", "owner", "admin", "member", "former", "removed", "invited", "stranger"}

// gaCase is one operation and what each role gets from it: OK, NULL (data
// is null, no error), a code, or CODE/REASON; for a subscription, 4403 means
// the socket is closed at connection_init. Variables: $group, $msg (a
// message sent before the former and removed members went), $later (the
// secret sent after), $inv (the pending invitation), $target, $owner and
// $newcomer (users).
type gaCase struct {
	op   string
	rows string
	// check, for OK rows, looks past "some data came back": it returns what
	// is wrong with data for role, or "".
	check func(w *gaWorld, role string, data json.RawMessage) string
}

// Shorthands for the common rows.
const (
	// Members and former members read; the invited user and the stranger
	// learn nothing.
	gaReaders = "anonymous=UNAUTHENTICATED owner=OK admin=OK member=OK former=OK removed=OK invited=NOT_FOUND stranger=NOT_FOUND"
	// Only active members see what was sent after the others went.
	gaActive = "anonymous=UNAUTHENTICATED owner=OK admin=OK member=OK former=NOT_FOUND removed=NOT_FOUND invited=NOT_FOUND stranger=NOT_FOUND"
	// Only active members may write; the group is read-only to those gone.
	gaWriters = "anonymous=UNAUTHENTICATED owner=OK admin=OK member=OK former=FORBIDDEN/NOT_MEMBER removed=FORBIDDEN/NOT_MEMBER invited=NOT_FOUND stranger=NOT_FOUND"
	// The owner and admins manage.
	gaManagers = "anonymous=UNAUTHENTICATED owner=OK admin=OK member=FORBIDDEN/NOT_ADMIN former=FORBIDDEN/NOT_MEMBER removed=FORBIDDEN/NOT_MEMBER invited=NOT_FOUND stranger=NOT_FOUND"
	// The owner alone sets roles.
	gaOwnerOnly = "anonymous=UNAUTHENTICATED owner=OK admin=FORBIDDEN/NOT_ADMIN member=FORBIDDEN/NOT_ADMIN former=FORBIDDEN/NOT_MEMBER removed=FORBIDDEN/NOT_MEMBER invited=NOT_FOUND stranger=NOT_FOUND"
	// The creator alone answers invitations; to anyone else they don't exist.
	gaCreator = "anonymous=UNAUTHENTICATED owner=OK admin=NOT_FOUND member=NOT_FOUND former=NOT_FOUND removed=NOT_FOUND invited=NOT_FOUND stranger=NOT_FOUND"
	// Nobody: a node kind that node() doesn't resolve.
	gaNobody = "anonymous=UNAUTHENTICATED owner=NOT_FOUND admin=NOT_FOUND member=NOT_FOUND former=NOT_FOUND removed=NOT_FOUND invited=NOT_FOUND stranger=NOT_FOUND"
	// Anyone signed in.
	gaSignedIn = "anonymous=UNAUTHENTICATED owner=OK admin=OK member=OK former=OK removed=OK invited=OK stranger=OK"
)

// gaConversationFields selects every field of Conversation.
const gaConversationFields = `id kind title createdAt status viewerRole viewerCanSend viewerCannotSendReason unreadCount lastMessageAt
	messageRequest { id } participants { id }
	members(first: 50) { totalCount pageInfo { hasNextPage } edges { cursor role joinedAt node { id } } }
	pendingInvitations { id createdAt conversation { id } invitee { id } inviter { id } }
	lastMessage { text }
	readReceipts { user { id } readAt lastReadMessage { id } }
	messages(first: 100) { totalCount edges { node { id text createdAt clientMessageId videoUnavailable video { id }
		sender { id } conversation { id } readByCount systemEvent { kind title role member { id } } } } }`

var gaMatrix = map[string][]gaCase{
	"conversation": {
		{op: `query($group: ID!) { conversation(id: $group) { ` + gaConversationFields + ` } }`, rows: gaReaders, check: gaSeesGroup},
	},
	"node": {
		{op: `query($group: ID!) { node(id: $group) { id ... on Conversation { title lastMessage { text } } } }`, rows: gaReaders},
		{op: `query($msg: ID!) { node(id: $msg) { id ... on Message { text readByCount } } }`, rows: gaReaders},
		{op: `query($later: ID!) { node(id: $later) { id ... on Message { text } } }`, rows: gaActive},
		// A pending invitation is the creator's, and the member's who asked
		// for it; to anyone else it is missing.
		{op: `query($inv: ID!) { node(id: $inv) { id ... on GroupInvitation { invitee { id } } } }`,
			rows: "anonymous=UNAUTHENTICATED owner=OK admin=NOT_FOUND member=OK former=NOT_FOUND removed=NOT_FOUND invited=NOT_FOUND stranger=NOT_FOUND"},
	},
	"canAddToGroup": {{op: `query($group: ID!, $newcomer: ID!) { canAddToGroup(conversationId: $group, userId: $newcomer) { allowed requiresApproval reason } }`,
		rows: gaReaders, check: gaCanAdd}},

	"sendMessage": {{op: `mutation($group: ID!) { sendMessage(input: {conversationId: $group, text: "mine"}) { delivery message { text } } }`,
		rows: gaWriters}},
	"markConversationRead": {{op: `mutation($group: ID!) { markConversationRead(conversationId: $group) { id unreadCount lastMessage { text } } }`,
		rows: gaReaders}},
	"createGroup": {{op: `mutation($newcomer: ID!) { createGroup(input: {memberIds: [$newcomer]}) { conversation { id } } }`,
		rows: gaSignedIn}},
	"addGroupMembers": {{op: `mutation($group: ID!, $newcomer: ID!) { addGroupMembers(input: {conversationId: $group, userIds: [$newcomer]}) {
		added { id } invitations { invitee { id } } } }`, rows: gaWriters, check: gaAdded}},
	"removeGroupMember": {
		{op: `mutation($group: ID!, $target: ID!) { removeGroupMember(conversationId: $group, userId: $target) { removedUserId } }`, rows: gaManagers},
		// Nobody removes the owner; an admin is told what a member is.
		{op: `mutation($group: ID!, $owner: ID!) { removeGroupMember(conversationId: $group, userId: $owner) { removedUserId } }`,
			rows: "anonymous=UNAUTHENTICATED owner=BAD_USER_INPUT/SELF admin=FORBIDDEN/NOT_ADMIN member=FORBIDDEN/NOT_ADMIN former=FORBIDDEN/NOT_MEMBER removed=FORBIDDEN/NOT_MEMBER invited=NOT_FOUND stranger=NOT_FOUND"},
	},
	"leaveGroup":               {{op: `mutation($group: ID!) { leaveGroup(conversationId: $group) { status viewerRole } }`, rows: gaWriters}},
	"renameGroup":              {{op: `mutation($group: ID!) { renameGroup(conversationId: $group, title: "renamed again") { title } }`, rows: gaManagers}},
	"setGroupMemberRole":       {{op: `mutation($group: ID!, $target: ID!) { setGroupMemberRole(conversationId: $group, userId: $target, role: ADMIN) { id } }`, rows: gaOwnerOnly}},
	"respondToGroupInvitation": {{op: `mutation($inv: ID!) { respondToGroupInvitation(invitationId: $inv, accept: true) { removedInvitationId } }`, rows: gaCreator}},

	// Where a viewer's own lists could carry the group: noSecrets checks them.
	"conversations": {{op: `{ conversations(first: 50) { edges { node { id title lastMessage { text } } } } }`, rows: gaSignedIn}},
	"sync": {{op: `{ sync(since: "czow", first: 500) { changes { kind conversation { title lastMessage { text } }
		message { text } invitation { invitee { id } } } } }`, rows: gaSignedIn}},

	// Former and removed members may subscribe (the group is theirs to read)
	// but nothing sent after they went reaches them.
	"messageAdded": {{op: `subscription($group: ID) { messageAdded(conversationId: $group) { id text } }`,
		rows: "anonymous=4403 owner=OK admin=OK member=OK former=OK removed=OK invited=NOT_FOUND stranger=NOT_FOUND"}},
}

// gaSeesGroup checks the group as each reader sees it: members see it as it
// is, those gone see it read-only, with no members, as of when they went.
func gaSeesGroup(w *gaWorld, role string, data json.RawMessage) string {
	var out struct {
		Conversation struct {
			Kind, Status, Title string
			ViewerRole          *string
			ViewerCanSend       bool
			Members             struct{ TotalCount int }
			Participants        []struct{ ID string }
			PendingInvitations  []struct{ Invitee struct{ ID string } }
			Messages            struct {
				Edges []struct{ Node struct{ Text *string } }
			}
		}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return err.Error()
	}
	c := out.Conversation
	var texts []string
	for _, edge := range c.Messages.Edges {
		if edge.Node.Text != nil {
			texts = append(texts, *edge.Node.Text)
		}
	}
	if c.Kind != "GROUP" || !slices.Contains(texts, w.before) {
		return fmt.Sprintf("kind %s, texts %q: want a GROUP showing %q", c.Kind, texts, w.before)
	}
	wantInvitations := 0
	if role == "owner" {
		wantInvitations = 1
	}
	if len(c.PendingInvitations) != wantInvitations {
		return fmt.Sprintf("pendingInvitations %+v, want %d", c.PendingInvitations, wantInvitations)
	}
	if role == "former" || role == "removed" {
		if c.Title != w.title {
			return fmt.Sprintf("title %q, want %q, as when they went", c.Title, w.title)
		}
		if c.Status != "LEFT" || c.ViewerRole != nil || c.ViewerCanSend || c.Members.TotalCount != 0 || len(c.Participants) != 0 {
			return fmt.Sprintf("%+v: want LEFT, no role, no sending, no members", c)
		}
		return ""
	}
	wantRole := map[string]string{"owner": "OWNER", "admin": "ADMIN", "member": "MEMBER"}[role]
	if c.Title != w.renamed {
		return fmt.Sprintf("title %q, want %q", c.Title, w.renamed)
	}
	if c.Status != "ACTIVE" || c.ViewerRole == nil || *c.ViewerRole != wantRole || !c.ViewerCanSend || c.Members.TotalCount != 4 ||
		!slices.Contains(texts, w.later) {
		return fmt.Sprintf("%+v: want ACTIVE as %s, sending, 4 members, and %q", c, wantRole, w.later)
	}
	return ""
}

// gaCanAdd checks canAddToGroup's answer: the creator adds, other members
// ask the creator, and those gone are told why not.
func gaCanAdd(_ *gaWorld, role string, data json.RawMessage) string {
	var out struct {
		CanAddToGroup struct {
			Allowed, RequiresApproval bool
			Reason                    *string
		}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return err.Error()
	}
	got := out.CanAddToGroup
	reason := ""
	if got.Reason != nil {
		reason = *got.Reason
	}
	want := map[string]string{"owner": "true false ", "admin": "true true ", "member": "true true ",
		"former": "false false NOT_MEMBER", "removed": "false false NOT_MEMBER"}[role]
	if s := fmt.Sprintf("%v %v %s", got.Allowed, got.RequiresApproval, reason); s != want {
		return fmt.Sprintf("allowed, requiresApproval, reason = %q, want %q", s, want)
	}
	return ""
}

// gaAdded checks that the creator's additions join at once and others'
// wait for the creator.
func gaAdded(w *gaWorld, role string, data json.RawMessage) string {
	var out struct {
		AddGroupMembers struct {
			Added       []struct{ ID string }
			Invitations []struct{ Invitee struct{ ID string } }
		}
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return err.Error()
	}
	a := out.AddGroupMembers
	newcomer := w.vars["newcomer"]
	if role == "owner" && (len(a.Added) != 1 || a.Added[0].ID != newcomer || len(a.Invitations) != 0) {
		return fmt.Sprintf("%+v: want the newcomer added", a)
	}
	if role != "owner" && (len(a.Added) != 0 || len(a.Invitations) != 1 || a.Invitations[0].Invitee.ID != newcomer) {
		return fmt.Sprintf("%+v: want the newcomer invited", a)
	}
	return ""
}

// gaRows parses "role=OUTCOME …" and checks that every role has one.
func gaRows(t testing.TB, field, rows string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kv := range strings.Fields(rows) {
		role, want, _ := strings.Cut(kv, "=")
		out[role] = want
	}
	for _, role := range gaRoles {
		if out[role] == "" {
			t.Errorf("group authorization matrix: field %q has no row for role %q", field, role)
		}
	}
	if len(out) != len(gaRoles) {
		t.Errorf("group authorization matrix: field %q has rows for unknown roles: %s", field, rows)
	}
	return out
}

// gaIDArguments name what a root field is given that can be a group, one of
// its messages or one of its invitations.
var gaIDArguments = []string{"conversationId", "messageId", "invitationId"}

// gaTakesGroup reports whether a root field can be given a group, one of its
// messages or one of its invitations: its name says group, it has an
// argument (or an input field) of gaIDArguments, or it looks up a node or
// conversation by ID.
func gaTakesGroup(schema *ast.Schema, f *ast.FieldDefinition) bool {
	if strings.Contains(strings.ToLower(f.Name), "group") {
		return true
	}
	for _, arg := range f.Arguments {
		if slices.Contains(gaIDArguments, arg.Name) {
			return true
		}
		if in := schema.Types[arg.Type.Name()]; in != nil && in.Kind == ast.InputObject {
			for _, field := range in.Fields {
				if slices.Contains(gaIDArguments, field.Name) {
					return true
				}
			}
		}
		if arg.Name == "id" && slices.Contains([]string{"Node", "Conversation", "Message", "GroupInvitation"}, f.Type.Name()) {
			return true
		}
	}
	return false
}

// gaCoveredTypes are the types whose every field some row must select.
var gaCoveredTypes = []string{"Conversation", "Message", "GroupInvitation"}

// Every root field that takes a group has rows for every role; every row
// names a root field and is a valid operation; and the rows, together,
// select every field of gaCoveredTypes.
func TestAuthzGroupMatrixCoversSchema(t *testing.T) {
	schema := loadSchema(t)
	fields := azSchemaFields(t)
	for _, def := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		for _, f := range def.Fields {
			if gaTakesGroup(schema, f) && len(gaMatrix[f.Name]) == 0 {
				t.Errorf("%s.%s can be given a group but has no rows in the group authorization matrix (resolvers/authz_groups_test.go): add one per role",
					def.Name, f.Name)
			}
		}
	}
	selected := map[string]bool{}
	for name, cases := range gaMatrix {
		if _, ok := fields[name]; !ok {
			t.Errorf("the group authorization matrix has rows for %q, which the schema lacks", name)
		}
		for i, c := range cases {
			gaRows(t, name, c.rows)
			doc, err := gqlparser.LoadQuery(schema, c.op)
			if err != nil {
				t.Errorf("%s #%d: %v", name, i+1, err)
				continue
			}
			for _, op := range doc.Operations {
				gaSelected(op.SelectionSet, selected)
			}
		}
	}
	for _, typ := range gaCoveredTypes {
		for _, f := range schema.Types[typ].Fields {
			if !strings.HasPrefix(f.Name, "__") && !selected[typ+"."+f.Name] {
				t.Errorf("no row of the group authorization matrix selects %s.%s", typ, f.Name)
			}
		}
	}
}

// gaSelected adds every Type.field that set selects, at any depth, to seen.
func gaSelected(set ast.SelectionSet, seen map[string]bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.ObjectDefinition != nil {
				seen[s.ObjectDefinition.Name+"."+s.Name] = true
			}
			gaSelected(s.SelectionSet, seen)
		case *ast.InlineFragment:
			gaSelected(s.SelectionSet, seen)
		case *ast.FragmentSpread:
			gaSelected(s.Definition.SelectionSet, seen)
		}
	}
}

// gaWorld is the world of the group matrix.
type gaWorld struct {
	e     *env
	users map[string]user // by role
	vars  map[string]any
	// before is a text sent while everyone was in; later one sent after
	// the former and removed members went. The group was titled title, and
	// renamed after they went.
	before, later, title, renamed string
	// secrets are texts, each with the roles of the only users who may see
	// it.
	secrets map[string][]string
	// missing are variables naming nothing, for the not-found probes.
	missing map[string]any
}

var gaSeq int

func gaSetup(t *testing.T, e *env) *gaWorld {
	t.Helper()
	gaSeq++
	owner := e.registerAged("teen", 16)
	e.setPolicy(owner, "FRIENDS")
	admin, member, target := e.register("admin"), e.register("member"), e.register("target")
	former, removed := e.register("former"), e.register("removed")
	invited, stranger, newcomer := e.register("invited"), e.register("stranger"), e.register("newcomer")
	for _, u := range []user{admin, member, target, former, removed} {
		e.friends(owner, u)
	}
	e.friends(member, invited)
	for _, u := range []user{owner, admin, member, former, removed, invited, stranger} {
		e.friends(u, newcomer)
	}
	w := &gaWorld{e: e, users: map[string]user{"owner": owner, "admin": admin, "member": member,
		"former": former, "removed": removed, "invited": invited, "stranger": stranger}}
	w.title = fmt.Sprintf("ga%d original title", gaSeq)
	group := e.createGroup(owner, w.title, admin, member, target, former, removed)
	vars := map[string]any{"c": group, "u": admin.ID}
	e.must(owner.Token, `mutation($c: ID!, $u: ID!) { setGroupMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }`, vars, nil)
	w.before = fmt.Sprintf("ga%d before anyone went", gaSeq)
	msg := e.sendToGroup(member, group, w.before)

	e.must(former.Token, `mutation($c: ID!) { leaveGroup(conversationId: $c) { id } }`, vars, nil)
	vars["u"] = removed.ID
	e.must(owner.Token, `mutation($c: ID!, $u: ID!) { removeGroupMember(conversationId: $c, userId: $u) { removedUserId } }`, vars, nil)
	w.renamed = fmt.Sprintf("ga%d renamed after they went", gaSeq)
	vars["t"] = w.renamed
	e.must(admin.Token, `mutation($c: ID!, $t: String) { renameGroup(conversationId: $c, title: $t) { id } }`, vars, nil)
	w.later = fmt.Sprintf("ga%d sent after they went", gaSeq)
	later := e.sendToGroup(member, group, w.later)

	var add struct {
		AddGroupMembers struct{ Invitations []struct{ ID string } }
	}
	e.must(member.Token, addMembersMutation, map[string]any{"c": group, "ids": []string{invited.ID}}, &add)
	if len(add.AddGroupMembers.Invitations) != 1 {
		t.Fatalf("adding the invited user: %+v, want one invitation", add)
	}

	active := []string{"owner", "admin", "member"}
	readers := append(slices.Clone(active), "former", "removed")
	w.secrets = map[string][]string{w.title: readers, w.before: readers, w.renamed: active, w.later: active}
	w.vars = map[string]any{"group": group, "msg": msg.MessageID, "later": later.MessageID,
		"inv": add.AddGroupMembers.Invitations[0].ID, "target": target.ID, "owner": owner.ID, "newcomer": newcomer.ID}
	w.missing = map[string]any{"group": relay.ID(relay.KindConversation, 1<<40), "msg": relay.ID(relay.KindMessage, 1<<40),
		"later": relay.ID(relay.KindMessage, 1<<40+1), "inv": relay.ID(relay.KindInvitation, 1<<40)}
	return w
}

// varsFor picks the variables op declares.
func (w *gaWorld) varsFor(op string) map[string]any { return visVars(op, w.vars) }

// gaOrder runs refusals first, so that they are all tried against the world
// as set up.
func gaOrder(rows map[string]string) []string {
	order := slices.Clone(gaRoles)
	sort.SliceStable(order, func(i, j int) bool {
		return rows[order[i]] != "OK" && rows[order[j]] == "OK"
	})
	return order
}

func TestAuthzGroupMatrix(t *testing.T) {
	fields := azSchemaFields(t)
	e := newEnv(t)
	names := make([]string, 0, len(gaMatrix))
	for name := range gaMatrix {
		names = append(names, name)
	}
	sort.Strings(names)
	tried := 0
	for _, name := range names {
		for i, c := range gaMatrix[name] {
			rows := gaRows(t, name, c.rows)
			w := gaSetup(t, e)
			var accepted []string
			for _, role := range gaOrder(rows) {
				what := fmt.Sprintf("%s #%d as %s", name, i+1, role)
				tried++
				switch {
				case fields[name] == "Subscription" && rows[role] == "OK":
					accepted = append(accepted, role)
				case fields[name] == "Subscription":
					w.refuseSubscription(t, what, role, c.op, rows[role])
				case fields[name] == "Mutation" && rows[role] == "OK":
					// Each success in a world of its own: one member's
					// leave or removal changes what the next is tried on.
					gaSetup(t, e).call(t, what, role, c, "OK")
				default:
					w.call(t, what, role, c, rows[role])
				}
			}
			if len(accepted) > 0 {
				w.acceptSubscriptions(t, name, c, accepted)
			}
		}
	}
	t.Logf("group authorization matrix: %d fields, %d rows tried", len(names), tried)
}

// call runs a query or mutation as role and checks the outcome.
func (w *gaWorld) call(t *testing.T, what, role string, c gaCase, want string) {
	t.Helper()
	u := w.users[role]
	res := w.e.do(u.Token, c.op, w.varsFor(c.op))
	visCheckErrors(t, what, res)
	w.noSecrets(t, what, role, string(res.Data))
	switch want {
	case "OK":
		if len(res.Errors) > 0 || visDataEmpty(res.Data) {
			t.Errorf("%s: want data, got %s %+v", what, res.Data, res.Errors)
		} else if c.check != nil {
			if problem := c.check(w, role, res.Data); problem != "" {
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
		if code == "NOT_FOUND" && role != "anonymous" {
			w.sameAsMissing(t, what, u, c.op, res)
		}
	}
}

// sameAsMissing checks that a NOT_FOUND tells nothing: the same operation
// about IDs that name nothing gets the very same errors.
func (w *gaWorld) sameAsMissing(t *testing.T, what string, u user, op string, res response) {
	t.Helper()
	vars := w.varsFor(op)
	for k, v := range visVars(op, w.missing) {
		vars[k] = v
	}
	missing := w.e.do(u.Token, op, vars)
	got, _ := json.Marshal(res.Errors)
	want, _ := json.Marshal(missing.Errors)
	if string(got) != string(want) {
		t.Errorf("%s: NOT_FOUND differs from a missing ID's:\n got  %s\n want %s", what, got, want)
	}
}

// noSecrets fails when body shows role a text that is not theirs to see.
func (w *gaWorld) noSecrets(t *testing.T, what, role, body string) {
	t.Helper()
	for secret, allowed := range w.secrets {
		if strings.Contains(body, secret) && !slices.Contains(allowed, role) {
			t.Errorf("%s: the response shows %q: %s", what, secret, body)
		}
	}
}

// refuseSubscription opens a socket as role and checks that it is refused:
// closed at connection_init (4403) or the subscription answered with code.
func (w *gaWorld) refuseSubscription(t *testing.T, what, role, op, want string) {
	t.Helper()
	ws := w.e.dialWS(w.users[role].Token, wsOptions{})
	defer ws.close()
	if want == "4403" {
		if code, _ := ws.closedWith(5 * time.Second); code != 4403 {
			t.Errorf("%s: close %d, want 4403", what, code)
		}
		return
	}
	ws.expect("connection_ack")
	ws.subscribe("1", op, w.varsFor(op))
	res := ws.refused("1")
	visCheckErrors(t, what, res)
	if code, reason, _ := strings.Cut(want, "/"); res.code() != code || (reason != "" && res.reason() != reason) {
		t.Errorf("%s: want %s, got %+v", what, want, res.Errors)
	}
}

// acceptSubscriptions subscribes every role in roles at once, then the
// member sends a text: the active members get it, and those gone get
// nothing.
func (w *gaWorld) acceptSubscriptions(t *testing.T, name string, c gaCase, roles []string) {
	t.Helper()
	sockets := map[string]*wsClient{}
	for _, role := range roles {
		ws := w.e.connectWS(w.users[role], "")
		defer ws.close()
		ws.subscribe("1", c.op, w.varsFor(c.op))
		sockets[role] = ws
	}
	for _, ws := range sockets {
		ws.quiet(100 * time.Millisecond)
	}
	live := fmt.Sprintf("ga%d live after they went", gaSeq)
	w.secrets[live] = []string{"owner", "admin", "member"}
	w.e.sendToGroup(w.users["member"], w.vars["group"].(string), live)
	for _, role := range roles {
		ws, what := sockets[role], fmt.Sprintf("%s as %s", name, role)
		if !slices.Contains(w.secrets[live], role) {
			select {
			case m := <-ws.msgs:
				t.Errorf("%s: got %s %s after leaving", what, m.Type, m.Payload)
			case <-time.After(300 * time.Millisecond):
			}
			continue
		}
		m := ws.next()
		if m.Type != "next" || !strings.Contains(string(m.Payload), live) {
			t.Errorf("%s: want the live text, got %s %s", what, m.Type, m.Payload)
		}
	}
}
