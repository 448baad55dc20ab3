package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchSecret signs the tokens of every instance the bench starts, so one
// instance's tokens work on the others.
const benchSecret = "dmgraph-bench-secret-not-for-production-0123456789"

// buildServer compiles the server from the repository root into dir.
func buildServer(ctx context.Context, root, dir string) (string, error) {
	return buildPackage(ctx, root, ".", filepath.Join(dir, "dmgraph"))
}

// buildPackage compiles the main package pkg (relative to the repository
// root) into bin.
func buildPackage(ctx context.Context, root, pkg, bin string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return bin, nil
}

// repoRoot finds the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no go.mod above the working directory; run from the repository")
}

// instance is a server process the bench started.
type instance struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs bin on a free 127.0.0.1 port with databaseURL (and
// redisURL when not empty) and the extra environment env, and waits until
// /readyz answers.
func startServer(ctx context.Context, bin, databaseURL, redisURL, logPath string, env ...string) (*instance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"DATABASE_URL="+databaseURL,
		"REDIS_URL="+redisURL,
		"RATE_LIMITS=off",
		"JWT_SECRET="+benchSecret,
		"LOG_LEVEL=warn",
		"PLAYGROUND=false",
		// Every bench client connects from 127.0.0.1, and idle opens
		// thousands of sockets at once: the per-address and per-user socket
		// caps would refuse the load they are meant to stop.
		"WS_MAX_SOCKETS_PER_ADDRESS=1000000",
		"WS_MAX_SOCKETS_PER_USER=1000000",
		"WS_MAX_PENDING_SOCKETS=1000000",
		"WS_MAX_PENDING_PER_ADDRESS=1000000",
	)
	cmd.Env = append(cmd.Env, env...)
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	in := &instance{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan error, 1)}
	go func() { in.done <- cmd.Wait(); logFile.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-in.done:
			return nil, fmt.Errorf("server exited during start: %v (log: %s)", err, logPath)
		case <-ctx.Done():
			in.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		res, err := http.Get(in.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return in, nil
			}
		}
	}
	in.stop()
	return nil, fmt.Errorf("server not ready within 60s (log: %s)", logPath)
}

// stop sends SIGTERM and waits up to 20s, then kills.
func (in *instance) stop() {
	if in == nil || in.cmd.Process == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
}

// scrapeMetrics reads the server's Prometheus /metrics into name → value,
// for unlabelled series only.
func scrapeMetrics(base string) (map[string]float64, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(strings.TrimSuffix(base, "/") + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d", res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.Fields(value)[0], 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// waitForMetric polls /metrics until name ≥ want or the timeout passes,
// and returns the last value read.
func waitForMetric(base, name string, want float64, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	var last float64
	for {
		m, err := scrapeMetrics(base)
		if err != nil {
			return 0, err
		}
		last = m[name]
		if last >= want || time.Now().After(deadline) {
			return last, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settledMetric returns name once it has held still for half a second (at
// most 10 s): sockets a scenario just closed still count while the server
// notices them go.
func settledMetric(base, name string) (float64, error) {
	deadline := time.Now().Add(10 * time.Second)
	var last float64 = -1
	still := time.Now()
	for {
		m, err := scrapeMetrics(base)
		if err != nil {
			return 0, err
		}
		if m[name] != last {
			last, still = m[name], time.Now()
		}
		if time.Since(still) >= 500*time.Millisecond || time.Now().After(deadline) {
			return last, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
