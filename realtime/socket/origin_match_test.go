package socket

import (
	"net/http/httptest"
	"testing"
)

// The default patterns allow the loopback addresses a front-end dev server
// runs on, the IPv6 one included, and nothing that merely resembles them.
func TestDefaultOriginsAllowLoopbackOnly(t *testing.T) {
	allowed := originChecker(DefaultAllowedOrigins)
	for origin, want := range map[string]bool{
		"http://localhost:3000":    true,
		"http://127.0.0.1:5173":    true,
		"http://[::1]:3000":        true,
		"http://[::1]":             false,
		"http://1:3000":            false,
		"http://[::2]:3000":        false,
		"https://evil.example":     false,
		"http://localhost.evil.io": false,
	} {
		r := httptest.NewRequest("GET", "http://api.example.com/query", nil)
		r.Header.Set("Origin", origin)
		if got := allowed(r); got != want {
			t.Errorf("origin %s: allowed %v, want %v", origin, got, want)
		}
	}
}
