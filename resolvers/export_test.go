package resolvers

import "time"

// SetKeepalive shortens the websocket keep-alive for a test and returns a
// function that restores it. Tests using it must not run in parallel.
func SetKeepalive(ping, pong time.Duration) (restore func()) {
	oldPing, oldPong := pingInterval, pongWait
	pingInterval, pongWait = ping, pong
	return func() { pingInterval, pongWait = oldPing, oldPong }
}

// NestedSpreads is the validation attack of n levels (spreadsTwice).
func NestedSpreads(n int) string { return spreadsTwice(n) }
