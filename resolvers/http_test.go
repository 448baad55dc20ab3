package resolvers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// GraphQL over HTTP: the answer takes the media type the client accepts.
// Under application/json a request error (a bad token, a query that does not
// validate) comes with 200, so that clients such as Apollo Client 4 read it
// as a GraphQL error; under application/graphql-response+json, with a 4xx
// status, as the spec asks.
func TestHTTPMediaTypes(t *testing.T) {
	e := newEnv(t)
	bob := e.register("bob")
	type answer struct {
		status int
		media  string
		code   string
	}
	post := func(accept, token, query string) (answer, http.Header) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query})
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out response
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatalf("Accept %q: the body is not a GraphQL response: %v", accept, err)
		}
		return answer{res.StatusCode, res.Header.Get("Content-Type"), out.code()}, res.Header
	}
	const (
		jsonMedia = "application/json"
		gqlMedia  = "application/graphql-response+json"
		apollo4   = "application/graphql-response+json,application/json;q=0.9" // Apollo Client 4's HttpLink
	)
	for _, c := range []struct {
		accept                  string
		badToken, invalid, fine answer
	}{
		{"", answer{200, jsonMedia, "UNAUTHENTICATED"}, answer{200, jsonMedia, "BAD_USER_INPUT"}, answer{200, jsonMedia, ""}},
		{jsonMedia, answer{200, jsonMedia, "UNAUTHENTICATED"}, answer{200, jsonMedia, "BAD_USER_INPUT"}, answer{200, jsonMedia, ""}},
		{gqlMedia, answer{401, gqlMedia, "UNAUTHENTICATED"}, answer{400, gqlMedia, "BAD_USER_INPUT"}, answer{200, gqlMedia, ""}},
		{apollo4, answer{401, gqlMedia, "UNAUTHENTICATED"}, answer{400, gqlMedia, "BAD_USER_INPUT"}, answer{200, gqlMedia, ""}},
	} {
		got, h := post(c.accept, "not-a-token", `{ me { id } }`)
		if got != c.badToken {
			t.Errorf("Accept %q, a bad token: %+v, want %+v", c.accept, got, c.badToken)
		}
		if challenge := h.Get("WWW-Authenticate"); (got.status == 401) != (challenge != "") {
			t.Errorf("Accept %q, a bad token: HTTP %d with WWW-Authenticate %q", c.accept, got.status, challenge)
		}
		if got, _ := post(c.accept, bob.Token, `{ nope }`); got != c.invalid {
			t.Errorf("Accept %q, a query that does not validate: %+v, want %+v", c.accept, got, c.invalid)
		}
		if got, _ := post(c.accept, bob.Token, `{ me { id } }`); got != c.fine {
			t.Errorf("Accept %q, a query: %+v, want %+v", c.accept, got, c.fine)
		}
	}
}
