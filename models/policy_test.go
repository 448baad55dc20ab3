package models

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// relation is how sender S and recipient R relate, from R's side.
type relation struct {
	name                 string
	sFollowsR, rFollowsS bool
	suggestedToRecipient bool
}

var relations = []relation{
	{name: "strangers"},
	{name: "S follows R", sFollowsR: true},
	{name: "R follows S", rFollowsS: true},
	{name: "mutual", sFollowsR: true, rFollowsS: true},
	{name: "suggested", suggestedToRecipient: true},
	{name: "suggested and R follows S", rFollowsS: true, suggestedToRecipient: true},
}

const (
	inbox   = "INBOX"
	request = "REQUEST"
	// The refusals as code/reason, so every row checks both.
	self          = "BAD_USER_INPUT/SELF"
	ageRestricted = "FORBIDDEN/AGE_RESTRICTED"
	senderNoOne   = "FORBIDDEN/SENDER_ALLOWS_NO_ONE"
	blocked       = "FORBIDDEN/BLOCKED"
	noOne         = "FORBIDDEN/RECIPIENT_ALLOWS_NO_ONE"
	friendsOnly   = "FORBIDDEN/FRIENDS_ONLY"
	suggestedOnly = "FORBIDDEN/FRIENDS_AND_SUGGESTED_ONLY"
	requestLimit  = "FORBIDDEN/REQUEST_LIMIT"
	textRequired  = "BAD_USER_INPUT/TEXT_REQUIRED"
)

// want[relation][policy] is the outcome of a first text message S→R between
// adults who allow messages, with no block: a delivery, or the refusal.
var want = map[string]map[DirectMessagePolicy]string{
	"strangers": {PolicyEveryone: request, PolicySuggestedFriends: suggestedOnly,
		PolicyFriends: friendsOnly, PolicyNoOne: noOne},
	"S follows R": {PolicyEveryone: request, PolicySuggestedFriends: suggestedOnly,
		PolicyFriends: friendsOnly, PolicyNoOne: noOne},
	"R follows S": {PolicyEveryone: inbox, PolicySuggestedFriends: suggestedOnly,
		PolicyFriends: friendsOnly, PolicyNoOne: noOne},
	"mutual": {PolicyEveryone: inbox, PolicySuggestedFriends: inbox,
		PolicyFriends: inbox, PolicyNoOne: noOne},
	"suggested": {PolicyEveryone: request, PolicySuggestedFriends: request,
		PolicyFriends: friendsOnly, PolicyNoOne: noOne},
	"suggested and R follows S": {PolicyEveryone: inbox, PolicySuggestedFriends: inbox,
		PolicyFriends: friendsOnly, PolicyNoOne: noOne},
}

// outcome is a delivery, or a refusal as code/reason.
func outcome(d Delivery, err error) string {
	var e *Error
	switch {
	case err == nil:
		return string(d)
	case errors.As(err, &e):
		return string(e.Code) + "/" + e.Reason
	default:
		return "unexpected error: " + err.Error()
	}
}

func input(rel relation, p DirectMessagePolicy) PolicyInput {
	return PolicyInput{SenderID: 1, RecipientID: 2, RecipientPolicy: p, SenderPolicy: PolicyEveryone, HasText: true,
		SenderFollowsRecipient: rel.sFollowsR, RecipientFollowsSender: rel.rFollowsS,
		SuggestedToRecipient: rel.suggestedToRecipient}
}

var bands = map[string]AgeBand{"13-15": Teen13, "16-17": Teen16, "18+": Adult}

