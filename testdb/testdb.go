// Package testdb gives each test a fresh, empty database: SQLite in a
// temporary folder by default, or a throwaway PostgreSQL database when
// TEST_DATABASE_URL points at a server.
package testdb

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for CREATE DATABASE
)

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
