package resolvers_test

// Races between writers on PostgreSQL and SQLite: each test runs two
// operations at once, many times, and checks the invariants afterwards.

import (
	"encoding/json"
	"sync"
	"testing"
)

// Concurrent retries of the 3rd request message with one clientMessageId:
// every retry must return the original message, never RATE_LIMITED.
func TestRaceIdempotentRetryAtTheRequestLimit(t *testing.T) {
	e := newEnv(t)
	for round := 0; round < 15; round++ {
		s, r := e.register("s"), e.register("r")
		e.setPolicy(r, "EVERYONE")
		e.send(s, r, "one")
		e.send(s, r, "two")
		var wg sync.WaitGroup
		codes := make([]string, 4)
		for i := range codes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res := e.do(s.Token, sendMutation, map[string]any{"in": map[string]any{
					"recipientId": r.ID, "text": "three", "clientMessageId": "k"}})
				codes[i] = res.code() + "/" + res.reason()
			}(i)
		}
		wg.Wait()
		for _, c := range codes {
			if c != "/" {
				t.Fatalf("round %d: a retry of an idempotent send failed: %v", round, codes)
			}
		}
	}
}

// Follows and sends between the same two users never deadlock (store.lockUsers).
func TestRaceFollowWhileSending(t *testing.T) {
	e := newEnv(t)
	a, b := e.register("a"), e.register("b") // b.ID > a.ID
	e.setPolicy(b, "EVERYONE")
	e.send(a, b, "hi")
	e.send(b, a, "hi back") // accepted: every later send is INBOX
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	rec := func(r response) {
		if c := r.code(); c != "" {
			mu.Lock()
			errs = append(errs, c+": "+r.Errors[0].Message)
			mu.Unlock()
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 60; i++ {
			rec(e.do(b.Token, `mutation($id: ID!) { follow(userId: $id) { id } }`, map[string]any{"id": a.ID}))
			rec(e.do(b.Token, `mutation($id: ID!) { unfollow(userId: $id) { id } }`, map[string]any{"id": a.ID}))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 120; i++ {
			rec(e.do(a.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": b.ID, "text": "x"}}))
		}
	}()
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d failures, first: %v", len(errs), errs[0])
	}
}

func (e *env) convStatus(u user, id string) (string, string) {
	res := e.do(u.Token, `query($id: ID!) { conversation(id: $id) { status } }`, map[string]any{"id": id})
	if res.code() != "" {
		return "", res.code()
	}
	var out struct{ Conversation struct{ Status string } }
	_ = jsonUnmarshal(res.Data, &out)
	return out.Conversation.Status, ""
}

// R handles a request while S sends its second request message.
func TestRaceAnswerRequestWhileSending(t *testing.T) {
	for _, op := range []string{"accept", "delete"} {
		t.Run(op, func(t *testing.T) {
			e := newEnv(t)
			bad := 0
			for round := 0; round < 25; round++ {
				s, r := e.register("s"), e.register("r")
				e.setPolicy(r, "EVERYONE")
				first := e.send(s, r, "one")
				req := e.requests(r)[0]
				var wg sync.WaitGroup
				var sendRes, opRes response
				wg.Add(2)
				go func() {
					defer wg.Done()
					sendRes = e.do(s.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": r.ID, "text": "two"}})
				}()
				go func() {
					defer wg.Done()
					if op == "accept" {
						opRes = e.do(r.Token, `mutation($id: ID!) { acceptMessageRequest(requestId: $id) { conversation { id } } }`, map[string]any{"id": req})
					} else {
						opRes = e.do(r.Token, `mutation($id: ID!) { deleteMessageRequest(requestId: $id) { removedRequestId } }`, map[string]any{"id": req})
					}
				}()
				wg.Wait()
				if sendRes.code() != "" || opRes.code() != "" {
					t.Errorf("round %d: send=%v op=%v", round, sendRes.Errors, opRes.Errors)
					bad++
					continue
				}
				st, _ := e.convStatus(r, first.ConversationID)
				reqs := e.requests(r)
				_, inInbox := e.inbox(r)[first.ConversationID]
				// R must find the conversation somewhere: inbox (ACTIVE) or requests (REQUEST), or not at all (deleted).
				if st == "REQUEST" && len(reqs) == 0 || st == "ACTIVE" && !inInbox {
					t.Errorf("round %d (%s): R sees status %q, open requests %d, in inbox %v: conversation lost for R", round, op, st, len(reqs), inInbox)
					bad++
				}
				if op == "accept" {
					sst, _ := e.convStatus(s, first.ConversationID)
					if st != "ACTIVE" || sst != "ACTIVE" {
						t.Errorf("round %d: after accept R=%s S=%s", round, st, sst)
						bad++
					}
				}
				if bad > 3 {
					t.FailNow()
				}
			}
		})
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// R blocks S while S sends a first message: after both succeed, no request
// from S may be open for R.
func TestRaceBlockWhileSending(t *testing.T) {
	e := newEnv(t)
	bad := 0
	for round := 0; round < 40 && bad < 3; round++ {
		s, r := e.register("s"), e.register("r")
		e.setPolicy(r, "EVERYONE")
		var wg sync.WaitGroup
		var sendRes, blockRes response
		wg.Add(2)
		go func() {
			defer wg.Done()
			sendRes = e.do(s.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": r.ID, "text": "hi"}})
		}()
		go func() {
			defer wg.Done()
			blockRes = e.do(r.Token, `mutation($id: ID!) { block(userId: $id) { id } }`, map[string]any{"id": s.ID})
		}()
		wg.Wait()
		if sendRes.code() == "" && blockRes.code() == "" {
			if n := len(e.requests(r)); n > 0 {
				t.Errorf("round %d: R blocked S but still has %d open request(s) from S", round, n)
				bad++
			}
		} else if sendRes.code() != "FORBIDDEN" || blockRes.code() != "" {
			t.Errorf("round %d: send=%v block=%v", round, sendRes.Errors, blockRes.Errors)
			bad++
		}
	}
}