// TestDecideMatrix runs every relation × recipient setting × sender setting
// × block × sender age × recipient age. The expected outcome is spelled out
// by precedence, so rows where several rules apply pin their order: a
// 13–15 sender is refused for age before their setting or a block counts, a
// NO_ONE sender before a block, a block before anything about the
// recipient, and a 13–15 recipient exactly as NO_ONE.
func TestDecideMatrix(t *testing.T) {
	for _, rel := range relations {
		for _, p := range policies {
			for _, sp := range []DirectMessagePolicy{PolicyEveryone, PolicyNoOne} {
				for _, isBlocked := range []bool{false, true} {
					for _, sa := range []string{"18+", "16-17", "13-15"} {
						for _, ra := range []string{"18+", "16-17", "13-15"} {
							name := fmt.Sprintf("%s/R=%s/S=%s/blocked=%v/%s→%s", rel.name, p, sp, isBlocked, sa, ra)
							t.Run(name, func(t *testing.T) {
								in := input(rel, p)
								in.SenderPolicy, in.Blocked = sp, isBlocked
								in.SenderAge, in.RecipientAge = bands[sa], bands[ra]
								expected := matrixWant(rel, p, sp, isBlocked, sa, ra)
								if got := outcome(Decide(in)); got != expected {
									t.Errorf("got %s, want %s", got, expected)
								}
							})
						}
					}
				}
			}
		}
	}
}

func matrixWant(rel relation, p, sp DirectMessagePolicy, isBlocked bool, sa, ra string) string {
	switch {
	case sa == "13-15":
		return ageRestricted
	case sp == PolicyNoOne:
		return senderNoOne
	case isBlocked:
		return blocked
	case ra == "13-15":
		return noOne
	case ra == "16-17" && p == PolicyEveryone:
		return want[rel.name][PolicySuggestedFriends]
	}
	return want[rel.name][p]
}

// A conversation R has written in or accepted skips rules 4 and 5, but not
// blocks, NO_ONE or the age rules.
func TestDecideAcceptedConversation(t *testing.T) {
	for _, rel := range relations {
		for _, p := range policies {
			in := input(rel, p)
			in.RecipientAccepted = true
			expected := inbox
			if p == PolicyNoOne {
				expected = noOne
			}
			if got := outcome(Decide(in)); got != expected {
				t.Errorf("%s/%s: got %s, want %s", rel.name, p, got, expected)
			}
			in.RecipientAge = Teen13
			if got := outcome(Decide(in)); got != noOne {
				t.Errorf("%s/%s 13-15 recipient: got %s, want %s", rel.name, p, got, noOne)
			}
			in.Blocked = true
			if got := outcome(Decide(in)); got != blocked {
				t.Errorf("%s/%s blocked: got %s, want %s", rel.name, p, got, blocked)
			}
			in.SenderPolicy = PolicyNoOne
			if got := outcome(Decide(in)); got != senderNoOne {
				t.Errorf("%s/%s NO_ONE sender: got %s, want %s", rel.name, p, got, senderNoOne)
			}
		}
	}
}

