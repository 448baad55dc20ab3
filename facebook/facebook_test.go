package facebook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dmgraph/models"
)

const (
	goodToken = "EAAGoodToken123"
	meID      = "100001"
)

// fakeGraph is a Graph API stand-in. The handler for /me/friends serves
// pages; the other behaviours are switched per test.
type fakeGraph struct {
	t     *testing.T
	srv   *httptest.Server
	pages [][]string // friend ids per page
	// nextURL, when set, overrides the paging.next of page i.
	nextURL func(i int) string
	// friends, when set, replaces the /me/friends handler.
	friends http.HandlerFunc
	// me, when set, replaces the /me handler.
	me       http.HandlerFunc
	requests atomic.Int32
}

func newFakeGraph(t *testing.T) *fakeGraph {
	t.Helper()
	g := &fakeGraph{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v19.0/me", func(w http.ResponseWriter, r *http.Request) {
		if !g.authorized(w, r) {
			return
		}
		if g.me != nil {
			g.me(w, r)
			return
		}
		if got := r.URL.Query().Get("fields"); got != "id" {
			g.t.Errorf("/me fields = %q, want id", got)
		}
		fmt.Fprintf(w, `{"id":%q}`, meID)
	})
	// Facebook's paging links name the user rather than "me".
	mux.HandleFunc("GET /v19.0/{user}/friends", func(w http.ResponseWriter, r *http.Request) {
		if u := r.PathValue("user"); u != "me" && u != meID {
			http.Error(w, "unknown user", http.StatusNotFound)
			return
		}
		if !g.authorized(w, r) {
			return
		}
		if g.friends != nil {
			g.friends(w, r)
			return
		}
		g.servePage(w, r)
	})
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGraph) base() string { return g.srv.URL + "/v19.0" }

// authorized checks the bearer token, and that it never travels in our URLs,
// answering like Facebook does for a bad one.
func (g *fakeGraph) authorized(w http.ResponseWriter, r *http.Request) bool {
	if strings.Contains(r.URL.RawQuery, goodToken) {
		g.t.Errorf("token in the URL %s", r.URL)
	}
	if r.Header.Get("Authorization") != "Bearer "+goodToken {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"Error validating access token: Session has expired.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"Abc"}}`)
		return false
	}
	return true
}

func (g *fakeGraph) servePage(w http.ResponseWriter, r *http.Request) {
	i := 0
	if after := r.URL.Query().Get("after"); after != "" {
		fmt.Sscanf(after, "page%d", &i)
	}
	if i >= len(g.pages) {
		g.t.Errorf("page %d requested, only %d exist", i, len(g.pages))
		http.Error(w, "no such page", http.StatusNotFound)
		return
	}
	var data []string
	for _, id := range g.pages[i] {
		data = append(data, fmt.Sprintf(`{"name":"Friend %s","id":%q}`, id, id))
	}
	paging := fmt.Sprintf(`"cursors":{"before":"x","after":"page%d"}`, i+1)
	next := ""
	if i+1 < len(g.pages) {
		next = fmt.Sprintf("%s/v19.0/%s/friends?limit=2&after=page%d", g.srv.URL, meID, i+1)
	}
	if g.nextURL != nil {
		next = g.nextURL(i)
	}
	if next != "" {
		paging += fmt.Sprintf(`,"next":%q`, next)
	}
	fmt.Fprintf(w, `{"data":[%s],"paging":{%s},"summary":{"total_count":99}}`, strings.Join(data, ","), paging)
}

func assertRefusal(t *testing.T, err error, code models.Code, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s %s", code, reason)
	}
	var e *models.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *models.Error", err, err)
	}
	if e.Code != code || e.Reason != reason {
		t.Fatalf("error = %v, want %s %s", err, code, reason)
	}
	if strings.Contains(err.Error(), goodToken) || strings.Contains(err.Error(), "BadToken") {
		t.Fatalf("error %q contains the token", err)
	}
}

func TestFriendsPaging(t *testing.T) {
	g := newFakeGraph(t)
	g.pages = [][]string{{"201", "202"}, {"203", "201", meID}, {"204"}}

	uid, ids, err := New(g.base(), time.Second).Friends(context.Background(), goodToken)
	if err != nil {
		t.Fatal(err)
	}
	if uid != meID {
		t.Errorf("user id = %q, want %q", uid, meID)
	}
	// Deduplicated, in order, without the user.
	if want := []string{"201", "202", "203", "204"}; !slices.Equal(ids, want) {
		t.Errorf("friend ids = %v, want %v", ids, want)
	}
	if n := g.requests.Load(); n != 4 {
		t.Errorf("%d requests, want 4 (/me and three pages)", n)
	}
}

