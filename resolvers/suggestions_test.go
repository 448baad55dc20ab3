package resolvers_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"dmgraph/phone"
)

// registerAged registers a user who turned years old a month ago, by the
// server's clock.
func (e *env) registerAged(name string, years int) user {
	e.t.Helper()
	birth := e.clock.now().UTC().AddDate(-years, -1, 0).Format("2006-01-02")
	name = fmt.Sprintf("%s%d", name, userSeq.Add(1))
	var out struct {
		Register struct {
			Token string
			User  struct{ ID string }
		}
	}
	e.must("", `mutation($u: String!, $b: Date!) { register(input: {username: $u, password: "correct horse", displayName: $u, birthDate: $b}) { token user { id } } }`,
		map[string]any{"u": name, "b": birth}, &out)
	return user{ID: out.Register.User.ID, Name: name, Token: out.Register.Token}
}

// setPhone sets and verifies u's phone number.
func (e *env) setPhone(u user, number, region string) {
	e.t.Helper()
	e.verifyPhone(u, e.requestCode(u, number, region))
}

const setPhoneMutation = `mutation($n: String!, $r: String) { setPhoneNumber(input: {phoneNumber: $n, region: $r}) { expiresAt } }`

// requestCode sets u's phone number and returns the code that was texted.
func (e *env) requestCode(u user, number, region string) string {
	e.t.Helper()
	e164, err := phone.Normalize(number, region)
	if err != nil {
		e.t.Fatal(err)
	}
	before := e.sms.last(e164)
	e.must(u.Token, setPhoneMutation, map[string]any{"n": number, "r": region}, nil)
	text := e.sms.last(e164)
	code := phoneCodeRE.FindString(text)
	if text == before || code == "" {
		e.t.Fatalf("no new code was texted to %s: %q", e164, text)
	}
	return code
}

var phoneCodeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

const verifyPhoneMutation = `mutation($c: String!) { verifyPhoneNumber(code: $c) { id } }`

func (e *env) verifyPhone(u user, code string) {
	e.t.Helper()
	e.must(u.Token, verifyPhoneMutation, map[string]any{"c": code}, nil)
}

type syncCounts struct{ SyncedCount, MatchedCount, InvalidCount int }

func (e *env) syncContacts(u user, region string, numbers ...string) syncCounts {
	e.t.Helper()
	var out struct{ SyncContacts syncCounts }
	e.must(u.Token, `mutation($n: [String!]!, $r: String) { syncContacts(input: {phoneNumbers: $n, region: $r}) { syncedCount matchedCount invalidCount } }`,
		map[string]any{"n": numbers, "r": region}, &out)
	return out.SyncContacts
}

type suggestion struct {
	IsSuggestedFriend bool
	SuggestionReasons []string
}

func (e *env) suggestionOf(viewer, other user) suggestion {
	e.t.Helper()
	var out struct{ User suggestion }
	e.must(viewer.Token, `query($id: ID) { user(id: $id) { isSuggestedFriend suggestionReasons } }`,
		map[string]any{"id": other.ID}, &out)
	return out.User
}

func (e *env) suggestedFriends(viewer user) []string {
	e.t.Helper()
	var out struct {
		SuggestedFriends struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
	}
	e.must(viewer.Token, `{ suggestedFriends { totalCount edges { node { id } } } }`, nil, &out)
	ids := make([]string, len(out.SuggestedFriends.Edges))
	for i, edge := range out.SuggestedFriends.Edges {
		ids[i] = edge.Node.ID
	}
	if out.SuggestedFriends.TotalCount != len(ids) {
		e.t.Fatalf("suggestedFriends totalCount %d, %d edges", out.SuggestedFriends.TotalCount, len(ids))
	}
	return ids
}

