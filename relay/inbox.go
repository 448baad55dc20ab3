package relay

import (
	"slices"
	"strconv"
	"strings"

	"dmgraph/models"
)

// The inbox is ordered by last activity, which moves: a conversation that
// gets a message while a client pages jumps to the top, before any cursor a
// plain keyset would hold, and would be skipped. An inbox cursor therefore
// holds two keys (a key is a member's last_message_id):
//
//   - Position: the edge's own key. A page forward continues below it.
//   - Snapshot: the newest key the client has been shown. A conversation
//     whose key is above it moved (or arrived) since, and comes first on the
//     next page forward, oldest move first.
//
// Every conversation the client has not seen is then either below Position
// or above Snapshot: none is lost. One that moves again after it was shown
// is shown again; clients dedupe by ID.

// InboxCursor is a position in the inbox.
type InboxCursor struct {
	Snapshot, Position int64
}

// String encodes the cursor: base64url of "i:snapshot:position".
func (c InboxCursor) String() string {
	return enc.EncodeToString([]byte("i:" + strconv.FormatInt(c.Snapshot, 10) + ":" + strconv.FormatInt(c.Position, 10)))
}

// ParseInboxCursor decodes an inbox cursor; a malformed one is bad input.
func ParseInboxCursor(s string) (InboxCursor, error) {
	bad := models.Invalid("the cursor %q is not valid", truncate(s, 40))
	raw, ok := decodeCanonical(s)
	parts := strings.Split(raw, ":")
	if !ok || len(parts) != 3 || parts[0] != "i" {
		return InboxCursor{}, bad
	}
	var c InboxCursor
	var okS, okP bool
	c.Snapshot, okS = positive(parts[1])
	c.Position, okP = positive(parts[2])
	if !okS || !okP || c.Position > c.Snapshot {
		return InboxCursor{}, bad
	}
	return c, nil
}

// InboxArgs checks the inbox's forward pagination arguments: After is the
// cursor's Position, Snapshot its Snapshot.
func InboxArgs(first *int, after *string) (Args, error) {
	args, err := Forward(first, nil)
	if err != nil || after == nil || *after == "" {
		return args, err
	}
	c, err := ParseInboxCursor(*after)
	if err != nil {
		return Args{}, err
	}
	args.After, args.Snapshot = c.Position, c.Snapshot
	return args, nil
}

// InboxEdge is a conversation as an edge of the viewer's inbox, as if it
// were at the top: a page after it holds everything below it, and anything
// that moved above it.
func InboxEdge(v *models.ConversationView) *models.ConversationEdge {
	key := v.Member.LastMessageID
	return &models.ConversationEdge{Cursor: InboxCursor{Snapshot: key, Position: key}.String(), Node: v}
}

// InboxPage builds a page forward from what the store read for args: moved,
// the conversations above args.Snapshot, oldest move first (none on a first
// page), then rest, those below args.After, newest first; up to Limit+1 of
// each, keyed by key.
func InboxPage(args Args, moved, rest []*models.ConversationView, key func(*models.ConversationView) int64) *models.ConversationConnection {
	snapshot := args.Snapshot
	if args.After == 0 && len(rest) > 0 {
		snapshot = key(rest[0]) // a first page: the newest conversation
	}
	items := slices.Concat(moved, rest)
	cursors := make(map[*models.ConversationView]string, len(items))
	for _, v := range moved {
		// Moves up to this one are shown; the rest waits below After.
		cursors[v] = InboxCursor{Snapshot: key(v), Position: args.After}.String()
		snapshot = max(snapshot, key(v))
	}
	for _, v := range rest {
		// A rest item reaches the page only after every move: all shown.
		cursors[v] = InboxCursor{Snapshot: snapshot, Position: key(v)}.String()
	}
	return ConnectionOf(args, items, func(v *models.ConversationView) string { return cursors[v] })
}
