package dm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"dmgraph/auth"
	"dmgraph/models"
)

// Token versions. A token is valid while the version it was issued at is the
// user's current one; signOutEverywhere moves the version on. To spare every
// request a query, each instance remembers versions for TokenVersionTTL, and
// the SIGNED_OUT event raises them at once on every instance the broker
// reaches. Were the broker down, another instance would honour a revoked
// token for at most TokenVersionTTL.
const (
	// TokenVersionTTL is how long an instance trusts a remembered version.
	TokenVersionTTL   = 30 * time.Second
	tokenVersionUsers = 100_000
	// signOutTimeout bounds a sign-out, which finishes even if its caller
	// goes away: a version moved on but never announced would leave other
	// instances honouring old tokens until TokenVersionTTL.
	signOutTimeout = 5 * time.Second
)

// tokenVersions is a bounded, expiring memory of users' token versions. It
// only ever raises a version, so a read that raced a sign-out cannot bring
// back the older one.
type tokenVersions struct {
	mu  sync.Mutex
	lru *expirable.LRU[int64, int64]
}

func newTokenVersions() *tokenVersions {
	return &tokenVersions{lru: expirable.NewLRU[int64, int64](tokenVersionUsers, nil, TokenVersionTTL)}
}

// forget drops every remembered version.
func (c *tokenVersions) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Purge()
}

func (c *tokenVersions) get(userID int64) (int64, bool) {
	return c.lru.Get(userID)
}

func (c *tokenVersions) raise(userID, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.lru.Peek(userID); ok && v >= version {
		return
	}
	c.lru.Add(userID, version)
}

var errTokenRevoked = models.Errorf(models.CodeUnauthenticated, "this session was signed out; sign in again")

// Authenticate checks a bearer token: its signature and expiry, and that its
// user has not signed out everywhere since it was issued.
func (s *Service) Authenticate(ctx context.Context, token string) (auth.Claims, error) {
	c, err := s.tokens.Parse(token)
	if err != nil {
		return auth.Claims{}, models.Errorf(models.CodeUnauthenticated, "invalid or expired token")
	}
	current, ok := s.versions.get(c.UserID)
	if !ok || c.Version > current {
		// Unknown here, or issued after a sign-out this instance has not
		// heard of yet: ask the database.
		versions, err := s.CurrentTokenVersions(ctx, []int64{c.UserID})
		if err != nil {
			return auth.Claims{}, err
		}
		if current, ok = versions[c.UserID]; !ok {
			return auth.Claims{}, errTokenRevoked // the user is gone
		}
	}
	if c.Version != current {
		return auth.Claims{}, errTokenRevoked
	}
	return c, nil
}

// SignOutEverywhere voids every token the viewer holds, this one included,
// and closes their websockets on every instance.
func (s *Service) SignOutEverywhere(ctx context.Context) error {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signOutTimeout)
	defer cancel()
	version, err := s.store.RevokeTokens(ctx, viewer)
	if err != nil {
		return err
	}
	s.TokensRevoked(viewer, version)
	s.publish(ctx, models.Event{Kind: models.EventSignedOut, TokenVersion: version, Audience: []int64{viewer}})
	return nil
}

// Revoked reports whether this instance knows that c's user signed out
// everywhere after c was issued. It asks no database: open websockets call
// it for every operation.
func (s *Service) Revoked(c auth.Claims) bool {
	v, ok := s.versions.get(c.UserID)
	return ok && v > c.Version
}

// ForgetTokenVersions drops what this instance remembers of token versions.
// The transport calls it when sign-out events from other instances may have
// been lost (a broker outage), so every token is checked afresh.
func (s *Service) ForgetTokenVersions() { s.versions.forget() }

// CurrentTokenVersions reads users' token versions from the database, and
// remembers them.
func (s *Service) CurrentTokenVersions(ctx context.Context, userIDs []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(userIDs))
	for chunk := range slices.Chunk(userIDs, 1000) {
		versions, err := s.store.TokenVersions(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for id, v := range versions {
			s.versions.raise(id, v)
			out[id] = v
		}
	}
	return out, nil
}

// TokensRevoked records that userID's tokens before version are void. The
// transport calls it for every SIGNED_OUT event, from any instance.
func (s *Service) TokensRevoked(userID, version int64) { s.versions.raise(userID, version) }

func (s *Service) session(u *models.User) (*Session, error) {
	token, _, err := s.tokens.Issue(u.ID, u.TokenVersion)
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	s.versions.raise(u.ID, u.TokenVersion)
	return &Session{Token: token, User: u}, nil
}
