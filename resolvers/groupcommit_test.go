package resolvers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"dmgraph/testdb"
)

// Sends of every kind at once: friends both ways, requests up to their
// limit, refusals, replies that accept a request and idempotent retries. On
// PostgreSQL concurrent sends share transactions (store/sendqueue.go); each
// must still end as it would alone.
func TestConcurrentSendsOfEveryKind(t *testing.T) {
	e := newEnv(t)
	type attempt struct {
		from, to user
		text     string
		cid      string
		res      response
		sent     sent
	}
	type pair struct {
		kind string
		a, b user
		conv string // the conversation, once known
		runs []*attempt
	}
	var pairs []*pair
	var attempts []*attempt
	add := func(p *pair, from, to user, n int, cid string) {
		for i := range n {
			a := &attempt{from: from, to: to, text: fmt.Sprintf("%s %s→%s %d", p.kind, from.Name, to.Name, i), cid: cid}
			if cid != "" {
				// Retries repeat one message: a key reused for another text is a CONFLICT.
				a.text = fmt.Sprintf("%s %s→%s retry", p.kind, from.Name, to.Name)
			}
			p.runs = append(p.runs, a)
			attempts = append(attempts, a)
		}
	}
	for i := range 16 {
		p := &pair{kind: []string{"friends", "request", "refused", "reply"}[i%4], a: e.register("a"), b: e.register("b")}
		switch p.kind {
		case "friends":
			e.friends(p.a, p.b)
			add(p, p.a, p.b, 3, "")
			add(p, p.b, p.a, 3, "")
			add(p, p.a, p.b, 3, fmt.Sprintf("retry-%d", i)) // one message, three answers
		case "request":
			e.setPolicy(p.b, "EVERYONE")
			add(p, p.a, p.b, 3, "") // the request limit
		case "refused":
			e.setPolicy(p.b, "NO_ONE")
			add(p, p.a, p.b, 2, "")
		case "reply":
			e.setPolicy(p.a, "EVERYONE")
			p.conv = e.send(p.b, p.a, "a request to a").ConversationID
			add(p, p.a, p.b, 1, "")
		}
		pairs = append(pairs, p)
	}

	start := e.statements.Load()
	for round := range 3 {
		var wg sync.WaitGroup
		release := make(chan struct{})
		for _, a := range attempts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := map[string]any{"recipientId": a.to.ID, "text": fmt.Sprintf("%s round %d", a.text, round)}
				if a.cid != "" {
					in["clientMessageId"] = fmt.Sprintf("%s-%d", a.cid, round)
				}
				<-release
				a.res = e.do(a.from.Token, sendMutation, map[string]any{"in": in})
			}()
		}
		close(release)
		wg.Wait()

		for _, p := range pairs {
			ids := map[string]bool{}
			for _, a := range p.runs {
				var out struct {
					SendMessage struct {
						Delivery     string
						Message      struct{ ID string }
						Conversation struct{ ID, Status string }
					}
				}
				want := ""
				switch {
				case p.kind == "refused":
					want = "FORBIDDEN"
				case p.kind == "request" && round > 0:
					want = "FORBIDDEN" // the request already holds its 3 messages
				}
				if got := a.res.code(); got != want {
					t.Fatalf("round %d, %s: %s: got code %q, want %q (%v)", round, p.kind, a.text, got, want, a.res.Errors)
				}
				if want != "" {
					continue
				}
				if err := jsonUnmarshal(a.res.Data, &out); err != nil {
					t.Fatal(err)
				}
				s := out.SendMessage
				wantDelivery := map[string]string{"friends": "INBOX", "request": "REQUEST", "reply": "INBOX"}[p.kind]
				if s.Delivery != wantDelivery {
					t.Fatalf("round %d, %s: delivery %s, want %s", round, a.text, s.Delivery, wantDelivery)
				}
				if p.conv == "" {
					p.conv = s.Conversation.ID
				}
				if s.Conversation.ID != p.conv {
					t.Fatalf("round %d, %s: conversation %s, want %s", round, a.text, s.Conversation.ID, p.conv)
				}
				ids[s.Message.ID] = true
			}
			if p.kind == "friends" && len(ids) != 7 {
				t.Fatalf("round %d: %d distinct messages for 6 sends and 3 retries of one, want 7", round, len(ids))
			}
		}
	}

	// What each conversation holds, as its members see it.
	for _, p := range pairs {
		switch p.kind {
		case "friends":
			if n := e.messageCount(p.a, p.conv); n != 3*7 {
				t.Errorf("friends: %d messages, want %d", n, 3*7)
			}
		case "request":
			reqs := e.requests(p.b)
			if len(reqs) != 1 {
				t.Fatalf("request: the recipient has %d requests, want 1", len(reqs))
			}
			var out struct{ Node struct{ MessageCount int } }
			e.must(p.b.Token, `query($id: ID!) { node(id: $id) { ... on MessageRequest { messageCount } } }`,
				map[string]any{"id": reqs[0]}, &out)
			if out.Node.MessageCount != 3 {
				t.Errorf("request: messageCount %d, want 3", out.Node.MessageCount)
			}
			if status, _ := e.convStatus(p.a, p.conv); status != "PENDING" {
				t.Errorf("request: the sender sees %s, want PENDING", status)
			}
		case "reply":
			if reqs := e.requests(p.a); len(reqs) != 0 {
				t.Errorf("reply: the request is still open: %v", reqs)
			}
			if status, _ := e.convStatus(p.a, p.conv); status != "ACTIVE" {
				t.Errorf("reply: %s, want ACTIVE", status)
			}
			if n := e.messageCount(p.b, p.conv); n != 4 {
				t.Errorf("reply: %d messages, want 4", n)
			}
		}
	}
	// Refused sends leave no conversation behind.
	db, err := e.store.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	var empty int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM conversations c
		WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)`).Scan(&empty); err != nil {
		t.Fatal(err)
	}
	if empty != 0 {
		t.Errorf("%d conversations without a message", empty)
	}

	t.Run("group commit", func(t *testing.T) {
		if !testdb.Postgres() {
			t.Skip("group commit is PostgreSQL's (store/sendqueue.go); set TEST_DATABASE_URL to test it")
		}
		writes := 0
		for _, sql := range e.statementsSince(start) {
			if strings.HasPrefix(sql, "WITH p AS (") {
				writes++
			}
		}
		stored := 3*(4*7+4*1) + 4*3 // friends and replies each round, requests once
		t.Logf("group commit: %d messages stored in %d write statements", stored, writes)
		if writes == 0 || writes >= stored {
			t.Errorf("%d write statements for %d messages: want some, and fewer than one a message", writes, stored)
		}
	})
}

// messageCount is how many messages u sees in the conversation.
func (e *env) messageCount(u user, conv string) int {
	e.t.Helper()
	var out struct {
		Conversation struct {
			Messages struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	e.must(u.Token, `query($id: ID!) { conversation(id: $id) { messages(first: 100) { edges { node { id } } } } }`,
		map[string]any{"id": conv}, &out)
	return len(out.Conversation.Messages.Edges)
}
