package dm

import (
	"context"
	"math"
	"strconv"
	"time"

	"dmgraph/models"
	"dmgraph/ratelimit"
)

// Limits are the abuse limits. A nil Limiter turns them all off.
type Limits struct {
	Limiter ratelimit.Limiter
	// LoginFailures bounds failed logins per username (brute force).
	LoginFailures ratelimit.Limit
	// LoginIP and RegisterIP bound attempts per client address.
	LoginIP, RegisterIP ratelimit.Limit
	// Send bounds sendMessage bursts per user.
	Send ratelimit.Limit
	// NewRequests bounds the new message requests a user opens (per day by
	// default). The store counts them from the requests themselves, in the
	// send's transaction, so the Limiter is not asked and the cap is exact
	// with or without Redis; a nil Limiter turns it off all the same.
	NewRequests ratelimit.Limit
	// SMSUser and SMSNumber bound the verification codes sent for one user
	// and to one number (SMS costs money, and floods a phone).
	SMSUser, SMSNumber ratelimit.Limit
	// Contacts bounds the numbers new to a user's synced contacts, so that
	// numbers cannot be mapped to accounts in bulk.
	Contacts ratelimit.Limit
	// GroupsCreated bounds the groups a user creates, and GroupAdditions
	// the people they add to groups (each counts one).
	GroupsCreated, GroupAdditions ratelimit.Limit
}

// DefaultLimits are the limits unless configured otherwise.
func DefaultLimits(l ratelimit.Limiter) *Limits {
	return &Limits{
		Limiter:        l,
		LoginFailures:  ratelimit.Limit{Count: 10, Period: 15 * time.Minute},
		LoginIP:        ratelimit.Limit{Count: 100, Period: 15 * time.Minute},
		RegisterIP:     ratelimit.Limit{Count: 20, Period: time.Hour},
		Send:           ratelimit.Limit{Count: 30, Period: 10 * time.Second},
		NewRequests:    ratelimit.Limit{Count: 50, Period: 24 * time.Hour},
		SMSUser:        ratelimit.Limit{Count: 10, Period: 24 * time.Hour},
		SMSNumber:      ratelimit.Limit{Count: 5, Period: 24 * time.Hour},
		Contacts:       ratelimit.Limit{Count: 10000, Period: 24 * time.Hour},
		GroupsCreated:  ratelimit.Limit{Count: 20, Period: 24 * time.Hour},
		GroupAdditions: ratelimit.Limit{Count: 300, Period: 24 * time.Hour},
	}
}

// take uses n of key's allowance under l and refuses with RATE_LIMITED once
// it is spent. Limits fail open: if the limiter itself fails (Redis down),
// the action goes ahead and the failure is logged.
func (s *Service) take(ctx context.Context, key string, l ratelimit.Limit, n int, reason, message string) error {
	if s.limits == nil || s.limits.Limiter == nil || l.Count == 0 {
		return nil
	}
	wait, err := s.limits.Limiter.Take(ctx, key, l, n)
	if err != nil {
		s.log.WarnContext(ctx, "rate limiter unavailable; allowing", "err", err)
		return nil
	}
	if wait > 0 {
		return models.RateLimited(reason, message, time.Duration(math.Ceil(wait.Seconds()))*time.Second)
	}
	return nil
}

// refund gives back n actions taken under key and l. A failure is logged:
// the charge then stands until it leaves the window.
func (s *Service) refund(ctx context.Context, key string, l ratelimit.Limit, n int) {
	if s.limits == nil || s.limits.Limiter == nil || l.Count == 0 {
		return
	}
	if err := s.limits.Limiter.Refund(ctx, key, l, n); err != nil {
		s.log.WarnContext(ctx, "rate limiter unavailable; charge kept", "err", err)
	}
}

func userKey(prefix string, id int64) string { return prefix + ":user:" + strconv.FormatInt(id, 10) }

func (s *Service) limitsOrZero() Limits {
	if s.limits == nil {
		return Limits{}
	}
	return *s.limits
}
