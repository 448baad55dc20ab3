package socket

import (
	"testing"
	"time"

	"dmgraph/auth"
)

// The sessions index signed-in sockets by user, for sign-outs, and forget
// them when they close.
func TestSessionsIndexSocketsByUser(t *testing.T) {
	ss := newSessions(nil, 10, Limits{})
	claims := func(user int64) auth.Claims {
		return auth.Claims{UserID: user, Version: 1, Expires: time.Now().Add(time.Hour)}
	}
	a1, a2, b := &session{}, &session{}, &session{}
	for _, s := range []*session{a1, a2, b} {
		if _, ok := ss.admit(s, "192.0.2.1"); !ok {
			t.Fatal("not admitted")
		}
	}
	a1.signedIn(claims(1))
	a2.signedIn(claims(1))
	b.signedIn(claims(2))
	if len(ss.byUser[1]) != 2 || len(ss.byUser[2]) != 1 {
		t.Fatalf("index %v", ss.byUser)
	}
	for _, s := range []*session{a1, a2, b} {
		ss.remove(s)
		s.end()
	}
	if len(ss.byUser) != 0 || len(ss.set) != 0 {
		t.Fatalf("closed sockets still indexed: %v, %d in the set", ss.byUser, len(ss.set))
	}
	// A socket that closed before it signed in is not indexed.
	late := &session{}
	ss.admit(late, "192.0.2.1")
	ss.remove(late)
	late.signedIn(claims(3))
	late.end()
	if len(ss.byUser) != 0 {
		t.Fatalf("a closed socket was indexed: %v", ss.byUser)
	}
}

// The pending queues: a full address queue gives up its oldest, a full
// global queue its oldest overall; signing in leaves them; removal forgets
// the address.
func TestSessionsPendingQueues(t *testing.T) {
	ss := newSessions(nil, 3, Limits{PendingPerAddress: 1, PerAddress: 10, PerUser: 10})
	admit := func(addr string) (*session, []*session) {
		s := &session{}
		evicted, ok := ss.admit(s, addr)
		if !ok {
			t.Fatalf("%s refused", addr)
		}
		return s, evicted
	}
	a1, _ := admit("a")
	a2, evicted := admit("a") // the address's queue of one empties, and is made again
	if len(evicted) != 1 || evicted[0] != a1 || !a1.evicted {
		t.Fatalf("evicted %v, want a1", evicted)
	}
	b, _ := admit("b")
	c, _ := admit("c")
	if _, evicted = admit("d"); len(evicted) != 1 || evicted[0] != a2 {
		t.Fatalf("evicted %v, want a2, the oldest overall", evicted)
	}
	if code, _ := a2.signedIn(auth.Claims{UserID: 1, Expires: time.Now().Add(time.Hour)}); code != CloseInitTimeout {
		t.Fatalf("an evicted socket signed in: %d", code)
	}
	if code, _ := b.signedIn(auth.Claims{UserID: 1, Expires: time.Now().Add(time.Hour)}); code != 0 || ss.pending.Len() != 2 {
		t.Fatalf("signing in: %d, %d pending", code, ss.pending.Len())
	}
	for _, s := range []*session{a1, a2, b, c} {
		ss.remove(s)
		s.end()
	}
	if ss.pending.Len() != 1 || len(ss.pendingAt) != 1 || len(ss.byAddr) != 1 || ss.byAddr["d"] != 1 {
		t.Fatalf("after removal: %d pending, queues %v, addresses %v", ss.pending.Len(), ss.pendingAt, ss.byAddr)
	}
}
