package resolvers_test

import (
	"fmt"
	"testing"
	"time"

	"dmgraph/dm"
	"dmgraph/ratelimit"
)

// Issue 14, item 6: three syncContacts calls of 5,000 numbers mapped 15,000
// numbers to accounts. With the default limits, the third is refused, and
// refused before anything is matched.
func TestSec06ContactsSyncedPerDayAreLimited(t *testing.T) {
	// 15,000 numbers to normalize take seconds under -race on a busy machine.
	e := newEnv(t, withLimits(dm.DefaultLimits(ratelimit.NewMemory())), withOperationTimeout(time.Minute))
	mapper, victim := e.register("mapper"), e.register("victim")
	book := func(first int) []string {
		numbers := make([]string, dm.MaxSyncedContacts)
		for i := range numbers {
			numbers[i] = fmt.Sprintf("+336%08d", first+i)
		}
		return numbers
	}
	e.setPhone(victim, fmt.Sprintf("+336%08d", 10000+42), "")
	for call, first := range []int{0, 5000} {
		if got := e.syncContacts(mapper, "", book(first)...); got.SyncedCount != 5000 || got.MatchedCount != 0 {
			t.Fatalf("call %d: %+v", call+1, got)
		}
	}
	res := e.fail(mapper.Token, `mutation($n: [String!]!) { syncContacts(input: {phoneNumbers: $n}) { matchedCount } }`,
		map[string]any{"n": book(10000)}, "RATE_LIMITED", "CONTACTS_LIMIT")
	checkRetryAfter(t, res)
	if s := e.suggestionOf(mapper, victim); s.IsSuggestedFriend {
		t.Fatal("the refused sync matched the victim")
	}
	// Syncing a book the mapper already has costs nothing.
	if got := e.syncContacts(mapper, "", book(5000)...); got.SyncedCount != 5000 {
		t.Fatalf("re-sync: %+v", got)
	}
}

// Only numbers new to the user's set are charged: the same book again, or
// with duplicates and invalid entries, is free.
func TestSec06ContactsChargesOnlyNewNumbers(t *testing.T) {
	e := newEnv(t, withLimits(&dm.Limits{Limiter: ratelimit.NewMemory(), Contacts: ratelimit.Limit{Count: 10, Period: 24 * time.Hour}}))
	u, other := e.register("user"), e.register("other")
	six := []string{"+33600000001", "+33600000002", "+33600000003", "+33600000004", "+33600000005", "+33600000006"}
	e.syncContacts(u, "", six...)
	for range 3 {
		e.syncContacts(u, "FR", append([]string{"06 00 00 00 01", "not a number"}, six...)...)
	}
	// 4 new: 10 of 10.
	e.syncContacts(u, "", append(six, "+33600000007", "+33600000008", "+33600000009", "+33600000010")...)
	e.syncContacts(u, "", "+33600000001") // a subset is free too
	res := e.fail(u.Token, `mutation { syncContacts(input: {phoneNumbers: ["+33600000011"]}) { syncedCount } }`, nil,
		"RATE_LIMITED", "CONTACTS_LIMIT")
	checkRetryAfter(t, res)
	// More new numbers than the whole allowance is refused, not an error.
	many := make([]string, 11)
	for i := range many {
		many[i] = fmt.Sprintf("+3361000%04d", i)
	}
	e.fail(other.Token, `mutation($n: [String!]!) { syncContacts(input: {phoneNumbers: $n}) { syncedCount } }`,
		map[string]any{"n": many}, "RATE_LIMITED", "CONTACTS_LIMIT")
	e.syncContacts(other, "", many[:10]...) // per user: other's allowance is whole
}
