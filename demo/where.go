package demo

import (
	"cmp"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"dmgraph/dm"
	"dmgraph/store"
)

// Where names the database that dbURL, a DATABASE_URL, points at, as the
// server logs it when it starts: SQLite by its absolute path, since a
// relative one depends on the working directory, and PostgreSQL with any
// password masked.
func Where(dbURL string) string {
	if dbURL == "" || strings.HasPrefix(dbURL, "sqlite:") {
		path := cmp.Or(strings.TrimPrefix(dbURL, "sqlite:"), store.DefaultSQLitePath)
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return "sqlite:" + path
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return "an unreadable URL"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Intro says, before loading, which database the demo writes to.
func Intro(w io.Writer, dbURL string) {
	fmt.Fprintf(w, "Loading the demo world into %s", Where(dbURL))
	if dbURL == "" {
		fmt.Fprintf(w, " (DATABASE_URL is unset: %s in the working directory)", store.DefaultSQLitePath)
	}
	fmt.Fprintln(w, ".")
}

// Print lists a token per user, and says which server accepts them: one
// that uses the same database (and the same JWT_SECRET, which signs them).
func Print(w io.Writer, dbURL string, sessions []*dm.Session) {
	where := Where(dbURL)
	fmt.Fprintf(w, "Demo world ready in %s. Paste one of these into GraphiQL's headers box:\n", where)
	for _, s := range sessions {
		fmt.Fprintf(w, "  %-6s {\"Authorization\": \"Bearer %s\"}\n", s.User.Username, s.Token)
	}
	same := "the same DATABASE_URL"
	if strings.HasPrefix(where, "sqlite:") {
		same = "DATABASE_URL=" + where
	}
	fmt.Fprintf(w, "They work on a server started with %s (and the same JWT_SECRET, if set); "+
		"the server logs its database when it starts.\n", same)
}
