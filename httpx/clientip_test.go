package httpx

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.7")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote, xff, want string
	}{
		{"203.0.113.5:1234", "", "203.0.113.5"},
		{"203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},                        // untrusted peer: header ignored
		{"10.1.2.3:80", "198.51.100.9", "198.51.100.9"},                       // one load balancer
		{"10.1.2.3:80", "6.6.6.6, 198.51.100.9, 192.168.1.7", "198.51.100.9"}, // spoofed left part ignored
		{"10.1.2.3:80", "", "10.1.2.3"},
		{"10.1.2.3:80", "garbage", "10.1.2.3"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := ClientIP(r, trusted); got != tt.want {
			t.Errorf("%s via %q: got %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
	if _, err := ParseTrustedProxies("10.0.0.0/99"); err == nil {
		t.Error("a bad prefix was accepted")
	}
}
