package models

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanMessageText(t *testing.T) {
	ok := []string{"hi", "  padded  ", strings.Repeat("é", MaxTextRunes)}
	for _, s := range ok {
		if got, err := CleanMessageText(&s); err != nil || got == nil {
			t.Errorf("%.20q refused: %v", s, err)
		}
	}
	bad := []string{"a\x00b", "\xff\xfe", strings.Repeat("x", MaxTextRunes+1), strings.Repeat("x", 10<<20)}
	for _, s := range bad {
		if _, err := CleanMessageText(&s); CodeOf(err) != CodeBadUserInput {
			t.Errorf("%.20q: %v, want BAD_USER_INPUT", s, err)
		}
	}
	blank := "   \n\t "
	if got, err := CleanMessageText(&blank); got != nil || err != nil {
		t.Errorf("blank text: %v %v, want nothing", got, err)
	}
}

// FuzzCleanMessageText: no panic; accepted text is valid, trimmed, bounded
// UTF-8 without NUL; refusals are BAD_USER_INPUT.
func FuzzCleanMessageText(f *testing.F) {
	for _, s := range []string{"hello", "", " ", "a\x00", "\xc3\x28", "👋🏽 salut"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CleanMessageText(&s)
		switch {
		case err != nil:
			if CodeOf(err) != CodeBadUserInput {
				t.Fatalf("%q: %v", s, err)
			}
		case got != nil:
			g := *got
			if !utf8.ValidString(g) || strings.ContainsRune(g, 0) || strings.TrimSpace(g) != g ||
				g == "" || utf8.RuneCountInString(g) > MaxTextRunes {
				t.Fatalf("%q accepted as %q", s, g)
			}
		}
	})
}
