package models

import (
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Input limits.
const (
	MaxTextRunes        = 4000
	MaxCaptionRunes     = 2000
	MaxDisplayNameRunes = 50
	MaxDetailsRunes     = 1000
	MaxClientIDRunes    = 64
	MinPasswordRunes    = 8
	MaxPasswordBytes    = 72 // bcrypt reads no further
	MinAge              = 13
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9._]{2,24}$`)

// NormalizeUsername lower-cases and checks a username.
func NormalizeUsername(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if !usernamePattern.MatchString(s) {
		return "", InvalidField("username", "a username has 2 to 24 characters: letters, digits, dots and underscores")
	}
	return s, nil
}

// CheckPassword enforces the password rules.
func CheckPassword(p string) error {
	if !utf8.ValidString(p) || utf8.RuneCountInString(p) < MinPasswordRunes {
		return InvalidField("password", "a password needs at least %d characters", MinPasswordRunes)
	}
	return CheckPasswordLength(p)
}

// CheckPasswordLength refuses passwords longer than bcrypt reads, which no
// account can have: registration and login answer them alike.
func CheckPasswordLength(p string) error {
	if len(p) > MaxPasswordBytes {
		return InvalidField("password", "a password can be at most %d bytes long", MaxPasswordBytes)
	}
	return nil
}

// CleanDisplayName trims and checks a display name. Like a username, it
// may not reorder text around it (bidi controls such as U+202E), hold
// control characters, or show nothing at all (only zero-width, blank or
// combining characters).
func CleanDisplayName(s string) (string, error) {
	s, err := cleanText(s, "displayName", "a display name", 1, MaxDisplayNameRunes)
	if err != nil {
		return "", err
	}
	visible := false
	for _, r := range s {
		if controlOrBidi(r) {
			return "", InvalidField("displayName", "a display name can't contain control or text-direction characters")
		}
		visible = visible || !invisible(r)
	}
	if !visible {
		return "", InvalidField("displayName", "a display name needs at least one visible character")
	}
	return s, nil
}

// controlOrBidi reports a control character, or one that reorders the text
// around it (U+202E and the other bidi controls): names and titles refuse
// them.
func controlOrBidi(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) || unicode.IsControl(r) }

// invisible reports whether r shows nothing by itself: spaces, format
// characters (zero-width space and joiners, U+FEFF), combining marks, and
// the letters and symbols drawn blank (Hangul fillers, the blank Braille
// pattern).
func invisible(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', '\u2800':
		return true
	}
	return unicode.IsSpace(r) || unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// CheckAge requires the user to be at least MinAge on today's date.
func CheckAge(birth, today time.Time) error {
	if birth.After(today) {
		return InvalidField("birthDate", "the birth date is in the future")
	}
	if Age(birth, today) < MinAge {
		return InvalidField("birthDate", "you must be at least %d to use dmgraph", MinAge)
	}
	return nil
}

// Age is the number of whole years from birth to today.
func Age(birth, today time.Time) int {
	years := today.Year() - birth.Year()
	if today.Month() < birth.Month() || today.Month() == birth.Month() && today.Day() < birth.Day() {
		years--
	}
	return years
}

// CleanMessageText trims message text; nil or blank text becomes nil.
func CleanMessageText(s *string) (*string, error) {
	if s == nil {
		return nil, nil
	}
	t, err := cleanText(*s, "text", "a message", 0, MaxTextRunes)
	if err != nil || t == "" {
		return nil, err
	}
	return &t, nil
}

// CleanCaption trims and checks a video caption (which may be empty).
func CleanCaption(s string) (string, error) {
	return cleanText(s, "caption", "a caption", 0, MaxCaptionRunes)
}

// CleanDetails trims optional report details.
func CleanDetails(s *string) (*string, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	t, err := cleanText(*s, "details", "report details", 1, MaxDetailsRunes)
	return &t, err
}

// CleanClientMessageID checks an idempotency key.
func CleanClientMessageID(s *string) (*string, error) {
	if s == nil {
		return nil, nil
	}
	t, err := cleanText(*s, "clientMessageId", "a clientMessageId", 1, MaxClientIDRunes)
	return &t, err
}

// CheckVideoURL accepts absolute http(s) URLs with a host.
func CheckVideoURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2048 {
		return "", InvalidField("url", "a video URL must be an http or https address")
	}
	return s, nil
}

// cleanText trims and checks the text of input field, called what in
// messages.
func cleanText(s, field, what string, minRunes, maxRunes int) (string, error) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", InvalidField(field, "%s must be valid UTF-8 text without NUL characters", what)
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n < minRunes {
		return "", InvalidField(field, "%s can't be empty", what)
	}
	if n > maxRunes {
		return "", InvalidField(field, "%s can be at most %d characters", what, maxRunes)
	}
	return s, nil
}
