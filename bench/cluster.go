package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// runCluster measures delivery across two instances sharing the database
// and Redis (sender on A, subscriber on B), against delivery within A.
func (b *bench) runCluster(ctx context.Context) ([]row, error) {
	if b.opt.redis == "" {
		return []row{{Scenario: "cluster", Skipped: "skipped (needs -redis)"}}, nil
	}
	if len(b.pairs) == 0 {
		return nil, fmt.Errorf("no friend pairs")
	}
	var baseA, baseB string
	switch {
	case b.opt.target != "" && b.opt.targetB == "":
		return []row{{Scenario: "cluster", Skipped: "skipped (with -target, needs -target-b: a second instance on the same database and Redis)"}}, nil
	case b.opt.target != "":
		baseA, baseB = b.base, b.opt.targetB
	default:
		a, err := startServer(ctx, b.bin, b.serverDB, b.opt.redis, filepath.Join(b.logs, "cluster-a.log"), b.serverEnv()...)
		if err != nil {
			return nil, err
		}
		defer a.stop()
		bb, err := startServer(ctx, b.bin, b.serverDB, b.opt.redis, filepath.Join(b.logs, "cluster-b.log"), b.serverEnv()...)
		if err != nil {
			return nil, err
		}
		defer bb.stop()
		baseA, baseB = a.URL, bb.URL
		logf("cluster instances A %s and B %s (Redis)", a.URL, bb.URL)
	}
	pairs := b.pairs
	rate := min(b.opt.clusterRate, 5*float64(len(pairs)))
	targets, pick := pairTargets(pairs)
	m, err := b.runDelivery(ctx, delivery{
		scenario: "cluster", what: fmt.Sprintf("send on A -> messageAdded on B, %d pairs, %.0f/s", len(pairs), rate),
		sendBase: baseA, subBase: baseB, targets: targets, pick: pick, rate: rate, duration: b.opt.duration,
		per: "message sent and delivered",
	})
	if err != nil {
		return nil, err
	}
	base, err := b.runDelivery(ctx, delivery{
		scenario: "cluster", what: fmt.Sprintf("send on A -> messageAdded on A, %.0f/s", rate),
		sendBase: baseA, subBase: baseA, targets: targets, pick: pick, rate: rate, duration: b.opt.baseline,
		per: "message sent and delivered",
	})
	if err != nil {
		return nil, err
	}
	base.Baseline = true
	compare(&m, base)
	verdict(&m, "p99<=10ms, 0 lost", m.P99Ms <= 10 && *m.Lost == 0 && m.Errors == 0)
	return []row{m, base}, nil
}
