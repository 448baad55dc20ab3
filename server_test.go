package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"dmgraph/testdb"
)

// startServer runs main's run() on a free port and returns its base URL.
func startServer(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- run(ctx, func(k string) string { return env[k] }, devNull, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		devNull.Close()
	})
	select {
	case addr := <-ready:
		return "http://" + strings.Replace(addr, "[::]", "127.0.0.1", 1)
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(30 * time.Second):
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
	for _, env := range []map[string]string{{"TOKEN_TTL": "soon"}, {"TOKEN_TTL": "-1h"}, {"LOG_LEVEL": "loud"}, {"FACEBOOK_TIMEOUT": "x"}} {
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	c, err := loadConfig(func(string) string { return "" })
	if err != nil || c.Addr != ":8080" || c.TokenTTL != 24*time.Hour || c.FacebookGraphURL != "https://graph.facebook.com/v19.0" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
