// Command dmgraph serves the direct-messaging GraphQL API.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"dmgraph/auth"
	"dmgraph/dm"
	"dmgraph/facebook"
	"dmgraph/phone"
	"dmgraph/realtime"
	"dmgraph/resolvers"
	"dmgraph/store"
)

// config is everything read from the environment.
type config struct {
	Addr        string
	DatabaseURL string
	JWTSecret   string
	TokenTTL    time.Duration
	LogLevel    slog.Level
	// ContactsHashKey keys the HMAC of phone numbers.
	ContactsHashKey string
	// FacebookGraphURL and FacebookTimeout reach the Graph API.
	FacebookGraphURL string
	FacebookTimeout  time.Duration
	// RedisURL, when set, carries live events between instances.
	RedisURL string
	// AllowedOrigins are websocket origin patterns besides the server's own host.
	AllowedOrigins []string
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{Addr: ":8080", DatabaseURL: getenv("DATABASE_URL"), JWTSecret: getenv("JWT_SECRET"),
		TokenTTL: 24 * time.Hour, ContactsHashKey: getenv("CONTACTS_HASH_KEY"),
		FacebookGraphURL: getenv("FACEBOOK_GRAPH_URL"), FacebookTimeout: facebook.DefaultTimeout}
	c.RedisURL = getenv("REDIS_URL")
	if s := getenv("ALLOWED_ORIGINS"); s != "" {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.AllowedOrigins = append(c.AllowedOrigins, p)
			}
		}
	}
	if c.FacebookGraphURL == "" {
		c.FacebookGraphURL = "https://graph.facebook.com/v19.0"
	}
	if s := getenv("FACEBOOK_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("FACEBOOK_TIMEOUT must be a positive Go duration such as 10s, got %q", s)
		}
		c.FacebookTimeout = d
	}
	if p := getenv("PORT"); p != "" {
		c.Addr = ":" + p
	}
	if s := getenv("TOKEN_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("TOKEN_TTL must be a positive Go duration such as 24h, got %q", s)
		}
		c.TokenTTL = d
	}
	if s := getenv("LOG_LEVEL"); s != "" {
		if err := c.LogLevel.UnmarshalText([]byte(s)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", s)
		}
	}
	return c, nil
}

func main() {
	if err := run(context.Background(), os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "dmgraph:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx ends or a signal arrives. When
// ready is non-nil it receives the listening address (tests listen on port 0).
func run(ctx context.Context, getenv func(string) string, logOut *os.File, ready chan<- string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, store.Config{URL: cfg.DatabaseURL, Log: log})
	if err != nil {
		return err
	}
	defer st.Close()
	tokens, generated, err := auth.NewTokens(cfg.JWTSecret, cfg.TokenTTL)
	if err != nil {
		return err
	}
	if generated {
		log.Warn("JWT_SECRET is unset: using a random key, so tokens die with this process")
	}
	phones, err := contactsHasher(ctx, st, cfg.ContactsHashKey, log)
	if err != nil {
		return err
	}
	hub := realtime.NewHub(0)
	broker, err := newBroker(cfg.RedisURL, hub, log)
	if err != nil {
		return err
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
	svc := dm.New(dm.Deps{Store: st, Tokens: tokens, Phones: phones, Log: log, Events: broker,
		Facebook: facebook.New(cfg.FacebookGraphURL, cfg.FacebookTimeout)})
	handler := resolvers.NewHandler(svc, resolvers.Options{Log: log, Playground: true, Hub: hub,
		AllowedOrigins: cfg.AllowedOrigins})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info("serving", "addr", ln.Addr().String(), "database", st.Dialect(), "broker", brokerName(cfg.RedisURL),
		"graphiql", "/", "graphql", "/query")
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
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	handler.CloseWebsockets()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// contactsHasher keys phone-number hashes with CONTACTS_HASH_KEY or, when it
// is unset, with a key generated once and kept in the database, so restarts
// and other instances keep matching.
func contactsHasher(ctx context.Context, st *store.Store, key string, log *slog.Logger) (*phone.Hasher, error) {
	if key == "" {
		log.Warn("CONTACTS_HASH_KEY is unset: using a key generated once and stored in the database; set it in production")
		var err error
		key, err = st.Secret(ctx, "contacts_hash_key", func() (string, error) {
			b := make([]byte, 32)
			_, err := rand.Read(b)
			return hex.EncodeToString(b), err
		})
		if err != nil {
			return nil, err
		}
	}
	h, err := phone.NewHasher([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("CONTACTS_HASH_KEY: %w", err)
	}
	return h, nil
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
