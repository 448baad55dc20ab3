// Command dmgraph serves the direct-messaging GraphQL API.
//
//	dmgraph           serve (GraphiQL at /, GraphQL at /query)
//	dmgraph migrate   apply pending migrations and exit
//	dmgraph demo      load a small demo world and print a token per user
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"dmgraph/auth"
	"dmgraph/demo"
	"dmgraph/dm"
	"dmgraph/facebook"
	"dmgraph/gcfloor"
	"dmgraph/metrics"
	"dmgraph/models"
	"dmgraph/phone"
	"dmgraph/ratelimit"
	"dmgraph/realtime"
	"dmgraph/resolvers"
	"dmgraph/sms"
	"dmgraph/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "dmgraph:", err)
		os.Exit(1)
	}
}

// run executes a command and returns when it is done; serving ends when ctx
// does. When ready is non-nil it receives the listening address (tests
// listen on port 0).
func run(ctx context.Context, args []string, getenv func(string) string, out, logOut io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	command := ""
	if len(args) > 0 {
		command = args[0]
	}
	switch command {
	case "", "serve":
		return serve(ctx, cfg, log, ready)
	case "migrate":
		st, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, Log: log})
		if err != nil {
			return err
		}
		log.Info("migrations applied", "database", store.Describe(cfg.DatabaseURL))
		return st.Close()
	case "demo":
		return loadDemo(ctx, cfg, log, out)
	default:
		return fmt.Errorf("unknown command %q: use serve, migrate or demo", command)
	}
}

// app is what serving and the demo share.
type app struct {
	store *store.Store
	svc   *dm.Service
}

