// Package faultnet is a TCP proxy for fault tests: it forwards a local port
// to a real server (PostgreSQL, Redis) until the test cuts it, and forwards
// again once the test restores it. It is test tooling of our own, so no
// external tool and no restart of a shared service is needed.
package faultnet

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what the proxy does with traffic.
type Mode int32

const (
	// Forward passes traffic both ways.
	Forward Mode = iota
	// Refuse closes every open connection and closes new ones at once, as a
	// stopped server or a firewall sending resets would.
	Refuse
	// Blackhole closes every open connection and accepts new ones without
	// ever answering, as a dead host or a partitioned network would.
	Blackhole
)

// Proxy forwards connections from Addr to a target address.
type Proxy struct {
	target string
	ln     net.Listener
	mode   atomic.Int32
	// Cuts counts the connections the proxy closed because of a cut.
	Cuts atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{} // forwarding, both ends
	held  map[net.Conn]struct{} // blackholed
	wg    sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target until ctx
// ends or Close is called.
func Start(ctx context.Context, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	context.AfterFunc(ctx, func() { _ = p.Close() })
	return p, nil
}

// Addr is the proxy's host:port, to put in the client's URL.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set changes the mode. A cut (Refuse, Blackhole) closes every open
// connection; any change closes the connections a blackhole held.
func (p *Proxy) Set(m Mode) {
	p.mode.Store(int32(m))
	p.mu.Lock()
	held := p.held
	p.held = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range held {
		_ = c.Close()
	}
	if m != Forward {
		p.closeAll()
	}
}

// Close stops listening and closes every connection. It waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.Set(Refuse)
	p.mu.Lock()
	late := p.conns
	p.conns = nil // track refuses from now on
	p.mu.Unlock()
	for c := range late {
		_ = c.Close()
	}
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		switch Mode(p.mode.Load()) {
		case Refuse:
			p.Cuts.Add(1)
			_ = c.Close()
		case Blackhole:
			// Hold the connection, silent, until the mode changes or the
			// proxy closes; it is closed with the others then.
			p.mu.Lock()
			p.held[c] = struct{}{}
			p.mu.Unlock()
		default:
			p.wg.Add(1)
			go p.forward(c)
		}
	}
}

// track registers c so a cut or Close can close it.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	all := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		p.Cuts.Add(1)
		_ = c.Close()
	}
}

func (p *Proxy) forward(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(client) || !p.track(server) {
		return
	}
	defer p.untrack(client)
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Closing both ends ends the other direction too.
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	<-done
}
