package models

import (
	"crypto/subtle"
	"time"
)

// A phone number counts (for contacts matching and suggestions) only once
// its owner has typed back the code sent to it.
const (
	// PhoneCodeTTL is how long a verification code works.
	PhoneCodeTTL = 10 * time.Minute
	// PhoneCodeAttempts is how many wrong codes kill a verification.
	PhoneCodeAttempts = 5
)

// Refusal reasons of phone verification and contact syncing.
const (
	ReasonWrongCode     = "WRONG_CODE"
	ReasonCodeExpired   = "CODE_EXPIRED"
	ReasonNoCode        = "NO_CODE"
	ReasonSMSLimit      = "SMS_LIMIT"
	ReasonContactsLimit = "CONTACTS_LIMIT"
)

// PhoneVerification is a code sent to a number and not yet typed back: at
// most one per user, replaced by each new setPhoneNumber. It holds keyed
// hashes only, never the number or the code.
type PhoneVerification struct {
	UserID    int64     `gorm:"primaryKey;autoIncrement:false"`
	PhoneHash string    `gorm:"size:64;not null"`
	CodeHash  string    `gorm:"size:64;not null"`
	Attempts  int       `gorm:"not null;default:0"`
	ExpiresAt time.Time `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// CheckPhoneCode decides one verifyPhoneNumber attempt of codeHash against
// v at now. It returns nil when the code is right. counted says that the
// attempt was wrong and uses up one of the code's attempts.
func CheckPhoneCode(v *PhoneVerification, codeHash string, now time.Time) (counted bool, err error) {
	if v.Attempts >= PhoneCodeAttempts {
		return false, errTooManyCodes
	}
	if !now.Before(v.ExpiresAt) {
		return false, Refusal(CodeBadUserInput, ReasonCodeExpired, "this code has expired; ask for a new one")
	}
	if subtle.ConstantTimeCompare([]byte(v.CodeHash), []byte(codeHash)) == 1 {
		return false, nil
	}
	if v.Attempts+1 >= PhoneCodeAttempts {
		return true, errTooManyCodes
	}
	return true, Refusal(CodeBadUserInput, ReasonWrongCode, "this is not the code we sent")
}

var errTooManyCodes = Refusal(CodeForbidden, ReasonTooManyAttempts, "too many wrong codes; ask for a new one")

// ErrNoPhoneCode answers verifyPhoneNumber when no code is waiting.
var ErrNoPhoneCode = Refusal(CodeBadUserInput, ReasonNoCode, "no code is waiting; set a phone number first")
