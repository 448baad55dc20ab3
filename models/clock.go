package models

import "time"

// Clock tells the time ages, expiry and timestamps are judged by; nil is the
// real time. Tests set one to move time on instead of waiting for it.
type Clock func() time.Time

// Now reads c in UTC, to the microsecond both databases keep.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return c().UTC().Truncate(time.Microsecond)
}
