// Package testdb gives each test a fresh, migrated database: SQLite in a
// temporary folder by default, or a throwaway PostgreSQL database when
// TEST_DATABASE_URL points at a server.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for CREATE DATABASE

	"dmgraph/store"
)

// Option adjusts the store a test gets.
type Option func(*store.Config)

// OnStatement calls f for every SQL statement the store runs.
func OnStatement(f func(ctx context.Context, sql string)) Option {
	return func(c *store.Config) { c.OnStatement = f }
}

// Open returns a store on a database of its own that is gone after the test.
func Open(t testing.TB, opts ...Option) *store.Store {
	t.Helper()
	return OpenURL(t, URL(t), opts...)
}

// OpenURL returns a store on the database at url, closed after the test.
func OpenURL(t testing.TB, url string, opts ...Option) *store.Store {
	t.Helper()
	cfg := store.Config{URL: url}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// URL returns the address of a new empty database, dropped after the test.
func URL(t testing.TB) string {
	t.Helper()
	admin := Server()
	if admin == "" {
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	name := "dmgraph_t_" + randomHex(6)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		_ = db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Postgres reports whether tests run on PostgreSQL.
func Postgres() bool { return Server() != "" }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
