package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"dmgraph/auth"
	"dmgraph/dm"
	"dmgraph/facebook"
	"dmgraph/httpx"
	"dmgraph/models"
	"dmgraph/ratelimit"
	"dmgraph/realtime/socket"
	"dmgraph/resolvers"
	"dmgraph/sms"
)

// config is everything read from the environment. The README lists it.
type config struct {
	// Production (APP_ENV=production) refuses unsafe defaults.
	Production      bool
	Addr            string
	DatabaseURL     string
	JWTSecret       string
	TokenTTL        time.Duration
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	// OperationTimeout bounds each query and mutation (OPERATION_TIMEOUT).
	OperationTimeout time.Duration
	// DatabaseMaxConns bounds the PostgreSQL connection pool.
	DatabaseMaxConns int
	// GroupMaxMembers is a group's size limit, creator included (GROUP_MAX_MEMBERS).
	GroupMaxMembers int
	// PasswordHashCost is bcrypt's work factor for new password hashes
	// (PASSWORD_HASH_COST). Lower is only for load tests, which register
	// thousands of users; production refuses anything below the default.
	PasswordHashCost int
	// Migrate applies pending migrations at start (MIGRATE=false skips it).
	Migrate bool
	// Playground serves GraphiQL at / (PLAYGROUND=false turns it off).
	Playground bool
	// Introspection answers schema queries (INTROSPECTION=false turns it off).
	Introspection bool
	// ContactsHashKey keys the HMAC of phone numbers.
	ContactsHashKey string
	// SMSWebhookURL, when set, is where phone verification codes are posted
	// as JSON; unset, they are only logged (development).
	SMSWebhookURL string
	// FacebookGraphURL and FacebookTimeout reach the Graph API.
	FacebookGraphURL string
	FacebookTimeout  time.Duration
	// RedisURL, when set, carries live events between instances.
	RedisURL string
	// AllowedOrigins are websocket origin patterns besides the server's own host.
	AllowedOrigins []string
	// DebugAddr, when set, serves Go's pprof profiles there (keep it on loopback).
	DebugAddr string
	// TrustedProxies are load balancers whose X-Forwarded-For counts.
	TrustedProxies []netip.Prefix
	// RateLimits turns the abuse limits on (RATE_LIMITS=off turns them off).
	RateLimits bool
	// Limits are the limits' sizes, from RATE_LIMIT_* as COUNT/PERIOD.
	Limits dm.Limits
	// MaxPendingSockets and SocketLimits bound websockets overall, per
	// address and per user (WS_MAX_*).
	MaxPendingSockets int
	SocketLimits      socket.Limits
	// HeaderTimeout, BodyTimeout and IdleTimeout bound reading a request's
	// headers, reading its body, and a kept-alive connection's wait for the
	// next request (HTTP_*_TIMEOUT).
	HeaderTimeout, BodyTimeout, IdleTimeout time.Duration
	// GCHeadroom is the least the heap may grow between two garbage
	// collections, in bytes (GC_HEADROOM_MB; 0, or GOGC set, leaves Go's
	// own pacing).
	GCHeadroom uint64
}

// DefaultGCHeadroomMB is GC_HEADROOM_MB's default.
const DefaultGCHeadroomMB = 64

