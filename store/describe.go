package store

import (
	"cmp"
	"net/url"
	"path/filepath"
	"strings"
)

// Describe names the database that dbURL, a DATABASE_URL, points at, as the
// server logs it when it starts: SQLite by its absolute path, since a
// relative one depends on the working directory, and PostgreSQL by user,
// host, port and database only: a password, in the user part or among the
// parameters (password, sslpassword…), is never shown.
func Describe(dbURL string) string {
	if dbURL == "" || strings.HasPrefix(dbURL, "sqlite:") {
		path := cmp.Or(strings.TrimPrefix(dbURL, "sqlite:"), DefaultSQLitePath)
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return "sqlite:" + path
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return "an unreadable URL"
	}
	u.RawQuery, u.Fragment = "", ""
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}
