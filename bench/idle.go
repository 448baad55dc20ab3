package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runIdle opens many authenticated websockets, each with one messageAdded
// subscription, and reads the server's RSS and goroutines before and after.
// When the bench started the server, it then measures the same sockets on
// bench/wsfloor: gqlgen's websocket transport and the server's gorilla
// adapter with a subscription that does nothing, what the fixed choices
// cost before dmgraph adds anything.
func (b *bench) runIdle(ctx context.Context) ([]row, error) {
	if len(b.users) == 0 {
		return nil, fmt.Errorf("no users")
	}
	n := b.opt.idleConns
	var notes []string
	// Each connection costs this process one file; keep a margin. The
	// server has its own limit.
	if limit := fileLimit() - 1000; n > limit {
		notes = append(notes, fmt.Sprintf("%d connections instead of %d: open-file limit %d", max(limit, 0), n, fileLimit()))
		n = max(limit, 0)
	}
	if n == 0 {
		return nil, fmt.Errorf("open-file limit too low")
	}
	// A new process: what earlier scenarios left in the server (garbage,
	// and the GC headroom they used) would otherwise count as "before",
	// and hide part of what the sockets cost.
	if b.srv != nil {
		if err := b.restart(ctx); err != nil {
			return nil, err
		}
		notes = append(notes, "measured on a freshly started server")
	} else {
		notes = append(notes, "measured on the target as it was: its RSS before connecting includes whatever earlier work left")
	}
	token := func(i int) string { return b.users[i%len(b.users)].Token }
	m, err := measureIdle(ctx, b.base, n, token, b.opt.idleHold)
	if err != nil {
		return nil, err
	}
	r := m.row("idle", fmt.Sprintf("open ws + init + subscribe, %d conns", n))
	verdict(&r, "<=32KiB/sub", m.perSub() <= 32 && m.opened == n)
	r.Notes = append(notes, m.note())
	base := row{Scenario: "idle", What: "server before connecting", Baseline: true,
		Ratio: fmt.Sprintf("RSS %.1f MiB, %.0f goroutines", mib(m.before, "process_resident_memory_bytes"), m.before["go_goroutines"])}
	if b.srv == nil {
		return []row{r, base}, nil
	}
	floor, err := b.idleFloor(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("wsfloor: %w", err)
	}
	fr := floor.row("idle", "reference: gqlgen transport + gorilla adapter alone (bench/wsfloor)")
	fr.Baseline = true
	fr.Notes = []string{floor.note()}
	r.Notes = append(r.Notes, fmt.Sprintf("the same sockets on bench/wsfloor (no database, auth, sessions or middleware): %.1f KiB/sub, %.1f goroutines/conn, so dmgraph adds %.1f KiB/sub",
		floor.perSub(), floor.goroutinesPerConn(), m.perSub()-floor.perSub()))
	return []row{r, base, fr}, nil
}

// idleFloor starts bench/wsfloor and measures n idle subscriptions on it.
// It runs with Go's own GC pacing (GC_HEADROOM_MB=0), as this reference
// always has.
func (b *bench) idleFloor(ctx context.Context, n int) (idleFigures, error) {
	in, err := b.startFloor(ctx, "wsfloor.log", "GC_HEADROOM_MB=0")
	if err != nil {
		return idleFigures{}, err
	}
	defer in.stop()
	logf("idle: the same sockets on bench/wsfloor at %s", in.URL)
	return measureIdle(ctx, in.URL, n, func(int) string { return "" }, 0)
}

// startFloor builds bench/wsfloor (once per run) and starts it with the
// extra environment env, logging to logName in the logs directory.
func (b *bench) startFloor(ctx context.Context, logName string, env ...string) (*instance, error) {
	bin := filepath.Join(b.tmp, "wsfloor")
	if _, err := os.Stat(bin); err != nil {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		if _, err := buildPackage(ctx, root, "./bench/wsfloor", bin); err != nil {
			return nil, err
		}
	}
	return startServer(ctx, bin, "", "", filepath.Join(b.logs, logName), env...)
}

// idleFigures are what measureIdle read of one server.
type idleFigures struct {
	rec           *recorder
	before, after map[string]float64
	opened, lost  int
	active        float64
}

