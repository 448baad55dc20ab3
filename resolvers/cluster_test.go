package resolvers_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"dmgraph/testdb"
)

// Two instances on one database and one Redis: a subscriber on B receives
// what is sent through A. Needs TEST_REDIS_URL.
func TestClusterDeliversAcrossInstances(t *testing.T) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set")
	}
	a, b, _ := twoInstances(t, redisURL, redisURL, redisURL)

	alice, bob := a.register("alice"), a.register("bob")
	a.friends(alice, bob)
	ws := b.connectWS(bob, "")
	mark := b.statements.Load()
	ws.subscribe("1", subMessages, nil)
	b.waitLive(mark, 1, 1)

	for i := range 5 {
		s := a.send(alice, bob, fmt.Sprint("via A ", i))
		var got liveMessage
		ws.data("1", &got)
		if got.MessageAdded.ID != s.MessageID {
			t.Fatalf("B delivered %s, want %s", got.MessageAdded.ID, s.MessageID)
		}
	}
	ws.quiet(200 * time.Millisecond) // once each, though A's hub got them too
}

// twoInstances starts two servers on one fresh database, sharing a fresh
// channel of the Redis at redisURL; each reaches Redis at its own address
// (urlA, urlB: redisURL itself, or a faultnet proxy in front of it). It
// returns once both listen, with the channel.
func twoInstances(t *testing.T, redisURL, urlA, urlB string) (a, b *env, channel string) {
	t.Helper()
	channel = fmt.Sprintf("dmgraph:test:%d", time.Now().UnixNano())
	db := testdb.URL(t)
	a = newEnv(t, withRedis(db, urlA, channel))
	b = newEnv(t, withRedis(db, urlB, channel))
	waitForSubscribers(t, redisURL, channel, 2)
	return a, b, channel
}

// waitForSubscribers waits until n instances listen on channel.
func waitForSubscribers(t *testing.T, url, channel string, n int64) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		counts, err := c.PubSubNumSub(ctx, channel).Result()
		if err == nil && counts[channel] >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d instances subscribed to %s: %v", counts[channel], channel, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A group message sent through A reaches every member's sockets on both
// instances, once each, as committed: the event crosses Redis with every
// member's Prev, so B delivers it without reading the database, and its
// members share one read of the sender. Needs TEST_REDIS_URL.
func TestClusterDeliversGroupsAcrossInstances(t *testing.T) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set")
	}
	a, b, _ := twoInstances(t, redisURL, redisURL, redisURL)
	owner := a.register("owner")
	ms := a.befriended(owner, 5, "m")
	conv := a.createGroup(owner, "cluster", ms...)
	everyone := append([]user{owner}, ms...)
	sockets := make([]*wsClient, len(everyone))
	markA, markB := a.statements.Load(), b.statements.Load()
	for i, u := range everyone {
		on := a
		if i%2 == 1 {
			on = b
		}
		sockets[i] = on.connectWS(u, "")
		sockets[i].subscribe("1", `subscription { messageAdded { id text sender { id username } } }`, nil)
	}
	a.waitLive(markA, 3, 3)
	b.waitLive(markB, 3, 3)
	for round := range 3 {
		before := b.statements.Load()
		s := a.sendToGroup(ms[round], conv, fmt.Sprint("via A ", round))
		for i, ws := range sockets {
			var got struct {
				MessageAdded struct {
					ID     string
					Sender struct{ ID string }
				}
			}
			ws.data("1", &got)
			if got.MessageAdded.ID != s.MessageID || got.MessageAdded.Sender.ID != ms[round].ID {
				t.Fatalf("round %d: member %d got %+v, want %s from %s", round, i, got, s.MessageID, ms[round].ID)
			}
		}
		// B read the sender once for its three members, and nothing else.
		if got := b.statementsSince(before); len(got) != 1 {
			t.Fatalf("round %d: B ran %d statements to deliver, want 1 (the sender): %q", round, len(got), got)
		}
	}
	for _, ws := range sockets {
		ws.quiet(200 * time.Millisecond)
	}
}
