package resolvers

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"dmgraph/auth"
	"dmgraph/dm"
	"dmgraph/httpx"
	"dmgraph/metrics"
	"dmgraph/models"
)

// Websocket close codes sent by the server.
const (
	CloseGoingAway     = 1001 // server shutting down: reconnect elsewhere and resume
	CloseUnauthorized  = 4401 // the token expired, or its user signed out everywhere: sign in again
	CloseForbidden     = 4403 // connection_init had no valid token
	CloseTryAgainLater = 1013 // the server could not check the token just now
	CloseSlowConsumer  = 4429 // fell behind: reconnect and resume with after
	// CloseTooManySockets refuses connection_init when the user already
	// holds WS_MAX_SOCKETS_PER_USER signed-in sockets.
	CloseTooManySockets = 4429
	// CloseInitTimeout ends a socket that had not sent a valid
	// connection_init when newer ones needed its place.
	CloseInitTimeout = 4408
	// CloseSubscriberExists ends a socket that reused the ID of an
	// operation still running on it.
	CloseSubscriberExists = 4409
	writeWait             = 10 * time.Second
	wsPayloadReadLimit    = 64 << 10
	wsInitTimeout         = 10 * time.Second
)

// writeBuffers is shared by every socket's writes.
var writeBuffers = &sync.Pool{}

// Keep-alive: a ping every pingInterval; a peer silent for pongWait is
// dropped. Variables so that tests can shorten them.
var (
	pingInterval = 25 * time.Second
	pongWait     = 60 * time.Second
)

// newWebsocketTransport serves graphql-transport-ws and the legacy graphql-ws
// over gorilla/websocket.
func newWebsocketTransport(svc *dm.Service, timeout time.Duration, log *slog.Logger) transport.Websocket {
	limit := int64(wsPayloadReadLimit)
	return transport.Websocket{
		Implementation:        GorillaWebsocket(),
		InitFunc:              initFunc(svc, timeout, log),
		InitTimeout:           wsInitTimeout,
		KeepAlivePingInterval: pingInterval, // "ka" messages for legacy graphql-ws clients
		PayloadReadLimit:      &limit,
	}
}

// initFunc authenticates connection_init: {"Authorization": "Bearer <token>"}
// (any case) or {"authToken": "<token>"}. The socket closes with 4403 without
// a valid token, and with 4401 when the token expires or its user signs out
// everywhere.
func initFunc(svc *dm.Service, timeout time.Duration, log *slog.Logger) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		claims, err := bounded(ctx, timeout, func(ctx context.Context) (auth.Claims, error) {
			return svc.Authenticate(ctx, initToken(payload))
		})
		switch {
		case err == nil:
		case errors.Is(err, &models.Error{Code: models.CodeUnauthenticated}):
			ctx = transport.WithWebsocketCloseCode(ctx, CloseForbidden)
			return transport.AppendCloseReason(ctx, "Forbidden"), nil, errors.New("a valid token is required in connection_init")
		case errors.Is(err, models.ErrUnavailable):
			log.WarnContext(ctx, "websocket token not checked: dependency unavailable", "err", err)
			ctx = transport.WithWebsocketCloseCode(ctx, CloseTryAgainLater)
			return transport.AppendCloseReason(ctx, "try again later"), nil, errors.New("the token could not be checked; try again later")
		default:
			log.ErrorContext(ctx, "websocket token not checked", "err", err)
			ctx = transport.WithWebsocketCloseCode(ctx, 1011)
			return transport.AppendCloseReason(ctx, "internal error"), nil, errors.New("internal error")
		}
		if s := sessionFrom(ctx); s != nil {
			if code, reason := s.signedIn(claims); code != 0 {
				ctx = transport.WithWebsocketCloseCode(ctx, code)
				return transport.AppendCloseReason(ctx, reason), nil, errors.New(reason)
			}
			// A sign-out that landed between the check and signedIn found
			// no user on this socket to close; it raised the version first,
			// so it is seen here.
			if svc.Revoked(claims) {
				go s.close(CloseUnauthorized, "signed out")
			}
		}
		return models.WithViewer(ctx, claims.UserID), nil, nil
	}
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

// originChecker allows requests without an Origin (non-browser clients),
// from the server's own host, and from hosts matching a pattern such as
// "localhost:*" or "*.example.com".
func originChecker(patterns []string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return false
		}
		if strings.EqualFold(u.Host, r.Host) {
			return true
		}
		for _, p := range patterns {
			if originMatches(strings.ToLower(p), strings.ToLower(u.Host)) {
				return true
			}
		}
		return false
	}
}