// Defaults of HTTP_HEADER_TIMEOUT and HTTP_IDLE_TIMEOUT.
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout   = 2 * time.Minute
)

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:             ":8080",
		DatabaseURL:      getenv("DATABASE_URL"),
		JWTSecret:        getenv("JWT_SECRET"),
		ContactsHashKey:  getenv("CONTACTS_HASH_KEY"),
		SMSWebhookURL:    getenv("SMS_WEBHOOK_URL"),
		FacebookGraphURL: getenv("FACEBOOK_GRAPH_URL"),
		RedisURL:         getenv("REDIS_URL"),
		DebugAddr:        getenv("DEBUG_ADDR"),
	}
	switch env := getenv("APP_ENV"); env {
	case "production":
		c.Production = true
	case "", "development":
	default:
		return c, fmt.Errorf("APP_ENV must be production or development (or unset for development), got %q", env)
	}
	if p := getenv("PORT"); p != "" {
		c.Addr = ":" + p
	}
	if c.FacebookGraphURL == "" {
		c.FacebookGraphURL = "https://graph.facebook.com/v19.0"
	}
	for _, p := range strings.Split(getenv("ALLOWED_ORIGINS"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, p)
		}
	}
	var err error
	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"TOKEN_TTL", &c.TokenTTL, 24 * time.Hour},
		{"FACEBOOK_TIMEOUT", &c.FacebookTimeout, facebook.DefaultTimeout},
		{"SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, 15 * time.Second},
		{"OPERATION_TIMEOUT", &c.OperationTimeout, resolvers.DefaultOperationTimeout},
		{"HTTP_HEADER_TIMEOUT", &c.HeaderTimeout, DefaultHeaderTimeout},
		{"HTTP_BODY_TIMEOUT", &c.BodyTimeout, resolvers.DefaultBodyTimeout},
		{"HTTP_IDLE_TIMEOUT", &c.IdleTimeout, DefaultIdleTimeout},
	}
	for _, d := range durations {
		if *d.dst, err = duration(getenv, d.name, d.def); err != nil {
			return c, err
		}
	}
	flags := []struct {
		name string
		dst  *bool
	}{{"MIGRATE", &c.Migrate}, {"PLAYGROUND", &c.Playground}, {"INTROSPECTION", &c.Introspection}, {"RATE_LIMITS", &c.RateLimits}}
	for _, f := range flags {
		if *f.dst, err = flag(getenv, f.name); err != nil {
			return c, err
		}
	}
	c.Limits = *dm.DefaultLimits(nil)
	limits := []struct {
		name string
		dst  *ratelimit.Limit
	}{
		{"RATE_LIMIT_LOGIN_FAILURES", &c.Limits.LoginFailures},
		{"RATE_LIMIT_LOGIN_IP", &c.Limits.LoginIP},
		{"RATE_LIMIT_REGISTER_IP", &c.Limits.RegisterIP},
		{"RATE_LIMIT_SEND", &c.Limits.Send},
		{"RATE_LIMIT_NEW_REQUESTS", &c.Limits.NewRequests},
		{"RATE_LIMIT_SMS_USER", &c.Limits.SMSUser},
		{"RATE_LIMIT_SMS_NUMBER", &c.Limits.SMSNumber},
		{"RATE_LIMIT_CONTACTS", &c.Limits.Contacts},
		{"RATE_LIMIT_GROUPS_CREATED", &c.Limits.GroupsCreated},
		{"RATE_LIMIT_GROUP_ADDITIONS", &c.Limits.GroupAdditions},
	}
	for _, l := range limits {
		if s := getenv(l.name); s != "" {
			if *l.dst, err = ratelimit.Parse(s); err != nil {
				return c, fmt.Errorf("%s: %w", l.name, err)
			}
		}
	}
	if c.SMSWebhookURL != "" {
		if _, err := sms.ParseURL(c.SMSWebhookURL); err != nil {
			return c, err
		}
	}
	if c.TrustedProxies, err = httpx.ParseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		return c, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	sockets := []struct {
		name string
		dst  *int
		def  int
	}{
		{"WS_MAX_PENDING_SOCKETS", &c.MaxPendingSockets, socket.DefaultMaxPending},
		{"WS_MAX_PENDING_PER_ADDRESS", &c.SocketLimits.PendingPerAddress, socket.DefaultLimits.PendingPerAddress},
		{"WS_MAX_SOCKETS_PER_ADDRESS", &c.SocketLimits.PerAddress, socket.DefaultLimits.PerAddress},
		{"WS_MAX_SOCKETS_PER_USER", &c.SocketLimits.PerUser, socket.DefaultLimits.PerUser},
	}
	for _, n := range sockets {
		if *n.dst, err = positive(getenv, n.name, n.def); err != nil {
			return c, err
		}
	}
	c.GCHeadroom = DefaultGCHeadroomMB << 20
	if s := getenv("GC_HEADROOM_MB"); s != "" {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return c, fmt.Errorf("GC_HEADROOM_MB must be a number of MiB (0 turns it off), got %q", s)
		}
		c.GCHeadroom = n << 20
	}
	if getenv("GOGC") != "" {
		c.GCHeadroom = 0 // the operator paces the collector
	}
	if s := getenv("DATABASE_MAX_CONNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("DATABASE_MAX_CONNS must be a positive number, got %q", s)
		}
		c.DatabaseMaxConns = n
	}
	if c.GroupMaxMembers, err = positive(getenv, "GROUP_MAX_MEMBERS", models.DefaultGroupMaxMembers); err != nil {
		return c, err
	}
	c.PasswordHashCost = auth.DefaultCost
	if s := getenv("PASSWORD_HASH_COST"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < bcrypt.MinCost || n > bcrypt.MaxCost {
			return c, fmt.Errorf("PASSWORD_HASH_COST must be a number from %d to %d, got %q", bcrypt.MinCost, bcrypt.MaxCost, s)
		}
		c.PasswordHashCost = n
	}
	if s := getenv("LOG_LEVEL"); s != "" {
		if err := c.LogLevel.UnmarshalText([]byte(s)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", s)
		}
	}
	if c.Production {
		return c, c.checkProduction()
	}
	return c, nil
}

