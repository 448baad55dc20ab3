// Command bench drives a dmgraph server through its public GraphQL API
// (HTTP and graphql-transport-ws websockets) and prints one table of
// latencies and throughput, each against a baseline taken in the same run.
// See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

type options struct {
	target, targetB, database, redis string
	scenarios                        string
	duration, baseline, setupBudget  time.Duration
	jsonPath                         string
	pairs, clients                   int
	inboxConversations, inboxClients int
	fanoutRate, clusterRate          float64
	groups, groupSize                int
	groupRate                        float64
	idleConns                        int
	idleHold                         time.Duration
	passwordHashCost                 int
	noVacuum                         bool
}

type bench struct {
	opt  options
	rep  *report
	c    *gqlClient
	base string // the server driven
	// pgURL is the PostgreSQL database for baselines, when there is one.
	pgURL string
	// serverDB is the DATABASE_URL of the server we started ("" with -target).
	serverDB string
	bin, tmp string
	srv      *instance // the server we started (nil with -target)
	restarts int
	logs     string // server logs, kept after the run
	vacuumed bool   // VACUUM ANALYZE ran before the scenarios
	pairs    []pair
	users    []*user
	groups   []group
	inbox    *user // the user with many conversations
}

func main() {
	var o options
	flag.StringVar(&o.target, "target", "", "base URL of a running server (http://127.0.0.1:8080); empty builds and starts one")
	flag.StringVar(&o.targetB, "target-b", "", "with -target: a second instance on the same database and Redis, for the cluster scenario")
	flag.StringVar(&o.database, "database", "", "postgres://… database for the started server and the pgx baseline; empty means a temporary SQLite file")
	flag.StringVar(&o.redis, "redis", os.Getenv("REDIS_URL"), "redis://… for the cluster scenario (default $REDIS_URL); empty skips it")
	flag.StringVar(&o.scenarios, "scenarios", "send,inbox,fanout,idle,cluster", "comma-separated scenarios to run, in order (also: group)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measuring time per scenario")
	flag.DurationVar(&o.baseline, "baseline-duration", 3*time.Second, "measuring time per baseline")
	flag.DurationVar(&o.setupBudget, "setup-budget", 50*time.Second, "time allowed for registering users; fewer pairs are used when it runs out")
	flag.StringVar(&o.jsonPath, "json", "", "also write the figures to this file as JSON")
	flag.IntVar(&o.pairs, "pairs", 1000, "friend pairs to create (send, fanout, cluster, idle)")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients in send and its baseline")
	flag.IntVar(&o.inboxConversations, "inbox-conversations", 10000, "conversations of the inbox user (at most the users registered within the setup budget)")
	flag.IntVar(&o.inboxClients, "inbox-clients", 4, "concurrent clients in inbox and its baseline")
	flag.Float64Var(&o.fanoutRate, "fanout-rate", 500, "messages per second in fanout (scaled down to 5 per pair per second when pairs are few)")
	flag.Float64Var(&o.clusterRate, "cluster-rate", 200, "messages per second in cluster")
	flag.IntVar(&o.groups, "groups", 100, "groups in the group scenario, each with its own creator")
	flag.IntVar(&o.groupSize, "group-size", 32, "members per group, creator included (at most the server's GROUP_MAX_MEMBERS, 32 by default)")
	flag.Float64Var(&o.groupRate, "group-rate", 0, "messages per second in group; 0 means the fanout rate divided by -group-size (as many deliveries per second as fanout)")
	flag.DurationVar(&o.idleHold, "idle-hold", 0, "keep the idle scenario's sockets open this long after measuring (to profile the server)")
	flag.IntVar(&o.idleConns, "idle-conns", 2000, "websocket connections in idle (capped by the open-file limit)")
	flag.IntVar(&o.passwordHashCost, "password-hash-cost", 4, "PASSWORD_HASH_COST of the servers the bench starts: registering users is setup, not a measurement")
	flag.BoolVar(&o.noVacuum, "no-vacuum", false, "with -database: don't VACUUM ANALYZE and CHECKPOINT before each scenario")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A hard bound on the whole run, whatever the flags say.
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()

	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	b := &bench{opt: o, rep: &report{Started: started, CPUs: runtime.NumCPU()}}
	scenarios := strings.Split(o.scenarios, ",")
	for _, s := range scenarios {
		switch s {
		case "send", "inbox", "fanout", "idle", "cluster", "group":
		default:
			return fmt.Errorf("unknown scenario %q (want send, inbox, fanout, idle, cluster, group)", s)
		}
	}
	if o.groupSize < 2 || o.groupSize > maxAudience {
		return fmt.Errorf("-group-size must be 2 to %d, got %d", maxAudience, o.groupSize)
	}
	if o.groups < 1 || o.groupRate < 0 {
		return fmt.Errorf("-groups must be at least 1 and -group-rate not negative")
	}
	if o.database != "" {
		u, err := url.Parse(o.database)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("-database must be a postgres:// URL, got %q", o.database)
		}
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("-database must be on 127.0.0.1 or localhost, got %q", u.Hostname())
		}
		b.pgURL = o.database
	}
	raiseFileLimit(b.rep)

	tmp, err := os.MkdirTemp("", "dmgraph-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b.tmp = tmp
	if b.logs, err = os.MkdirTemp("", "dmgraph-bench-logs-"); err != nil {
		return err
	}

	if o.target != "" {
		u, err := url.Parse(o.target)
		if err != nil || !isLoopback(u.Hostname()) {
			return fmt.Errorf("-target must be an http://127.0.0.1:PORT URL, got %q", o.target)
		}
		b.base = strings.TrimSuffix(o.target, "/")
		b.rep.Target = b.base
		b.rep.Database = "as configured on the target"
		if b.pgURL != "" {
			b.rep.Database = "postgres (as given by -database)"
		}
	} else {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		logf("building the server")
		if b.bin, err = buildServer(ctx, root, tmp); err != nil {
			return err
		}
		b.serverDB = o.database
		b.rep.Database = "postgres"
		if b.serverDB == "" {
			b.serverDB = "sqlite:" + filepath.Join(tmp, "bench.db")
			b.rep.Database = "sqlite (temporary file)"
		}
		srv, err := startServer(ctx, b.bin, b.serverDB, "", filepath.Join(b.logs, "server.log"), b.serverEnv()...)
		if err != nil {
			return err
		}
		b.srv = srv
		defer func() { b.srv.stop() }()
		b.base = srv.URL
		b.rep.Target = "started " + srv.URL
		logf("server ready at %s", srv.URL)
	}
	b.c = newGQLClient(b.base)

	if err := b.setup(ctx, scenarios); err != nil {
		return err
	}
	for _, s := range scenarios {
		if ctx.Err() != nil {
			break
		}
		if err := b.vacuum(ctx); err != nil {
			return err
		}
		logf("scenario %s", s)
		var rows []row
		var err error
		switch s {
		case "send":
			rows, err = b.runSend(ctx)
		case "inbox":
			rows, err = b.runInbox(ctx)
		case "fanout":
			rows, err = b.runFanout(ctx)
		case "idle":
			rows, err = b.runIdle(ctx)
		case "cluster":
			rows, err = b.runCluster(ctx)
		case "group":
			rows, err = b.runGroup(ctx)
		}
		if err != nil {
			rows = append(rows, row{Scenario: s, Skipped: "failed: " + err.Error()})
		}
		b.rep.Rows = append(b.rep.Rows, rows...)
	}
	if b.vacuumed {
		b.rep.note("VACUUM ANALYZE and CHECKPOINT ran before each scenario (-no-vacuum skips them)")
	}
	if b.bin != "" {
		b.rep.note("server logs (LOG_LEVEL=warn) are in %s", b.logs)
	} else {
		_ = os.Remove(b.logs)
	}
	b.rep.Seconds = time.Since(started).Seconds()
	b.rep.print(os.Stdout)
	if o.jsonPath != "" {
		if err := b.rep.writeJSON(o.jsonPath); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// restart replaces the server the bench started with a fresh one on the
// same database, for a scenario that must start from a new process; with
// -target it does nothing.
func (b *bench) restart(ctx context.Context) error {
	if b.srv == nil {
		return nil
	}
	b.srv.stop()
	b.srv = nil
	b.restarts++
	srv, err := startServer(ctx, b.bin, b.serverDB, "", filepath.Join(b.logs, fmt.Sprintf("server-%d.log", b.restarts+1)), b.serverEnv()...)
	if err != nil {
		return err
	}
	b.srv, b.base = srv, srv.URL
	b.c = newGQLClient(b.base)
	logf("server restarted at %s", srv.URL)
	return nil
}

// setup registers the users the chosen scenarios need, within the setup
// budget, and makes friend pairs, groups and the inbox user's
// conversations.
func (b *bench) setup(ctx context.Context, scenarios []string) error {
	needPairs, needInbox, needGroups := false, false, false
	for _, s := range scenarios {
		switch s {
		case "inbox":
			needInbox = true
		case "group":
			// And pairs, for its 1:1 reference.
			needGroups, needPairs = true, true
		default:
			needPairs = true
		}
	}
	want := 0
	if needPairs {
		want = 2 * b.opt.pairs
	}
	if needInbox {
		want = max(want, b.opt.inboxConversations)
	}
	if want == 0 {
		return nil
	}
	t0 := time.Now()
	deadline := t0.Add(b.opt.setupBudget)
	logf("registering up to %d users (budget %v)", want, b.opt.setupBudget)
	users, err := registerUsers(ctx, b.c, "u", want, 4*runtime.NumCPU(), deadline)
	if err != nil {
		return err
	}
	if len(users) < 2 {
		return errors.New("no users could be registered")
	}
	b.users = users
	logf("registered %d users in %.1fs (%.0f/s)", len(users), time.Since(t0).Seconds(), float64(len(users))/time.Since(t0).Seconds())
	if len(users) < want {
		b.rep.note("setup budget %v ran out: %d of %d users registered (bcrypt on the server); scenarios use fewer than requested", b.opt.setupBudget, len(users), want)
	}
	var members []*user
	if needGroups {
		// Registered now, within the same budget, and apart from the other
		// scenarios' users, so that the 1:1 reference runs on users in no
		// group.
		want := b.opt.groups * b.opt.groupSize
		logf("registering up to %d group members", want)
		if members, err = registerUsers(ctx, b.c, "g", want, 4*runtime.NumCPU(), deadline); err != nil {
			return err
		}
	}
	if needPairs {
		n := min(b.opt.pairs, len(users)/2)
		if b.pairs, err = makeFriends(ctx, b.c, users[:2*n]); err != nil {
			return err
		}
		// Friends who message each other already share a conversation:
		// one message per pair starts it, so the scenarios measure the
		// sends of a live system, not its first ones, and the statistics
		// taken before them cover conversations and their members.
		_, failed, first := parallel(ctx, len(b.pairs), 4*runtime.NumCPU(), func(i int) error {
			return sendText(ctx, b.c, b.pairs[i].A, b.pairs[i].B, "hello, friend")
		})
		if failed > 0 {
			return fmt.Errorf("%d first messages failed, first: %w", failed, first)
		}
		logf("%d friend pairs ready, each with a conversation", len(b.pairs))
		if n < b.opt.pairs {
			b.rep.note("%d friend pairs instead of %d", n, b.opt.pairs)
		}
	}
	if needGroups {
		if err := b.makeGroups(ctx, members); err != nil {
			return err
		}
	}
	if needInbox {
		n := min(b.opt.inboxConversations, len(users))
		if err := b.setupInbox(ctx, users[:n]); err != nil {
			return err
		}
		if n < b.opt.inboxConversations {
			b.rep.note("inbox user has %d conversations instead of %d", n, b.opt.inboxConversations)
		}
	}
	return nil
}

// makeGroups makes the group scenario's groups of the members registered
// for it: as many whole groups as they fill.
func (b *bench) makeGroups(ctx context.Context, users []*user) error {
	t0 := time.Now()
	n := len(users) / b.opt.groupSize
	if n == 0 {
		return fmt.Errorf("setup budget %v ran out: %d of %d group members registered, not one group", b.opt.setupBudget, len(users), b.opt.groups*b.opt.groupSize)
	}
	var err error
	if b.groups, err = setupGroups(ctx, b.c, users[:n*b.opt.groupSize], b.opt.groupSize); err != nil {
		return err
	}
	logf("%d groups of %d ready in %.1fs", len(b.groups), b.opt.groupSize, time.Since(t0).Seconds())
	if n < b.opt.groups {
		b.rep.note("setup budget %v ran out: %d groups of %d instead of %d", b.opt.setupBudget, n, b.opt.groupSize, b.opt.groups)
	}
	return nil
}

// vacuum runs VACUUM ANALYZE and a CHECKPOINT on the database, as pgbench
// vacuums before each run: the bench's setup and each scenario write many rows at once, this
// machine's PostgreSQL runs with autovacuum off, and without it every
// scenario would pay for the dead rows of the ones before it (after a few
// runs, 700,000 dead member rows; the inbox p99 then doubles) and plan
// without statistics.
func (b *bench) vacuum(ctx context.Context) error {
	if b.pgURL == "" || b.opt.noVacuum {
		return nil
	}
	conn, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err = conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return fmt.Errorf("VACUUM ANALYZE: %w", err)
	}
	// And write out what the vacuum dirtied, rather than in the scenario.
	if _, err = conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("CHECKPOINT: %w", err)
	}
	b.vacuumed = true
	return nil
}

// serverEnv is the environment the bench gives the servers it starts,
// besides their database and port.
func (b *bench) serverEnv() []string {
	return []string{"PASSWORD_HASH_COST=" + strconv.Itoa(b.opt.passwordHashCost)}
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "localhost" || host == "::1"
}

// raiseFileLimit lifts the soft open-file limit to the hard one, for idle.
func raiseFileLimit(rep *report) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			rep.note("could not raise the open-file limit: %v", err)
		}
	}
}

// fileLimit is the current soft open-file limit.
func fileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	return int(min(lim.Cur, 1<<20))
}
