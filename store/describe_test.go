package store

import (
	"os"
	"path/filepath"
	"testing"
)

// Describe names SQLite files by absolute path, the default one included, and
// never shows a PostgreSQL password.
func TestDescribe(t *testing.T) {
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
		"postgres://u:secret@db:5432/dm?sslmode=disable":          "postgres://u@db:5432/dm",
		"postgres://db/dm?password=secret&sslmode=disable&user=u": "postgres://db/dm",
		"postgres://u@db/dm?sslpassword=secret#frag":              "postgres://u@db/dm",
		"postgres://u:secret@db/dm\x7f":                           "an unreadable URL",
	} {
		if got := Describe(in); got != want {
			t.Errorf("Describe(%q) = %q, want %q", in, got, want)
		}
	}
}
