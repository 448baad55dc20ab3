package models

import (
	"context"
	"net/netip"
)

type viewerKey struct{}

// WithViewer returns a context in which userID is the signed-in user.
func WithViewer(ctx context.Context, userID int64) context.Context {
	return context.WithValue(ctx, viewerKey{}, userID)
}

// ViewerID returns the signed-in user, or ErrUnauthenticated.
func ViewerID(ctx context.Context) (int64, error) {
	id, ok := ctx.Value(viewerKey{}).(int64)
	if !ok || id == 0 {
		return 0, ErrUnauthenticated
	}
	return id, nil
}

type clientIPKey struct{}

// WithClientIP records the caller's network address, for per-IP limits.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP is the caller's network address, or "" when unknown.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// AddressKey is what per-address limits count: the address, or for IPv6 its
// /64, the block one subscriber is usually given, so that one subscriber
// cannot multiply a limit by changing addresses.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
