package demo

import (
	"strings"
	"testing"

	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/store"
)

// The demo says where it writes before and after, and how to start a server
// that accepts its tokens.
func TestIntroAndPrint(t *testing.T) {
	var out strings.Builder
	Intro(&out, "")
	sessions := []*dm.Session{{Token: "tok", User: &models.User{Username: "alice"}}}
	Print(&out, "", sessions)
	where := store.Describe("")
	for _, want := range []string{
		"Loading the demo world into " + where + " (DATABASE_URL is unset: dmgraph.db in the working directory).\n",
		"Demo world ready in " + where + ".",
		`  alice  {"Authorization": "Bearer tok"}` + "\n",
		"started with DATABASE_URL=" + where + " (and the same JWT_SECRET, if set)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	Print(&out, "postgres://u:secret@db/dm", sessions)
	if got := out.String(); strings.Contains(got, "secret") || !strings.Contains(got, "started with the same DATABASE_URL") {
		t.Errorf("for PostgreSQL:\n%s", got)
	}
}