// minSecretBytes is the shortest JWT secret production accepts.
const minSecretBytes = 32

// checkProduction refuses the defaults that are only safe on a laptop:
// generated or guessable keys, websockets open to other sites, profiles
// served beyond the machine, and no abuse limits.
func (c config) checkProduction() error {
	var problems []string
	if len(c.JWTSecret) < minSecretBytes {
		problems = append(problems, fmt.Sprintf("JWT_SECRET must be set to at least %d bytes", minSecretBytes))
	} else if bits := auth.SecretBits(c.JWTSecret); bits < auth.MinSecretBits {
		problems = append(problems, fmt.Sprintf("JWT_SECRET must be random (it shows about %.0f bits, at least %d are needed; try openssl rand -base64 32)", bits, auth.MinSecretBits))
	}
	if c.ContactsHashKey == "" {
		problems = append(problems, "CONTACTS_HASH_KEY must be set (phone hashes must survive restarts and stay out of the database)")
	}
	if !strings.HasPrefix(strings.ToLower(c.SMSWebhookURL), "https://") {
		problems = append(problems, "SMS_WEBHOOK_URL must be set to an https URL (the development sender only logs phone codes)")
	}
	if c.PasswordHashCost < auth.DefaultCost {
		problems = append(problems, fmt.Sprintf("PASSWORD_HASH_COST may not be below %d", auth.DefaultCost))
	}
	for _, o := range c.AllowedOrigins {
		if err := socket.CheckOriginPattern(o); err != nil {
			problems = append(problems, "ALLOWED_ORIGINS: "+err.Error())
		}
	}
	if c.DebugAddr != "" && !loopback(c.DebugAddr) {
		problems = append(problems, fmt.Sprintf("DEBUG_ADDR must be a loopback address such as 127.0.0.1:6060, got %q", c.DebugAddr))
	}
	if !c.RateLimits {
		problems = append(problems, "RATE_LIMITS may not be off")
	}
	if len(problems) > 0 {
		return fmt.Errorf("APP_ENV=production refuses to start: %s", strings.Join(problems, "; "))
	}
	return nil
}

// loopback reports whether addr (host:port) listens on this machine only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && ip.IsLoopback()
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s must be a positive Go duration such as %v, got %q", name, def, s)
	}
	return d, nil
}

// positive reads a count that must be above zero.
func positive(getenv func(string) string, name string, def int) (int, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s must be a positive number such as %d, got %q", name, def, s)
	}
	return n, nil
}

// flag reads a switch that is on unless set to false.
func flag(getenv func(string) string, name string) (bool, error) {
	switch strings.ToLower(getenv(name)) {
	case "", "true", "1", "on", "yes":
		return true, nil
	case "false", "0", "off", "no":
		return false, nil
	default:
		return false, fmt.Errorf("%s must be true or false, got %q", name, getenv(name))
	}
}
