package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"dmgraph/testdb"
)

// startServer runs main's run() on a free port and returns its base URL.
func startServer(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard, ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("run did not return after its context ended")
			}
		})
		return "http://" + strings.Replace(addr, "[::]", "127.0.0.1", 1)
	case err := <-done:
		cancel()
		t.Fatalf("server stopped: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	return ""
}

func post(t *testing.T, base, query string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	res, err := http.Post(base+"/query", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The server starts on an empty database, and again on the one it created,
// keeping the data.
func TestServerStartsTwiceOnItsDatabase(t *testing.T) {
	url := testdb.URL(t)
	env := map[string]string{"PORT": "0", "DATABASE_URL": url, "JWT_SECRET": "s3cret"}
	register := `mutation { register(input: {username: "newcomer", password: "correct horse", displayName: "N", birthDate: "1999-09-09"}) { user { username } } }`

	first := startServer(t, env)
	if out := post(t, first, register); out["errors"] != nil {
		t.Fatalf("register: %v", out["errors"])
	}
	res, err := http.Get(first + "/")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GraphiQL at /: %v %v", res, err)
	}
	res.Body.Close()

	second := startServer(t, env)
	out := post(t, second, strings.Replace(register, "newcomer", "NEWCOMER", 1))
	errs, _ := out["errors"].([]any)
	if len(errs) != 1 || !strings.Contains(mustJSON(errs[0]), `"CONFLICT"`) {
		t.Fatalf("the second start lost the first user: %v", out)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, env := range []map[string]string{{"TOKEN_TTL": "soon"}, {"TOKEN_TTL": "-1h"}, {"LOG_LEVEL": "loud"}, {"FACEBOOK_TIMEOUT": "x"},
		{"PASSWORD_HASH_COST": "3"}, {"PASSWORD_HASH_COST": "32"}, {"PASSWORD_HASH_COST": "cheap"},
		{"GC_HEADROOM_MB": "-1"}, {"GC_HEADROOM_MB": "64MiB"}} {
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	c, err := loadConfig(func(string) string { return "" })
	if err != nil || c.Addr != ":8080" || c.TokenTTL != 24*time.Hour || c.FacebookGraphURL != "https://graph.facebook.com/v19.0" ||
		c.PasswordHashCost != bcrypt.DefaultCost || c.GCHeadroom != 64<<20 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	for env, want := range map[[2]string]uint64{{"GC_HEADROOM_MB", "0"}: 0, {"GC_HEADROOM_MB", "128"}: 128 << 20, {"GOGC", "200"}: 0} {
		c, err := loadConfig(func(k string) string {
			if k == env[0] {
				return env[1]
			}
			return ""
		})
		if err != nil || c.GCHeadroom != want {
			t.Errorf("%s=%s: headroom %d, want %d (%v)", env[0], env[1], c.GCHeadroom, want, err)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// gql posts an operation with a token and decodes the data.
func gql(t *testing.T, base, token, query string, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/query", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s: %v %v", query, err, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// On SIGTERM (here: ctx ending) an open subscription sees 1001 and run returns nil.
func TestGracefulShutdownClosesWebsockets(t *testing.T) {
	env := map[string]string{"PORT": "0", "DATABASE_URL": testdb.URL(t), "JWT_SECRET": "s3cret", "SHUTDOWN_TIMEOUT": "5s"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard, ready) }()
	base := "http://" + strings.Replace(<-ready, "[::]", "127.0.0.1", 1)

	var reg struct{ Register struct{ Token string } }
	gql(t, base, "", `mutation { register(input: {username: "sleeper", password: "correct horse", displayName: "S", birthDate: "1990-01-01"}) { token } }`, &reg)
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/query", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": "Bearer " + reg.Register.Token}})
	_ = c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]string{"query": "subscription { messageAdded { id } }"}})
	var ack map[string]any
	if err := c.ReadJSON(&ack); err != nil || ack["type"] != "connection_ack" {
		t.Fatalf("ack: %v %v", ack, err)
	}
	waitMetric(t, base, "dmgraph_subscriptions_active 1")

	cancel()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var closeErr *websocket.CloseError
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			if !errors.As(err, &closeErr) || closeErr.Code != websocket.CloseGoingAway {
				t.Fatalf("socket ended with %v, want 1001", err)
			}
			break
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return")
	}
}

