package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "test-secret-that-is-long-enough"

// clock is a settable time for Tokens.now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTokens(t *testing.T) (*Tokens, *clock) {
	t.Helper()
	tok, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	tok.now = c.now
	return tok, c
}

// remembered issues a token for user 42 and parses it once, so Parse
// remembers it; it returns the token and its expiry.
func remembered(t *testing.T, tok *Tokens) (string, time.Time) {
	t.Helper()
	s, exp, err := tok.Issue(42, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Parse(s); err != nil {
		t.Fatal(err)
	}
	return s, exp
}

// sign signs claims with key and method, for tokens Issue would never make.
func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseReturnsWhatIssueSigned(t *testing.T) {
	tok, c := newTokens(t)
	s, exp, err := tok.Issue(42, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.t.Add(time.Hour); !exp.Equal(want) {
		t.Fatalf("expires %v, want %v", exp, want)
	}
	for _, round := range []string{"verified", "remembered"} {
		if remembered := tok.verified.Contains(s); remembered != (round == "remembered") {
			t.Fatalf("%s: remembered before parsing: %v", round, remembered)
		}
		got, err := tok.Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
		if got.UserID != 42 || got.Version != 7 || !got.Expires.Equal(exp.Truncate(time.Second)) {
			t.Fatalf("%s: claims %+v", round, got)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	tok, c := newTokens(t)
	// The genuine token is verified and remembered first: nothing below may
	// ride on that.
	good, _ := remembered(t, tok)
	exp := jwt.NewNumericDate(c.t.Add(time.Hour))
	valid := jwt.RegisteredClaims{Issuer: issuer, Subject: "42", ExpiresAt: exp}
	parts := strings.Split(good, ".")
	cases := map[string]string{
		"empty":             "",
		"garbage":           "not.a.token",
		"signature changed": parts[0] + "." + parts[1] + "." + strings.ToUpper(parts[2]),
		"payload changed": parts[0] + "." + base64.RawURLEncoding.EncodeToString(
			[]byte(`{"iss":"dmgraph","sub":"43","exp":`+jsonTime(exp)+`}`)) + "." + parts[2],
		"trailing byte":  good + "A",
		"other secret":   sign(t, jwt.SigningMethodHS256, []byte("another-secret"), valid),
		"other HMAC":     sign(t, jwt.SigningMethodHS512, []byte(secret), valid),
		"alg none":       sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid),
		"other issuer":   sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.RegisteredClaims{Issuer: "x", Subject: "42", ExpiresAt: exp}),
		"no expiry":      sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.RegisteredClaims{Issuer: issuer, Subject: "42"}),
		"subject not ID": sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.RegisteredClaims{Issuer: issuer, Subject: "bob", ExpiresAt: exp}),
		"subject zero":   sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.RegisteredClaims{Issuer: issuer, Subject: "0", ExpiresAt: exp}),
		"expired": sign(t, jwt.SigningMethodHS256, []byte(secret),
			jwt.RegisteredClaims{Issuer: issuer, Subject: "42", ExpiresAt: jwt.NewNumericDate(c.t.Add(-time.Second))}),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			for range 2 { // a refusal is never remembered either
				if _, err := tok.Parse(s); !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("err %v, want ErrInvalidToken", err)
				}
			}
		})
	}
}

// A remembered token still expires on time.
func TestRememberedTokenExpires(t *testing.T) {
	tok, c := newTokens(t)
	s, exp := remembered(t, tok)
	c.t = exp.Truncate(time.Second).Add(-time.Millisecond)
	if _, err := tok.Parse(s); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	c.t = exp.Truncate(time.Second)
	if _, err := tok.Parse(s); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("at expiry: err %v, want ErrInvalidToken", err)
	}
	if tok.verified.Contains(s) {
		t.Fatal("an expired token is still remembered")
	}
}

func jsonTime(d *jwt.NumericDate) string {
	b, _ := d.MarshalJSON()
	return string(b)
}

// BenchmarkParse compares verifying a token with finding it remembered, alone
// and from every core at once:
// go test -bench Parse -benchmem ./auth
func BenchmarkParse(b *testing.B) {
	tok, err := NewTokens(secret, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	s, _, err := tok.Issue(42, 3)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			tok.verified.Purge()
			if _, err := tok.Parse(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if _, err := tok.Parse(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Every request takes the cache's lock: this is the contended case.
	b.Run("remembered-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tok.Parse(s); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
