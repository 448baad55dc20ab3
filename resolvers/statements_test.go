package resolvers_test

import (
	"testing"
)

const inboxQuery = `query($n: Int) {
	conversations(first: $n) {
		totalCount
		edges { cursor node {
			id status unreadCount lastMessageAt
			participants { id username viewerFollows isFriend }
			lastMessage { id text sender { id username } }
		} }
	}
}`

// The inbox costs the same number of SQL statements whatever the page size:
// per-item fields are batched by dataloaders.
func TestInboxStatementCountIsFlat(t *testing.T) {
	e := newEnv(t)
	viewer := e.register("viewer")
	for range 50 {
		other := e.register("other")
		e.friends(viewer, other)
		e.send(viewer, other, "hello")
		e.send(other, viewer, "hi back")
	}

	count := func(n int) int64 {
		var out struct {
			Conversations struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						Participants []struct{ ID string }
						LastMessage  struct{ Text string }
					}
				}
			}
		}
		before := e.statements.Load()
		e.must(viewer.Token, inboxQuery, map[string]any{"n": n}, &out)
		used := e.statements.Load() - before
		if testing.Verbose() {
			for _, sql := range e.statementsSince(before) {
				t.Logf("first %d: %.100s", n, sql)
			}
		}
		c := out.Conversations
		if c.TotalCount != 50 || len(c.Edges) != n {
			t.Fatalf("first %d: totalCount %d, %d edges", n, c.TotalCount, len(c.Edges))
		}
		for _, edge := range c.Edges {
			if len(edge.Node.Participants) != 2 || edge.Node.LastMessage.Text != "hi back" {
				t.Fatalf("first %d: node %+v", n, edge.Node)
			}
		}
		return used
	}

	small, large := count(2), count(50)
	t.Logf("statements: first 2 → %d, first 50 → %d", small, large)
	if large != small {
		t.Errorf("first 50 used %d statements, first 2 used %d: the count grows with the page", large, small)
	}
	// page, total, members with their users, last messages, relations,
	// unread counts.
	if large > 6 {
		t.Errorf("first 50 used %d statements, want at most 6", large)
	}
}
