package models

import (
	"errors"
	"testing"
	"time"
)

func TestCheckPhoneCode(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	v := func(attempts int, expiresIn time.Duration) *PhoneVerification {
		return &PhoneVerification{CodeHash: "right", Attempts: attempts, ExpiresAt: now.Add(expiresIn)}
	}
	for _, c := range []struct {
		name        string
		v           *PhoneVerification
		code        string
		wantCounted bool
		wantCode    Code
		wantReason  string
	}{
		{"right", v(0, time.Minute), "right", false, "", ""},
		{"right on the last attempt", v(PhoneCodeAttempts-1, time.Minute), "right", false, "", ""},
		{"right a microsecond before expiry", v(0, time.Microsecond), "right", false, "", ""},
		{"wrong", v(0, time.Minute), "wrong", true, CodeBadUserInput, ReasonWrongCode},
		{"wrong, one attempt left", v(PhoneCodeAttempts-2, time.Minute), "wrong", true, CodeBadUserInput, ReasonWrongCode},
		{"wrong on the last attempt kills it", v(PhoneCodeAttempts-1, time.Minute), "wrong", true, CodeForbidden, ReasonTooManyAttempts},
		{"dead, even right", v(PhoneCodeAttempts, time.Minute), "right", false, CodeForbidden, ReasonTooManyAttempts},
		{"dead and expired", v(PhoneCodeAttempts, -time.Minute), "right", false, CodeForbidden, ReasonTooManyAttempts},
		{"expired at the instant", v(0, 0), "right", false, CodeBadUserInput, ReasonCodeExpired},
		{"expired, wrong: not counted", v(0, -time.Minute), "wrong", false, CodeBadUserInput, ReasonCodeExpired},
		{"a prefix is wrong", v(0, time.Minute), "righ", true, CodeBadUserInput, ReasonWrongCode},
	} {
		counted, err := CheckPhoneCode(c.v, c.code, now)
		var e *Error
		errors.As(err, &e)
		switch {
		case counted != c.wantCounted:
			t.Errorf("%s: counted %v, want %v", c.name, counted, c.wantCounted)
		case c.wantCode == "" && err != nil:
			t.Errorf("%s: %v, want accepted", c.name, err)
		case c.wantCode != "" && (e == nil || e.Code != c.wantCode || e.Reason != c.wantReason):
			t.Errorf("%s: %v, want %s/%s", c.name, err, c.wantCode, c.wantReason)
		}
	}
}
