package store_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"dmgraph/models"
	"dmgraph/store"
	"dmgraph/testdb"
)

// logBuffer collects what a logger writes, safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSec15DuplicateKeysAreNotServerErrors: a taken username is CONFLICT
// for the client, and the log has no ERROR or WARN for it and never the
// constraint's text.
func TestSec15DuplicateKeysAreNotServerErrors(t *testing.T) {
	var logs logBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := store.Open(context.Background(), store.Config{URL: testdb.URL(t), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	newUser := func() *models.User {
		return &models.User{Username: "alice", DisplayName: "Alice", PasswordHash: "x",
			BirthDate: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	if err := st.CreateUser(context.Background(), newUser()); err != nil {
		t.Fatal(err)
	}
	err = st.CreateUser(context.Background(), newUser())
	if models.CodeOf(err) != models.CodeConflict {
		t.Fatalf("a taken username: %v, want CONFLICT", err)
	}
	out := logs.String()
	for _, bad := range []string{`"level":"ERROR"`, `"level":"WARN"`, "idx_users_username", "UNIQUE constraint", "duplicate key value", "23505"} {
		if strings.Contains(out, bad) {
			t.Errorf("the log holds %s:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "duplicate key") {
		t.Errorf("the duplicate is not logged even at debug level:\n%s", out)
	}
}
