package auth

import (
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestSec11DummyHashAtConfiguredCost: an unknown username is compared
// against a hash of the configured cost, the cost real passwords have.
func TestSec11DummyHashAtConfiguredCost(t *testing.T) {
	for _, c := range []struct{ configured, want int }{
		{0, DefaultCost}, {2, DefaultCost}, {bcrypt.MinCost, bcrypt.MinCost}, {5, 5},
	} {
		h := Hasher{Cost: c.configured}
		real, err := h.Hash("a password")
		if err != nil {
			t.Fatal(err)
		}
		realCost, _ := bcrypt.Cost([]byte(real))
		dummyCost, err := bcrypt.Cost(h.dummyHash())
		if err != nil || dummyCost != c.want || realCost != c.want {
			t.Errorf("cost %d: passwords hashed at %d, unknown names checked at %d (%v), want %d",
				c.configured, realCost, dummyCost, err, c.want)
		}
	}
}

// TestSec11UnknownNameTakesAsLongAsWrongPassword measures it at cost 4,
// where a cost-10 dummy would be 64 times slower: the fastest of several
// runs of each must be within a factor of 4 of the other.
func TestSec11UnknownNameTakesAsLongAsWrongPassword(t *testing.T) {
	h := Hasher{Cost: bcrypt.MinCost}
	hash, err := h.Hash("the real password")
	if err != nil {
		t.Fatal(err)
	}
	h.CheckMissing("warm") // the dummy is hashed once, lazily
	fastest := func(f func()) time.Duration {
		best := time.Duration(1 << 62)
		for range 9 {
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return best
	}
	wrong := fastest(func() { h.Check(hash, "a wrong guess") })
	missing := fastest(func() { h.CheckMissing("a wrong guess") })
	if missing > 4*wrong || wrong > 4*missing {
		t.Fatalf("wrong password %v, unknown name %v", wrong, missing)
	}
}
