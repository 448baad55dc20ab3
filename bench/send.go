package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// runSend measures sendMessage between friend pairs at b.opt.clients
// concurrent clients, against one-row INSERTs through pgx.
func (b *bench) runSend(ctx context.Context) ([]row, error) {
	if len(b.pairs) == 0 {
		return nil, fmt.Errorf("no friend pairs")
	}
	clients := b.opt.clients
	cpu := startCPU(b.base)
	rec := closedLoop(ctx, clients, b.opt.duration, func(ctx context.Context, w, k int) error {
		// Each client walks its own pairs, alternating direction.
		p := b.pairs[(w+k*clients)%len(b.pairs)]
		from, to := p.A, p.B
		if k%2 == 1 {
			from, to = p.B, p.A
		}
		return sendText(ctx, b.c, from, to, fmt.Sprintf("bench send %02d %06d: hello there, nice video!", w, k))
	})
	m := rec.summarize("send", fmt.Sprintf("sendMessage, %d clients, %d pairs", clients, len(b.pairs)))
	cpu.stop(&m, m.Count+m.Errors, "sendMessage")

	if b.pgURL == "" {
		m.Ratio = "n/a (baseline needs PostgreSQL)"
		m.Notes = append(m.Notes, "target (throughput >= 0.5x pgx INSERT, p99 <= 25 ms) applies on PostgreSQL only")
		return []row{m}, nil
	}
	base, err := pgxInsertBaseline(ctx, b.pgURL, clients, b.opt.baseline)
	if err != nil {
		m.Ratio = "baseline failed"
		m.Notes = append(m.Notes, "pgx baseline: "+err.Error())
		return []row{m}, nil
	}
	compare(&m, base)
	verdict(&m, "thr>=0.5x, p99<=25ms", m.PerSec >= 0.5*base.PerSec && m.P99Ms <= 25 && m.Errors == 0)
	return []row{m, base}, nil
}

// pgxInsertBaseline inserts one row of a message's size per statement into
// a scratch table, at clients connections, and drops the table after.
func pgxInsertBaseline(ctx context.Context, dbURL string, clients int, d time.Duration) (row, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return row{}, err
	}
	cfg.MaxConns = int32(clients)
	cfg.MinConns = int32(clients)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return row{}, err
	}
	defer pool.Close()
	table := "bench_scratch_" + runID
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (
		id bigserial PRIMARY KEY,
		conversation_id bigint NOT NULL,
		sender_id bigint NOT NULL,
		text text NOT NULL,
		client_message_id text,
		created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return row{}, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = pool.Exec(dctx, `DROP TABLE IF EXISTS `+table)
	}()
	insert := `INSERT INTO ` + table + ` (conversation_id, sender_id, text, client_message_id) VALUES ($1, $2, $3, $4)`
	rec := closedLoop(ctx, clients, d, func(ctx context.Context, w, k int) error {
		_, err := pool.Exec(ctx, insert, int64(w), int64(k), fmt.Sprintf("bench send %02d %06d: hello there, nice video!", w, k), nil)
		return err
	})
	r := rec.summarize("send", fmt.Sprintf("pgx one-row INSERT, %d conns", clients))
	r.Baseline = true
	return r, nil
}
