package resolvers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGraph behaves like the Graph API for the tokens it knows: /me, and
// /me/friends in pages of two. Token "expired" answers error 190; token
// "slow" never answers in time.
type fakeGraph struct {
	srv      *httptest.Server
	mu       sync.Mutex
	accounts map[string]fakeAccount // by token
}

type fakeAccount struct {
	id      string
	friends []string
}

func newFakeGraph(t testing.TB) *fakeGraph {
	g := &fakeGraph{accounts: map[string]fakeAccount{}}
	release := make(chan struct{})
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch token {
		case "slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		case "expired":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}`)
			return
		}
		g.mu.Lock()
		acct, ok := g.accounts[token]
		g.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}`)
			return
		}
		switch r.URL.Path {
		case "/v19.0/me":
			fmt.Fprintf(w, `{"id":%q}`, acct.id)
		case "/v19.0/me/friends":
			from, _ := strconv.Atoi(r.URL.Query().Get("after"))
			to := min(from+2, len(acct.friends))
			page := map[string]any{"data": []map[string]string{}}
			for _, id := range acct.friends[from:to] {
				page["data"] = append(page["data"].([]map[string]string), map[string]string{"id": id, "name": "x"})
			}
			if to < len(acct.friends) {
				page["paging"] = map[string]string{"next": fmt.Sprintf("%s/v19.0/me/friends?after=%d", g.srv.URL, to)}
			}
			_ = json.NewEncoder(w).Encode(page)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { close(release); g.srv.Close() })
	return g
}

func (g *fakeGraph) add(token, id string, friends ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.accounts[token] = fakeAccount{id: id, friends: friends}
}

const linkMutation = `mutation($t: String!) { linkFacebookAccount(accessToken: $t) { facebookUserId friendCount } }`

func TestFacebookLinkSuggestsFriends(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	// alice's friend list (5 friends, 3 pages) names bob; carol's names alice.
	e.graph.add("tok-alice", "1001", "1002", "2000", "2001", "2002", "2003")
	e.graph.add("tok-bob", "1002")
	e.graph.add("tok-carol", "1003", "1001")

	var out struct {
		LinkFacebookAccount struct {
			FacebookUserID string
			FriendCount    int
		}
	}
	e.must(alice.Token, linkMutation, map[string]any{"t": "tok-alice"}, &out)
	if out.LinkFacebookAccount.FacebookUserID != "1001" || out.LinkFacebookAccount.FriendCount != 5 {
		t.Fatalf("link = %+v, want 1001 with 5 friends", out)
	}
	// Both must have linked: bob hasn't yet.
	if s := e.suggestionOf(alice, bob); s.IsSuggestedFriend {
		t.Fatal("bob suggested before he linked Facebook")
	}
	e.must(bob.Token, linkMutation, map[string]any{"t": "tok-bob"}, nil)
	e.must(carol.Token, linkMutation, map[string]any{"t": "tok-carol"}, nil)
	// Either friend list counts, both ways.
	for _, pair := range [][2]user{{alice, bob}, {bob, alice}, {alice, carol}, {carol, alice}} {
		if s := e.suggestionOf(pair[0], pair[1]); !s.IsSuggestedFriend || strings.Join(s.SuggestionReasons, ",") != "FACEBOOK" {
			t.Errorf("%s sees %s as %+v, want suggested by FACEBOOK", pair[0].Name, pair[1].Name, s)
		}
	}
	if s := e.suggestionOf(bob, carol); s.IsSuggestedFriend {
		t.Error("bob and carol are not Facebook friends")
	}
	// The policy uses it: bob (SUGGESTED_FRIENDS) accepts a request from alice.
	if s := e.send(alice, bob, "hi from facebook"); s.Delivery != "REQUEST" {
		t.Fatalf("alice → bob delivery %s, want REQUEST", s.Delivery)
	}
	// Unlinking forgets it.
	e.must(alice.Token, `mutation { unlinkFacebookAccount }`, nil, nil)
	if s := e.suggestionOf(bob, alice); s.IsSuggestedFriend {
		t.Fatal("alice still suggested to bob after unlinking")
	}
}

func TestFacebookLinkErrors(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.register("alice"), e.register("bob")
	e.graph.add("tok-alice", "1001")
	e.graph.add("tok-alice-again", "1001")
	e.fail(alice.Token, linkMutation, map[string]any{"t": "expired"}, "BAD_USER_INPUT", "FACEBOOK_TOKEN_INVALID")
	e.fail(alice.Token, linkMutation, map[string]any{"t": "unknown"}, "BAD_USER_INPUT", "FACEBOOK_TOKEN_INVALID")
	e.fail(alice.Token, linkMutation, map[string]any{"t": "slow"}, "UNAVAILABLE", "FACEBOOK_UNAVAILABLE")
	e.must(alice.Token, linkMutation, map[string]any{"t": "tok-alice"}, nil)
	e.fail(bob.Token, linkMutation, map[string]any{"t": "tok-alice-again"}, "CONFLICT", "")
	// Relinking one's own account is fine.
	e.must(alice.Token, linkMutation, map[string]any{"t": "tok-alice-again"}, nil)
}
