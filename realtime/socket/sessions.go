package socket

import (
	"container/list"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"dmgraph/auth"
	"dmgraph/metrics"
)

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
// in DefaultLimits.
const (
	// MaxSubscriptions bounds the subscriptions one socket may hold; the
	// next one is refused (RATE_LIMITED, TOO_MANY_SUBSCRIPTIONS), and the
	// others run on.
	MaxSubscriptions = 64
	// DefaultMaxPending bounds sockets that have not yet sent a valid
	// connection_init. When they are that many, a new socket takes the
	// place of the one that has waited longest, which is closed with 4408.
	DefaultMaxPending = 1000
)

// Limits bound the websockets of one client; 0 takes the default.
type Limits struct {
	// PendingPerAddress bounds one address's sockets waiting for
	// connection_init; a new one takes the place of the address's oldest.
	PendingPerAddress int
	// PerAddress bounds one address's open sockets, signed in or not; more
	// are refused with HTTP 429.
	PerAddress int
	// PerUser bounds one user's signed-in sockets; connection_init on one
	// more is refused with close code 4803.
	PerUser int
}

// DefaultLimits are the limits used for the zero fields of
// Options.Limits.
var DefaultLimits = Limits{PendingPerAddress: 100, PerAddress: 1000, PerUser: 32}

func (l Limits) orDefaults() Limits {
	d := DefaultLimits
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

// addSubscription counts a new subscription on the socket, unless it holds
// MaxSubscriptions already.
func (s *session) addSubscription() bool {
	if s.subscriptions.Add(1) > MaxSubscriptions {
		s.subscriptions.Add(-1)
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
	limits     Limits
	mu         sync.Mutex
	set        map[*session]struct{}
	byUser     map[int64]map[*session]struct{} // the signed-in sockets of each user
	byAddr     map[string]int                  // open sockets per address
	pending    list.List                       // of *session, not yet signed in, oldest first
	pendingAt  map[string]*list.List           // the same, per address
}

func newSessions(m *metrics.Metrics, maxPending int, limits Limits) *sessions {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
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
func (ss *sessions) recheck(tokens Tokens, log *slog.Logger) {
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
	versions, err := tokens.CurrentTokenVersions(ctx, users)
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
func (ss *sessions) recheckEvery(interval time.Duration, tokens Tokens, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ss.stop:
			return
		case <-t.C:
			ss.recheck(tokens, log)
		}
	}
}
