package resolvers_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// inboxPage is one page of the inbox, forward.
type inboxPage struct {
	IDs       []string
	EndCursor string
	More      bool
}

func (e *env) inboxPage(u user, first int, after string) inboxPage {
	e.t.Helper()
	var out struct {
		Conversations struct {
			Edges    []struct{ Node struct{ ID string } }
			PageInfo struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	var cursor any
	if after != "" {
		cursor = after
	}
	e.must(u.Token, `query($n: Int, $after: String) { conversations(first: $n, after: $after) {
		edges { node { id } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"n": first, "after": cursor}, &out)
	p := inboxPage{More: out.Conversations.PageInfo.HasNextPage}
	for _, edge := range out.Conversations.Edges {
		p.IDs = append(p.IDs, edge.Node.ID)
	}
	if c := out.Conversations.PageInfo.EndCursor; c != nil {
		p.EndCursor = *c
	}
	return p
}

// A conversation that moves from page 2 to the top while the client is on
// page 1 is not skipped: page 2 still holds every conversation not yet seen.
func TestInboxPagingKeepsAConversationThatMoves(t *testing.T) {
	e := newEnv(t)
	viewer := e.register("viewer")
	var friends []user
	var convs []string // oldest first
	for range 4 {
		f := e.register("friend")
		e.friends(viewer, f)
		friends = append(friends, f)
		convs = append(convs, e.send(f, viewer, "hello").ConversationID)
	}
	page1 := e.inboxPage(viewer, 2, "")
	if !slices.Equal(page1.IDs, []string{convs[3], convs[2]}) || !page1.More {
		t.Fatalf("page 1 = %+v, want %v", page1, convs[2:])
	}
	// The oldest, on page 2, gets a message: it moves to the top.
	e.send(friends[0], viewer, "bump")
	page2 := e.inboxPage(viewer, 2, page1.EndCursor)
	for _, id := range []string{convs[1], convs[0]} {
		if !slices.Contains(page2.IDs, id) {
			t.Fatalf("page 2 = %v: conversation %s is lost", page2.IDs, id)
		}
	}
	// Paging on ends, and a fresh first page has the moved one on top.
	for after := page2; after.More; after = e.inboxPage(viewer, 2, after.EndCursor) {
		if len(after.IDs) == 0 {
			t.Fatalf("an empty page says there is more: %+v", after)
		}
	}
	if top := e.inboxPage(viewer, 1, ""); top.IDs[0] != convs[0] {
		t.Fatalf("top of the inbox is %v, want %s", top.IDs, convs[0])
	}
}

// Random moves between pages, of conversations seen and not yet seen, and
// new conversations: paging to the end shows every conversation there was
// when paging began, and every one that arrived.
func TestInboxPagingLosesNothingUnderRandomMoves(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	e := newEnv(t)
	viewer := e.register("viewer")
	convs := map[string]user{}
	newFriend := func() {
		f := e.register("friend")
		e.friends(viewer, f)
		convs[e.send(f, viewer, "hello").ConversationID] = f
	}
	for range 12 {
		newFriend()
	}
	ids := func() []string {
		var out []string
		for id := range convs {
			out = append(out, id)
		}
		slices.Sort(out)
		return out
	}
	seen := map[string]bool{}
	p := e.inboxPage(viewer, 3, "")
	for pages := 0; ; pages++ {
		if pages > 30 {
			t.Fatalf("seed %d: paging does not end", seed)
		}
		for _, id := range p.IDs {
			seen[id] = true
		}
		if !p.More {
			break
		}
		for range rng.IntN(3) {
			all := ids()
			id := all[rng.IntN(len(all))]
			e.send(convs[id], viewer, fmt.Sprint("move ", pages))
		}
		if rng.IntN(3) == 0 {
			newFriend()
		}
		p = e.inboxPage(viewer, 3, p.EndCursor)
	}
	for _, id := range ids() {
		if !seen[id] {
			t.Errorf("seed %d: conversation %s never showed up", seed, id)
		}
	}
}
