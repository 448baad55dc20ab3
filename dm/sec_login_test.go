package dm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"dmgraph/auth"
	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/ratelimit"
	"dmgraph/store"
	"dmgraph/testdb"
)

// countingPasswords counts the password checks that reach bcrypt.
type countingPasswords struct {
	auth.Hasher
	checks atomic.Int64
}

func (p *countingPasswords) Check(hash, password string) bool {
	p.checks.Add(1)
	return p.Hasher.Check(hash, password)
}

func (p *countingPasswords) CheckMissing(password string) bool {
	p.checks.Add(1)
	return p.Hasher.CheckMissing(password)
}

// limiters are the rate limiters to run under: memory, and Redis when
// TEST_REDIS_URL is set.
func limiters(t *testing.T) map[string]ratelimit.Limiter {
	out := map[string]ratelimit.Limiter{"memory": ratelimit.NewMemory()}
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		r, err := ratelimit.NewRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		out["redis"] = r
	} else {
		t.Log("TEST_REDIS_URL unset: the Redis limiter is not tested")
	}
	return out
}

func newService(t *testing.T, l ratelimit.Limiter) (*dm.Service, *countingPasswords) {
	pw := &countingPasswords{Hasher: auth.Hasher{Cost: bcrypt.MinCost}}
	return testService(t, l, pw, func(limits *dm.Limits) {
		limits.LoginIP = ratelimit.Limit{Count: 1000, Period: time.Hour}
	}), pw
}

// testService is a Service on a fresh store, with the default limits on l
// as tune changes them.
func testService(t *testing.T, l ratelimit.Limiter, pw dm.Passwords, tune func(*dm.Limits)) *dm.Service {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{URL: testdb.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	tokens, err := auth.NewTokens("test-secret", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	limits := dm.DefaultLimits(l)
	tune(limits)
	return dm.New(dm.Deps{Store: st, Tokens: tokens, Passwords: pw, Limits: limits})
}

func register(t *testing.T, svc *dm.Service, name, password string) {
	t.Helper()
	_, err := svc.Register(context.Background(), dm.RegisterParams{Username: name, Password: password,
		DisplayName: name, BirthDate: models.Date{Time: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSec04ParallelLoginGuesses: 40 parallel wrong guesses at one username
// reach the password check at most 10 times (RATE_LIMIT_LOGIN_FAILURES'
// default), the rest are RATE_LIMITED, and a right password afterwards
// is refused too until the window passes.
func TestSec04ParallelLoginGuesses(t *testing.T) {
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			svc, pw := newService(t, l)
			user := fmt.Sprintf("owner%d", time.Now().UnixNano()%1e9)
			register(t, svc, user, "correct horse")
			before := pw.checks.Load()
			var wg sync.WaitGroup
			var wrong, limited atomic.Int64
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.Login(context.Background(), user, fmt.Sprintf("guess %d", i))
					switch {
					case models.CodeOf(err) == models.CodeUnauthenticated:
						wrong.Add(1)
					case errors.Is(err, &models.Error{Code: models.CodeRateLimited, Reason: models.ReasonTooManyAttempts}):
						limited.Add(1)
					default:
						t.Errorf("guess %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			if checks := pw.checks.Load() - before; checks > 10 {
				t.Errorf("%d parallel guesses reached the password check, want at most 10", checks)
			}
			if wrong.Load() > 10 || wrong.Load()+limited.Load() != 40 {
				t.Errorf("%d wrong, %d rate limited, want at most 10 wrong and the rest limited", wrong.Load(), limited.Load())
			}
		})
	}
}

// TestSec04RightPasswordGivesItsChargeBack: signing in successfully does
// not count toward the failed-login limit.
func TestSec04RightPasswordGivesItsChargeBack(t *testing.T) {
	for name, l := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			svc, _ := newService(t, l)
			user := fmt.Sprintf("owner%d", time.Now().UnixNano()%1e9)
			register(t, svc, user, "correct horse")
			for i := range 15 {
				if _, err := svc.Login(context.Background(), user, "correct horse"); err != nil {
					t.Fatalf("login %d: %v", i, err)
				}
			}
			for i := range 10 {
				if _, err := svc.Login(context.Background(), user, "wrong"); models.CodeOf(err) != models.CodeUnauthenticated {
					t.Fatalf("wrong guess %d: %v", i, err)
				}
			}
			if _, err := svc.Login(context.Background(), user, "correct horse"); models.CodeOf(err) != models.CodeRateLimited {
				t.Fatalf("after 10 failures: %v, want RATE_LIMITED", err)
			}
		})
	}
}

// TestSec13LoginRefusesPasswordsRegistrationRefuses: bcrypt reads 72 bytes,
// so a 72-byte password plus a suffix must not sign in. Login refuses it as
// registration does, for known and unknown names alike, before any lookup
// or password check.
func TestSec13LoginRefusesPasswordsRegistrationRefuses(t *testing.T) {
	svc, pw := newService(t, ratelimit.NewMemory())
	password := strings.Repeat("p", models.MaxPasswordBytes)
	register(t, svc, "longpass", password)
	if _, err := svc.Login(context.Background(), "longpass", password); err != nil {
		t.Fatalf("the 72-byte password itself: %v", err)
	}
	_, regErr := svc.Register(context.Background(), dm.RegisterParams{Username: "other", Password: password + "x",
		DisplayName: "o", BirthDate: models.Date{Time: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}})
	before := pw.checks.Load()
	for _, name := range []string{"longpass", "nosuchuser"} {
		_, err := svc.Login(context.Background(), name, password+"anything")
		if err == nil {
			t.Fatalf("%s: a 72-byte password plus a suffix signed in", name)
		}
		if err.Error() != regErr.Error() || models.CodeOf(err) != models.CodeBadUserInput {
			t.Errorf("%s: login says %v, registration says %v", name, err, regErr)
		}
	}
	if n := pw.checks.Load() - before; n != 0 {
		t.Errorf("%d password checks for over-long passwords, want 0", n)
	}
}
