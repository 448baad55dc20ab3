package auth

import (
	"math"
	"strings"
	"testing"
)

// TestSec10SecretBits pins the estimate production's JWT_SECRET check uses.
func TestSec10SecretBits(t *testing.T) {
	for _, c := range []struct {
		secret string
		bits   float64
	}{
		{"", 0},
		{strings.Repeat(" ", 32), 0},
		{strings.Repeat("ab", 16), 2},               // one copy of "ab": 2 × 1 bit
		{strings.Repeat("0123456789abcdef", 2), 64}, // one copy: 16 × 4 bits
		{"aab", -(2*math.Log2(2.0/3) + math.Log2(1.0/3))},
		{"aaba", -(3*math.Log2(3.0/4) + math.Log2(1.0/4))}, // a unit counts only when it fits twice
		{"abcdefghijklmnopqrstuvwxyz012345", 160},
	} {
		got := SecretBits(c.secret)
		if math.Abs(got-c.bits) > 1e-9 {
			t.Errorf("SecretBits(%q) = %v, want %v", c.secret, got, c.bits)
		}
	}
	if b := SecretBits("yu/hP+DPmy3Uj0wqxps4IWklXcyWIu78aCwSTBnDTUE="); b < MinSecretBits {
		t.Errorf("a random base64 secret scores %v", b)
	}
}
