package faultnet

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"
)

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxyModes(t *testing.T) {
	p, err := Start(context.Background(), echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("forward: %v", err)
	}

	// An open connection is cut along with new ones.
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(open).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.Set(Refuse)
	_ = open.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Fatal("an open connection survived the cut")
	}
	if err := roundTrip(p.Addr()); err == nil {
		t.Fatal("refuse: a round trip went through")
	}

	p.Set(Blackhole)
	err = roundTrip(p.Addr())
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("blackhole: want a timeout, got %v", err)
	}

	p.Set(Forward)
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("restored: %v", err)
	}
	if p.Cuts.Load() < 2 {
		t.Fatalf("cuts = %d, want at least 2", p.Cuts.Load())
	}
}
