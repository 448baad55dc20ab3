package resolvers_test

import (
	"strings"
	"testing"
)

// Hostile strings in every string input: NUL bytes are refused as
// BAD_USER_INPUT, huge strings too, and nothing is stored.
func TestHostileStringInputs(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	e.setPolicy(bob, "EVERYONE")
	e.send(e.register("stranger"), bob, "hello")
	reqID := e.requests(bob)[0]

	ops := []struct {
		name, token, query string
		vars               func(s string) map[string]any
	}{
		{"register username", "", `mutation($s: String!) { register(input: {username: $s, password: "correct horse", displayName: "x", birthDate: "1990-01-01"}) { token } }`,
			func(s string) map[string]any { return map[string]any{"s": s} }},
		{"register displayName", "", `mutation($s: String!) { register(input: {username: "hostile_name", password: "correct horse", displayName: $s, birthDate: "1990-01-01"}) { token } }`,
			func(s string) map[string]any { return map[string]any{"s": s} }},
		{"message text", alice.Token, `mutation($s: String!, $to: ID!) { sendMessage(input: {recipientId: $to, text: $s}) { delivery } }`,
			func(s string) map[string]any { return map[string]any{"s": s, "to": bob.ID} }},
		{"clientMessageId", alice.Token, `mutation($s: String!, $to: ID!) { sendMessage(input: {recipientId: $to, text: "ok", clientMessageId: $s}) { delivery } }`,
			func(s string) map[string]any { return map[string]any{"s": s, "to": bob.ID} }},
		{"video caption", alice.Token, `mutation($s: String!) { publishVideo(input: {caption: $s, url: "https://v.example/a.mp4"}) { id } }`,
			func(s string) map[string]any { return map[string]any{"s": s} }},
		{"video url", alice.Token, `mutation($s: String!) { publishVideo(input: {caption: "c", url: $s}) { id } }`,
			func(s string) map[string]any { return map[string]any{"s": "https://v.example/" + s} }},
		{"report details", bob.Token, `mutation($s: String!, $r: ID!) { reportMessageRequest(input: {requestId: $r, reason: OTHER, details: $s}) { report { id } } }`,
			func(s string) map[string]any { return map[string]any{"s": s, "r": reqID} }},
		{"phone number", alice.Token, `mutation($s: String!) { setPhoneNumber(input: {phoneNumber: $s, region: "FR"}) { expiresAt } }`,
			func(s string) map[string]any { return map[string]any{"s": "+336123" + s} }},
		{"username lookup", alice.Token, `query($s: String!) { user(username: $s) { id } }`,
			func(s string) map[string]any { return map[string]any{"s": s} }},
	}
	for _, op := range ops {
		for _, bad := range []struct{ what, s string }{
			{"NUL", "bad\x00input"},
			{"10 MB", strings.Repeat("x", 10<<20)},
		} {
			res := e.do(op.token, op.query, op.vars(bad.s))
			want := "BAD_USER_INPUT"
			if op.name == "username lookup" && bad.what == "NUL" {
				want = "NOT_FOUND" // a name that can't exist is simply not found
			}
			if res.code() != want {
				t.Errorf("%s with %s: %+v, want %s", op.name, bad.what, res.Errors, want)
			}
		}
	}
	// Nothing of it was stored (PostgreSQL can't even hold a NUL, so look
	// for the text around it).
	if where := e.store.FindText(t.Context(), "input"); where != "" {
		t.Fatalf("a hostile string was stored in %s", where)
	}
	if n := len(e.requests(bob)); n != 1 {
		t.Fatalf("bob has %d requests, want the 1 from before", n)
	}
}

// Batched query arrays are not accepted, and say so with a code.
func TestBatchedQueriesRefused(t *testing.T) {
	e := newEnv(t)
	u := e.register("batcher")
	res := e.doRaw(u.Token, `[{"query":"{ me { id } }"},{"query":"{ me { id } }"}]`)
	if res.code() != "BAD_USER_INPUT" {
		t.Fatalf("batch: %+v", res.Errors)
	}
}
