package relay

import (
	"testing"

	"dmgraph/models"
)

func TestInboxCursorRoundTrip(t *testing.T) {
	for _, c := range []InboxCursor{{1, 1}, {10, 9}, {1 << 40, 7}} {
		got, err := ParseInboxCursor(c.String())
		if err != nil || got != c {
			t.Errorf("%+v came back as %+v, %v", c, got, err)
		}
	}
	for _, bad := range []string{"", "!!", Cursor(5), ID(KindUser, 5), InboxCursor{5, 6}.String(),
		enc.EncodeToString([]byte("i:5")), enc.EncodeToString([]byte("i:5:0")), enc.EncodeToString([]byte("i:05:5")),
		enc.EncodeToString([]byte("i:5:5:5")), InboxCursor{5, 5}.String() + "A"} {
		if _, err := ParseInboxCursor(bad); models.CodeOf(err) != models.CodeBadUserInput {
			t.Errorf("cursor %q: %v, want BAD_USER_INPUT", bad, err)
		}
	}
}

// view is a conversation whose viewer's key is key.
func view(key int64) *models.ConversationView {
	return &models.ConversationView{Member: &models.Member{LastMessageID: key}}
}

func viewKey(v *models.ConversationView) int64 { return v.Member.LastMessageID }

// A page after a cursor lists the moves first, each with the snapshot up to
// itself, then the rest with every move counted as seen.
func TestInboxPageCursors(t *testing.T) {
	args := Args{Limit: 3, After: 4, Snapshot: 8}
	c := InboxPage(args, []*models.ConversationView{view(9), view(12)}, []*models.ConversationView{view(3), view(2)}, viewKey)
	want := []InboxCursor{{9, 4}, {12, 4}, {12, 3}}
	if len(c.Edges) != 3 || !c.PageInfo.HasNextPage {
		t.Fatalf("%d edges, more %v", len(c.Edges), c.PageInfo.HasNextPage)
	}
	for i, e := range c.Edges {
		if got, _ := ParseInboxCursor(e.Cursor); got != want[i] {
			t.Errorf("edge %d: cursor %+v, want %+v", i, got, want[i])
		}
	}
	// A first page's snapshot is its newest conversation.
	first := InboxPage(Args{Limit: 2}, nil, []*models.ConversationView{view(7), view(5), view(1)}, viewKey)
	if got, _ := ParseInboxCursor(*first.PageInfo.EndCursor); got != (InboxCursor{7, 5}) {
		t.Errorf("first page's end cursor %+v, want {7 5}", got)
	}
}
