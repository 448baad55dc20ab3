package resolvers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/ratelimit"
)

func TestReadyzReportsTheDatabase(t *testing.T) {
	e := newEnv(t)
	get := func() (int, map[string]any) {
		res, err := http.Get(e.srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	if code, _ := get(); code != 200 {
		t.Fatalf("ready: %d", code)
	}
	_ = e.store.Close() // the database goes away
	code, body := get()
	if code != 503 || fmt.Sprint(body["down"]) != "[database]" {
		t.Fatalf("with the database down: %d %v", code, body)
	}
	if res, err := http.Get(e.srv.URL + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz while the database is down: %v %v", res, err)
	}
}

func TestQueryLimits(t *testing.T) {
	e := newEnv(t)
	u := e.register("limits")

	// Depth: 12 levels pass, 13 are refused.
	deep := func(n int) string {
		// message → conversation → lastMessage → conversation … alternates.
		inner := "id"
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				inner = "conversation { " + inner + " }"
			} else {
				inner = "lastMessage { " + inner + " }"
			}
		}
		return "{ conversations { edges { node { " + inner + " } } } }"
	}
	// conversations(1) edges(2) node(3) + n nested + the id leaf: depth 3+n+1.
	if res := e.do(u.Token, deep(8), nil); len(res.Errors) != 0 {
		t.Fatalf("depth 12 refused: %+v", res.Errors)
	}
	e.fail(u.Token, deep(9), nil, "BAD_USER_INPUT", "")

	// Complexity scales with page sizes: 100 × 100 messages is too much.
	e.fail(u.Token, `{ conversations(first: 100) { edges { node { messages(first: 100) { edges { node { id text sender { id username } } } } } } } }`,
		nil, "BAD_USER_INPUT", "")
	if res := e.do(u.Token, `{ conversations(first: 20) { edges { node { messages(last: 20) { edges { node { id text sender { id username } } } } } } } }`, nil); len(res.Errors) != 0 {
		t.Fatalf("an ordinary inbox page refused: %+v", res.Errors)
	}

	// Width: a thousand aliases of a cheap field are refused.
	var aliases strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&aliases, "a%d: me { id } ", i)
	}
	e.fail(u.Token, "{ "+aliases.String()+"}", nil, "BAD_USER_INPUT", "")

	// Body size: more than 1 MiB is refused before parsing.
	big := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`
	res, err := http.Post(e.srv.URL+"/query", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out response
	_ = json.NewDecoder(res.Body).Decode(&out)
	if out.code() != "BAD_USER_INPUT" {
		t.Fatalf("a 1 MiB body got HTTP %d %+v", res.StatusCode, out.Errors)
	}
}

func TestIntrospectionCanBeTurnedOff(t *testing.T) {
	const q = `{ __schema { queryType { name } } }`
	on := newEnv(t)
	if res := on.do("", q, nil); len(res.Errors) != 0 {
		t.Fatalf("introspection on: %+v", res.Errors)
	}
	// Turned off, introspection is refused with a code and reason that
	// say so, no part of the schema leaks, and the server logs no internal
	// error: the client asked for something the server does not serve.
	off := newEnv(t, withoutIntrospection())
	u := off.register("introspect")
	for _, q := range []string{q, `{ __schema { types { name } } }`, `{ __type(name: "Query") { name } }`} {
		for _, token := range []string{"", u.Token} {
			res := off.do(token, q, nil)
			if res.code() != "FORBIDDEN" || res.reason() != "INTROSPECTION_DISABLED" ||
				strings.Contains(string(res.Data), "name") {
				t.Fatalf("introspection turned off: %s: %s %+v", q, res.Data, res.Errors)
			}
		}
	}
	if logs := off.logs.String(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Fatalf("a refused introspection was logged as an error:\n%s", logs)
	}
	// __typename is not introspection: it stays.
	var out struct {
		Typename string `json:"__typename"`
	}
	off.must("", `{ __typename }`, nil, &out)
	if out.Typename != "Query" {
		t.Fatalf("__typename: %q", out.Typename)
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	e := newEnv(t)
	u := e.register("apq")
	const query = `{ me { username } }`
	ext := func(h string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": h}}
	}
	post := func(body map[string]any) response {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out response
		_ = json.NewDecoder(res.Body).Decode(&out)
		return out
	}
	sum := sha256Hex(query)
	if r := post(map[string]any{"extensions": ext(sum)}); len(r.Errors) == 0 || r.Errors[0].Message != "PersistedQueryNotFound" {
		t.Fatalf("unknown hash: %+v", r)
	}
	if r := post(map[string]any{"query": query, "extensions": ext(sum)}); len(r.Errors) != 0 {
		t.Fatalf("register the query: %+v", r.Errors)
	}
	r := post(map[string]any{"extensions": ext(sum)})
	if len(r.Errors) != 0 || !strings.Contains(string(r.Data), u.Name) {
		t.Fatalf("by hash: %+v %s", r.Errors, r.Data)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// panickyStore panics when asked for the user "boom": a test-only hook.
type panickyStore struct{ dm.Store }

func (p panickyStore) UserByUsername(ctx context.Context, name string) (*models.User, error) {
	if name == "boom" {
		panic("simulated bug")
	}
	return p.Store.UserByUsername(ctx, name)
}

// A panic in a resolver fails that operation only, as INTERNAL, and the
// server goes on serving.
func TestPanicBecomesInternalError(t *testing.T) {
	e := newEnv(t, withStore(func(s dm.Store) dm.Store { return panickyStore{s} }))
	u := e.register("survivor")
	res := e.fail(u.Token, `{ user(username: "boom") { id } }`, nil, "INTERNAL", "")
	if msg := res.Errors[0].Message; msg != "internal error" {
		t.Fatalf("the panic leaked: %q", msg)
	}
	var out struct{ Me struct{ Username string } }
	e.must(u.Token, `{ me { username } }`, nil, &out)
	if out.Me.Username != u.Name {
		t.Fatalf("after the panic: %+v", out)
	}
}

// One log line per operation, with its request ID, name, viewer, duration
// and outcome, and never a password, a token or message text.
func TestLogsNameOperationsButNoSecrets(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.friends(alice, bob)
	e.send(alice, bob, "the secret plan is at noon")
	e.do("", `mutation { login(input: {username: "nobody", password: "hunter2hunter2"}) { token } }`, nil)

	logs := e.logs.String()
	for _, secret := range []string{"correct horse", "hunter2hunter2", alice.Token, bob.Token, "the secret plan"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the logs contain %q", secret)
		}
	}
	var sawSend bool
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %s", line)
		}
		if rec["msg"] == "graphql" && rec["operation"] == "sendMessage" {
			sawSend = true
			if rec["request_id"] == "" || rec["outcome"] != "ok" || rec["viewer"] == float64(0) || rec["duration"] == nil {
				t.Fatalf("operation line %v", rec)
			}
		}
	}
	if !sawSend {
		t.Fatalf("no line for sendMessage in:\n%s", logs)
	}
}

func TestLimitLoginsPerAddress(t *testing.T) {
	limits := small(100)
	limits.LoginIP = ratelimit.Limit{Count: 3, Period: time.Hour}
	e := newEnv(t, withLimits(limits))
	u := e.register("someone")
	login := `mutation($u: String!) { login(input: {username: $u, password: "correct horse"}) { token } }`
	for range 3 {
		e.must("", login, map[string]any{"u": u.Name}, nil)
	}
	checkRetryAfter(t, e.fail("", login, map[string]any{"u": u.Name}, "RATE_LIMITED", "TOO_MANY_ATTEMPTS"))
}

// Once draining for shutdown, the server says it is not ready and takes no
// new websockets.
func TestDrainingRefusesNewWebsockets(t *testing.T) {
	e := newEnv(t)
	e.handler.CloseWebsockets()
	res, err := http.Get(e.srv.URL + "/readyz")
	if err != nil || res.StatusCode != 503 {
		t.Fatalf("readyz while draining: %v %v", res, err)
	}
	res.Body.Close()
	if _, res, err := websocketDial(e, ""); err == nil || res == nil || res.StatusCode != 503 {
		t.Fatalf("a websocket while draining: %v", err)
	}
}
