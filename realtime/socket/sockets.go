// Package socket delivers live events to GraphQL clients over websockets:
// gqlgen's websocket transport on gorilla/websocket, the socket sessions
// (origin checks, admission, sign-in, sign-out, token expiry and recheck),
// and each subscription's stream of events from the realtime hub.
package socket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"dmgraph/auth"
	"dmgraph/httpx"
	"dmgraph/metrics"
	"dmgraph/models"
	"dmgraph/realtime"
)

// Websocket close codes sent by the server. Each meaning has a code of its
// own, chosen for what the stock graphql-ws client (npm graphql-ws 6) does
// with it: the client reconnects by itself, with its backoff, after every
// code below but 4401 and 4409, and calls connectionParams again each time.
// It gives up on 1002–1011, on 1015–1999, and on the codes its protocol
// names fatal (4400, 4401, 4406, 4409, 4429, 4500), so none of those ends
// a socket that the client should resume. The 48xx codes are ours: the
// server ended the socket for its own reasons, and the client resumes.
// The README's table says the same for clients.
const (
	// CloseGoingAway: the server is shutting down. Retried.
	CloseGoingAway = 1001
	// CloseTryAgainLater: the database is unavailable, at connection_init
	// or for a subscription's read. Retried.
	CloseTryAgainLater = 1013
	// CloseUnauthorized: the token expired, or its user signed out
	// everywhere. Fatal to the stock client: sign in again.
	CloseUnauthorized = 4401
	// CloseForbidden: connection_init had no valid token. The stock client
	// retries it up to retryAttempts times (connection_ack resets its
	// count, and none comes), asking connectionParams for a token each
	// time, then gives up.
	CloseForbidden = 4403
	// CloseInitTimeout ends a socket that had not sent a valid
	// connection_init when newer ones needed its place. Retried.
	CloseInitTimeout = 4408
	// CloseSubscriberExists ends a socket that reused the ID of an
	// operation still running on it, as graphql-transport-ws requires.
	// Fatal: a client bug.
	CloseSubscriberExists = 4409
	// CloseSlowConsumer: the client fell behind its subscription's buffer.
	// Retried.
	CloseSlowConsumer = 4800
	// CloseResync: events between instances may have been lost (a broker
	// outage). Retried.
	CloseResync = 4801
	// CloseInternal: the server failed to read what it owed the client.
	// Retried.
	CloseInternal = 4802
	// CloseTooManySockets refuses connection_init when the user already
	// holds WS_MAX_SOCKETS_PER_USER signed-in sockets. Retried up to
	// retryAttempts times, like 4403, in case one of them closes meanwhile.
	CloseTooManySockets = 4803
)

const (
	writeWait          = 10 * time.Second
	wsPayloadReadLimit = 64 << 10
	wsInitTimeout      = 10 * time.Second
)

// Tokens is what the sockets need of the accounts service: to sign a
// socket in at connection_init, and to learn of tokens revoked since.
type Tokens interface {
	httpx.Authenticator
	// Revoked reports whether the claims' user signed out everywhere since
	// the token was issued, as far as this instance knows.
	Revoked(auth.Claims) bool
	// TokensRevoked and ForgetTokenVersions keep what Revoked knows up to
	// date with sign-outs on other instances.
	TokensRevoked(userID, version int64)
	ForgetTokenVersions()
	// CurrentTokenVersions reads the users' token versions afresh.
	CurrentTokenVersions(ctx context.Context, userIDs []int64) (map[int64]int64, error)
}

// Options configure the sockets.
type Options struct {
	Log     *slog.Logger     // nil logs nothing
	Metrics *metrics.Metrics // nil records nothing
	// Hub delivers events to this instance's subscriptions.
	Hub *realtime.Hub
	// AllowedOrigins are origin host patterns ("localhost:*") accepted
	// besides the server's own host; nil means DefaultAllowedOrigins.
	AllowedOrigins []string
	// MaxPendingSockets bounds sockets not yet signed in
	// (DefaultMaxPending when 0).
	MaxPendingSockets int
	// Limits bound sockets per address and per user (zero fields take
	// DefaultLimits).
	Limits Limits
	// Keepalive's zero fields take DefaultKeepalive.
	Keepalive Keepalive
	// ReadTimeout bounds each database read: connection_init's token check,
	// and every read of a subscription (DefaultReadTimeout when 0).
	ReadTimeout time.Duration
	// TokenRecheckInterval is how often open sockets' tokens are checked
	// against the database, in case a sign-out event was lost
	// (DefaultTokenRecheckInterval when 0).
	TokenRecheckInterval time.Duration
}

