package models

import (
	"errors"
	"strings"
	"testing"
	"time"
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

// Age counts whole years: a birthday later in the month, or in a later
// month, has not come yet; 29 February comes on 1 March in common years.
func TestAgeAcrossBirthdays(t *testing.T) {
	tests := []struct {
		birth, today string
		want         int
	}{
		{"2010-11-25", "2026-11-24", 15}, // the day before
		{"2010-11-25", "2026-11-25", 16}, // the birthday
		{"2010-11-25", "2026-11-26", 16}, // the day after
		{"2010-12-01", "2026-11-25", 15}, // a later month, an earlier day
		{"2010-10-30", "2026-11-25", 16}, // an earlier month, a later day
		{"2010-12-31", "2026-01-01", 15}, // across the new year
		{"2010-01-01", "2026-12-31", 16},
		{"2010-12-31", "2026-12-31", 16},
		{"2010-01-01", "2025-12-31", 15},
		{"2010-03-31", "2026-04-01", 16}, // month edges
		{"2010-04-01", "2026-03-31", 15},
		{"2010-02-28", "2026-03-01", 16},
		{"2008-02-29", "2026-02-28", 17}, // 29 February, common year
		{"2008-02-29", "2026-03-01", 18},
		{"2008-02-29", "2028-02-28", 19}, // leap year
		{"2008-02-29", "2028-02-29", 20},
		{"2026-11-25", "2026-11-25", 0},
	}
	for _, tt := range tests {
		birth, _ := time.Parse(time.DateOnly, tt.birth)
		today, _ := time.Parse(time.DateOnly, tt.today)
		if got := Age(birth, today); got != tt.want {
			t.Errorf("born %s, on %s: age %d, want %d", tt.birth, tt.today, got, tt.want)
		}
	}
}

func TestCheckAgeBounds(t *testing.T) {
	today := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for birth, ok := range map[string]bool{
		"2013-11-25": true,  // 13 today
		"2013-11-26": false, // 13 tomorrow
		"2013-12-01": false,
		"2026-11-25": false, // born today
		"2026-11-26": false, // in the future
		"1950-01-01": true,
	} {
		b, _ := time.Parse(time.DateOnly, birth)
		err := CheckAge(b, today)
		if ok && err != nil || !ok && CodeOf(err) != CodeBadUserInput {
			t.Errorf("born %s: %v, want accepted %v", birth, err, ok)
		}
	}
	if err := CheckAge(today.AddDate(0, 0, 1), today); err == nil || !strings.Contains(err.Error(), "future") {
		t.Errorf("born tomorrow: %v, want the future refused as such", err)
	}
}

// Passwords have 8 characters or more and at most 72 bytes, which is all
// bcrypt reads.
func TestCheckPasswordBounds(t *testing.T) {
	for p, ok := range map[string]bool{
		strings.Repeat("x", 7):                        false,
		strings.Repeat("x", 8):                        true,
		strings.Repeat("é", 7):                        false, // 14 bytes, 7 characters
		strings.Repeat("é", 8):                        true,
		strings.Repeat("x", MaxPasswordBytes):         true,
		strings.Repeat("x", MaxPasswordBytes+1):       false,
		strings.Repeat("é", MaxPasswordBytes/2):       true, // 36 characters, 72 bytes
		strings.Repeat("é", MaxPasswordBytes/2) + "x": false,
		"correct\xffhorse":                            false,
	} {
		err := CheckPassword(p)
		if ok && err != nil || !ok && CodeOf(err) != CodeBadUserInput {
			t.Errorf("%d bytes %.12q: %v, want accepted %v", len(p), p, err, ok)
		}
	}
}

// An idempotency key, when given, has 1 to 64 characters after trimming.
func TestCleanClientMessageID(t *testing.T) {
	if got, err := CleanClientMessageID(nil); got != nil || err != nil {
		t.Fatalf("no key: %v %v, want nothing", got, err)
	}
	for s, want := range map[string]string{
		"a":                     "a",
		"  retry-1 ":            "retry-1",
		strings.Repeat("é", 64): strings.Repeat("é", 64),
	} {
		if got, err := CleanClientMessageID(&s); err != nil || got == nil || *got != want {
			t.Errorf("%.12q: %v %v, want %q", s, got, err, want)
		}
	}
	for _, s := range []string{"", " \t ", strings.Repeat("x", 65), "a\x00"} {
		if _, err := CleanClientMessageID(&s); CodeOf(err) != CodeBadUserInput {
			t.Errorf("%.12q: %v, want BAD_USER_INPUT", s, err)
		}
	}
}

// Each cleaner accepts exactly its bounds, after trimming.
func TestTextBounds(t *testing.T) {
	clean := map[string]func(string) (string, error){
		"display name": CleanDisplayName,
		"caption":      CleanCaption,
		"details": func(s string) (string, error) {
			got, err := CleanDetails(&s)
			if got == nil {
				return "", err
			}
			return *got, err
		},
	}
	tests := []struct {
		what string
		in   string
		want string // "" with ok false: refused
		ok   bool
	}{
		{"display name", " Ann ", "Ann", true},
		{"display name", "A", "A", true},
		{"display name", "  ", "", false},
		{"display name", strings.Repeat("é", MaxDisplayNameRunes), strings.Repeat("é", MaxDisplayNameRunes), true},
		{"display name", strings.Repeat("é", MaxDisplayNameRunes+1), "", false},
		{"caption", "", "", true},
		{"caption", strings.Repeat("é", MaxCaptionRunes), strings.Repeat("é", MaxCaptionRunes), true},
		{"caption", strings.Repeat("é", MaxCaptionRunes+1), "", false},
		{"details", " why ", "why", true},
		{"details", strings.Repeat("x", MaxDetailsRunes), strings.Repeat("x", MaxDetailsRunes), true},
		{"details", strings.Repeat("x", MaxDetailsRunes+1), "", false},
		{"details", "a\x00b", "", false},
	}
	for _, tt := range tests {
		got, err := clean[tt.what](tt.in)
		if tt.ok && (err != nil || got != tt.want) || !tt.ok && CodeOf(err) != CodeBadUserInput {
			t.Errorf("%s %.12q: %.12q %v, want %.12q accepted %v", tt.what, tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, s := range []*string{nil, new(string), ptr(" \n ")} {
		if got, err := CleanDetails(s); got != nil || err != nil {
			t.Errorf("no details: %v %v, want nothing", got, err)
		}
	}
	// Exactly the maximum, in runes, for message text too.
	for n, ok := range map[int]bool{MaxTextRunes: true, MaxTextRunes + 1: false} {
		s := strings.Repeat("é", n)
		if _, err := CleanMessageText(&s); (err == nil) != ok {
			t.Errorf("%d characters of text: %v, want accepted %v", n, err, ok)
		}
	}
}

func ptr(s string) *string { return &s }

func TestNormalizeUsername(t *testing.T) {
	for in, want := range map[string]string{
		" Alice.B_1 ":           "alice.b_1",
		"ab":                    "ab",
		strings.Repeat("a", 24): strings.Repeat("a", 24),
	} {
		if got, err := NormalizeUsername(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a", strings.Repeat("a", 25), "a-b", "al ice", "élan", ""} {
		if got, err := NormalizeUsername(in); CodeOf(err) != CodeBadUserInput || got != "" {
			t.Errorf("%q: %q %v, want BAD_USER_INPUT", in, got, err)
		}
	}
}

func TestCheckVideoURL(t *testing.T) {
	long := "https://v.example/" + strings.Repeat("x", 2048-len("https://v.example/"))
	for in, want := range map[string]string{
		" https://v.example/a ": "https://v.example/a",
		"http://v.example":      "http://v.example",
		long:                    long,
	} {
		if got, err := CheckVideoURL(in); err != nil || got != want {
			t.Errorf("%.30q: %.30q %v, want %.30q", in, got, err, want)
		}
	}
	for _, in := range []string{long + "x", "ftp://v.example/a", "https://", "/relative", "v.example/a", "javascript:alert(1)", "http://[::1"} {
		if got, err := CheckVideoURL(in); CodeOf(err) != CodeBadUserInput || got != "" {
			t.Errorf("%.30q: %q %v, want BAD_USER_INPUT", in, got, err)
		}
	}
}

func TestCleanGroupTitle(t *testing.T) {
	for _, blank := range []*string{nil, ptr(""), ptr("  \t ")} {
		if got, err := CleanGroupTitle(blank); got != nil || err != nil {
			t.Errorf("blank title: %v, %v; want no title", got, err)
		}
	}
	if got, err := CleanGroupTitle(ptr("  road trip ")); err != nil || *got != "road trip" {
		t.Errorf("got %v, %v; want the trimmed title", got, err)
	}
	for _, bad := range []string{strings.Repeat("é", MaxGroupTitleRunes+1), "evil\u202Eeman", "a\x07b", "bad\xffutf8"} {
		var e *Error
		if _, err := CleanGroupTitle(&bad); !errors.As(err, &e) || e.Field != "title" || e.Code != CodeBadUserInput {
			t.Errorf("%q: got %v, want BAD_USER_INPUT on title", bad, err)
		}
	}
}
