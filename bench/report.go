package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// recorder collects latencies and errors of one measured loop.
type recorder struct {
	mu      sync.Mutex
	lat     []time.Duration
	errors  int
	lastErr string
	start   time.Time
	end     time.Time
}

// maxSamples bounds a recorder's memory.
const maxSamples = 2_000_000

func newRecorder() *recorder { return &recorder{start: time.Now()} }

// closedLoop runs op on clients goroutines for d, each calling it again as
// soon as it returns (client numbers the goroutine, k its calls), and
// records every call. It returns the stopped recorder.
func closedLoop(ctx context.Context, clients int, d time.Duration, op func(ctx context.Context, client, k int) error) *recorder {
	rec := newRecorder()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for k := 0; time.Now().Before(end) && ctx.Err() == nil; k++ {
				t0 := time.Now()
				if err := op(ctx, w, k); err != nil {
					rec.fail(err)
					continue
				}
				rec.ok(time.Since(t0))
			}
		})
	}
	wg.Wait()
	rec.stop()
	return rec
}

// restart sets the start of the measured window to now.
func (r *recorder) restart() { r.mu.Lock(); r.start = time.Now(); r.mu.Unlock() }

func (r *recorder) ok(d time.Duration) {
	r.mu.Lock()
	if len(r.lat) < maxSamples {
		r.lat = append(r.lat, d)
	}
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	r.errors++
	r.lastErr = err.Error()
	r.mu.Unlock()
}

func (r *recorder) stop() { r.mu.Lock(); r.end = time.Now(); r.mu.Unlock() }

// row is one line of the table: a measurement or its baseline.
type row struct {
	Scenario string  `json:"scenario"`
	What     string  `json:"what"`
	Baseline bool    `json:"baseline"`
	Count    int     `json:"count"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	PerSec   float64 `json:"throughput_per_s"`
	Errors   int     `json:"errors"`
	Lost     *int    `json:"lost,omitempty"`
	// Ratio compares this row with its baseline: "thr 0.41x p99 3.2x".
	Ratio   string   `json:"ratio,omitempty"`
	Target  string   `json:"target,omitempty"`
	Met     *bool    `json:"met,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	Skipped string   `json:"skipped,omitempty"`
	LastErr string   `json:"last_error,omitempty"`
	// Extra holds scenario-specific figures (RSS, goroutines...).
	Extra map[string]float64 `json:"extra,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// summarize turns a recorder into a row.
func (r *recorder) summarize(scenario, what string) row {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.end
	if end.IsZero() {
		end = time.Now()
	}
	out := row{Scenario: scenario, What: what, Count: len(r.lat), Errors: r.errors, LastErr: r.lastErr}
	if el := end.Sub(r.start).Seconds(); el > 0 {
		out.PerSec = float64(len(r.lat)) / el
	}
	if len(r.lat) > 0 {
		s := slices.Clone(r.lat)
		slices.Sort(s)
		out.P50Ms = ms(quantile(s, 0.50))
		out.P99Ms = ms(quantile(s, 0.99))
		out.MaxMs = ms(s[len(s)-1])
	}
	return out
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// compare fills m's ratio from its baseline b.
func compare(m *row, b row) {
	var parts []string
	if b.PerSec > 0 && m.PerSec > 0 {
		parts = append(parts, fmt.Sprintf("thr %.2fx", m.PerSec/b.PerSec))
	}
	if b.P50Ms > 0 && m.Count > 0 {
		parts = append(parts, fmt.Sprintf("p50 %.1fx", m.P50Ms/b.P50Ms))
	}
	if b.P99Ms > 0 && m.Count > 0 {
		parts = append(parts, fmt.Sprintf("p99 %.1fx", m.P99Ms/b.P99Ms))
	}
	m.Ratio = strings.Join(parts, " ")
}

func verdict(m *row, target string, met bool) {
	m.Target = target
	m.Met = &met
}

// report is the whole run.
type report struct {
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Target   string    `json:"target"`
	Database string    `json:"database"`
	CPUs     int       `json:"cpus"`
	Notes    []string  `json:"notes,omitempty"`
	Rows     []row     `json:"rows"`
}

func (rep *report) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	rep.Notes = append(rep.Notes, s)
	logf("note: %s", s)
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\ndmgraph bench: %s, database %s, %d CPUs, %s, took %.0fs\n", rep.Target, rep.Database, rep.CPUs, rep.Started.Format(time.RFC3339), rep.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "scenario\twhat\tn\tp50 ms\tp99 ms\tmax ms\tper s\terrors\tlost\tratio to baseline\ttarget\t")
	for _, r := range rep.Rows {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t\t\n", r.Scenario, r.Skipped)
			continue
		}
		what := r.What
		if r.Baseline {
			what = "  baseline: " + what
		}
		if r.Count == 0 && r.Errors == 0 {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t%s\t%s\t\n", r.Scenario, what, r.Ratio, r.Target)
			continue
		}
		lost := ""
		if r.Lost != nil {
			lost = fmt.Sprint(*r.Lost)
		}
		target := r.Target
		if r.Met != nil {
			if *r.Met {
				target = "MET " + target
			} else {
				target = "MISSED " + target
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.0f\t%d\t%s\t%s\t%s\t\n",
			r.Scenario, what, r.Count, r.P50Ms, r.P99Ms, r.MaxMs, r.PerSec, r.Errors, lost, r.Ratio, target)
	}
	tw.Flush()
	for _, r := range rep.Rows {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s: %s\n", r.Scenario, n)
		}
		if r.LastErr != "" {
			fmt.Fprintf(w, "  %s (%s): last error: %s\n", r.Scenario, r.What, r.LastErr)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func (rep *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

var logStart = time.Now()

// logf prints progress on stderr, so stdout holds only the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(logStart).Seconds(), fmt.Sprintf(format, args...))
}
