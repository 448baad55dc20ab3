// Package relay encodes Relay global IDs and pagination cursors. Both are
// opaque to clients: base64url of "Kind:number".
package relay

import (
	"encoding/base64"
	"strconv"
	"strings"

	"dmgraph/models"
)

// Kinds of global ID.
const (
	KindUser           = "User"
	KindVideo          = "Video"
	KindConversation   = "Conversation"
	KindMessage        = "Message"
	KindMessageRequest = "MessageRequest"
	KindReport         = "Report"
	KindInvitation     = "GroupInvitation"
	// KindPrivacySettings numbers a user's settings by the user's ID.
	KindPrivacySettings = "PrivacySettings"
)

var enc = base64.RawURLEncoding.Strict() // one spelling per ID: no stray trailing bits

// maxEncoded bounds what we try to decode: a kind and an int64 fit in far less.
const maxEncoded = 64

// ID encodes a global ID.
func ID(kind string, id int64) string {
	return enc.EncodeToString([]byte(kind + ":" + strconv.FormatInt(id, 10)))
}

// Parse splits a global ID into its kind and number. ok is false for anything
// that is not an ID we made.
func Parse(gid string) (kind string, id int64, ok bool) {
	raw, ok := decodeCanonical(gid)
	if !ok {
		return "", 0, false
	}
	kind, num, found := strings.Cut(raw, ":")
	if !found || kind == "" {
		return "", 0, false
	}
	id, ok = positive(num)
	if !ok {
		return "", 0, false
	}
	return kind, id, true
}

// decodeCanonical decodes s, which must be the one spelling of its bytes.
func decodeCanonical(s string) (string, bool) {
	if len(s) == 0 || len(s) > maxEncoded {
		return "", false
	}
	raw, err := enc.DecodeString(s)
	if err != nil || enc.EncodeToString(raw) != s {
		// The decoder skips newlines; only the one canonical spelling counts.
		return "", false
	}
	return string(raw), true
}

// positive parses a positive number written without sign or leading zeros.
func positive(num string) (int64, bool) {
	n, err := strconv.ParseInt(num, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == num
}

// Decode returns the number in a global ID of the wanted kind. An ID that
// does not decode, or is of another kind, is simply not found.
func Decode(kind, gid string) (int64, error) {
	k, id, ok := Parse(gid)
	if !ok || k != kind {
		return 0, models.NotFound(strings.ToLower(kindWords(kind)))
	}
	return id, nil
}

func kindWords(kind string) string {
	switch kind {
	case KindMessageRequest:
		return "message request"
	case KindPrivacySettings:
		return "privacy settings"
	case KindInvitation:
		return "group invitation"
	}
	return kind
}

// Cursor encodes a position in a list.
func Cursor(key int64) string {
	return enc.EncodeToString([]byte("c:" + strconv.FormatInt(key, 10)))
}

// ParseCursor decodes a cursor; a malformed one is bad input.
func ParseCursor(c string) (int64, error) {
	k, key, ok := Parse(c)
	if !ok || k != "c" {
		return 0, models.Invalid("the cursor %q is not valid", truncate(c, 40))
	}
	return key, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Position encodes a position in a user's change sequence.
func Position(id int64) string {
	return enc.EncodeToString([]byte("s:" + strconv.FormatInt(id, 10)))
}

// ParsePosition decodes a position; a malformed one is bad input.
func ParsePosition(p string) (int64, error) {
	if p == Position(0) { // the start, before a user's first change
		return 0, nil
	}
	k, id, ok := Parse(p)
	if !ok || k != "s" || id < 0 {
		return 0, models.InvalidField("since", "the position %q is not valid", truncate(p, 40))
	}
	return id, nil
}

// MessageEdge is a message as an edge of its conversation's messages.
func MessageEdge(m *models.Message) *models.MessageEdge {
	return &models.MessageEdge{Cursor: Cursor(m.ID), Node: m}
}
