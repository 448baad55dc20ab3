package resolvers_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"dmgraph/dm"
	"dmgraph/ratelimit"
)

// Issue 14, item 2: phone numbers count only once verified, and no answer
// tells whether a number belongs to an account.

// claimPhone sets u's number without verifying it. The selection is valid
// whatever setPhoneNumber returns.
func (e *env) claimPhone(u user, number string) response {
	e.t.Helper()
	return e.do(u.Token, `mutation($n: String!) { setPhoneNumber(input: {phoneNumber: $n}) { __typename } }`,
		map[string]any{"n": number})
}

func (e *env) verifyFails(u user, code, wantCode, wantReason string) {
	e.t.Helper()
	e.fail(u.Token, verifyPhoneMutation, map[string]any{"c": code}, wantCode, wantReason)
}

// wrongCode is a code other than right.
func wrongCode(right string, i int) string {
	c := fmt.Sprintf("%06d", i)
	if c == right {
		c = fmt.Sprintf("%06d", i+1)
	}
	return c
}

// The attack: claiming, without verifying it, a number the target has
// synced. The attacker must not become a suggested friend, even of a 16- or
// 17-year-old on SUGGESTED_FRIENDS.
func TestSec02UnverifiedNumberIsNotSuggested(t *testing.T) {
	e := newEnv(t)
	target, teen := e.register("target"), e.registerAged("teen", 16)
	e.setPolicy(teen, "SUGGESTED_FRIENDS")
	const number = "+33612340001"
	e.syncContacts(target, "", number)
	e.syncContacts(teen, "", number)
	attacker := e.register("attacker")
	if res := e.claimPhone(attacker, number); len(res.Errors) > 0 {
		t.Fatalf("setPhoneNumber: %+v", res.Errors)
	}
	for _, victim := range []user{target, teen} {
		if s := e.suggestionOf(victim, attacker); s.IsSuggestedFriend || len(s.SuggestionReasons) != 0 {
			t.Fatalf("an unverified number made the attacker suggested: %+v", s)
		}
		if ids := e.suggestedFriends(victim); len(ids) != 0 {
			t.Fatalf("suggestedFriends %v, want none", ids)
		}
		e.sendFails(attacker, victim, "hi, we're suggested friends", "FORBIDDEN", "FRIENDS_AND_SUGGESTED_ONLY")
		if got := e.syncContacts(victim, "", number); got.MatchedCount != 0 {
			t.Fatalf("an unverified number matched: %+v", got)
		}
	}
	// Guessing is no way in.
	e.verifyFails(attacker, "000000", "BAD_USER_INPUT", "WRONG_CODE")
	e.verifyFails(attacker, "12345", "BAD_USER_INPUT", "")

	// The number's owner verifies it: now it counts.
	owner := e.register("owner")
	e.setPhone(owner, number, "")
	if s := e.suggestionOf(target, owner); !s.IsSuggestedFriend {
		t.Fatalf("a verified number is not suggested: %+v", s)
	}
	if got := e.syncContacts(teen, "", number); got.MatchedCount != 1 {
		t.Fatalf("a verified number did not match: %+v", got)
	}
	if s := e.send(owner, teen, "hi, it's me"); s.Delivery != "REQUEST" {
		t.Fatalf("suggested owner → teen: %s, want REQUEST", s.Delivery)
	}
	e.sendFails(attacker, target, "still me", "FORBIDDEN", "FRIENDS_AND_SUGGESTED_ONLY")
	// The attacker's late code for the number changes nothing.
	e.verifyFails(attacker, "000001", "BAD_USER_INPUT", "WRONG_CODE")
	if s := e.suggestionOf(target, attacker); s.IsSuggestedFriend {
		t.Fatal("the attacker became suggested")
	}
}

// Five wrong codes kill the code, the right one included; parallel guesses
// are counted one by one. A new code works.
func TestSec02FiveWrongCodesKillTheCode(t *testing.T) {
	e := newEnv(t)
	u, friend := e.register("user"), e.register("friend")
	const number = "+33612340002"
	e.syncContacts(friend, "", number)
	code := e.requestCode(u, number, "")
	for i := range 4 {
		e.verifyFails(u, wrongCode(code, i), "BAD_USER_INPUT", "WRONG_CODE")
	}
	e.verifyFails(u, wrongCode(code, 4), "FORBIDDEN", "TOO_MANY_ATTEMPTS")
	e.verifyFails(u, code, "FORBIDDEN", "TOO_MANY_ATTEMPTS")
	if s := e.suggestionOf(friend, u); s.IsSuggestedFriend {
		t.Fatal("a dead code verified the number")
	}

	// Twenty wrong guesses at once: four WRONG_CODE, then the code is dead.
	code = e.requestCode(u, number, "")
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do(u.Token, verifyPhoneMutation, map[string]any{"c": wrongCode(code, 100+i)})
			mu.Lock()
			answers[res.code()+"/"+res.reason()]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if answers["BAD_USER_INPUT/WRONG_CODE"] != 4 || answers["FORBIDDEN/TOO_MANY_ATTEMPTS"] != 16 {
		t.Fatalf("20 parallel wrong codes answered %v, want 4 WRONG_CODE and 16 TOO_MANY_ATTEMPTS", answers)
	}
	e.verifyFails(u, code, "FORBIDDEN", "TOO_MANY_ATTEMPTS")

	e.verifyPhone(u, e.requestCode(u, number, ""))
	if s := e.suggestionOf(friend, u); !s.IsSuggestedFriend {
		t.Fatal("a fresh code did not verify the number")
	}
	// A code works once.
	e.verifyFails(u, code, "BAD_USER_INPUT", "NO_CODE")
}