func TestFriendsNone(t *testing.T) {
	g := newFakeGraph(t)
	g.pages = [][]string{{}}
	uid, ids, err := New(g.base()+"/", time.Second).Friends(context.Background(), goodToken)
	if err != nil {
		t.Fatal(err)
	}
	if uid != meID || ids == nil || len(ids) != 0 {
		t.Errorf("got %q %#v, want %q and an empty list", uid, ids, meID)
	}
}

func TestFriendsSkipsUnusableIDs(t *testing.T) {
	g := newFakeGraph(t)
	g.friends = func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"data":[{"id":""},{"name":"no id"},{"id":"a b"},{"id":%q},{"id":"301"}]}`, strings.Repeat("9", 65))
	}
	_, ids, err := New(g.base(), time.Second).Friends(context.Background(), goodToken)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"301"}; !slices.Equal(ids, want) {
		t.Errorf("friend ids = %v, want %v", ids, want)
	}
}

func TestFriendsBadToken(t *testing.T) {
	g := newFakeGraph(t)
	g.pages = [][]string{{"201"}}
	_, _, err := New(g.base(), time.Second).Friends(context.Background(), "EAABadToken456")
	assertRefusal(t, err, models.CodeBadUserInput, ReasonTokenInvalid)
	if !errors.Is(err, ErrTokenInvalid) {
		t.Error("errors.Is(err, ErrTokenInvalid) is false")
	}
}

func TestFriendsMalformedToken(t *testing.T) {
	g := newFakeGraph(t)
	for _, tok := range []string{"", "two words", "line\nbreak", strings.Repeat("x", 5000)} {
		_, _, err := New(g.base(), time.Second).Friends(context.Background(), tok)
		assertRefusal(t, err, models.CodeBadUserInput, ReasonTokenInvalid)
	}
	if n := g.requests.Load(); n != 0 {
		t.Errorf("%d requests for malformed tokens, want none", n)
	}
}

// Answers from /me/friends, after /me succeeded.
func TestFriendsErrorAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		code   models.Code
		reason string
	}{
		{"error 190 on a later call", 400, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`, models.CodeBadUserInput, ReasonTokenInvalid},
		{"error 190 with 200", 200, `{"error":{"message":"expired","type":"OAuthException","code":190}}`, models.CodeBadUserInput, ReasonTokenInvalid},
		{"401 without body", 401, ``, models.CodeBadUserInput, ReasonTokenInvalid},
		{"400 other error", 400, `{"error":{"message":"(#100) bad","type":"OAuthException","code":100}}`, models.CodeBadUserInput, ReasonTokenInvalid},
		{"400 rate limited", 400, `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4}}`, models.CodeUnavailable, ReasonUnavailable},
		{"500", 500, `{"error":{"message":"An unknown error has occurred.","type":"OAuthException","code":1}}`, models.CodeUnavailable, ReasonUnavailable},
		{"502 HTML", 502, `<html>Bad Gateway</html>`, models.CodeUnavailable, ReasonUnavailable},
		{"404", 404, `not found`, models.CodeUnavailable, ReasonUnavailable},
		{"redirect", 302, ``, models.CodeUnavailable, ReasonUnavailable},
		{"malformed JSON", 200, `{"data":[{"id":"201"}`, models.CodeUnavailable, ReasonUnavailable},
		{"not JSON", 200, `<html>hello</html>`, models.CodeUnavailable, ReasonUnavailable},
		{"wrong types", 200, `{"data":{"id":"201"}}`, models.CodeUnavailable, ReasonUnavailable},
		{"body too large", 200, `{"data":[],"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, models.CodeUnavailable, ReasonUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newFakeGraph(t)
			g.friends = func(w http.ResponseWriter, r *http.Request) {
				if c.status == 302 {
					w.Header().Set("Location", "http://example.invalid/steal")
				}
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}
			uid, ids, err := New(g.base(), time.Second).Friends(context.Background(), goodToken)
			assertRefusal(t, err, c.code, c.reason)
			if uid != "" || ids != nil {
				t.Errorf("got %q %v alongside the error", uid, ids)
			}
		})
	}
}

func TestFriendsMeErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		code   models.Code
		reason string
	}{
		{"401", 401, `{"error":{"message":"no","type":"OAuthException","code":2500}}`, models.CodeBadUserInput, ReasonTokenInvalid},
		{"500", 500, `oops`, models.CodeUnavailable, ReasonUnavailable},
		{"malformed", 200, `{"id":`, models.CodeUnavailable, ReasonUnavailable},
		{"no id", 200, `{"name":"x"}`, models.CodeUnavailable, ReasonUnavailable},
		{"numeric id", 200, `{"id":100001}`, models.CodeUnavailable, ReasonUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newFakeGraph(t)
			g.me = func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}
			_, _, err := New(g.base(), time.Second).Friends(context.Background(), goodToken)
			assertRefusal(t, err, c.code, c.reason)
		})
	}
}

func TestFriendsSlow(t *testing.T) {
	g := newFakeGraph(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	g.pages = [][]string{{"201"}, {"202"}}
	g.friends = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") == "" {
			g.servePage(w, r) // the first page is quick: the budget is per call
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	g.nextURL = func(int) string { return g.base() + "/me/friends?after=page1" }

	start := time.Now()
	_, _, err := New(g.base(), 200*time.Millisecond).Friends(context.Background(), goodToken)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Friends took %v with a 200ms timeout", d)
	}
	assertRefusal(t, err, models.CodeUnavailable, ReasonUnavailable)
}

func TestFriendsCallerCancels(t *testing.T) {
	g := newFakeGraph(t)
	g.friends = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err := New(g.base(), 5*time.Second).Friends(ctx, goodToken)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestFriendsDefaultTimeout(t *testing.T) {
	if c := New("https://graph.facebook.com/v19.0", 0); c.timeout != DefaultTimeout {
		t.Errorf("timeout = %v, want %v", c.timeout, DefaultTimeout)
	}
}

func TestFriendsNextOnAnotherHost(t *testing.T) {
	var stolen atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		fmt.Fprint(w, `{"data":[{"id":"666"}]}`)
	}))
	t.Cleanup(other.Close)

	for name, next := range map[string]string{
		"other host":   other.URL + "/v19.0/me/friends?after=page1",
		"other scheme": strings.Replace(other.URL, "http://", "https://", 1) + "/v19.0/me/friends",
		"userinfo":     "http://evil@" + strings.TrimPrefix(other.URL, "http://") + "/x",
		"relative":     "/v19.0/me/friends?after=page1",
		"garbage":      "http://[::1",
	} {
		t.Run(name, func(t *testing.T) {
			g := newFakeGraph(t)
			g.pages = [][]string{{"201"}, {"202"}}
			g.nextURL = func(int) string { return next }
			_, _, err := New(g.base(), time.Second).Friends(context.Background(), goodToken)
			assertRefusal(t, err, models.CodeUnavailable, ReasonUnavailable)
			if strings.Contains(err.Error(), next) {
				t.Errorf("error %q echoes the paging link", err)
			}
		})
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

func TestFriendsSameSchemeOtherPort(t *testing.T) {
	g := newFakeGraph(t)
	g.pages = [][]string{{"201"}, {"202"}}
	g.nextURL = func(int) string { return "http://127.0.0.1:1/v19.0/me/friends" }
	_, _, err := New(g.base(), time.Second).Friends(context.Background(), goodToken)
	assertRefusal(t, err, models.CodeUnavailable, ReasonUnavailable)
}

func TestFriendsPageLimit(t *testing.T) {
	g := newFakeGraph(t)
	g.pages = [][]string{{"201"}}
	g.nextURL = func(int) string { return g.base() + "/me/friends" } // forever page 0
	_, _, err := New(g.base(), 5*time.Second).Friends(context.Background(), goodToken)
	assertRefusal(t, err, models.CodeUnavailable, ReasonUnavailable)
	if n := g.requests.Load(); n != 1+MaxPages {
		t.Errorf("%d requests, want %d", n, 1+MaxPages)
	}
}

func TestFriendsCountLimit(t *testing.T) {
	g := newFakeGraph(t)
	var pages atomic.Int32
	g.friends = func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`{"data":[`)
		page := int(pages.Add(1)) - 1
		for i := range 2000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"%d"}`, page*2000+i+1)
		}
		fmt.Fprintf(&b, `],"paging":{"next":%q}}`, g.base()+"/me/friends")
		fmt.Fprint(w, b.String())
	}
	_, _, err := New(g.base(), 5*time.Second).Friends(context.Background(), goodToken)
	assertRefusal(t, err, models.CodeUnavailable, ReasonUnavailable)
	if n := pages.Load(); n != 6 {
		t.Errorf("%d pages read, want 6 (the sixth passes %d)", n, MaxFriends)
	}
}

func TestFriendsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, _, err := New(base, time.Second).Friends(context.Background(), goodToken)
	assertRefusal(t, err, models.CodeUnavailable, ReasonUnavailable)
}

func TestNewBadBaseURL(t *testing.T) {
	for _, base := range []string{"", "graph.facebook.com", "ftp://x/y", "https://x/y?a=b", "http://[::1"} {
		_, _, err := New(base, time.Second).Friends(context.Background(), goodToken)
		if err == nil {
			t.Errorf("base %q: no error", base)
			continue
		}
		if code := models.CodeOf(err); code != models.CodeInternal {
			t.Errorf("base %q: code %s, want INTERNAL", base, code)
		}
	}
}
