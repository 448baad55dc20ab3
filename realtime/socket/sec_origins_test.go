package socket_test

import (
	"testing"

	"dmgraph/realtime/socket"
)

// TestSec10OriginPatternsCoveringPublicSuffixes: patterns that match hosts
// under a public suffix the operator does not own are refused; patterns
// pinned to one registrable domain, localhost or an IP pass.
func TestSec10OriginPatternsCoveringPublicSuffixes(t *testing.T) {
	for _, p := range []string{
		// the examples
		"?*", "*com", "[a-z]*", "*.com",
		// more of the same
		"*", "*:*", "*.*", "*.co.uk", "*.github.io", "github.io", "com", "co.uk",
		"*example.com", "app.example.*", "app.example.com*", "example.c?m", "*.[a-z]om",
		"localhost:*.evil.com", "app.example.com:", "[", "",
		"intranet", // a single label is a public suffix by the list's default rule
	} {
		if err := socket.CheckOriginPattern(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for _, p := range []string{
		"app.example.com", "*.example.com", "App.Example.COM", "app.example.com:8443",
		"*.example.com:*", "a?p.example.com", "*.example.co.uk", "*.myapp.github.io",
		"localhost", "localhost:*", "127.0.0.1:*", "10.0.0.7:3000", "localhost:30?0",
	} {
		if err := socket.CheckOriginPattern(p); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
}
