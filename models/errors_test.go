package models

import (
	"testing"
	"time"
)

// Every RATE_LIMITED tells how long to wait, in whole seconds, at least 1,
// however it was built; other codes never carry retryAfter.
func TestRateLimitedCarriesRetryAfter(t *testing.T) {
	for _, c := range []struct {
		err  *Error
		want any
	}{
		{RateLimited(ReasonTooManyAttempts, "slow down", 90*time.Second), 90},
		{RateLimited(ReasonTooManyAttempts, "slow down", 1500*time.Millisecond), 2},
		{RateLimited(ReasonTooManyAttempts, "slow down", 10*time.Millisecond), 1},
		{&Error{Code: CodeRateLimited, Message: "built by hand"}, 1},
		{Refusal(CodeForbidden, ReasonRequestLimit, "until accepted"), nil},
	} {
		if got := c.err.Extensions()["retryAfter"]; got != c.want {
			t.Errorf("%v: retryAfter %v, want %v", c.err, got, c.want)
		}
	}
}
