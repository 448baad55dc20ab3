package resolvers_test

import (
	"fmt"
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

// Each conversation's page of messages, with senders and counts, costs the
// same statements for 2 conversations as for 20.
func TestInboxWithMessagesStatementCountIsFlat(t *testing.T) {
	e := newEnv(t)
	viewer := e.register("viewer")
	for i := range 20 {
		other := e.register("other")
		e.friends(viewer, other)
		e.send(viewer, other, "hello")
		e.send(other, viewer, fmt.Sprint("reply ", i))
	}
	count := func(n int) int64 {
		var out struct {
			Conversations struct {
				Edges []struct {
					Node struct {
						Messages struct {
							TotalCount int
							Edges      []struct {
								Node struct {
									Text   string
									Sender struct{ Username string }
								}
							}
						}
					}
				}
			}
		}
		before := e.statements.Load()
		e.must(viewer.Token, `query($n: Int) { conversations(first: $n) { edges { node {
			messages(last: 5) { totalCount edges { node { text sender { username } } } } } } } }`,
			map[string]any{"n": n}, &out)
		used := e.statements.Load() - before
		for _, edge := range out.Conversations.Edges {
			m := edge.Node.Messages
			if m.TotalCount != 2 || len(m.Edges) != 2 || m.Edges[0].Node.Text != "hello" || m.Edges[1].Node.Sender.Username == "" {
				t.Fatalf("first %d: messages %+v", n, m)
			}
		}
		return used
	}
	small, large := count(2), count(20)
	t.Logf("statements: first 2 → %d, first 20 → %d", small, large)
	if large != small {
		t.Errorf("first 20 used %d statements, first 2 used %d", large, small)
	}
}

// Whether the viewer may send, for a whole page of the inbox, costs the same
// statements for 2 conversations as for 30: the send rules' facts are read
// for every other participant at once.
func TestInboxViewerCanSendStatementCountIsFlat(t *testing.T) {
	e := newEnv(t)
	viewer := e.register("viewer")
	for i := range 30 {
		other := e.register("other")
		if i%2 == 0 {
			e.friends(viewer, other)
		} else {
			e.setPolicy(other, "EVERYONE") // a pending request, not yet at its limit
		}
		e.send(viewer, other, "hello")
	}
	count := func(n int) int64 {
		var out struct {
			Conversations struct {
				Edges []struct {
					Node struct {
						Status                 string
						ViewerCanSend          bool
						ViewerCannotSendReason *string
						MessageRequest         *struct{ ID string }
					}
				}
			}
		}
		before := e.statements.Load()
		e.must(viewer.Token, `query($n: Int) { conversations(first: $n) { edges { node {
			status viewerCanSend viewerCannotSendReason messageRequest { id } participants { id } } } } }`,
			map[string]any{"n": n}, &out)
		used := e.statements.Load() - before
		if len(out.Conversations.Edges) != n {
			t.Fatalf("first %d: %d edges", n, len(out.Conversations.Edges))
		}
		for _, edge := range out.Conversations.Edges {
			if c := edge.Node; !c.ViewerCanSend || c.ViewerCannotSendReason != nil || c.MessageRequest != nil {
				t.Fatalf("first %d: %+v, want allowed and no request", n, c)
			}
		}
		return used
	}
	small, large := count(2), count(30)
	t.Logf("statements: first 2 → %d, first 30 → %d", small, large)
	if large != small {
		t.Errorf("first 30 used %d statements, first 2 used %d", large, small)
	}
}
