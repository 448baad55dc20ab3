package demo

import (
	"fmt"
	"io"
	"strings"

	"dmgraph/dm"
	"dmgraph/store"
)

// Intro says, before loading, which database the demo writes to.
func Intro(w io.Writer, dbURL string) {
	fmt.Fprintf(w, "Loading the demo world into %s", store.Describe(dbURL))
	if dbURL == "" {
		fmt.Fprintf(w, " (DATABASE_URL is unset: %s in the working directory)", store.DefaultSQLitePath)
	}
	fmt.Fprintln(w, ".")
}

// Print lists a token per user, and says which server accepts them: one
// that uses the same database (and the same JWT_SECRET, which signs them).
func Print(w io.Writer, dbURL string, sessions []*dm.Session) {
	where := store.Describe(dbURL)
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
