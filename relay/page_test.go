package relay

import (
	"math"
	"slices"
	"strings"
	"testing"

	"dmgraph/models"
)

// Cursors round-trip for keys of every length: 9 and 10 differ in digits,
// and 2^40 is past any 32-bit slip.
func TestCursorRoundTrip(t *testing.T) {
	for _, key := range []int64{1, 9, 10, 11, 99, 100, 1 << 40, math.MaxInt64} {
		c := Cursor(key)
		if got, err := ParseCursor(c); err != nil || got != key {
			t.Errorf("key %d: cursor %q parsed as %d, %v", key, c, got, err)
		}
		if kind, id, ok := Parse(c); !ok || kind != "c" || id != key {
			t.Errorf("key %d: cursor %q is %q %d %v, want c:%d", key, c, kind, id, ok, key)
		}
	}
	// The spelling is part of the contract: clients store cursors.
	if got, want := Cursor(10), enc.EncodeToString([]byte("c:10")); got != want {
		t.Errorf("Cursor(10) = %q, want %q", got, want)
	}
	for _, bad := range []string{"", "!!", ID(KindUser, 10), enc.EncodeToString([]byte("c:0")), enc.EncodeToString([]byte("c:a")),
		enc.EncodeToString([]byte("c:-1")), enc.EncodeToString([]byte("c:010")), Cursor(10) + "A"} {
		if key, err := ParseCursor(bad); models.CodeOf(err) != models.CodeBadUserInput || key != 0 {
			t.Errorf("cursor %q: %d %v, want BAD_USER_INPUT", bad, key, err)
		}
	}
	// A long bad cursor is quoted cut short.
	long := strings.Repeat("A", 60)
	if _, err := ParseCursor(long); err == nil || !strings.Contains(err.Error(), `"`+long[:40]+"…\"") {
		t.Errorf("a 60-character cursor: %v, want it quoted to 40 characters", err)
	}
}

// FuzzCursorRoundTrip: every positive key comes back from its cursor.
func FuzzCursorRoundTrip(f *testing.F) {
	for _, key := range []int64{9, 10, 11, 1 << 40, math.MaxInt64} {
		f.Add(key)
	}
	f.Fuzz(func(t *testing.T, key int64) {
		if key <= 0 {
			return
		}
		if got, err := ParseCursor(Cursor(key)); err != nil || got != key {
			t.Fatalf("key %d came back as %d, %v", key, got, err)
		}
	})
}

func ints(n int) *int       { return &n }
func strs(s string) *string { return &s }

func TestBothArguments(t *testing.T) {
	c := Cursor(10)
	tests := []struct {
		name          string
		first, last   *int
		after, before *string
		want          Args
		bad           bool
	}{
		{name: "nothing", want: Args{Limit: DefaultPageSize}},
		{name: "first", first: ints(5), after: &c, want: Args{Limit: 5, After: 10}},
		{name: "last", last: ints(5), before: &c, want: Args{Backward: true, Limit: 5, Before: 10}},
		{name: "last alone", last: ints(3), want: Args{Backward: true, Limit: 3}},
		{name: "zero", first: ints(0), want: Args{Limit: 0}},
		{name: "the maximum", first: ints(MaxPageSize), want: Args{Limit: MaxPageSize}},
		{name: "empty cursors", after: strs(""), before: strs(""), want: Args{Limit: DefaultPageSize}},
		{name: "over the maximum", first: ints(MaxPageSize + 1), bad: true},
		{name: "negative", last: ints(-1), bad: true},
		{name: "first and last", first: ints(1), last: ints(1), bad: true},
		{name: "first and before", first: ints(1), before: &c, bad: true},
		{name: "last and after", last: ints(1), after: &c, bad: true},
		{name: "bad after", after: strs("nope"), bad: true},
		{name: "bad before", before: strs(ID(KindUser, 1)), bad: true},
	}
	for _, tt := range tests {
		got, err := Both(tt.first, tt.after, tt.last, tt.before)
		switch {
		case tt.bad && (models.CodeOf(err) != models.CodeBadUserInput || got != Args{}):
			t.Errorf("%s: %+v %v, want BAD_USER_INPUT", tt.name, got, err)
		case !tt.bad && (err != nil || got != tt.want):
			t.Errorf("%s: %+v %v, want %+v", tt.name, got, err, tt.want)
		}
	}
	if _, err := Forward(nil, strs("nope")); models.CodeOf(err) != models.CodeBadUserInput {
		t.Errorf("Forward with a bad cursor: %v", err)
	}
}