func TestContactsSyncCountsAndSuggestions(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	e.setPhone(bob, "+33 6 12 34 56 78", "")
	e.setPhone(carol, "(415) 555-2671", "US")

	got := e.syncContacts(alice, "FR",
		"06 12 34 56 78",  // bob, national format
		"+33612345678",    // bob again: one distinct number
		"+1 415-555-2671", // carol
		"+44 20 7946 0958",
		"not a number", "12")
	if want := (syncCounts{SyncedCount: 3, MatchedCount: 2, InvalidCount: 2}); got != want {
		t.Fatalf("sync counts %+v, want %+v", got, want)
	}
	if s := e.suggestionOf(alice, bob); !s.IsSuggestedFriend || strings.Join(s.SuggestionReasons, ",") != "CONTACTS" {
		t.Fatalf("bob as seen by alice: %+v, want suggested by CONTACTS", s)
	}
	// Suggestion is one-way: bob has not synced alice.
	if s := e.suggestionOf(bob, alice); s.IsSuggestedFriend || len(s.SuggestionReasons) != 0 {
		t.Fatalf("alice as seen by bob: %+v, want not suggested", s)
	}
	if ids := e.suggestedFriends(alice); len(ids) != 2 {
		t.Fatalf("alice's suggestions %v, want bob and carol", ids)
	}
	// Followed and blocked users leave the list.
	e.follow(alice, bob)
	e.block(carol, alice)
	if ids := e.suggestedFriends(alice); len(ids) != 0 {
		t.Fatalf("alice's suggestions after follow/block %v, want none", ids)
	}

	// A new sync replaces the set; removing forgets it.
	if got := e.syncContacts(alice, "", "+1 415 555 2671"); got.SyncedCount != 1 || got.MatchedCount != 1 {
		t.Fatalf("resync counts %+v", got)
	}
	if s := e.suggestionOf(alice, bob); s.IsSuggestedFriend {
		t.Fatal("bob is still suggested after a sync without his number")
	}
	e.must(alice.Token, `mutation { removeSyncedContacts }`, nil, nil)
	if s := e.suggestionOf(alice, carol); s.IsSuggestedFriend {
		t.Fatal("carol is still suggested after removeSyncedContacts")
	}
}

func TestContactsLimits(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	many := make([]string, 5001)
	for i := range many {
		many[i] = fmt.Sprintf("+3361234%04d", i)
	}
	e.fail(alice.Token, `mutation($n: [String!]!) { syncContacts(input: {phoneNumbers: $n}) { syncedCount } }`,
		map[string]any{"n": many}, "BAD_USER_INPUT", "")
	e.fail(alice.Token, `mutation { setPhoneNumber(input: {phoneNumber: "12345"}) { expiresAt } }`, nil, "BAD_USER_INPUT", "")
	e.fail(alice.Token, `mutation { syncContacts(input: {phoneNumbers: ["+33612345678"], region: "ZZ"}) { syncedCount } }`, nil, "BAD_USER_INPUT", "")
	e.fail(alice.Token, `mutation { setPhoneNumber(input: {phoneNumber: "06 12 34 56 78"}) { expiresAt } }`, nil, "BAD_USER_INPUT", "")
	// A number on another account is no conflict: see TestSec02SetPhoneNumberAnswersAlike.
	e.setPhone(alice, "+33612345678", "")
	e.setPhone(bob, "06 12 34 56 78", "FR")
}

// No plain phone number reaches the database, in any table or column.
func TestContactsStoreNoPlainNumbers(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.setPhone(bob, "+33612345678", "")
	e.syncContacts(alice, "US", "+33 6 12 34 56 78", "(415) 555-2671", "+447946000958")
	for _, digits := range []string{"612345678", "4155552671", "7946000958"} {
		if where := e.store.FindText(t.Context(), digits); where != "" {
			t.Errorf("the digits %s are stored in plain text in %s", digits, where)
		}
	}
}

func TestSuggestedFriendsPolicy(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	// bob keeps the default SUGGESTED_FRIENDS and has alice in his contacts.
	e.setPhone(alice, "+33611111111", "")
	e.syncContacts(bob, "", "+33611111111")

	var perm struct {
		CanMessage struct {
			Allowed          bool
			Delivery, Reason *string
		}
	}
	e.must(alice.Token, `query($id: ID!) { canMessage(userId: $id) { allowed delivery reason } }`, map[string]any{"id": bob.ID}, &perm)
	if !perm.CanMessage.Allowed || perm.CanMessage.Delivery == nil || *perm.CanMessage.Delivery != "REQUEST" {
		t.Fatalf("canMessage alice→bob = %+v, want allowed REQUEST", perm)
	}
	if s := e.send(alice, bob, "hi, it's alice"); s.Delivery != "REQUEST" {
		t.Fatalf("suggested stranger: delivery %s, want REQUEST", s.Delivery)
	}
	e.sendFails(carol, bob, "hi", "FORBIDDEN", "FRIENDS_AND_SUGGESTED_ONLY")
	// The question is "is S suggested to R": bob is not suggested to carol, so
	// bob may not write to carol either, and alice's side doesn't matter.
	e.sendFails(bob, carol, "hi", "FORBIDDEN", "FRIENDS_AND_SUGGESTED_ONLY")
	// With FRIENDS, suggestions don't count.
	e.setPolicy(bob, "FRIENDS")
	e.must(alice.Token, `query($id: ID!) { canMessage(userId: $id) { allowed delivery reason } }`, map[string]any{"id": bob.ID}, &perm)
	if perm.CanMessage.Allowed {
		// alice already has a pending request open with bob; rules 4/5 still apply
		// because bob never accepted.
		t.Fatalf("canMessage under FRIENDS = %+v, want refused", perm)
	}
}

