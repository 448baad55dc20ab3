package resolvers_test

import (
	"strings"
	"testing"
)

// BAD_USER_INPUT names the input at fault in extensions.field, as the
// client wrote it: the argument path, or the variable's for a variable that
// does not coerce. An error about no single field names none.
func TestBadUserInputNamesTheField(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	registerWith := func(username, password, birthDate string) string {
		return `mutation { register(input: {username: "` + username + `", password: "` + password +
			`", displayName: "N", birthDate: "` + birthDate + `"}) { token } }`
	}
	for _, c := range []struct {
		what, token, query string
		vars               map[string]any
		want               string
	}{
		{"a username too short", "", registerWith("a", "correct horse", "1990-01-01"), nil, "input.username"},
		{"a password too short", "", registerWith("fieldpw", "short", "1990-01-01"), nil, "input.password"},
		{"a date that does not parse", "", registerWith("fielddate", "correct horse", "1990-13-01"), nil, "input.birthDate"},
		{"a message too long, in a variable", alice.Token, sendMutation,
			map[string]any{"in": map[string]any{"recipientId": bob.ID, "text": strings.Repeat("x", 4001)}}, "input.text"},
		{"a variable that does not coerce", alice.Token, sendMutation,
			map[string]any{"in": map[string]any{"recipientId": bob.ID, "text": map[string]any{"a": 1}}}, "$in.text"},
		{"a page too large", alice.Token, `{ conversations(first: 1000) { edges { cursor } } }`, nil, "first"},
		{"no single field", alice.Token, sendMutation, map[string]any{"in": map[string]any{"text": "to no one"}}, ""},
	} {
		res := e.fail(c.token, c.query, c.vars, "BAD_USER_INPUT", "")
		if got, _ := res.Errors[0].Extensions["field"].(string); got != c.want {
			t.Errorf("%s: extensions.field %q, want %q (%+v)", c.what, got, c.want, res.Errors)
		}
	}
}
