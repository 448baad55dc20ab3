// Package facebook is a small client of the Facebook Graph API: it reads the
// user id behind an access token and that user's friend list.
package facebook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"dmgraph/models"
)

// Limits on what one Friends call reads.
const (
	DefaultTimeout = 10 * time.Second
	MaxPages       = 100     // pages of /me/friends
	MaxFriends     = 10_000  // distinct friend ids
	MaxBodyBytes   = 1 << 20 // per response
	maxIDLen       = 64
)

// Reasons of the errors Friends returns.
const (
	ReasonTokenInvalid = "FACEBOOK_TOKEN_INVALID"
	ReasonUnavailable  = "FACEBOOK_UNAVAILABLE"
)

var (
	// ErrTokenInvalid is returned, possibly wrapped, for an invalid or
	// expired access token. Match it with errors.Is.
	ErrTokenInvalid = models.Refusal(models.CodeBadUserInput, ReasonTokenInvalid,
		"the Facebook token is invalid or expired")
	// ErrUnavailable is returned, possibly wrapped, when the Graph API times
	// out, cannot be reached, or answers something unusable.
	ErrUnavailable = models.Refusal(models.CodeUnavailable, ReasonUnavailable,
		"Facebook could not be reached; try again later")
)

// Client calls the Graph API. It is safe for concurrent use.
type Client struct {
	base    *url.URL // nil when the base URL given to New is unusable
	baseErr error
	timeout time.Duration
	http    *http.Client
}

// New returns a client of the Graph API at baseURL, such as
// "https://graph.facebook.com/v19.0". timeout bounds a whole Friends call,
// every page included; 0 means DefaultTimeout. An unusable baseURL makes
// every call fail with an internal error.
func New(baseURL string, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &Client{timeout: timeout}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	switch {
	case err != nil:
		c.baseErr = fmt.Errorf("facebook: base URL: %w", err)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "":
		c.baseErr = fmt.Errorf("facebook: base URL %q is not an http(s) URL without query", baseURL)
	default:
		c.base = u
	}
	c.http = &http.Client{
		Timeout: timeout,
		// A redirect would carry the token somewhere we did not choose:
		// treat a 3xx like any other unexpected answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// Friends returns the Facebook user id behind accessToken and the ids of
// that user's friends (those who use this app, as the Graph API tells it),
// without duplicates, in the order the API gave them.
//
// The token travels in the Authorization header only. Errors: ErrTokenInvalid
// (BAD_USER_INPUT) for a token Facebook refuses; ErrUnavailable (UNAVAILABLE)
// for timeouts, network failures, 5xx, malformed answers, a paging link to
// another host, or more than MaxPages pages or MaxFriends friends; the
// caller's own cancellation is returned as context.Canceled, wrapped. No
// error message contains the token.
func (c *Client) Friends(ctx context.Context, accessToken string) (userID string, friendIDs []string, err error) {
	if c.base == nil {
		return "", nil, c.baseErr
	}
	if accessToken == "" || !isToken(accessToken) {
		return "", nil, ErrTokenInvalid
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	defer func() {
		// The caller gave up: say so rather than blame Facebook.
		if err != nil && errors.Is(parent.Err(), context.Canceled) {
			userID, friendIDs, err = "", nil, fmt.Errorf("facebook: %w", parent.Err())
		}
	}()

	var me struct {
		ID string `json:"id"`
	}
	if err := c.get(ctx, c.endpoint("/me", "fields=id"), accessToken, &me); err != nil {
		return "", nil, err
	}
	if !validID(me.ID) {
		return "", nil, unavailable("GET /me: no usable id")
	}

	seen := map[string]bool{me.ID: true}
	next := c.endpoint("/me/friends", "limit=100")
	for page := 0; next != nil; page++ {
		if page == MaxPages {
			return "", nil, unavailable(fmt.Sprintf("friends: more than %d pages", MaxPages))
		}
		var p struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.get(ctx, next, accessToken, &p); err != nil {
			return "", nil, err
		}
		for _, f := range p.Data {
			if !validID(f.ID) || seen[f.ID] {
				continue
			}
			if len(friendIDs) == MaxFriends {
				return "", nil, unavailable(fmt.Sprintf("friends: more than %d", MaxFriends))
			}
			seen[f.ID] = true
			friendIDs = append(friendIDs, f.ID)
		}
		next = nil
		if p.Paging.Next != "" {
			if next, err = c.sameOrigin(p.Paging.Next); err != nil {
				return "", nil, err
			}
		}
	}
	if friendIDs == nil {
		friendIDs = []string{}
	}
	return me.ID, friendIDs, nil
}

func (c *Client) endpoint(path, query string) *url.URL {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = query
	return &u
}

// sameOrigin parses a paging link and accepts it only when its scheme and
// host are the base URL's.
func (c *Client) sameOrigin(link string) (*url.URL, error) {
	u, err := url.Parse(link)
	if err != nil || u.User != nil ||
		!strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		// The link is not echoed: Facebook's paging links carry the token.
		return nil, unavailable("friends: paging link leaves the Graph API origin")
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// get fetches target and decodes its JSON body into out.
func (c *Client) get(ctx context.Context, target *url.URL, token string, out any) error {
	what := "GET " + target.Path // never the query: it may hold the token

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return unavailable(what + ": bad request")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return unavailable(what + ": " + transportCause(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return unavailable(what + ": reading the body: " + transportCause(err))
	}
	if len(body) > MaxBodyBytes {
		return unavailable(fmt.Sprintf("%s: body over %d bytes", what, MaxBodyBytes))
	}

	var gerr struct {
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &gerr) // best effort: the status decides otherwise
	if gerr.Error != nil {
		switch gerr.Error.Code {
		case 102, 190: // session and access-token errors
			return ErrTokenInvalid
		case 1, 2, 4, 17, 32, 341, 613: // temporary or rate limited
			return unavailable(fmt.Sprintf("%s: HTTP %d, Graph API error %d", what, resp.StatusCode, gerr.Error.Code))
		}
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized:
		return ErrTokenInvalid
	case resp.StatusCode != http.StatusOK:
		return unavailable(fmt.Sprintf("%s: HTTP %d", what, resp.StatusCode))
	case gerr.Error != nil:
		return unavailable(fmt.Sprintf("%s: Graph API error %d", what, gerr.Error.Code))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return unavailable(what + ": malformed JSON")
	}
	return nil
}

// unavailable wraps ErrUnavailable with a cause for the logs. The cause is
// built from our own words, paths and status codes: never a query string,
// a response body or the token.
func unavailable(cause string) error {
	return fmt.Errorf("%w [facebook: %s]", ErrUnavailable, cause)
}

// transportCause describes a failed round trip without its URL.
func transportCause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		err = ue.Err
	}
	return err.Error()
}

// validID accepts what a Graph API id can be: a short string of printable,
// non-space characters. Facebook's are digits; fakes may differ.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// isToken rejects what could not be a token and would break the header.
func isToken(s string) bool {
	if len(s) > 4096 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
