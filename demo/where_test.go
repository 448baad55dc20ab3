package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dmgraph/dm"
	"dmgraph/models"
)

// Where names SQLite files by absolute path, the default one included, and
// never shows a PostgreSQL password.
func TestWhere(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"":                   "sqlite:" + filepath.Join(wd, "dmgraph.db"),
		"sqlite:data/dm.db":  "sqlite:" + filepath.Join(wd, "data/dm.db"),
		"sqlite:/var/dm.db":  "sqlite:/var/dm.db",
		"postgres://db/dm":   "postgres://db/dm",
		"postgresql://u@db/": "postgresql://u@db/",
		"postgres://u:secret@db:5432/dm?sslmode=disable":          "postgres://u:xxxxx@db:5432/dm?sslmode=disable",
		"postgres://db/dm?password=secret&sslmode=disable&user=u": "postgres://db/dm?password=xxxxx&sslmode=disable&user=u",
		"postgres://u:secret@db/dm\x7f":                           "an unreadable URL",
	} {
		if got := Where(in); got != want {
			t.Errorf("Where(%q) = %q, want %q", in, got, want)
		}
	}
}

// The demo says where it writes before and after, and how to start a server
// that accepts its tokens.
func TestIntroAndPrint(t *testing.T) {
	var out strings.Builder
	Intro(&out, "")
	sessions := []*dm.Session{{Token: "tok", User: &models.User{Username: "alice"}}}
	Print(&out, "", sessions)
	where := Where("")
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