// originMatches matches host[:port] against a pattern. An IPv6 literal's
// brackets ("[::1]:*") are taken literally, not as path.Match's character
// class, which would match "1:3000" and never "[::1]:3000".
func originMatches(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "["); ok {
		addr, port, _ := strings.Cut(rest, "]")
		hostAddr, hostPort, found := strings.Cut(strings.TrimPrefix(host, "["), "]")
		if !found || !strings.HasPrefix(host, "[") || addr != hostAddr {
			return false
		}
		ok, _ := path.Match(port, hostPort)
		return ok
	}
	ok, _ := path.Match(pattern, host)
	return ok
}

// DefaultAllowedOrigins are the origin patterns allowed besides the server's own host.
var DefaultAllowedOrigins = []string{"localhost", "localhost:*", "127.0.0.1:*", "[::1]:*"}

// gorillaWebsocket adapts gorilla/websocket to gqlgen's transport.
type gorillaWebsocket struct{ upgrader websocket.Upgrader }

// GorillaWebsocket is the server's websocket implementation for gqlgen's
// transport.Websocket: gorilla/websocket, with small buffers and a
// keep-alive ping on a timer.
func GorillaWebsocket() transport.WebsocketImplementation {
	return gorillaWebsocket{upgrader: websocket.Upgrader{
		// withSessions already refused foreign origins, with a clean 403.
		CheckOrigin: func(*http.Request) bool { return true },
		// Small buffers; net/http's own 4 KiB ones are released after the
		// upgrade (hijackWatcher). Each socket keeps its read buffer for its
		// whole life, and clients send little: pings, completes, and now
		// and then a subscribe, which carries its query and is read in a
		// few pieces.
		ReadBufferSize:  256,
		WriteBufferSize: 1024,
		// Write buffers are borrowed per message, so the mostly idle
		// sockets hold none.
		WriteBufferPool: writeBuffers,
	}}
}

func (g gorillaWebsocket) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := g.upgrader
	up.Subprotocols = opts.Subprotocols
	hw := &hijackWatcher{ResponseWriter: w}
	c, err := up.Upgrade(hw, r, opts.ResponseHeader)
	if err != nil {
		return nil, err
	}
	hw.releaseBuffers()
	conn := &wsConn{c: c, done: make(chan struct{}), pingEvery: pingInterval, pongWithin: pongWait}
	_ = c.SetReadDeadline(time.Now().Add(conn.pongWithin))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(conn.pongWithin)) })
	conn.mu.Lock()
	conn.pinger = time.AfterFunc(conn.pingEvery, conn.ping)
	conn.mu.Unlock()
	if s := sessionFrom(r.Context()); s != nil {
		s.attach(conn)
	}
	return conn, nil
}

// hijackWatcher keeps the buffers net/http hands over with the connection.
// net/http's connection goroutine runs the handler, and gqlgen's socket loop
// runs in the handler, so whatever net/http holds lives as long as the
// socket: its 4 KiB reader and writer among them. Gorilla reads with a
// buffer of its own (ReadBufferSize) and writes only the handshake with
// net/http's writer (later frames use WriteBufferPool), so both are released
// once the upgrade is done.
type hijackWatcher struct {
	http.ResponseWriter
	brw *bufio.ReadWriter
}

func (h *hijackWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.brw = brw
	return c, brw, err
}

func (h *hijackWatcher) releaseBuffers() {
	if h.brw != nil {
		// They are net/http's own (it keeps pointers to them), so their
		// values are replaced, not the pointers. Nothing uses them again:
		// the upgrade refuses a client that sent data before the handshake
		// completed, so the reader held nothing.
		*h.brw.Reader = *bufio.NewReaderSize(eofReader{}, 16)
		*h.brw.Writer = *bufio.NewWriterSize(io.Discard, 16)
	}
}

// eofReader is the released reader's source: nothing more to read.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// wsConn is one gorilla connection. gqlgen serializes its writes; control
// frames (ping, close) may be written concurrently, as gorilla allows.
type wsConn struct {
	c        *websocket.Conn
	done     chan struct{}
	doneOnce sync.Once
	mu       sync.Mutex
	pinger   *time.Timer // runs ping; a timer, not a goroutine per socket
	// The keep-alive, as it was when the socket opened (tests change it).
	pingEvery, pongWithin time.Duration
	ops                   operations
}

