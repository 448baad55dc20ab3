package main

import (
	"context"
	"fmt"
	"time"
)

const inboxQuery = `query { conversations(first: 20) { edges { node { id participants { id username } lastMessage { text } } } } }`

// setupInbox registers the inbox user and gives it one conversation with each
// of others: it sets EVERYONE and follows them, so their message lands in its
// inbox (ACTIVE) rather than in its requests.
func (b *bench) setupInbox(ctx context.Context, others []*user) error {
	t0 := time.Now()
	us, err := registerUsers(ctx, b.c, "inbox", 1, 1, time.Now().Add(30*time.Second))
	if err != nil || len(us) == 0 {
		return fmt.Errorf("register the inbox user: %v", err)
	}
	in := us[0]
	if err := b.c.do(ctx, in.Token, everyoneQuery, nil, nil); err != nil {
		return err
	}
	_, failed, first := parallel(ctx, len(others), 16, func(i int) error {
		o := others[i]
		if err := b.c.do(ctx, in.Token, followQuery, map[string]any{"id": o.ID}, nil); err != nil {
			return err
		}
		return sendText(ctx, b.c, o, in, fmt.Sprintf("hi inbox, this is %s", o.Name))
	})
	if failed > 0 {
		return fmt.Errorf("inbox setup: %d of %d failed, first: %w", failed, len(others), first)
	}
	b.inbox = in
	logf("inbox user has %d conversations (%.1fs)", len(others), time.Since(t0).Seconds())
	return nil
}

// runInbox measures the first inbox page, against { __typename } over the
// same HTTP path with the same token.
func (b *bench) runInbox(ctx context.Context) ([]row, error) {
	if b.inbox == nil {
		return nil, fmt.Errorf("no inbox user")
	}
	var page struct {
		Conversations struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	if err := b.c.do(ctx, b.inbox.Token, inboxQuery, nil, &page); err != nil {
		return nil, err
	}
	if n := len(page.Conversations.Edges); n != 20 {
		return nil, fmt.Errorf("the inbox page has %d conversations, want 20", n)
	}
	m := b.queryLoop(ctx, "inbox", fmt.Sprintf("conversations(first: 20), %d clients", b.opt.inboxClients), b.inbox.Token, inboxQuery, b.opt.inboxClients, b.opt.duration)
	base := b.queryLoop(ctx, "inbox", "{ __typename }", b.inbox.Token, `{ __typename }`, b.opt.inboxClients, b.opt.baseline)
	base.Baseline = true
	compare(&m, base)
	verdict(&m, "p99<=10ms", m.P99Ms <= 10 && m.Errors == 0)
	m.Notes = append(m.Notes, "statements per page are not visible through the API; resolvers/statements_test.go asserts them")
	return []row{m, base}, nil
}

// queryLoop runs query as token on clients goroutines for d.
// Its notes say what each query cost the server's CPU.
func (b *bench) queryLoop(ctx context.Context, scenario, what, token, query string, clients int, d time.Duration) row {
	cpu := startCPU(b.base)
	r := closedLoop(ctx, clients, d, func(ctx context.Context, _, _ int) error {
		return b.c.do(ctx, token, query, nil, nil)
	}).summarize(scenario, what)
	cpu.stop(&r, r.Count+r.Errors, "query")
	return r
}
