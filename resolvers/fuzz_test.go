package resolvers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

var allowedCodes = []string{"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "RATE_LIMITED", "UNAVAILABLE"}

// FuzzGraphQLRequest sends arbitrary bodies through the real handler, signed
// in: the answer is always JSON, never a 5xx, and every error carries one of
// our codes (never INTERNAL: bad input is the client's fault).
func FuzzGraphQLRequest(f *testing.F) {
	e := newEnv(f)
	u := e.register("fuzz")
	seeds := []string{
		`{"query":"{ me { id username } }"}`,
		`{"query":"query($id: ID!) { conversation(id: $id) { id messages(last: 3) { edges { node { text } } } } }","variables":{"id":"Q29udmVyc2F0aW9uOjE"}}`,
		`{"query":"mutation($in: SendMessageInput!) { sendMessage(input: $in) { delivery } }","variables":{"in":{"recipientId":"VXNlcjox","text":"hi\u0000"}}}`,
		`{"query":"{ conversations(first: 101) { totalCount } }"}`,
		`{"query":"{ node(id: \"\\u0000\") { id } }"}`,
		`{"query": 5}`, `{`, `[]`, `{"query":"{ user(username: \"\ud800\") { id } }"}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("HTTP %d for %q: %s", rec.Code, body, rec.Body)
		}
		var res response
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("not JSON for %q: %s", body, rec.Body)
		}
		for _, e := range res.Errors {
			if code, _ := e.Extensions["code"].(string); !slices.Contains(allowedCodes, code) {
				t.Fatalf("error %+v for %q", e, body)
			}
			// Internals must not show; words the client itself sent may be
			// quoted back (e.g. an unknown field's name).
			lower, sent := strings.ToLower(e.Message), strings.ToLower(body)
			for _, leak := range []string{"sqlstate", "sqlite", "gorm", "pgx", "goroutine", ".go:", "select ", "insert into"} {
				if strings.Contains(lower, leak) && !strings.Contains(sent, leak) {
					t.Fatalf("error message leaks %q: %q for %q", leak, e.Message, body)
				}
			}
		}
	})
}