func openApp(ctx context.Context, cfg config, log *slog.Logger, migrate bool, events dm.Publisher) (*app, error) {
	st, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, Log: log, SkipMigrations: !migrate, MaxConns: cfg.DatabaseMaxConns})
	if err != nil {
		return nil, err
	}
	jwtSecret, err := secret(ctx, st, "jwt_secret", "JWT_SECRET", cfg.JWTSecret, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	tokens, err := auth.NewTokens(jwtSecret, cfg.TokenTTL)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	phones, err := contactsHasher(ctx, st, cfg.ContactsHashKey, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	limits, err := newLimits(cfg, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	sender, err := smsSender(cfg, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	passwords := auth.Hasher{Cost: cfg.PasswordHashCost}
	// Build the dummy hash now: built on first use, it would make the first
	// login with an unknown username take twice as long as the rest.
	passwords.CheckMissing("")
	svc := dm.New(dm.Deps{Store: st, Tokens: tokens, Phones: phones, SMS: sender, Log: log, Events: events, Limits: limits,
		Passwords: passwords, GroupMaxMembers: cfg.GroupMaxMembers,
		Facebook: facebook.New(cfg.FacebookGraphURL, cfg.FacebookTimeout)})
	return &app{store: st, svc: svc}, nil
}

func serve(ctx context.Context, cfg config, log *slog.Logger, ready chan<- string) error {
	gcfloor.Start(ctx, cfg.GCHeadroom)
	m := metrics.New()
	hub := realtime.NewHub(0)
	m.CounterFunc("dmgraph_events_dropped_total", "Subscriptions cut off because they fell behind (slow consumers).",
		func() float64 { return float64(hub.Dropped()) })
	broker, err := newBroker(cfg.RedisURL, hub, log)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, log, cfg.Migrate, countingPublisher{broker, m})
	if err != nil {
		return err
	}
	defer a.store.Close()
	if db, err := a.store.SQLDB(); err == nil {
		m.WatchDB(db)
	}

	brokerCtx, stopBroker := context.WithCancel(context.Background())
	brokerDone := make(chan struct{})
	go func() {
		defer close(brokerDone)
		if err := broker.Run(brokerCtx); err != nil {
			log.Error("broker stopped", "err", err)
		}
	}()
	defer func() { stopBroker(); <-brokerDone }()

	handler := resolvers.NewHandler(a.svc, resolvers.Options{
		Log: log, Playground: cfg.Playground, NoIntrospection: !cfg.Introspection, Hub: hub,
		AllowedOrigins: cfg.AllowedOrigins, Metrics: m, TrustedProxies: cfg.TrustedProxies,
		OperationTimeout: cfg.OperationTimeout, BodyTimeout: cfg.BodyTimeout,
		MaxPendingSockets: cfg.MaxPendingSockets, SocketLimits: cfg.SocketLimits,
		Checks: map[string]func(context.Context) error{"database": a.store.Ping, "broker": broker.Ready},
	})
	if cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.DebugAddr, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// No ReadTimeout: it would end a handler's context once the body is
	// read; the handler bounds the body's reading itself (HTTP_BODY_TIMEOUT).
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: cfg.HeaderTimeout, IdleTimeout: cfg.IdleTimeout}
	log.Info("serving", "addr", ln.Addr().String(), "database", store.Describe(cfg.DatabaseURL), "broker", brokerName(cfg.RedisURL),
		"graphiql", cfg.Playground, "graphql", "/query")
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop accepting and finish in-flight requests; websockets, which
	// Shutdown does not track, are told to go elsewhere and resume.
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	handler.CloseWebsockets()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Requests still running at the deadline are cut; stopping on time
		// is the point, so this is still a clean exit.
		log.Warn("shutdown timeout: closing remaining connections", "err", err)
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadDemo fills the database with the demo world and prints a token per user.
func loadDemo(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	demo.Intro(out, cfg.DatabaseURL)
	a, err := openApp(ctx, cfg, log, true, nil)
	if err != nil {
		return err
	}
	defer a.store.Close()
	sessions, err := demo.Load(ctx, a.svc)
	if err != nil {
		return err
	}
	demo.Print(out, cfg.DatabaseURL, sessions)
	return nil
}

// newLimits keeps rate-limit counts in Redis when there is one, so they hold
// across instances, else in memory; RATE_LIMITS=off turns them off.
func newLimits(cfg config, log *slog.Logger) (*dm.Limits, error) {
	if !cfg.RateLimits {
		log.Warn("RATE_LIMITS=off: no abuse limits")
		return nil, nil
	}
	if cfg.Production && len(cfg.TrustedProxies) == 0 {
		log.Warn("TRUSTED_PROXIES is unset: per-address limits count the peer address; behind a load balancer every client shares its address, so set TRUSTED_PROXIES to it")
	}
	limits := cfg.Limits
	limits.Limiter = ratelimit.NewMemory()
	if cfg.RedisURL != "" {
		r, err := ratelimit.NewRedis(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		limits.Limiter = r
	}
	return &limits, nil
}

// countingPublisher counts events on their way to the broker.
type countingPublisher struct {
	realtime.Broker
	m *metrics.Metrics
}

func (p countingPublisher) Publish(ctx context.Context, ev models.Event) {
	p.m.EventPublished(string(ev.Kind))
	p.Broker.Publish(ctx, ev)
}

// newBroker picks Redis pub/sub when REDIS_URL is set, else in-memory.
func newBroker(redisURL string, hub *realtime.Hub, log *slog.Logger) (realtime.Broker, error) {
	if redisURL == "" {
		return realtime.Memory{Hub: hub}, nil
	}
	r, err := realtime.NewRedis(redisURL, "", hub, log)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return r, nil
}

func brokerName(redisURL string) string {
	if redisURL == "" {
		return "memory"
	}
	return "redis"
}

// secret returns the configured value of env, or else a random key
// generated once and kept in the database: restarts, other instances and the
// demo command then agree on it. Production sets the variable, keeping the
// key out of the database.
func secret(ctx context.Context, st *store.Store, name, env, configured string, log *slog.Logger) (string, error) {
	if configured != "" {
		return configured, nil
	}
	log.Warn(env + " is unset: using a key generated once and stored in the database; set it in production")
	return st.Secret(ctx, name, func() (string, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return hex.EncodeToString(b), err
	})
}

// contactsHasher keys phone-number hashes with CONTACTS_HASH_KEY or the
// stored key.
func contactsHasher(ctx context.Context, st *store.Store, configured string, log *slog.Logger) (*phone.Hasher, error) {
	key, err := secret(ctx, st, "contacts_hash_key", "CONTACTS_HASH_KEY", configured, log)
	if err != nil {
		return nil, err
	}
	h, err := phone.NewHasher([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("CONTACTS_HASH_KEY: %w", err)
	}
	return h, nil
}

// smsSender posts phone codes to SMS_WEBHOOK_URL, or only logs them when
// it is unset (development; production refuses to start without it).
func smsSender(cfg config, log *slog.Logger) (dm.SMSSender, error) {
	if cfg.SMSWebhookURL == "" {
		log.Warn("SMS_WEBHOOK_URL is unset: phone verification codes are logged, not sent")
		return sms.Log{Logger: log}, nil
	}
	w, err := sms.NewWebhook(cfg.SMSWebhookURL, sms.DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// serveDebug serves pprof on its own listener, apart from the API.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("DEBUG_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("pprof", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