// operations are the IDs of the operations running on one socket, as the
// messages both ways tell: a client's subscribe (graphql-ws: start) begins
// one; the client's complete (stop), or the server's complete or error,
// ends it.
type operations struct {
	mu     sync.Mutex
	active map[string]struct{}
	// stopping counts, per ID, the client's completes whose operation the
	// server has yet to end with a message of its own: gqlgen sends
	// complete even then, and that late message must not end a new
	// operation that reuses the ID.
	stopping map[string]int
}

// received notes a client message; false, with the ID, when it starts an
// operation under an ID already running.
func (o *operations) received(b []byte) (string, bool) {
	var m struct{ ID, Type string }
	if json.Unmarshal(b, &m) != nil {
		return "", true // gqlgen answers malformed messages itself
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch m.Type {
	case "subscribe", "start":
		if _, running := o.active[m.ID]; running {
			return m.ID, false
		}
		if o.active == nil {
			o.active = map[string]struct{}{}
		}
		o.active[m.ID] = struct{}{}
	case "complete", "stop":
		if _, running := o.active[m.ID]; running {
			delete(o.active, m.ID)
			if o.stopping == nil {
				o.stopping = map[string]int{}
			}
			o.stopping[m.ID]++
		}
	}
	return "", true
}

// sent notes a server message: gqlgen's, a struct with ID and Type fields.
func (o *operations) sent(v any) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return
	}
	f := messageFields(rv.Type())
	if f.id == nil || f.typ == nil {
		return
	}
	if typ := rv.FieldByIndex(f.typ).String(); typ != "complete" && typ != "error" {
		return
	}
	id := rv.FieldByIndex(f.id).String()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopping[id] > 0 {
		if o.stopping[id]--; o.stopping[id] == 0 {
			delete(o.stopping, id)
		}
		return
	}
	delete(o.active, id)
}

// fieldIndexes locate a message struct's ID and Type fields.
type fieldIndexes struct{ id, typ []int }

var messageFieldCache sync.Map // reflect.Type → fieldIndexes

func messageFields(t reflect.Type) fieldIndexes {
	if f, ok := messageFieldCache.Load(t); ok {
		return f.(fieldIndexes)
	}
	var f fieldIndexes
	if sf, ok := t.FieldByName("ID"); ok && sf.Type.Kind() == reflect.String {
		f.id = sf.Index
	}
	if sf, ok := t.FieldByName("Type"); ok && sf.Type.Kind() == reflect.String {
		f.typ = sf.Index
	}
	messageFieldCache.Store(t, f)
	return f
}

// NextReader reads the next message whole, to see which operation it
// starts or stops: a client that starts one under the ID of one still
// running is disconnected with 4409, as graphql-transport-ws requires (and
// gqlgen would lose track of the first).
func (c *wsConn) NextReader() (int, io.Reader, error) {
	t, r, err := c.c.NextReader()
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return t, r, transport.ErrWebsocketClosed
	}
	if err != nil {
		return t, r, err
	}
	_ = c.c.SetReadDeadline(time.Now().Add(c.pongWithin))
	b, err := io.ReadAll(r)
	if err != nil {
		// Over the read limit: gqlgen reports it as it did.
		return t, io.MultiReader(bytes.NewReader(b), errReader{err}), nil
	}
	// Decoded apart: the read loop's goroutine lives as long as the socket,
	// and keeps the stack its deepest call grew (see apart).
	v, _ := apart(func() (opCheck, error) {
		id, ok := c.ops.received(b)
		return opCheck{id, ok}, nil
	})
	if id, ok := v.id, v.ok; !ok {
		c.closeWith(CloseSubscriberExists, "Subscriber for "+httpx.Truncate(id, 64)+" already exists")
		return t, nil, transport.ErrWebsocketClosed
	}
	return t, bytes.NewReader(b), nil
}

// opCheck is what operations.received says of a client message.
type opCheck struct {
	id string
	ok bool
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func (c *wsConn) WriteJSON(v any) error {
	c.ops.sent(v)
	_ = c.c.SetWriteDeadline(time.Now().Add(writeWait))
	return c.c.WriteJSON(v)
}

func (c *wsConn) WriteClose(code int, msg string) error {
	return c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, msg), time.Now().Add(time.Second))
}

