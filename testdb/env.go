package testdb

import "os"

// Server is the PostgreSQL server tests create databases on, or "" for SQLite.
func Server() string { return os.Getenv("TEST_DATABASE_URL") }
