package resolvers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"dmgraph/resolvers"
)

// postWithin posts body anonymously and fails the test unless the answer
// arrives within d. Before the fix, 26 levels took minutes of CPU (the cost
// and depth walks double per level) and 64 levels would never finish.
func postWithin(t *testing.T, e *env, d time.Duration, body map[string]any) response {
	t.Helper()
	b, _ := json.Marshal(body)
	client := &http.Client{Timeout: d}
	res, err := client.Post(e.srv.URL+"/query", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("no answer within %v: %v", d, err)
	}
	defer res.Body.Close()
	var out response
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("decode: %v", err)
	}
	out.Status = res.StatusCode
	return out
}

func TestSec01NestedFragmentSpreadsRefusedQuickly(t *testing.T) {
	e := newEnv(t)
	// A generous bound on a shared machine; the refusal itself takes
	// well under a millisecond (BenchmarkNestedSpreads).
	const within = 5 * time.Second
	for _, n := range []int{26, 64} {
		q := resolvers.NestedSpreads(n)
		res := postWithin(t, e, within, map[string]any{"query": q})
		if res.code() != "BAD_USER_INPUT" || !strings.Contains(res.Errors[0].Message, "more than") {
			t.Fatalf("%d levels: %+v", n, res.Errors)
		}
		// The same fragments, unused by the operation, are walked by
		// validation all the same.
		unused := strings.Replace(q, "query { ...F0 }", "query { __typename }", 1)
		if res := postWithin(t, e, within, map[string]any{"query": unused}); res.code() != "BAD_USER_INPUT" {
			t.Fatalf("%d levels, unused: %+v", n, res.Errors)
		}
		// Through APQ: the query is registered (APQ stores it before the
		// check), then sent by hash alone; both are refused.
		sum := sha256Hex(q)
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sum}}
		if res := postWithin(t, e, within, map[string]any{"query": q, "extensions": ext}); res.code() != "BAD_USER_INPUT" {
			t.Fatalf("%d levels by APQ with the query: %+v", n, res.Errors)
		}
		if res := postWithin(t, e, within, map[string]any{"extensions": ext}); res.code() != "BAD_USER_INPUT" {
			t.Fatalf("%d levels by APQ hash: %+v", n, res.Errors)
		}
	}

	// Over a websocket the same check applies.
	u := e.register("sockets")
	ws := e.connectWS(u, protoTransportWS)
	ws.subscribe("1", resolvers.NestedSpreads(64), nil)
	if m := ws.next(); m.ID != "1" || !strings.Contains(string(m.Payload), "BAD_USER_INPUT") {
		t.Fatalf("over a websocket: %s", m.Payload)
	}
}

func TestSec01QueryShapeLimits(t *testing.T) {
	e := newEnv(t)
	u := e.register("shapes")
	const within = 5 * time.Second

	// Fewer levels expand within the limits and run.
	if res := e.do("", resolvers.NestedSpreads(4), nil); len(res.Errors) != 0 || !strings.Contains(string(res.Data), "Query") {
		t.Fatalf("4 levels (16 fields): %+v %s", res.Errors, res.Data)
	}
	// 2^9 = 512 fields are too many.
	e.fail("", resolvers.NestedSpreads(9), nil, "BAD_USER_INPUT", "")

	// Ordinary fragments, spread several times, still work.
	var out struct {
		Me struct {
			ID, Username string
		}
		Conversations struct{ Edges []any }
	}
	e.must(u.Token, `query Inbox { me { ...U } conversations(first: 5) { edges { node { ...C } } } }
		fragment U on User { id username }
		fragment C on Conversation { id lastMessage { id sender { ...U } } ... on Conversation { id } }`, nil, &out)
	if out.Me.Username != u.Name {
		t.Fatalf("fragments: %+v", out)
	}

	// Depth counts through fragments: 12 levels pass, 13 are refused.
	deep := func(n int) string {
		// From a conversation: lastMessage → conversation → lastMessage …
		var inner strings.Builder
		for i := range n {
			inner.WriteString([]string{"lastMessage { ", "conversation { "}[i%2])
		}
		inner.WriteString("id" + strings.Repeat(" }", n))
		return "{ conversations { edges { node { ...D } } } } fragment D on Conversation { ...E } fragment E on Conversation { " + inner.String() + " }"
	}
	if res := e.do(u.Token, deep(9), nil); len(res.Errors) != 0 {
		t.Fatalf("12 levels through fragments: %+v", res.Errors)
	}
	res := e.fail(u.Token, deep(10), nil, "BAD_USER_INPUT", "")
	if !strings.Contains(res.Errors[0].Message, "nested too deeply") {
		t.Fatalf("13 levels: %+v", res.Errors)
	}

	// A fragment that spreads itself is refused before validation.
	e.fail("", `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`, nil, "BAD_USER_INPUT", "")

	// More than MaxRepeatedField fields with one response name in one
	// place, fragments merged, are refused: validation compares each pair.
	repeated := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ...R }  fragment R on Query {")
		for i := range n {
			fmt.Fprintf(&b, ` a: user(username: "u%d") { id }`, i)
		}
		return b.String() + " }"
	}
	if res := e.do(u.Token, repeated(resolvers.MaxRepeatedField), nil); res.code() != "BAD_USER_INPUT" || !strings.Contains(res.Errors[0].Message, `"a" conflict`) {
		t.Fatalf("%d conflicting fields: validation should answer, got %d errors: %+v", resolvers.MaxRepeatedField, len(res.Errors), res.Errors[:min(1, len(res.Errors))])
	}
	res = e.fail(u.Token, repeated(resolvers.MaxRepeatedField+1), nil, "BAD_USER_INPUT", "")
	if !strings.Contains(res.Errors[0].Message, `"a" more than`) {
		t.Fatalf("repeated: %+v", res.Errors)
	}

	// A flat body of aliases just under 1 MiB is refused quickly.
	var flat strings.Builder
	flat.WriteString("{")
	for i := 0; flat.Len() < 1<<20-100; i++ {
		fmt.Fprintf(&flat, " a%d: __typename", i)
	}
	flat.WriteString(" }")
	if res := postWithin(t, e, within, map[string]any{"query": flat.String()}); res.code() != "BAD_USER_INPUT" {
		t.Fatalf("1 MiB of aliases: %+v", res.Errors)
	}
}

