package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"dmgraph/auth"
	"dmgraph/dm"
	"dmgraph/facebook"
	"dmgraph/phone"
	"dmgraph/realtime"
	"dmgraph/resolvers"
	"dmgraph/store"
	"dmgraph/testdb"
)

// env is one test's server: a fresh database behind the real HTTP handler.
type env struct {
	t          testing.TB
	srv        *httptest.Server
	store      *store.Store
	statements atomic.Int64
	mu         sync.Mutex
	log        []string
	graph      *fakeGraph
	hub        *realtime.Hub
	handler    *resolvers.Handler
	logs       lockedBuffer // everything the server logged, as JSON lines
	sms        *fakeSMS     // every text message the server sent
	clock      testClock    // the store's and the service's
}

// testClock is the real time, moved on by however much a test advanced it:
// ages and expiry change at once, without waiting.
type testClock struct{ ahead atomic.Int64 }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

// advance moves the clock d on, as if d had passed.
func (c *testClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// fakeSMS records the text messages it is given, by number.
type fakeSMS struct {
	mu   sync.Mutex
	sent map[string][]string
}

func (f *fakeSMS) Send(_ context.Context, to, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent[to] = append(f.sent[to], text)
	return nil
}

// last is the latest text sent to the E.164 number to, or "".
func (f *fakeSMS) last(to string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if texts := f.sent[to]; len(texts) > 0 {
		return texts[len(texts)-1]
	}
	return ""
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envConfig varies a test server.
type envConfig struct {
	dbURL        string // "" for a fresh database
	tinySockets  bool   // server sockets with a 4 KiB send buffer
	noIntrospect bool
	limits       *dm.Limits
	wrapStore    func(dm.Store) dm.Store
	maxPending   int
	hubBuffer    int
	redisURL     string // "" for the in-memory broker
	redisChannel string
	opTimeout    time.Duration
	recheck      time.Duration
	handlerOpts  func(*resolvers.Options)
}

type envOption func(*envConfig)

func withHubBuffer(n int) envOption { return func(c *envConfig) { c.hubBuffer = n } }

func withoutIntrospection() envOption { return func(c *envConfig) { c.noIntrospect = true } }

func withLimits(l *dm.Limits) envOption { return func(c *envConfig) { c.limits = l } }

func withMaxPendingSockets(n int) envOption { return func(c *envConfig) { c.maxPending = n } }

// withHandlerOptions changes the handler's options last.
func withHandlerOptions(f func(*resolvers.Options)) envOption {
	return func(c *envConfig) { c.handlerOpts = f }
}

// withStore puts a test double in front of the store.
func withStore(wrap func(dm.Store) dm.Store) envOption {
	return func(c *envConfig) { c.wrapStore = wrap }
}

// withDatabase runs the server on dbURL instead of a fresh database.
func withDatabase(dbURL string) envOption { return func(c *envConfig) { c.dbURL = dbURL } }

// withOperationTimeout bounds each query and mutation.
func withOperationTimeout(d time.Duration) envOption {
	return func(c *envConfig) { c.opTimeout = d }
}

// withTokenRecheck checks open sockets' tokens against the database this
// often.
func withTokenRecheck(d time.Duration) envOption { return func(c *envConfig) { c.recheck = d } }

// withTinySockets gives the server's sockets a 4 KiB send buffer, so a
// client that stops reading blocks the server's writes at once.
func withTinySockets() envOption { return func(c *envConfig) { c.tinySockets = true } }

type tinyBufferListener struct{ net.Listener }

func (l tinyBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// withRedis makes the server an instance of a cluster that shares dbURL and
// a Redis channel.
func withRedis(dbURL, redisURL, channel string) envOption {
	return func(c *envConfig) { c.dbURL, c.redisURL, c.redisChannel = dbURL, redisURL, channel }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dbURL == "" {
		cfg.dbURL = testdb.URL(t)
	}
	e := &env{t: t, sms: &fakeSMS{sent: map[string][]string{}}}
	st, err := store.Open(context.Background(), store.Config{URL: cfg.dbURL, Clock: e.clock.now, OnStatement: func(_ context.Context, sql string) {
		e.statements.Add(1)
		e.mu.Lock()
		e.log = append(e.log, sql)
		e.mu.Unlock()
	}})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e.store = st
	tokens, err := auth.NewTokens("test-secret", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	phones, err := phone.NewHasher([]byte("test-contacts-key-of-at-least-32-bytes"))
	if err != nil {
		t.Fatal(err)
	}
	e.graph = newFakeGraph(t)
	e.hub = realtime.NewHub(cfg.hubBuffer)
	broker := realtime.Broker(realtime.Memory{Hub: e.hub})
	if cfg.redisURL != "" {
		r, err := realtime.NewRedis(cfg.redisURL, cfg.redisChannel, e.hub, nil)
		if err != nil {
			t.Fatal(err)
		}
		broker = r
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = broker.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	log := slog.New(slog.NewJSONHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var ds dm.Store = e.store
	if cfg.wrapStore != nil {
		ds = cfg.wrapStore(ds)
	}
	svc := dm.New(dm.Deps{Store: ds, Tokens: tokens, Passwords: auth.Hasher{Cost: bcrypt.MinCost},
		Phones: phones, SMS: e.sms, Facebook: facebook.New(e.graph.srv.URL+"/v19.0", 500*time.Millisecond), Events: broker,
		Limits: cfg.limits, Log: log, Clock: e.clock.now})
	hopts := resolvers.Options{Log: log, Playground: true, Hub: e.hub, NoIntrospection: cfg.noIntrospect, MaxPendingSockets: cfg.maxPending, OperationTimeout: cfg.opTimeout, TokenRecheckInterval: cfg.recheck,
		Checks: map[string]func(context.Context) error{"database": e.store.Ping, "broker": broker.Ready}}
	if cfg.handlerOpts != nil {
		cfg.handlerOpts(&hopts)
	}
	e.handler = resolvers.NewHandler(svc, hopts)
	e.srv = httptest.NewUnstartedServer(e.handler)
	if cfg.tinySockets {
		e.srv.Listener = tinyBufferListener{e.srv.Listener}
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.handler.CloseWebsockets) // runs first: the server waits for its handlers
	return e
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// code is the first error's extensions.code, or "" when there is none.
func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func (r response) reason() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["reason"].(string)
	return c
}

// do posts one GraphQL operation as the holder of token ("" for anonymous).
func (e *env) do(token, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return e.doRaw(token, string(body))
}

// doRaw posts a raw body as the holder of token.
func (e *env) doRaw(token, body string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/query", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("post: %v", err)
	}
	defer res.Body.Close()
	var out response
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		e.t.Fatalf("decode response: %v", err)
	}
	out.Status = res.StatusCode
	if bad := rateLimitsWithoutRetryAfter(out); len(bad) > 0 {
		e.t.Fatalf("RATE_LIMITED without retryAfter: %+v", bad)
	}
	return out
}

// must runs an operation that has to succeed and decodes its data into out.
func (e *env) must(token, query string, vars map[string]any, out any) {
	e.t.Helper()
	res := e.do(token, query, vars)
	if len(res.Errors) > 0 {
		e.t.Fatalf("unexpected errors: %+v\nquery: %s", res.Errors, query)
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			e.t.Fatalf("decode data %s: %v", res.Data, err)
		}
	}
}

// fail runs an operation that has to fail with code (and reason, if given).
func (e *env) fail(token, query string, vars map[string]any, code, reason string) response {
	e.t.Helper()
	res := e.do(token, query, vars)
	if res.code() != code || (reason != "" && res.reason() != reason) {
		e.t.Fatalf("got errors %+v, want code %s reason %q\nquery: %s", res.Errors, code, reason, query)
	}
	return res
}

// user is a registered test account.
type user struct {
	ID, Name, Token string
}

var userSeq atomic.Int64

func (e *env) register(name string) user {
	e.t.Helper()
	name = fmt.Sprintf("%s%d", name, userSeq.Add(1))
	var out struct {
		Register struct {
			Token string
			User  struct{ ID string }
		}
	}
	e.must("", `mutation($u: String!) { register(input: {username: $u, password: "correct horse", displayName: $u, birthDate: "2000-02-29"}) { token user { id } } }`,
		map[string]any{"u": name}, &out)
	return user{ID: out.Register.User.ID, Name: name, Token: out.Register.Token}
}

func (e *env) follow(a, b user) {
	e.t.Helper()
	e.must(a.Token, `mutation($id: ID!) { follow(userId: $id) { id } }`, map[string]any{"id": b.ID}, nil)
}

func (e *env) friends(a, b user) {
	e.t.Helper()
	e.follow(a, b)
	e.follow(b, a)
}

func (e *env) setPolicy(u user, policy string) {
	e.t.Helper()
	e.must(u.Token, `mutation($p: DirectMessagePolicy!) { updatePrivacySettings(input: {directMessagePolicy: $p}) { directMessagePolicy } }`,
		map[string]any{"p": policy}, nil)
}

func (e *env) block(a, b user) {
	e.t.Helper()
	e.must(a.Token, `mutation($id: ID!) { block(userId: $id) { id } }`, map[string]any{"id": b.ID}, nil)
}

const sendMutation = `mutation($in: SendMessageInput!) {
	sendMessage(input: $in) { delivery message { id text } conversation { id status } }
}`

type sent struct {
	Delivery       string
	MessageID      string
	ConversationID string
	Status         string
}

// send sends text from a to b and returns the outcome.
func (e *env) send(a, b user, text string) sent {
	e.t.Helper()
	return e.sendInput(a, map[string]any{"recipientId": b.ID, "text": text})
}

func (e *env) sendInput(a user, in map[string]any) sent {
	e.t.Helper()
	var out struct {
		SendMessage struct {
			Delivery     string
			Message      struct{ ID string }
			Conversation struct{ ID, Status string }
		}
	}
	e.must(a.Token, sendMutation, map[string]any{"in": in}, &out)
	s := out.SendMessage
	return sent{Delivery: s.Delivery, MessageID: s.Message.ID, ConversationID: s.Conversation.ID, Status: s.Conversation.Status}
}

// sendFails sends text from a to b and expects a refusal.
func (e *env) sendFails(a, b user, text, code, reason string) {
	e.t.Helper()
	e.fail(a.Token, sendMutation, map[string]any{"in": map[string]any{"recipientId": b.ID, "text": text}}, code, reason)
}

// requests returns the IDs of u's open message requests, newest first.
func (e *env) requests(u user) []string {
	e.t.Helper()
	var out struct {
		MessageRequests struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.must(u.Token, `{ messageRequests { edges { node { id } } } }`, nil, &out)
	ids := make([]string, len(out.MessageRequests.Edges))
	for i, edge := range out.MessageRequests.Edges {
		ids[i] = edge.Node.ID
	}
	return ids
}

// inbox returns u's conversations as id → status.
func (e *env) inbox(u user) map[string]string {
	e.t.Helper()
	var out struct {
		Conversations struct {
			Edges []struct{ Node struct{ ID, Status string } }
		}
	}
	e.must(u.Token, `{ conversations(first: 100) { edges { node { id status } } } }`, nil, &out)
	m := map[string]string{}
	for _, edge := range out.Conversations.Edges {
		m[edge.Node.ID] = edge.Node.Status
	}
	return m
}

// statementsSince returns the SQL run after the nth statement.
func (e *env) statementsSince(n int64) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log[n:]...)
}
