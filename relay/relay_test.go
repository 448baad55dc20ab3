package relay

import (
	"errors"
	"testing"

	"dmgraph/models"
)

func TestIDRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 62} {
		kind, got, ok := Parse(ID(KindMessage, id))
		if !ok || kind != KindMessage || got != id {
			t.Errorf("%d: got %s %d %v", id, kind, got, ok)
		}
	}
	for _, bad := range []string{"", "!!", ID(KindUser, 1) + "=", "VXNlcjow", "VXNlcjotMQ", "VXNlcjowMQ"} { // User:0, User:-1, User:01
		if _, _, ok := Parse(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := Decode(KindConversation, ID(KindUser, 7)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("a User ID as a Conversation: %v", err)
	}
}

// FuzzParse: no input panics, and what decodes encodes back the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{ID(KindUser, 1), ID(KindMessageRequest, 99), Cursor(5), Cursor(10), Cursor(1 << 40), "", "garbage", "Og", "VXNlcjo5OTk5OTk5OTk5OTk5OTk5OTk5OQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, id, ok := Parse(s)
		if ok && ID(kind, id) != s {
			t.Fatalf("%q parsed as %s:%d, which encodes as %q", s, kind, id, ID(kind, id))
		}
		key, err := ParseCursor(s)
		if err != nil && models.CodeOf(err) != models.CodeBadUserInput {
			t.Fatalf("cursor %q: %v", s, err)
		}
		if err == nil && (key <= 0 || Cursor(key) != s) {
			t.Fatalf("cursor %q parsed as %d, which encodes as %q", s, key, Cursor(key))
		}
		if _, err := Decode(KindUser, s); err != nil && models.CodeOf(err) != models.CodeNotFound {
			t.Fatalf("ID %q: %v", s, err)
		}
	})
}