// A code works for 10 minutes.
func TestSec02CodeExpires(t *testing.T) {
	e := newEnv(t)
	u := e.register("user")
	var out struct{ SetPhoneNumber struct{ ExpiresAt time.Time } }
	before := time.Now()
	e.must(u.Token, setPhoneMutation, map[string]any{"n": "+33612340003"}, &out)
	if exp := out.SetPhoneNumber.ExpiresAt; exp.Before(before.Add(10*time.Minute-time.Second)) || exp.After(time.Now().Add(10*time.Minute+time.Second)) {
		t.Fatalf("expiresAt %v, want 10 minutes from %v", exp, before)
	}
	code := phoneCodeRE.FindString(e.sms.last("+33612340003"))
	e.clock.advance(10 * time.Minute)
	e.verifyFails(u, code, "BAD_USER_INPUT", "CODE_EXPIRED")
	var me struct{ Me struct{ ID string } }
	e.must(u.Token, `{ me { id } }`, nil, &me)
	if n := phoneHolders(t, e); n != 0 {
		t.Fatalf("%d users hold a number after an expired code", n)
	}
}

// phoneHolders counts users with a (verified) number.
func phoneHolders(t *testing.T, e *env) int {
	t.Helper()
	db, err := e.store.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM users WHERE phone_hash IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A number verified on a second account moves there and leaves the first,
// with no conflict.
func TestSec02NumberMovesToTheSecondAccount(t *testing.T) {
	e := newEnv(t)
	first, second, friend := e.register("first"), e.register("second"), e.register("friend")
	const number = "+33612340004"
	e.syncContacts(friend, "", number)
	e.setPhone(first, number, "")
	if s := e.suggestionOf(friend, first); !s.IsSuggestedFriend {
		t.Fatal("the first account is not suggested")
	}
	e.setPhone(second, "06 12 34 00 04", "FR")
	if s := e.suggestionOf(friend, second); !s.IsSuggestedFriend {
		t.Fatal("the number did not move to the second account")
	}
	if s := e.suggestionOf(friend, first); s.IsSuggestedFriend {
		t.Fatal("the number stayed on the first account")
	}
	if n := phoneHolders(t, e); n != 1 {
		t.Fatalf("%d users hold the number, want 1", n)
	}
	if got := e.syncContacts(friend, "", number); got.MatchedCount != 1 {
		t.Fatalf("matched %d, want 1", got.MatchedCount)
	}
}

// setPhoneNumber answers the same for a free number, someone else's and
// the caller's own.
func TestSec02SetPhoneNumberAnswersAlike(t *testing.T) {
	e := newEnv(t)
	caller, other := e.register("caller"), e.register("other")
	e.setPhone(caller, "+33612340005", "")
	e.setPhone(other, "+33612340006", "")
	var shapes []string
	for _, number := range []string{"+33612340007", "+33612340006", "+33612340005"} {
		res := e.do(caller.Token, setPhoneMutation, map[string]any{"n": number})
		var data struct{ SetPhoneNumber map[string]any }
		if err := json.Unmarshal(res.Data, &data); err != nil || len(res.Errors) > 0 {
			t.Fatalf("%s: %s %+v", number, res.Data, res.Errors)
		}
		if _, ok := data.SetPhoneNumber["expiresAt"].(string); !ok {
			t.Fatalf("%s: no expiresAt in %s", number, res.Data)
		}
		data.SetPhoneNumber["expiresAt"] = "T"
		b, _ := json.Marshal(data)
		shapes = append(shapes, fmt.Sprintf("%d %s", res.Status, b))
		if phoneCodeRE.FindString(e.sms.last(number)) == "" {
			t.Fatalf("%s: no code was texted", number)
		}
	}
	if shapes[0] != shapes[1] || shapes[1] != shapes[2] {
		t.Fatalf("answers differ: %q", shapes)
	}
}

// Codes sent are limited per user and per number.
func TestSec02SendLimits(t *testing.T) {
	limits := &dm.Limits{Limiter: ratelimit.NewMemory(),
		SMSUser: ratelimit.Limit{Count: 3, Period: 24 * time.Hour}, SMSNumber: ratelimit.Limit{Count: 2, Period: 24 * time.Hour}}
	e := newEnv(t, withLimits(limits))
	a, b := e.register("a"), e.register("b")
	e.requestCode(a, "+33612340011", "")
	e.requestCode(a, "+33612340011", "")
	res := e.fail(a.Token, setPhoneMutation, map[string]any{"n": "+33612340011"}, "RATE_LIMITED", "SMS_LIMIT")
	checkRetryAfter(t, res)
	e.requestCode(a, "+33612340012", "") // a's third code
	res = e.fail(a.Token, setPhoneMutation, map[string]any{"n": "+33612340013"}, "RATE_LIMITED", "SMS_LIMIT")
	checkRetryAfter(t, res)
	// The number's limit holds for everyone.
	e.fail(b.Token, setPhoneMutation, map[string]any{"n": "+33612340011"}, "RATE_LIMITED", "SMS_LIMIT")
	e.requestCode(b, "+33612340013", "")
	if n := len(e.sms.sent["+33612340011"]); n != 2 {
		t.Fatalf("%d codes texted to one number, want 2", n)
	}
}

// A code waiting to be typed back stores neither the number nor the code.
func TestSec02PendingCodeStoresNoPlainText(t *testing.T) {
	e := newEnv(t)
	u := e.register("user")
	code := e.requestCode(u, "+33 6 12 34 00 21", "")
	for _, s := range []string{"612340021", code} {
		if where := e.store.FindText(t.Context(), s); where != "" {
			t.Errorf("%q is stored in plain text in %s", s, where)
		}
	}
}