// measureIdle opens n websockets to base, each with one messageAdded
// subscription, waits for the server to count them, lets it settle, and
// reads its metrics; hold keeps the sockets open after that.
func measureIdle(ctx context.Context, base string, n int, token func(int) string, hold time.Duration) (idleFigures, error) {
	m0, err := scrapeMetrics(base)
	if err != nil {
		return idleFigures{}, err
	}
	for _, k := range []string{"process_resident_memory_bytes", "go_goroutines", "dmgraph_subscriptions_active"} {
		if _, ok := m0[k]; !ok {
			return idleFigures{}, fmt.Errorf("/metrics has no %s", k)
		}
	}
	rec := newRecorder()
	subs := make([]*wsSub, n)
	defer func() { closeAll(subs) }()
	cctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	parallel(cctx, n, 64, func(i int) error {
		t0 := time.Now()
		sctx, cancel := context.WithTimeout(cctx, 15*time.Second)
		defer cancel()
		s, err := subscribe(sctx, base, token(i), messageAddedQuery, nil)
		if err != nil {
			rec.fail(err)
			return err
		}
		subs[i] = s
		rec.ok(time.Since(t0))
		return nil
	})
	rec.stop()
	f := idleFigures{rec: rec, before: m0}
	for _, s := range subs {
		if s != nil {
			f.opened++
		}
	}
	want := m0["dmgraph_subscriptions_active"] + float64(f.opened)
	if f.active, err = waitForMetric(base, "dmgraph_subscriptions_active", want, 15*time.Second); err != nil {
		return idleFigures{}, err
	}
	// Let the server settle before reading its memory.
	time.Sleep(2 * time.Second)
	if f.after, err = scrapeMetrics(base); err != nil {
		return idleFigures{}, err
	}
	for _, s := range subs {
		if s != nil && s.Err() != nil {
			f.lost++
		}
	}
	if hold > 0 {
		logf("idle: holding %d sockets for %v", f.opened, hold)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
	}
	return f, nil
}

// mib is metric k of m in MiB.
func mib(m map[string]float64, k string) float64 { return m[k] / (1 << 20) }

func (f idleFigures) perSub() float64 {
	d := f.after["process_resident_memory_bytes"] - f.before["process_resident_memory_bytes"]
	return d / float64(max(f.opened, 1)) / 1024
}

func (f idleFigures) goroutinesPerConn() float64 {
	return (f.after["go_goroutines"] - f.before["go_goroutines"]) / float64(max(f.opened, 1))
}

// row is the measured row: latency of opening, and memory per subscription.
func (f idleFigures) row(scenario, what string) row {
	r := f.rec.summarize(scenario, what)
	lost := f.lost
	r.Lost = &lost
	r.Extra = map[string]float64{
		"connections":           float64(f.opened),
		"subscriptions_active":  f.active,
		"rss_before_mib":        mib(f.before, "process_resident_memory_bytes"),
		"rss_after_mib":         mib(f.after, "process_resident_memory_bytes"),
		"rss_per_sub_kib":       f.perSub(),
		"goroutines_before":     f.before["go_goroutines"],
		"goroutines_after":      f.after["go_goroutines"],
		"goroutines_per_conn":   f.goroutinesPerConn(),
		"heap_inuse_before_mib": mib(f.before, "go_memstats_heap_inuse_bytes"),
		"heap_inuse_after_mib":  mib(f.after, "go_memstats_heap_inuse_bytes"),
		"stack_inuse_after_mib": mib(f.after, "go_memstats_stack_inuse_bytes"),
	}
	rss := f.after["process_resident_memory_bytes"] - f.before["process_resident_memory_bytes"]
	r.Ratio = fmt.Sprintf("RSS +%.0f MiB = %.1f KiB/sub; +%.1f goroutines/conn", rss/(1<<20), f.perSub(), f.goroutinesPerConn())
	return r
}

func (f idleFigures) note() string {
	return fmt.Sprintf("server RSS %.1f -> %.1f MiB, goroutines %.0f -> %.0f, Go heap in use %.1f -> %.1f MiB, stacks %.1f -> %.1f MiB, %d subscriptions active, %d failed after opening",
		mib(f.before, "process_resident_memory_bytes"), mib(f.after, "process_resident_memory_bytes"),
		f.before["go_goroutines"], f.after["go_goroutines"],
		mib(f.before, "go_memstats_heap_inuse_bytes"), mib(f.after, "go_memstats_heap_inuse_bytes"),
		mib(f.before, "go_memstats_stack_inuse_bytes"), mib(f.after, "go_memstats_stack_inuse_bytes"),
		int(f.active), f.lost)
}
