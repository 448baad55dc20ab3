package main

import (
	"fmt"
	"syscall"
	"time"
)

// cpuMeter measures the CPU time that servers (process_cpu_seconds_total on
// their /metrics) and this process spend during one measured loop. On a
// shared machine latency and throughput move with whatever else runs; the
// CPU an operation costs moves much less, so it compares two runs of a
// change better than they do.
type cpuMeter struct {
	bases  []string
	server []float64 // seconds, per base; negative when unreadable
	self   time.Duration
}

// startCPU starts measuring the servers at bases.
func startCPU(bases ...string) *cpuMeter {
	m := &cpuMeter{bases: bases, server: make([]float64, len(bases)), self: selfCPU()}
	for i, base := range bases {
		m.server[i] = serverCPU(base)
	}
	return m
}

// stop adds to r what the loop cost per operation, ops operations in all
// (failed ones included): each server's CPU, then this process's (the load
// generator's), in microseconds.
func (m *cpuMeter) stop(r *row, ops int, per string) {
	if ops <= 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: no CPU per %s: no operation completed", r.What, per))
		return
	}
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	note := ""
	for i, base := range m.bases {
		key, name := "server_cpu_us_per_op", "server"
		if len(m.bases) > 1 {
			letter := string(rune('A' + i))
			key, name = "server_"+letter+"_cpu_us_per_op", "server "+letter
		}
		before, after := m.server[i], serverCPU(base)
		if before < 0 || after < 0 {
			note += name + " unknown (no process_cpu_seconds_total on /metrics); "
			continue
		}
		us := (after - before) * 1e6 / float64(ops)
		r.Extra[key] = us
		note += fmt.Sprintf("%s %.0f µs; ", name, us)
	}
	self := float64((selfCPU() - m.self).Microseconds()) / float64(ops)
	r.Extra["bench_cpu_us_per_op"] = self
	r.Notes = append(r.Notes, fmt.Sprintf("%s: CPU per %s: %sthis bench %.0f µs", r.What, per, note, self))
}

// serverCPU reads a server's CPU seconds so far, or -1.
func serverCPU(base string) float64 {
	m, err := scrapeMetrics(base)
	if err != nil {
		return -1
	}
	v, ok := m["process_cpu_seconds_total"]
	if !ok {
		return -1
	}
	return v
}

// selfCPU is this process's CPU time so far, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