type item struct{ key int64 }

// fetched is what a store returns for a page: up to Limit+1 items in the
// page's direction, from the key after the bound.
func fetched(args Args, n int) []*item {
	top := args.Before
	if top == 0 {
		top = 100 // the end of the list
	}
	items := make([]*item, n)
	for i := range items {
		if args.Backward {
			items[i] = &item{top - 1 - int64(i)}
		} else {
			items[i] = &item{args.After + 1 + int64(i)}
		}
	}
	return items
}

// The page flags: the extra item means more in the page's direction, and a
// bound means there is something the other way. An exactly full page has
// no more.
func TestConnectionPageFlags(t *testing.T) {
	tests := []struct {
		name             string
		args             Args
		fetched          int
		keys             []int64
		hasNext, hasPrev bool
	}{
		{"forward, exactly full", Args{Limit: 3}, 3, []int64{1, 2, 3}, false, false},
		{"forward, one more", Args{Limit: 3}, 4, []int64{1, 2, 3}, true, false},
		{"forward, short", Args{Limit: 3}, 2, []int64{1, 2}, false, false},
		{"after, exactly full", Args{Limit: 3, After: 10}, 3, []int64{11, 12, 13}, false, true},
		{"after, one more", Args{Limit: 3, After: 10}, 4, []int64{11, 12, 13}, true, true},
		{"after, empty", Args{Limit: 3, After: 10}, 0, nil, false, true},
		{"backward, exactly full", Args{Backward: true, Limit: 3}, 3, []int64{97, 98, 99}, false, false},
		{"before, exactly full", Args{Backward: true, Limit: 3, Before: 20}, 3, []int64{17, 18, 19}, true, false},
		{"before, one more", Args{Backward: true, Limit: 3, Before: 20}, 4, []int64{17, 18, 19}, true, true},
		{"before, two", Args{Backward: true, Limit: 3, Before: 20}, 2, []int64{18, 19}, true, false},
		{"empty page", Args{Limit: 0}, 1, nil, true, false},
	}
	for _, tt := range tests {
		c := Connection(tt.args, fetched(tt.args, tt.fetched), func(it *item) int64 { return it.key })
		var keys []int64
		for _, e := range c.Edges {
			keys = append(keys, e.Node.key)
			if k, err := ParseCursor(e.Cursor); err != nil || k != e.Node.key {
				t.Errorf("%s: edge %d has cursor for %d, %v", tt.name, e.Node.key, k, err)
			}
		}
		if !slices.Equal(keys, tt.keys) {
			t.Errorf("%s: keys %v, want %v", tt.name, keys, tt.keys)
		}
		if p := c.PageInfo; p.HasNextPage != tt.hasNext || p.HasPreviousPage != tt.hasPrev {
			t.Errorf("%s: hasNextPage %v hasPreviousPage %v, want %v %v", tt.name, p.HasNextPage, p.HasPreviousPage, tt.hasNext, tt.hasPrev)
		}
		p := c.PageInfo
		if len(tt.keys) == 0 {
			if p.StartCursor != nil || p.EndCursor != nil {
				t.Errorf("%s: an empty page has cursors %v %v", tt.name, p.StartCursor, p.EndCursor)
			}
			continue
		}
		if p.StartCursor == nil || *p.StartCursor != Cursor(tt.keys[0]) || p.EndCursor == nil || *p.EndCursor != Cursor(tt.keys[len(tt.keys)-1]) {
			t.Errorf("%s: start %v end %v, want the first and last edge", tt.name, p.StartCursor, p.EndCursor)
		}
	}
}