// TestDecideOrder pins each pair of neighbouring rules with a case where
// both apply.
func TestDecideOrder(t *testing.T) {
	base := PolicyInput{SenderID: 1, RecipientID: 2, SenderPolicy: PolicyEveryone, RecipientPolicy: PolicyEveryone, HasText: true}
	tests := []struct {
		name string
		edit func(*PolicyInput)
		want string
	}{
		{"self before a 13-15 sender", func(in *PolicyInput) { in.RecipientID, in.SenderAge = 1, Teen13 }, self},
		{"self before a NO_ONE sender", func(in *PolicyInput) { in.RecipientID, in.SenderPolicy = 1, PolicyNoOne }, self},
		{"self before a block", func(in *PolicyInput) { in.RecipientID, in.Blocked = 1, true }, self},
		{"13-15 sender before their setting", func(in *PolicyInput) { in.SenderAge, in.SenderPolicy = Teen13, PolicyNoOne }, ageRestricted},
		{"13-15 sender before a block", func(in *PolicyInput) { in.SenderAge, in.Blocked = Teen13, true }, ageRestricted},
		{"NO_ONE sender before a block", func(in *PolicyInput) { in.SenderPolicy, in.Blocked = PolicyNoOne, true }, senderNoOne},
		{"16-17 sender on their default NO_ONE", func(in *PolicyInput) { in.SenderAge, in.SenderPolicy = Teen16, PolicyNoOne }, senderNoOne},
		{"16-17 sender on FRIENDS may send", func(in *PolicyInput) { in.SenderAge, in.SenderPolicy = Teen16, PolicyFriends }, request},
		{"block before a 13-15 recipient", func(in *PolicyInput) { in.Blocked, in.RecipientAge = true, Teen13 }, blocked},
		{"block before NO_ONE", func(in *PolicyInput) { in.Blocked, in.RecipientPolicy = true, PolicyNoOne }, blocked},
		{"NO_ONE before an accepted conversation", func(in *PolicyInput) { in.RecipientPolicy, in.RecipientAccepted = PolicyNoOne, true }, noOne},
		{"accepted conversation before FRIENDS", func(in *PolicyInput) { in.RecipientPolicy, in.RecipientAccepted = PolicyFriends, true }, inbox},
		{"FRIENDS before the request limit", func(in *PolicyInput) { in.RecipientPolicy, in.RequestMessages = PolicyFriends, 3 }, friendsOnly},
		{"following before the request limit", func(in *PolicyInput) { in.RecipientFollowsSender, in.RequestMessages = true, 3 }, inbox},
		{"request limit before text required", func(in *PolicyInput) { in.RequestMessages, in.HasText = 3, false }, requestLimit},
		{"fourth request message", func(in *PolicyInput) { in.RequestMessages = 3 }, requestLimit},
		{"third request message", func(in *PolicyInput) { in.RequestMessages = 2 }, request},
		{"video alone opens no request", func(in *PolicyInput) { in.HasText = false }, textRequired},
		{"a video inside a request", func(in *PolicyInput) { in.RequestMessages, in.HasText = 1, false }, request},
		{"a video to someone following", func(in *PolicyInput) { in.RecipientFollowsSender, in.HasText = true, false }, inbox},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			tt.edit(&in)
			if got := outcome(Decide(in)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// To anyone else, a 13–15-year-old's refusal is NO_ONE's, word for word;
// only the minor is told AGE_RESTRICTED about their own sending.
func TestDecideMinorLooksLikeNoOne(t *testing.T) {
	for _, sa := range []AgeBand{Adult, Teen16} {
		for _, rel := range relations {
			for _, p := range policies {
				minor := input(rel, p)
				minor.SenderAge, minor.RecipientAge = sa, Teen13
				closed := input(rel, PolicyNoOne)
				closed.SenderAge = sa
				_, got := Decide(minor)
				_, wantErr := Decide(closed)
				if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", wantErr) {
					t.Errorf("%v→13-15 %s/%s: %#v, want NO_ONE's %#v", sa, rel.name, p, got, wantErr)
				}
			}
		}
	}
	in := input(relations[3], PolicyEveryone)
	in.SenderAge = Teen13
	_, err := Decide(in)
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonAgeRestricted || e.Message != "direct messages are off for accounts under 16" {
		t.Errorf("13-15 sender: %v", err)
	}
}

func TestAgeBands(t *testing.T) {
	today := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		birth string
		want  AgeBand
	}{
		{"2013-11-25", Teen13}, // 13 today
		{"2010-11-26", Teen13}, // 16 tomorrow
		{"2010-11-25", Teen16}, // 16 today
		{"2008-11-26", Teen16}, // 18 tomorrow
		{"2008-11-25", Adult},  // 18 today
		{"1990-01-01", Adult},
	}
	for _, tt := range tests {
		b, _ := time.Parse("2006-01-02", tt.birth)
		if got := AgeBandOf(b, today); got != tt.want {
			t.Errorf("born %s: band %d, want %d", tt.birth, got, tt.want)
		}
	}
	if err := CheckPolicyChoice(Teen13, PolicyFriends); CodeOf(err) != CodeForbidden {
		t.Errorf("13-15 choosing FRIENDS: %v", err)
	}
	if err := CheckPolicyChoice(Teen16, PolicyEveryone); CodeOf(err) != CodeForbidden {
		t.Errorf("16-17 choosing EVERYONE: %v", err)
	}
	if err := CheckPolicyChoice(Teen16, PolicySuggestedFriends); err != nil {
		t.Errorf("16-17 choosing SUGGESTED_FRIENDS: %v", err)
	}
}
