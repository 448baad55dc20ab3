package relay

import "dmgraph/models"

// Page limits.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Args are the Relay pagination arguments, decoded. Forward pages use
// First/After, backward pages Last/Before. A zero After or Before means
// "from the start" (or end).
type Args struct {
	Backward bool
	Limit    int
	After    int64 // exclusive key bound, forward
	Before   int64 // exclusive key bound, backward
	// Snapshot, for the inbox, is the newest key the client has seen
	// (InboxCursor).
	Snapshot int64
}

// Forward checks forward-only pagination arguments.
func Forward(first *int, after *string) (Args, error) {
	return Both(first, after, nil, nil)
}

// Both checks arguments that may page either way.
func Both(first *int, after *string, last *int, before *string) (Args, error) {
	if first != nil && last != nil {
		return Args{}, models.Invalid("give first or last, not both")
	}
	if (first != nil && before != nil) || (last != nil && after != nil) {
		return Args{}, models.Invalid("page forward with first and after, or back with last and before")
	}
	var a Args
	n, field := first, "first"
	if last != nil {
		a.Backward, n, field = true, last, "last"
	}
	a.Limit = DefaultPageSize
	if n != nil {
		if *n < 0 || *n > MaxPageSize {
			return Args{}, models.InvalidField(field, "page size must be between 0 and %d", MaxPageSize)
		}
		a.Limit = *n
	}
	var err error
	if after != nil && *after != "" {
		if a.After, err = ParseCursor(*after); err != nil {
			return Args{}, err
		}
	}
	if before != nil && *before != "" {
		if a.Before, err = ParseCursor(*before); err != nil {
			return Args{}, err
		}
	}
	return a, nil
}

// Connection builds a page from up to Limit+1 items fetched in the page's
// direction; key gives each item's cursor key. The extra item only tells
// whether there is more.
func Connection[T any](args Args, items []*T, key func(*T) int64) *models.Connection[T] {
	return ConnectionOf(args, items, func(it *T) string { return Cursor(key(it)) })
}

// ConnectionOf is Connection with cursors of any form.
func ConnectionOf[T any](args Args, items []*T, cursor func(*T) string) *models.Connection[T] {
	more := len(items) > args.Limit
	if more {
		items = items[:args.Limit]
	}
	if args.Backward {
		// Fetched newest first; present oldest first.
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	c := &models.Connection[T]{Edges: make([]*models.Edge[T], len(items)), PageInfo: &models.PageInfo{}}
	for i, it := range items {
		c.Edges[i] = &models.Edge[T]{Cursor: cursor(it), Node: it}
	}
	if len(c.Edges) > 0 {
		c.PageInfo.StartCursor = &c.Edges[0].Cursor
		c.PageInfo.EndCursor = &c.Edges[len(c.Edges)-1].Cursor
	}
	if args.Backward {
		c.PageInfo.HasPreviousPage = more
		c.PageInfo.HasNextPage = args.Before != 0
	} else {
		c.PageInfo.HasNextPage = more
		c.PageInfo.HasPreviousPage = args.After != 0
	}
	return c
}
