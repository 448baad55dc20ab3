package auth

import "math"

// MinSecretBits is the least that SecretBits must find in a signing secret
// that production accepts.
const MinSecretBits = 96

// SecretBits estimates how many bits of entropy a secret carries: its
// length times the Shannon entropy of its bytes' frequencies, counted over
// one copy only when the secret is a shorter string repeated. Thirty-two
// random base64 characters score about 145, thirty-two random hex digits
// about 115; a blank, repeated or few-symbol secret scores little. It is
// an upper bound: it cannot see that "abcdef…" or a phrase is guessable.
func SecretBits(secret string) float64 {
	s := secret[:period(secret)]
	var counts [256]int
	for i := range len(s) {
		counts[s[i]]++
	}
	var bits float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(len(s))
			bits -= float64(c) * math.Log2(p)
		}
	}
	return bits
}

// period is the length of the shortest unit that s repeats (s itself when
// it repeats nothing, or has only one copy of its unit).
func period(s string) int {
	for p := 1; p <= len(s)/2; p++ {
		repeats := true
		for i := p; i < len(s) && repeats; i++ {
			repeats = s[i] == s[i-p]
		}
		if repeats {
			return p
		}
	}
	return len(s)
}
