package phone

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"dmgraph/models"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		raw, region, want string
	}{
		{"+33 6 12 34 56 78", "", "+33612345678"},
		{"+33612345678", "", "+33612345678"},
		{"+33-6-12-34-56-78", "", "+33612345678"},
		{"+33 (0)6 12 34 56 78", "", "+33612345678"},
		{"06 12 34 56 78", "FR", "+33612345678"},
		{"0612345678", "FR", "+33612345678"},
		{"06-12-34-56-78", "fr", "+33612345678"},
		{"06.12.34.56.78", " FR ", "+33612345678"},
		{"0033 6 12 34 56 78", "FR", "+33612345678"},
		{"+33 6 12 34 56 78", "US", "+33612345678"}, // '+' wins over region
		{"  +33612345678  ", "", "+33612345678"},
		{"(415) 555-2671", "US", "+14155552671"},
		{"415-555-2671", "US", "+14155552671"},
		{"4155552671", "US", "+14155552671"},
		{"+1 415 555 2671", "", "+14155552671"},
		{"+1-415-555-2671", "", "+14155552671"},
		{"1 (415) 555-2671", "US", "+14155552671"},
		{"020 7946 0958", "GB", "+442079460958"},
		{"+44 20 7946 0958", "", "+442079460958"},
	}
	for _, c := range cases {
		got, err := Normalize(c.raw, c.region)
		if err != nil {
			t.Errorf("Normalize(%q, %q): %v", c.raw, c.region, err)
			continue
		}
		if got != c.want {
			t.Errorf("Normalize(%q, %q) = %q, want %q", c.raw, c.region, got, c.want)
		}
	}
}

func TestNormalizeInvalid(t *testing.T) {
	cases := []struct {
		name, raw, region string
	}{
		{"empty", "", "FR"},
		{"blank", "   ", "FR"},
		{"letters", "not a number", "FR"},
		{"too short", "123", "FR"},
		{"too short international", "+33 6", ""},
		{"too long digits", "+33 6 12 34 56 78 90 12 34", ""},
		{"no plus, no region", "06 12 34 56 78", ""},
		{"unknown country code", "+999 123 456 789", ""},
		{"invalid for region", "(415) 555-2671", "FR"},
		{"unassigned US area code", "(123) 555-2671", "US"},
		{"region too long", "06 12 34 56 78", "FRA"},
		{"region digits", "06 12 34 56 78", "33"},
		{"region non-ASCII", "06 12 34 56 78", "FŔ"},
		{"unknown region", "06 12 34 56 78", "XX"},
		{"non-geographic region", "06 12 34 56 78", "001"},
		{"over 64 bytes", "+33 6 12 34 56 78" + strings.Repeat(" ", 60), ""},
		{"invalid UTF-8", "+33 6 12 34 56 7\xff", ""},
		{"NUL", "+33 6 12 34 56 78\x00", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Normalize(c.raw, c.region)
			if err == nil {
				t.Fatalf("Normalize(%q, %q) = %q, want an error", c.raw, c.region, got)
			}
			assertBadInput(t, err)
			if got != "" {
				t.Errorf("got %q alongside the error", got)
			}
			if digits := strings.TrimSpace(c.raw); len(digits) >= 6 && strings.Contains(err.Error(), digits) {
				t.Errorf("error %q repeats the input", err)
			}
		})
	}
}

func assertBadInput(t *testing.T, err error) {
	t.Helper()
	var e *models.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *models.Error", err, err)
	}
	if e.Code != models.CodeBadUserInput {
		t.Fatalf("code = %s, want %s", e.Code, models.CodeBadUserInput)
	}
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, MinKeyLen) }

func TestNewHasherKeyLength(t *testing.T) {
	for _, n := range []int{0, 1, MinKeyLen - 1} {
		if _, err := NewHasher(make([]byte, n)); err == nil {
			t.Errorf("NewHasher with a %d-byte key: no error", n)
		}
	}
	for _, n := range []int{MinKeyLen, 64} {
		if _, err := NewHasher(make([]byte, n)); err != nil {
			t.Errorf("NewHasher with a %d-byte key: %v", n, err)
		}
	}
}

func TestHash(t *testing.T) {
	const num = "+33612345678"
	h1, err := NewHasher(testKey('a'))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := NewHasher(testKey('b'))
	if err != nil {
		t.Fatal(err)
	}

	a := h1.Hash(num)
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("Hash = %q, want 64 lower-case hex characters", a)
	}
	if b := h1.Hash(num); b != a {
		t.Errorf("Hash is not deterministic: %q then %q", a, b)
	}
	if b := h2.Hash(num); b == a {
		t.Errorf("two keys gave the same hash %q", a)
	}
	if b := h1.Hash("+33612345679"); b == a {
		t.Errorf("two numbers gave the same hash %q", a)
	}
	for _, part := range []string{num, num[1:], "612345678", "12345678"} {
		if strings.Contains(a, part) {
			t.Errorf("hash %q contains %q", a, part)
		}
	}

	// Known answer, so a change of algorithm or encoding cannot go unnoticed:
	// HMAC-SHA-256 of "+33612345678" under 32 bytes of 'a'.
	if want := "b92c4f9ca064d6c14c9bdb580d0a83c0fb36bbf4824229d7f8f53aa8d84a878b"; a != want {
		t.Errorf("Hash = %q, want %q", a, want)
	}
}

func TestHasherCopiesKey(t *testing.T) {
	key := testKey('a')
	h, err := NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	before := h.Hash("+33612345678")
	key[0] = 'z'
	if after := h.Hash("+33612345678"); after != before {
		t.Error("changing the caller's key slice changed the hash")
	}
}

func TestHashConcurrent(t *testing.T) {
	h, err := NewHasher(testKey('a'))
	if err != nil {
		t.Fatal(err)
	}
	want := h.Hash("+33612345678")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got := h.Hash("+33612345678"); got != want {
					t.Errorf("concurrent Hash = %q, want %q", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzNormalize(f *testing.F) {
	seeds := []struct{ raw, region string }{
		{"+33 6 12 34 56 78", ""},
		{"06 12 34 56 78", "FR"},
		{"(415) 555-2671", "US"},
		{"", ""},
		{"+", "ZZ"},
		{"tel:+1-415-555-2671;ext=12", "us"},
		{"+33 6 12 34 56 7\xff", "FR"},
		{"００ ３３ ６ １２", "FR"},
		{"1-800-FLOWERS", "US"},
	}
	for _, s := range seeds {
		f.Add(s.raw, s.region)
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := Normalize(raw, region)
		if err != nil {
			assertBadInput(t, err)
			return
		}
		if !strings.HasPrefix(got, "+") || len(got) < 3 || len(got) > 16 {
			t.Fatalf("Normalize(%q, %q) = %q, not E.164", raw, region, got)
		}
		if strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("Normalize(%q, %q) = %q, not E.164", raw, region, got)
		}
		// E.164 output is a fixed point.
		again, err := Normalize(got, "")
		if err != nil || again != got {
			t.Fatalf("Normalize(%q, \"\") = %q, %v; want %q", got, again, err, got)
		}
	})
}