// graphiQLIntrospection is graphql-js's getIntrospectionQuery with every
// option GraphiQL may turn on: ofType nests nine deep.
const graphiQLIntrospection = `
query IntrospectionQuery {
  __schema {
    description
    queryType { name kind }
    mutationType { name kind }
    subscriptionType { name kind }
    types { ...FullType }
    directives {
      name description isRepeatable locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

func TestSec01IntrospectionStillPasses(t *testing.T) {
	e := newEnv(t)
	var out struct {
		Schema struct{ Types []struct{ Name string } } `json:"__schema"`
	}
	e.must("", graphiQLIntrospection, nil, &out)
	if len(out.Schema.Types) < 10 {
		t.Fatalf("introspection: %d types", len(out.Schema.Types))
	}
}

// BenchmarkNestedSpreads sends the attack at 8 to 64 levels through the
// handler, each beside a flat query of the same size: the ratio stays near
// one, as the checks are linear in the document.
func BenchmarkNestedSpreads(b *testing.B) {
	e := newEnv(b)
	for _, n := range []int{8, 16, 32, 64} {
		attack := resolvers.NestedSpreads(n)
		var flat strings.Builder
		flat.WriteString("{")
		for i := 0; flat.Len() < len(attack)-2; i++ {
			fmt.Fprintf(&flat, " a%d: __typename", i)
		}
		flat.WriteString(" }")
		for _, c := range []struct{ name, query string }{{"spreads", attack}, {"flat", flat.String()}} {
			body, _ := json.Marshal(map[string]any{"query": c.query})
			b.Run(fmt.Sprintf("levels=%d/%s/bytes=%d", n, c.name, len(c.query)), func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(string(body)))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					e.handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK && rec.Code != http.StatusUnprocessableEntity {
						b.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

// Spreads the check cannot measure never reach validation, which compares
// every pair of spreads in a selection set: 4,000 spreads of undefined
// fragments cost it 8 s, and 499 distinct one-field fragments 130 ms.
func TestSec01SpreadsValidationWouldCompareInPairs(t *testing.T) {
	e := newEnv(t)
	const within = 5 * time.Second
	spreads := func(n int, defined bool) string {
		var b strings.Builder
		b.WriteString("query {")
		for i := range n {
			fmt.Fprintf(&b, " ...M%d", i)
		}
		b.WriteString(" }")
		for i := 0; defined && i < n; i++ {
			fmt.Fprintf(&b, " fragment M%d on Query { a%d: __typename }", i, i)
		}
		return b.String()
	}
	res := postWithin(t, e, within, map[string]any{"query": spreads(4000, false)})
	if res.code() != "BAD_USER_INPUT" || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, `unknown fragment "M0"`) {
		t.Fatalf("4000 undefined spreads: %d errors, %+v", len(res.Errors), res.Errors[:min(1, len(res.Errors))])
	}
	res = postWithin(t, e, within, map[string]any{"query": spreads(resolvers.MaxSpreadsPerSet+1, true)})
	if res.code() != "BAD_USER_INPUT" || !strings.Contains(res.Errors[0].Message, "spreads more than") {
		t.Fatalf("%d spreads in one place: %+v", resolvers.MaxSpreadsPerSet+1, res.Errors)
	}
	if res := postWithin(t, e, within, map[string]any{"query": spreads(resolvers.MaxSpreadsPerSet, true)}); len(res.Errors) != 0 {
		t.Fatalf("%d spreads in one place refused: %+v", resolvers.MaxSpreadsPerSet, res.Errors)
	}
}