// The defaults of Options' durations. The handler passes its own: its
// operation timeout, and as often as dm's remembered token versions expire.
const (
	DefaultReadTimeout          = 5 * time.Second
	DefaultTokenRecheckInterval = 30 * time.Second
)

// Server serves the API's websockets and the subscriptions on them.
type Server struct {
	tokens    Tokens
	hub       *realtime.Hub
	log       *slog.Logger
	metrics   *metrics.Metrics
	timeout   time.Duration
	keepalive Keepalive
	allowed   func(*http.Request) bool
	sessions  *sessions
}

// New returns the sockets, listening on the hub for sign-outs, and
// rechecking open sockets' tokens every opts.TokenRecheckInterval until
// CloseAll.
func New(tokens Tokens, opts Options) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.AllowedOrigins == nil {
		opts.AllowedOrigins = DefaultAllowedOrigins
	}
	if opts.Hub == nil {
		opts.Hub = realtime.NewHub(0)
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.TokenRecheckInterval <= 0 {
		opts.TokenRecheckInterval = DefaultTokenRecheckInterval
	}
	s := &Server{tokens: tokens, hub: opts.Hub, log: opts.Log, metrics: opts.Metrics, timeout: opts.ReadTimeout,
		keepalive: opts.Keepalive.orDefaults(), allowed: originChecker(opts.AllowedOrigins),
		sessions: newSessions(opts.Metrics, opts.MaxPendingSockets, opts.Limits)}
	opts.Hub.Observe(func(ev models.Event) {
		switch ev.Kind {
		case models.EventSignedOut:
			for _, userID := range ev.Audience {
				tokens.TokensRevoked(userID, ev.TokenVersion)
				s.sessions.signOut(userID, ev.TokenVersion)
			}
		case realtime.EventResync:
			// Sign-outs on other instances may have been lost: check every
			// token afresh, and the open sockets' too.
			tokens.ForgetTokenVersions()
			go s.sessions.recheck(tokens, s.log)
		}
	})
	// Sign-out events can be lost (a broker outage, a crash between commit
	// and publish): open sockets are also checked against the database.
	go s.sessions.recheckEvery(opts.TokenRecheckInterval, tokens, s.log)
	return s
}

// CloseAll starts draining: new websockets are refused, and every open one
// is closed with 1001 (going away), so clients reconnect elsewhere and
// resume with after. http.Server.Shutdown does not touch hijacked
// connections.
func (s *Server) CloseAll() { s.sessions.closeAll(CloseGoingAway, "server shutting down") }

// Draining reports whether CloseAll was called.
func (s *Server) Draining() bool { return s.sessions.draining.Load() }

// Transport serves graphql-transport-ws and the legacy graphql-ws over
// gorilla/websocket.
func (s *Server) Transport() transport.Websocket {
	limit := int64(wsPayloadReadLimit)
	return transport.Websocket{
		Implementation:        gorilla(s.keepalive),
		InitFunc:              s.init,
		InitTimeout:           wsInitTimeout,
		KeepAlivePingInterval: s.keepalive.Ping, // "ka" messages for legacy graphql-ws clients
		PayloadReadLimit:      &limit,
	}
}