func TestAgeRules(t *testing.T) {
	e := newEnv(t)
	adult, teen16, teen14 := e.registerAged("adult", 30), e.registerAged("older", 16), e.registerAged("young", 14)
	e.friends(adult, teen14)
	e.friends(adult, teen16)

	policyOf := func(u user) string {
		var out struct {
			PrivacySettings struct{ DirectMessagePolicy string }
		}
		e.must(u.Token, `{ privacySettings { directMessagePolicy } }`, nil, &out)
		return out.PrivacySettings.DirectMessagePolicy
	}
	if p := policyOf(teen14); p != "NO_ONE" {
		t.Fatalf("13-15 starts with %s, want NO_ONE", p)
	}
	if p := policyOf(teen16); p != "NO_ONE" {
		t.Fatalf("16-17 starts with %s, want NO_ONE", p)
	}
	if p := policyOf(adult); p != "SUGGESTED_FRIENDS" {
		t.Fatalf("18+ starts with %s, want SUGGESTED_FRIENDS", p)
	}
	update := `mutation($p: DirectMessagePolicy!) { updatePrivacySettings(input: {directMessagePolicy: $p}) { directMessagePolicy } }`
	e.fail(teen14.Token, update, map[string]any{"p": "FRIENDS"}, "FORBIDDEN", "AGE_RESTRICTED")
	e.fail(teen16.Token, update, map[string]any{"p": "EVERYONE"}, "FORBIDDEN", "AGE_RESTRICTED")
	e.setPolicy(teen16, "FRIENDS")

	// 13–15: nobody can message them, they cannot send, even to friends.
	// Others are refused as by NO_ONE, never told an age (issue 14, item 5).
	e.sendFails(adult, teen14, "hi", "FORBIDDEN", "RECIPIENT_ALLOWS_NO_ONE")
	e.sendFails(teen14, adult, "hi", "FORBIDDEN", "AGE_RESTRICTED")
	var perm struct {
		CanMessage struct {
			Allowed bool
			Reason  *string
		}
	}
	e.must(adult.Token, `query($id: ID!) { canMessage(userId: $id) { allowed reason } }`, map[string]any{"id": teen14.ID}, &perm)
	if perm.CanMessage.Allowed || perm.CanMessage.Reason == nil || *perm.CanMessage.Reason != "RECIPIENT_ALLOWS_NO_ONE" {
		t.Fatalf("canMessage to 14-year-old = %+v", perm)
	}
	// 16–17: friends may write; strangers may not; they may send.
	if s := e.send(adult, teen16, "hi"); s.Delivery != "INBOX" {
		t.Fatalf("friend → 16-17: %s", s.Delivery)
	}
	stranger := e.register("stranger")
	e.sendFails(stranger, teen16, "hi", "FORBIDDEN", "FRIENDS_ONLY")
	e.setPolicy(stranger, "EVERYONE")
	if s := e.send(teen16, stranger, "hello"); s.Delivery != "REQUEST" {
		t.Fatalf("16-17 → stranger: %s, want REQUEST", s.Delivery)
	}
	// With SUGGESTED_FRIENDS, a suggested stranger may write; others may not.
	e.setPolicy(teen16, "SUGGESTED_FRIENDS")
	suggested, other := e.register("suggested"), e.register("other")
	e.setPhone(suggested, "+33622222222", "")
	e.syncContacts(teen16, "", "+33622222222")
	if s := e.send(suggested, teen16, "hi"); s.Delivery != "REQUEST" {
		t.Fatalf("suggested → 16-17: %s, want REQUEST", s.Delivery)
	}
	e.sendFails(other, teen16, "hi", "FORBIDDEN", "FRIENDS_AND_SUGGESTED_ONLY")
}
