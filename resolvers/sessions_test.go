package resolvers

import (
	"testing"
	"time"

	"dmgraph/auth"
)

// The sessions index signed-in sockets by user, for sign-outs, and forget
// them when they close.
func TestSessionsIndexSocketsByUser(t *testing.T) {
	ss := newSessions(nil, 10, SocketLimits{})
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
