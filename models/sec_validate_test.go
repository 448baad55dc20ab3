package models

import (
	"strings"
	"testing"
)

// TestSec15DisplayNamesRefuseBidiAndInvisible: display names may not hold
// bidi controls or control characters, nor consist only of characters that
// show nothing; ordinary names in any script still pass.
func TestSec15DisplayNamesRefuseBidiAndInvisible(t *testing.T) {
	refused := map[string]string{
		"right-to-left override":  "evil\u202Egnp.exe",
		"left-to-right embedding": "\u202Aname",
		"pop directional":         "name\u202C",
		"isolate":                 "a\u2066b\u2069",
		"right-to-left mark":      "name\u200F",
		"arabic letter mark":      "name\u061C",
		"zero-width spaces":       "\u200B\u200B\u200B",
		"joiners":                 "\u200C\u200D\u2060",
		"byte order marks":        "\uFEFF\uFEFF",
		"zero-width and spaces":   "\u200B \u00A0\u200B",
		"hangul filler":           "\u3164\u3164",
		"blank braille":           "\u2800",
		"combining marks only":    "\u0301\u0301",
		"newline":                 "two\nlines",
		"escape":                  "\x1b[31mred",
	}
	for name, s := range refused {
		if got, err := CleanDisplayName(s); err == nil || CodeOf(err) != CodeBadUserInput {
			t.Errorf("%s: %q accepted as %q (%v)", name, s, got, err)
		}
	}
	allowed := map[string]string{
		"ascii":            "Alice Smith",
		"accents":          "Zoë Ångström",
		"combining accent": "Zoe\u0308",
		"arabic":           "مريم",
		"hebrew":           "שרה",
		"emoji with zwj":   "Sam 👩\u200D💻",
		"cjk":              "山田太郎",
		"longest":          strings.Repeat("a", MaxDisplayNameRunes),
	}
	for name, s := range allowed {
		if got, err := CleanDisplayName(s); err != nil || got != s {
			t.Errorf("%s: %q refused or changed: %q, %v", name, s, got, err)
		}
	}
}
