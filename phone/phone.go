// Package phone normalizes phone numbers to E.164 and hashes them with a
// secret key, so that numbers of people who never signed up are never
// stored in plain text.
package phone

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"dmgraph/models"
)

// MaxInputLen is the longest raw phone number, in bytes, that Normalize
// accepts. Real numbers, even formatted, are far shorter.
const MaxInputLen = 64

// MinKeyLen is the shortest key NewHasher accepts, in bytes.
const MinKeyLen = 32

// Normalize parses raw and returns it in E.164 form, such as "+33612345678".
// region is an ISO 3166 alpha-2 country code (any case) used when raw has no
// leading '+'; it may be empty when raw has one. Every failure is a
// *models.Error with code BAD_USER_INPUT, and no message repeats the number.
func Normalize(raw, region string) (string, error) {
	if len(raw) > MaxInputLen || !utf8.ValidString(raw) {
		return "", errNotANumber()
	}
	region, err := CheckRegion(region)
	if err != nil {
		return "", err
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errNotANumber()
	}
	num, err := parse(raw, region)
	if region == "" && errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
		return "", models.Invalid("the phone number needs a country code: start it with + and the code, or give a region")
	}
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", errNotANumber()
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// CheckRegion validates an ISO 3166 alpha-2 region (any case, or empty) and
// returns it upper-cased.
func CheckRegion(region string) (string, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	if region == "" {
		return "", nil
	}
	if !isAlpha2(region) || !phonenumbers.GetSupportedRegions()[region] {
		return "", errBadRegion()
	}
	return region, nil
}

// parse calls the library and turns a panic inside it into an error: the
// input comes straight from clients.
func parse(raw, region string) (num *phonenumbers.PhoneNumber, err error) {
	defer func() {
		if recover() != nil {
			num, err = nil, errors.New("phone: parser panicked")
		}
	}()
	return phonenumbers.Parse(raw, region)
}

func errNotANumber() error { return models.Invalid("this is not a valid phone number") }

func errBadRegion() error {
	return models.Invalid("region must be a two-letter country code, such as FR or US")
}

func isAlpha2(s string) bool {
	if len(s) != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // ASCII lower case
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Hasher computes keyed hashes of E.164 numbers. It is safe for concurrent
// use.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher for key, which must be at least MinKeyLen bytes.
// The key is copied.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("phone: the hash key must be at least 32 bytes")
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the lower-case hex HMAC-SHA-256 of e164 under the Hasher's
// key: 64 characters. Give it Normalize's output, so that every way of
// writing a number hashes the same.
func (h *Hasher) Hash(e164 string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(e164))
	return hex.EncodeToString(m.Sum(nil))
}