func (c *wsConn) Close() error {
	c.doneOnce.Do(func() {
		close(c.done)
		c.mu.Lock()
		c.pinger.Stop()
		c.mu.Unlock()
	})
	return c.c.Close()
}

func (c *wsConn) Subprotocol() string      { return c.c.Subprotocol() }
func (c *wsConn) SetReadLimit(limit int64) { c.c.SetReadLimit(limit) }
func (c *wsConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		t = time.Now().Add(c.pongWithin)
	}
	return c.c.SetReadDeadline(t)
}

// closeWith sends a close frame with code and reason, then drops the
// connection; gqlgen's reader then ends every subscription on it.
func (c *wsConn) closeWith(code int, reason string) {
	_ = c.WriteClose(code, reason)
	_ = c.Close()
}

// ping sends a websocket ping so that a dead peer misses its pong and the
// read deadline ends the connection, then schedules the next one, until the
// connection closes. Idle sockets are most of a server's sockets: a timer
// costs them far less than a goroutine blocked on a ticker.
func (c *wsConn) ping() {
	select {
	case <-c.done:
		return
	default:
	}
	if err := c.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pinger.Reset(c.pingEvery)
}

var _ transport.WebsocketImplementation = gorillaWebsocket{}

// session is what the server knows of one websocket beyond gqlgen: the
// connection, to close it with our own codes, and the token's expiry timer.
type session struct {
	mu     sync.Mutex
	conn   *wsConn
	expiry *time.Timer
	owner  *sessions
	user   auth.Claims // once signed in
	// A close asked for before the connection was attached, done on attach.
	closeCode   int
	closeReason string
	// addr is the client's address, as the owner counts it.
	addr string
	// Guarded by the owner's mu: the user the owner indexes the socket
	// under, its places in the pending queues while it has not signed in,
	// and whether it lost its place to newer sockets.
	indexedAs          int64
	queued, queuedAddr *list.Element
	evicted            bool
	subscriptions      atomic.Int32
}

// Socket limits against floods. The defaults of the configurable ones are
// in DefaultSocketLimits.
const (
	// MaxSubscriptionsPerSocket bounds the subscriptions one socket may hold;
	// the next one closes it with 4429.
	MaxSubscriptionsPerSocket = 64
	// DefaultMaxPendingSockets bounds sockets that have not yet sent a valid
	// connection_init. When they are that many, a new socket takes the
	// place of the one that has waited longest, which is closed with 4408.
	DefaultMaxPendingSockets = 1000
)

// SocketLimits bound the websockets of one client; 0 takes the default.
type SocketLimits struct {
	// PendingPerAddress bounds one address's sockets waiting for
	// connection_init; a new one takes the place of the address's oldest.
	PendingPerAddress int
	// PerAddress bounds one address's open sockets, signed in or not; more
	// are refused with HTTP 429.
	PerAddress int
	// PerUser bounds one user's signed-in sockets; connection_init on one
	// more is refused with close code 4429.
	PerUser int
}

// DefaultSocketLimits are the limits used for the zero fields of
// Options.SocketLimits.
var DefaultSocketLimits = SocketLimits{PendingPerAddress: 100, PerAddress: 1000, PerUser: 32}

func (l SocketLimits) orDefaults() SocketLimits {
	d := DefaultSocketLimits
	if l.PendingPerAddress > 0 {
		d.PendingPerAddress = l.PendingPerAddress
	}
	if l.PerAddress > 0 {
		d.PerAddress = l.PerAddress
	}
	if l.PerUser > 0 {
		d.PerUser = l.PerUser
	}
	return d
}

