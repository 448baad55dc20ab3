// Package auth issues and checks session tokens (JWT, HS256) and hashes
// passwords (bcrypt).
package auth

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/crypto/bcrypt"
)

// ErrInvalidToken covers every token we refuse: malformed, badly signed or expired.
var ErrInvalidToken = errors.New("invalid or expired token")

const issuer = "dmgraph"

// verifiedTokens bounds how many verified tokens Parse remembers: one per
// recently active session. A token that verified is one we issued, under
// 300 bytes; it is copied in, so a long header it came from is not kept.
const verifiedTokens = 16384

// Tokens signs and verifies session tokens.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	// verified maps a token whose signature checked out to its claims,
	// keyed by the whole token, so no other string can hit it. Every request
	// carries the same token again, and verifying it anew (base64, JSON,
	// HMAC) cost 8 % of the server's CPU on sendMessage. Only tokens that
	// verified enter it; expiry is checked again on every hit.
	verified *lru.Cache[string, Claims]
}

// NewTokens returns a signer using an HS256 secret.
func NewTokens(secret string, ttl time.Duration) (*Tokens, error) {
	if secret == "" {
		return nil, errors.New("the JWT secret is empty")
	}
	if ttl <= 0 {
		return nil, errors.New("token TTL must be positive")
	}
	verified, err := lru.New[string, Claims](verifiedTokens)
	if err != nil {
		return nil, err
	}
	return &Tokens{secret: []byte(secret), ttl: ttl, now: time.Now, verified: verified}, nil
}

// Claims are what a valid token says.
type Claims struct {
	UserID int64
	// Version is the user's token version when the token was issued; the
	// token is void once the user's version moves past it (sign out
	// everywhere). Tokens from before versions existed carry 0.
	Version int64
	Expires time.Time
}

type jwtClaims struct {
	jwt.RegisteredClaims
	Version int64 `json:"ver,omitempty"`
}

// Issue returns a token for a user at a token version, and when it expires.
func (t *Tokens) Issue(userID, version int64) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   strconv.FormatInt(userID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Version: version,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	return s, exp, err
}

// Parse verifies a token's signature and expiry and returns its claims.
// Whether its version is still current is the caller's question.
func (t *Tokens) Parse(token string) (Claims, error) {
	if c, ok := t.verified.Get(token); ok {
		if t.now().Before(c.Expires) {
			return c, nil
		}
		t.verified.Remove(token)
		return Claims{}, ErrInvalidToken
	}
	var claims jwtClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now))
	if err != nil {
		return Claims{}, ErrInvalidToken
	}
	userID, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || userID <= 0 || claims.Version < 0 {
		return Claims{}, ErrInvalidToken
	}
	c := Claims{UserID: userID, Version: claims.Version, Expires: claims.ExpiresAt.Time}
	t.verified.Add(strings.Clone(token), c)
	return c, nil
}

// Hasher hashes passwords with bcrypt.
type Hasher struct{ Cost int }

// DefaultCost is bcrypt's recommended work factor.
const DefaultCost = bcrypt.DefaultCost

// cost is the work factor Hash uses: bcrypt's own default below its
// minimum, as bcrypt.GenerateFromPassword does.
func (h Hasher) cost() int {
	if h.Cost < bcrypt.MinCost {
		return DefaultCost
	}
	return h.Cost
}

// Hash returns the bcrypt hash of password.
func (h Hasher) Hash(password string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(password), h.cost())
	return string(b), err
}

// Check reports whether password matches hash.
func (h Hasher) Check(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// dummyHashes are compared against when a username does not exist, one per
// cost, so a login takes as long for an unknown name as for a wrong password
// at the cost passwords are hashed at.
var dummyHashes [bcrypt.MaxCost + 1]func() []byte

func init() {
	for cost := range dummyHashes {
		dummyHashes[cost] = sync.OnceValue(func() []byte {
			h, _ := bcrypt.GenerateFromPassword([]byte("dmgraph-timing-equalizer"), cost)
			return h
		})
	}
}

func (h Hasher) dummyHash() []byte {
	c := h.cost()
	if c > bcrypt.MaxCost {
		c = DefaultCost // Hash refuses such a cost, so no account has it
	}
	return dummyHashes[c]()
}

// CheckMissing burns the time of a real comparison and always fails.
func (h Hasher) CheckMissing(password string) bool {
	_ = bcrypt.CompareHashAndPassword(h.dummyHash(), []byte(password))
	return false
}