// init authenticates connection_init: {"Authorization": "Bearer <token>"}
// (any case) or {"authToken": "<token>"}. The socket closes with 4403 without
// a valid token, and with 4401 when the token expires or its user signs out
// everywhere.
func (s *Server) init(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	claims, err := bounded(ctx, s.timeout, func(ctx context.Context) (auth.Claims, error) {
		return s.tokens.Authenticate(ctx, initToken(payload))
	})
	switch {
	case err == nil:
	case errors.Is(err, &models.Error{Code: models.CodeUnauthenticated}):
		ctx = transport.WithWebsocketCloseCode(ctx, CloseForbidden)
		return transport.AppendCloseReason(ctx, "Forbidden"), nil, errors.New("a valid token is required in connection_init")
	case errors.Is(err, models.ErrUnavailable):
		s.log.WarnContext(ctx, "websocket token not checked: dependency unavailable", "err", err)
		ctx = transport.WithWebsocketCloseCode(ctx, CloseTryAgainLater)
		return transport.AppendCloseReason(ctx, "try again later"), nil, errors.New("the token could not be checked; try again later")
	default:
		s.log.ErrorContext(ctx, "websocket token not checked", "err", err)
		ctx = transport.WithWebsocketCloseCode(ctx, CloseInternal)
		return transport.AppendCloseReason(ctx, "internal error"), nil, errors.New("internal error")
	}
	if sess := sessionFrom(ctx); sess != nil {
		if code, reason := sess.signedIn(claims); code != 0 {
			ctx = transport.WithWebsocketCloseCode(ctx, code)
			return transport.AppendCloseReason(ctx, reason), nil, errors.New(reason)
		}
		// A sign-out that landed between the check and signedIn found
		// no user on this socket to close; it raised the version first,
		// so it is seen here.
		if s.tokens.Revoked(claims) {
			go sess.close(CloseUnauthorized, "signed out")
		}
	}
	return models.WithViewer(ctx, claims.UserID), nil, nil
}

func initToken(payload transport.InitPayload) string {
	for k, v := range payload {
		s, _ := v.(string)
		switch {
		case strings.EqualFold(k, "authorization"):
			scheme, token, found := strings.Cut(strings.TrimSpace(s), " ")
			if found && strings.EqualFold(scheme, "Bearer") {
				return strings.TrimSpace(token)
			}
		case strings.EqualFold(k, "authToken"):
			return strings.TrimPrefix(s, "Bearer ")
		}
	}
	return ""
}

// Admit checks a websocket upgrade's origin and gives it a session before
// gqlgen sees it; other requests pass through.
func (s *Server) Admit(next http.Handler) http.Handler {
	ss := s.sessions
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !s.allowed(r) {
			httpx.WriteError(w, r, http.StatusForbidden, models.Errorf(models.CodeForbidden, "websocket origin not allowed"))
			return
		}
		if ss.draining.Load() {
			httpx.WriteError(w, r, http.StatusServiceUnavailable, models.Errorf(models.CodeUnavailable, "the server is shutting down; connect again"))
			return
		}
		sess := &session{}
		evicted, ok := ss.admit(sess, models.AddressKey(models.ClientIP(r.Context())))
		if !ok {
			httpx.WriteError(w, r, http.StatusTooManyRequests,
				models.RateLimited("", "too many connections from this address: close one first", time.Second))
			return
		}
		for _, old := range evicted {
			old.close(CloseInitTimeout, "connection_init took too long")
		}
		defer func() {
			// The transport returns when the socket is done.
			sess.end()
			ss.remove(sess)
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// OnSocket reports whether ctx is a websocket's.
func OnSocket(ctx context.Context) bool { return sessionFrom(ctx) != nil }

// RefuseRevoked refuses operations on a websocket whose user this instance
// knows signed out everywhere since the socket signed in, and closes it: a
// socket's viewer is fixed at connection_init.
func (s *Server) RefuseRevoked(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if sess := sessionFrom(ctx); sess != nil && s.tokens.Revoked(sess.claims()) {
		go sess.close(CloseUnauthorized, "signed out")
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message:    "this session was signed out; sign in again",
			Extensions: map[string]any{"code": string(models.CodeUnauthenticated)},
		}}})
	}
	return next(ctx)
}

// EndFailedEvents ends the socket, as a failed read of the subscription's
// own does (abort), when an event's fields could not be read for a reason
// other than the data itself (UNAVAILABLE or INTERNAL): instead of an event
// with an error, whose message the client would never see again, the client
// reconnects and resumes with `after`. A field error such as NOT_FOUND
// leaves the event as it is.
func EndFailedEvents(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) == 0 || ctx.Err() != nil {
		return resp // no error, or the subscription is ending anyway
	}
	if !graphql.HasOperationContext(ctx) {
		return resp // a request that never became an operation
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Subscription {
		return resp
	}
	sess := sessionFrom(ctx)
	if sess == nil {
		return resp
	}
	failed, unavailable := false, false
	for _, e := range resp.Errors {
		switch e.Extensions["code"] {
		case string(models.CodeUnavailable):
			failed, unavailable = true, true
		case string(models.CodeInternal):
			failed = true
		}
	}
	if !failed {
		return resp
	}
	sess.close(resumeClose(unavailable))
	return nil
}