// addSubscription counts a new subscription on the socket, and closes the
// socket when there are too many.
func (s *session) addSubscription() bool {
	if s.subscriptions.Add(1) > MaxSubscriptionsPerSocket {
		s.close(CloseSlowConsumer, "too many subscriptions on one connection")
		return false
	}
	return true
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// attach gives the session its connection, and closes it at once when the
// session was closed before (evicted or shut down during the upgrade).
func (s *session) attach(c *wsConn) {
	s.mu.Lock()
	s.conn = c
	code, reason := s.closeCode, s.closeReason
	s.mu.Unlock()
	if code != 0 {
		c.closeWith(code, reason)
	}
}

// signedIn records the socket's user and closes it with 4401 when the
// token expires. It returns a close code and reason instead when the socket
// may not sign in: it lost its place while the token was checked, or the
// user holds too many sockets already.
func (s *session) signedIn(c auth.Claims) (int, string) {
	if s.owner != nil {
		if code, reason := s.owner.signedIn(s, c.UserID); code != 0 {
			return code, reason
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = c
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.expiry = time.AfterFunc(time.Until(c.Expires), func() { s.close(CloseUnauthorized, "token expired") })
	return 0, ""
}

// claims are the socket's token's, once signed in.
func (s *session) claims() auth.Claims {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// close closes the socket with a code and reason, at once or, before the
// upgrade is done, as soon as it is.
func (s *session) close(code int, reason string) {
	s.mu.Lock()
	c := s.conn
	if c == nil && s.closeCode == 0 {
		s.closeCode, s.closeReason = code, reason
	}
	s.mu.Unlock()
	if c != nil {
		c.closeWith(code, reason)
	}
}

// end stops the session's timer once the socket is gone.
func (s *session) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
}

// sessions tracks open websockets: to close them at shutdown with 1001, a
// user's at sign-out, and to bound them per address and per user.
//
// Sockets waiting for connection_init queue, oldest first, overall and per
// address. A full queue makes room for a new socket by closing its oldest
// (4408), so a client that signs in within a round trip always gets in,
// however many sockets others hold open without signing in.
type sessions struct {
	draining   atomic.Bool   // set at shutdown: no new sockets
	rechecking atomic.Bool   // a recheck is running
	stop       chan struct{} // closed by closeAll: no more rechecks
	metrics    *metrics.Metrics
	maxPending int
	limits     SocketLimits
	mu         sync.Mutex
	set        map[*session]struct{}
	byUser     map[int64]map[*session]struct{} // the signed-in sockets of each user
	byAddr     map[string]int                  // open sockets per address
	pending    list.List                       // of *session, not yet signed in, oldest first
	pendingAt  map[string]*list.List           // the same, per address
}

func newSessions(m *metrics.Metrics, maxPending int, limits SocketLimits) *sessions {
	if maxPending <= 0 {
		maxPending = DefaultMaxPendingSockets
	}
	return &sessions{metrics: m, maxPending: maxPending, limits: limits.orDefaults(), stop: make(chan struct{}),
		set: map[*session]struct{}{}, byUser: map[int64]map[*session]struct{}{}, byAddr: map[string]int{},
		pendingAt: map[string]*list.List{}}
}

// admit registers a new socket from addr, unless the address has too many
// open. Sockets that lost their place in the pending queues to it are
// returned, for the caller to close.
func (ss *sessions) admit(s *session, addr string) (evicted []*session, ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byAddr[addr] >= ss.limits.PerAddress {
		return nil, false
	}
	if q := ss.pendingAt[addr]; q != nil && q.Len() >= ss.limits.PendingPerAddress {
		evicted = append(evicted, ss.evict(q.Front().Value.(*session)))
	}
	if ss.pending.Len() >= ss.maxPending {
		evicted = append(evicted, ss.evict(ss.pending.Front().Value.(*session)))
	}
	q := ss.pendingAt[addr] // after the evictions, which drop emptied queues
	if q == nil {
		q = list.New()
		ss.pendingAt[addr] = q
	}
	s.owner, s.addr = ss, addr
	s.queued, s.queuedAddr = ss.pending.PushBack(s), q.PushBack(s)
	ss.set[s] = struct{}{}
	ss.byAddr[addr]++
	ss.metrics.WebsocketOpened()
	return evicted, true
}

// evict takes s out of the pending queues for good; ss.mu is held.
func (ss *sessions) evict(s *session) *session {
	ss.unqueue(s)
	s.evicted = true
	return s
}

// unqueue takes s out of the pending queues; ss.mu is held.
func (ss *sessions) unqueue(s *session) {
	if s.queued == nil {
		return
	}
	ss.pending.Remove(s.queued)
	q := ss.pendingAt[s.addr]
	q.Remove(s.queuedAddr)
	if q.Len() == 0 {
		delete(ss.pendingAt, s.addr)
	}
	s.queued, s.queuedAddr = nil, nil
}

// signedIn indexes s under its user, so a sign-out finds the user's sockets
// without a scan of all of them. It returns a close code and reason instead
// when s lost its place meanwhile, or the user has too many sockets.
func (ss *sessions) signedIn(s *session, userID int64) (int, string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s.evicted {
		return CloseInitTimeout, "connection_init came too late"
	}
	if _, ok := ss.set[s]; !ok {
		return CloseGoingAway, "connection closed" // already removed
	}
	ss.unqueue(s)
	if s.indexedAs != userID && len(ss.byUser[userID]) >= ss.limits.PerUser {
		return CloseTooManySockets, "too many connections for this user"
	}
	ss.unindex(s)
	if ss.byUser[userID] == nil {
		ss.byUser[userID] = map[*session]struct{}{}
	}
	ss.byUser[userID][s] = struct{}{}
	s.indexedAs = userID
	return 0, ""
}

// unindex drops s from the index; ss.mu is held.
func (ss *sessions) unindex(s *session) {
	if set := ss.byUser[s.indexedAs]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(ss.byUser, s.indexedAs)
		}
	}
	s.indexedAs = 0
}

func (ss *sessions) remove(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.unqueue(s)
	if _, ok := ss.set[s]; ok {
		delete(ss.set, s)
		if ss.byAddr[s.addr]--; ss.byAddr[s.addr] <= 0 {
			delete(ss.byAddr, s.addr)
		}
		ss.metrics.WebsocketClosed()
	}
	ss.unindex(s)
}

// closeAll refuses new websockets from now on and closes every open one
// with code and reason.
func (ss *sessions) closeAll(code int, reason string) {
	if ss.draining.CompareAndSwap(false, true) {
		close(ss.stop)
	}
	ss.mu.Lock()
	all := make([]*session, 0, len(ss.set))
	for s := range ss.set {
		all = append(all, s)
	}
	ss.mu.Unlock()
	for _, s := range all {
		s.close(code, reason)
	}
}

// signOut closes, with 4401, the sockets of userID signed in with a token
// older than version. It does not wait for the close frames.
func (ss *sessions) signOut(userID, version int64) {
	ss.mu.Lock()
	var out []*session
	for s := range ss.byUser[userID] {
		s.mu.Lock()
		if s.user.UserID == userID && s.user.Version < version {
			out = append(out, s)
		}
		s.mu.Unlock()
	}
	ss.mu.Unlock()
	for _, s := range out {
		go s.close(CloseUnauthorized, "signed out")
	}
}

// recheck closes, with 4401, the sockets whose token was revoked since
// they signed in, reading every current version from the database. It runs
// after a broker outage, during which sign-out events may have been lost,
// and every TokenRecheckInterval, in case one was lost otherwise.
func (ss *sessions) recheck(svc *dm.Service, log *slog.Logger) {
	if !ss.rechecking.CompareAndSwap(false, true) {
		return // one at a time: resync announcements may come in bursts
	}
	defer ss.rechecking.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ss.mu.Lock()
	users := slices.Collect(maps.Keys(ss.byUser))
	ss.mu.Unlock()
	if len(users) == 0 {
		return
	}
	versions, err := svc.CurrentTokenVersions(ctx, users)
	if err != nil {
		log.WarnContext(ctx, "websocket tokens not rechecked", "err", err)
		return
	}
	for userID, v := range versions {
		ss.signOut(userID, v)
	}
}

// recheckEvery runs recheck every interval until the sockets are closed for
// shutdown.
func (ss *sessions) recheckEvery(interval time.Duration, svc *dm.Service, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ss.stop:
			return
		case <-t.C:
			ss.recheck(svc, log)
		}
	}
}

// withSessions checks a websocket upgrade's origin and gives it a session
// before gqlgen sees it.
func withSessions(ss *sessions, allowedOrigins []string, next http.Handler) http.Handler {
	allowed := originChecker(allowedOrigins)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !allowed(r) {
			httpx.WriteError(w, http.StatusForbidden, models.CodeForbidden, "websocket origin not allowed")
			return
		}
		if ss.draining.Load() {
			httpx.WriteError(w, http.StatusServiceUnavailable, models.CodeUnavailable, "the server is shutting down; connect again")
			return
		}
		s := &session{}
		evicted, ok := ss.admit(s, models.AddressKey(models.ClientIP(r.Context())))
		if !ok {
			httpx.WriteError(w, http.StatusTooManyRequests, models.CodeRateLimited, "too many connections from this address")
			return
		}
		for _, old := range evicted {
			old.close(CloseInitTimeout, "connection_init took too long")
		}
		defer func() {
			// The transport returns when the socket is done.
			s.end()
			ss.remove(s)
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}
