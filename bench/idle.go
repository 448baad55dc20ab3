package main

import (
	"context"
	"fmt"
	"time"
)

// runIdle opens many authenticated websockets, each with one messageAdded
// subscription, and reads the server's RSS and goroutines before and after.
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
	m0, err := scrapeMetrics(b.base)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"process_resident_memory_bytes", "go_goroutines", "dmgraph_subscriptions_active"} {
		if _, ok := m0[k]; !ok {
			return nil, fmt.Errorf("/metrics has no %s", k)
		}
	}
	rec := newRecorder()
	subs := make([]*wsSub, n)
	defer func() { closeAll(subs) }()
	cctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	parallel(cctx, n, 64, func(i int) error {
		u := b.users[i%len(b.users)]
		t0 := time.Now()
		sctx, cancel := context.WithTimeout(cctx, 15*time.Second)
		defer cancel()
		s, err := subscribe(sctx, b.base, u.Token, messageAddedQuery, nil)
		if err != nil {
			rec.fail(err)
			return err
		}
		subs[i] = s
		rec.ok(time.Since(t0))
		return nil
	})
	rec.stop()
	opened := 0
	for _, s := range subs {
		if s != nil {
			opened++
		}
	}
	want := m0["dmgraph_subscriptions_active"] + float64(opened)
	active, err := waitForMetric(b.base, "dmgraph_subscriptions_active", want, 15*time.Second)
	if err != nil {
		return nil, err
	}
	// Let the server settle before reading its memory.
	time.Sleep(2 * time.Second)
	m1, err := scrapeMetrics(b.base)
	if err != nil {
		return nil, err
	}
	lost := 0
	for _, s := range subs {
		if s != nil && s.Err() != nil {
			lost++
		}
	}

	r := rec.summarize("idle", fmt.Sprintf("open ws + init + subscribe, %d conns", n))
	r.Lost = &lost
	rssDelta := m1["process_resident_memory_bytes"] - m0["process_resident_memory_bytes"]
	perSub := rssDelta / float64(max(opened, 1)) / 1024
	grDelta := m1["go_goroutines"] - m0["go_goroutines"]
	r.Extra = map[string]float64{
		"connections":            float64(opened),
		"subscriptions_active":   active,
		"rss_before_mib":         m0["process_resident_memory_bytes"] / (1 << 20),
		"rss_after_mib":          m1["process_resident_memory_bytes"] / (1 << 20),
		"rss_per_sub_kib":        perSub,
		"goroutines_before":      m0["go_goroutines"],
		"goroutines_after":       m1["go_goroutines"],
		"goroutines_per_conn":    grDelta / float64(max(opened, 1)),
		"heap_inuse_before_mib":  m0["go_memstats_heap_inuse_bytes"] / (1 << 20),
		"heap_inuse_after_mib":   m1["go_memstats_heap_inuse_bytes"] / (1 << 20),
		"server_ws_open_metrics": m1["dmgraph_websocket_connections"],
	}
	r.Ratio = fmt.Sprintf("RSS +%.0f MiB = %.1f KiB/sub; +%.1f goroutines/conn", rssDelta/(1<<20), perSub, grDelta/float64(max(opened, 1)))
	verdict(&r, "<=32KiB/sub", perSub <= 32 && opened == n)
	r.Notes = append(notes, fmt.Sprintf("server RSS %.1f -> %.1f MiB, goroutines %.0f -> %.0f, Go heap in use %.1f -> %.1f MiB, %d subscriptions active, %d failed after opening",
		r.Extra["rss_before_mib"], r.Extra["rss_after_mib"], m0["go_goroutines"], m1["go_goroutines"], r.Extra["heap_inuse_before_mib"], r.Extra["heap_inuse_after_mib"], int(active), lost))
	if h := b.opt.idleHold; h > 0 {
		logf("idle: holding %d sockets for %v", opened, h)
		select {
		case <-time.After(h):
		case <-ctx.Done():
		}
	}
	base := row{Scenario: "idle", What: "server before connecting", Baseline: true,
		Ratio: fmt.Sprintf("RSS %.1f MiB, %.0f goroutines", r.Extra["rss_before_mib"], m0["go_goroutines"])}
	return []row{r, base}, nil
}