// waitMetric polls /metrics until it has the line want.
func waitMetric(t *testing.T, base, want string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; {
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if slices.Contains(strings.Split(string(b), "\n"), want) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("no %q in /metrics after 10s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	base := startServer(t, map[string]string{"PORT": "0", "DATABASE_URL": testdb.URL(t), "JWT_SECRET": "x"})
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		res, err := http.Get(base + path)
		if err != nil || res.StatusCode != want {
			t.Fatalf("%s: %v %v", path, res, err)
		}
		res.Body.Close()
	}
	count := func() string {
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, `dmgraph_graphql_operations_total{operation="me",outcome="ok"}`) {
				return strings.Fields(line)[1]
			}
		}
		return "0"
	}
	before := count()
	gql(t, base, "", `query { me { id } }`, nil)
	gql(t, base, "", `query { me { id } }`, nil)
	if after := count(); before != "0" || after != "2" {
		t.Fatalf("operations counter went from %s to %s, want 0 to 2", before, after)
	}
}

// `dmgraph demo` twice leaves one world, and its tokens work on a server
// started without any configuration (the README's first screen).
func TestDemoIsIdempotent(t *testing.T) {
	env := map[string]string{"PORT": "0", "DATABASE_URL": testdb.URL(t)}
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	for range 2 {
		out.Reset()
		if err := run(context.Background(), []string{"demo"}, getenv, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[2] == `"Bearer` {
			tokens[f[0]] = strings.TrimSuffix(f[3], `"}`)
		}
	}
	if len(tokens) != 4 {
		t.Fatalf("want 4 tokens, got %q", out.String())
	}
	base := startServer(t, env)
	var alice struct {
		Me            struct{ Username string }
		Conversations struct {
			TotalCount int
			Edges      []struct {
				Node struct{ Messages struct{ TotalCount int } }
			}
		}
		MessageRequests struct{ TotalCount int }
		PrivacySettings struct{ DirectMessagePolicy string }
	}
	gql(t, base, tokens["alice"], `{ me { username } conversations { totalCount edges { node { messages { totalCount } } } } messageRequests { totalCount } privacySettings { directMessagePolicy } }`, &alice)
	if alice.Me.Username != "alice" || alice.Conversations.TotalCount != 1 || alice.Conversations.Edges[0].Node.Messages.TotalCount != 3 ||
		alice.MessageRequests.TotalCount != 1 || alice.PrivacySettings.DirectMessagePolicy != "EVERYONE" {
		t.Fatalf("alice's world after two runs: %+v", alice)
	}
	var dave struct {
		PrivacySettings struct{ DirectMessagePolicy string }
	}
	gql(t, base, tokens["dave"], `{ privacySettings { directMessagePolicy } }`, &dave)
	if dave.PrivacySettings.DirectMessagePolicy != "NO_ONE" {
		t.Fatalf("dave: %+v", dave)
	}
}

// `dmgraph migrate` prepares a database that a server with MIGRATE=false uses.
func TestMigrateCommand(t *testing.T) {
	env := map[string]string{"PORT": "0", "DATABASE_URL": testdb.URL(t), "JWT_SECRET": "x", "MIGRATE": "false"}
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"migrate"}, getenv, io.Discard, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	base := startServer(t, env)
	gql(t, base, "", `mutation { register(input: {username: "m1", password: "correct horse", displayName: "M", birthDate: "1990-01-01"}) { token } }`, nil)
	if err := run(context.Background(), []string{"bogus"}, getenv, io.Discard, io.Discard, nil); err == nil {
		t.Fatal("an unknown command was accepted")
	}
}

func TestProductionRefusesUnsafeDefaults(t *testing.T) {
	good := map[string]string{"APP_ENV": "production", "JWT_SECRET": prodSecret,
		"CONTACTS_HASH_KEY": strings.Repeat("c", 32), "ALLOWED_ORIGINS": "app.example.com",
		"SMS_WEBHOOK_URL": "https://sms.example.com/send"}
	if _, err := loadConfig(func(k string) string { return good[k] }); err != nil {
		t.Fatalf("a safe production config refused: %v", err)
	}
	for name, change := range map[string][2]string{
		"no JWT secret":    {"JWT_SECRET", ""},
		"short JWT secret": {"JWT_SECRET", "short"},
		"no contacts key":  {"CONTACTS_HASH_KEY", ""},
		"wildcard origin":  {"ALLOWED_ORIGINS", "*"},
		"wildcard in list": {"ALLOWED_ORIGINS", "app.example.com, *:*"},
		"cheap passwords":  {"PASSWORD_HASH_COST", "4"},
	} {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		env[change[0]] = change[1]
		_, err := loadConfig(func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "APP_ENV=production refuses to start") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Development needs no configuration at all.
	if _, err := loadConfig(func(string) string { return "" }); err != nil {
		t.Fatalf("development config: %v", err)
	}
}
