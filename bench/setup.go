package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type user struct {
	ID    string
	Name  string
	Token string
}

type pair struct{ A, B *user }

const (
	registerQuery = `mutation($in: RegisterInput!) { register(input: $in) { token user { id } } }`
	followQuery   = `mutation($id: ID!) { follow(userId: $id) { id } }`
	sendQuery     = `mutation($in: SendMessageInput!) { sendMessage(input: $in) { delivery message { id } } }`
	everyoneQuery = `mutation { updatePrivacySettings(input: {directMessagePolicy: EVERYONE}) { directMessagePolicy } }`
)

// runID keeps usernames of different runs on one database apart.
var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// parallel runs fn(0..n-1) on workers goroutines until all ran or ctx ends.
// It returns how many ran, how many failed, and the first error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) (ran, failed int, first error) {
	var next, ranN, failN atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					failN.Add(1)
					once.Do(func() { first = err })
				}
				ranN.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ranN.Load()), int(failN.Load()), first
}

// registerUsers registers up to n users, stopping early at the deadline.
// Registration hashes a password with bcrypt, so it is CPU-bound on the
// server; more workers than a few per core gain nothing.
func registerUsers(ctx context.Context, c *gqlClient, prefix string, n, workers int, deadline time.Time) ([]*user, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	users := make([]*user, n)
	_, failed, first := parallel(ctx, n, workers, func(i int) error {
		name := fmt.Sprintf("b%s%s%d", runID, prefix, i)
		var out struct {
			Register struct {
				Token string
				User  struct{ ID string }
			}
		}
		err := c.do(ctx, "", registerQuery, map[string]any{"in": map[string]any{
			"username": name, "password": "bench-password", "displayName": "Bench " + prefix, "birthDate": "1990-01-01",
		}}, &out)
		if err != nil {
			if ctx.Err() != nil {
				return nil // cut by the deadline, not a failure
			}
			return err
		}
		users[i] = &user{ID: out.Register.User.ID, Name: name, Token: out.Register.Token}
		return nil
	})
	var got []*user
	for _, u := range users {
		if u != nil {
			got = append(got, u)
		}
	}
	if failed > 0 {
		return got, fmt.Errorf("%d registrations failed, first: %w", failed, first)
	}
	return got, nil
}

// makeFriends pairs users up (0-1, 2-3, ...) and has each follow the other.
func makeFriends(ctx context.Context, c *gqlClient, users []*user) ([]pair, error) {
	pairs := make([]pair, len(users)/2)
	for i := range pairs {
		pairs[i] = pair{users[2*i], users[2*i+1]}
	}
	_, failed, first := parallel(ctx, 2*len(pairs), 16, func(i int) error {
		p := pairs[i/2]
		from, to := p.A, p.B
		if i%2 == 1 {
			from, to = p.B, p.A
		}
		return c.do(ctx, from.Token, followQuery, map[string]any{"id": to.ID}, nil)
	})
	if failed > 0 {
		return nil, fmt.Errorf("%d follows failed, first: %w", failed, first)
	}
	return pairs, nil
}

// sendText sends text from one user to another and returns the error.
func sendText(ctx context.Context, c *gqlClient, from, to *user, text string) error {
	return c.do(ctx, from.Token, sendQuery, map[string]any{"in": map[string]any{"recipientId": to.ID, "text": text}}, nil)
}
