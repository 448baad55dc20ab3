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
)

// want[relation][policy] is the outcome of a first text message S→R:
// a delivery, or the refusal reason.
var want = map[string]map[DirectMessagePolicy]string{
	"strangers": {PolicyEveryone: request, PolicySuggestedFriends: ReasonFriendsAndSuggestedOnly,
		PolicyFriends: ReasonFriendsOnly, PolicyNoOne: ReasonRecipientAllowsNoOne},
	"S follows R": {PolicyEveryone: request, PolicySuggestedFriends: ReasonFriendsAndSuggestedOnly,
		PolicyFriends: ReasonFriendsOnly, PolicyNoOne: ReasonRecipientAllowsNoOne},
	"R follows S": {PolicyEveryone: inbox, PolicySuggestedFriends: ReasonFriendsAndSuggestedOnly,
		PolicyFriends: ReasonFriendsOnly, PolicyNoOne: ReasonRecipientAllowsNoOne},
	"mutual": {PolicyEveryone: inbox, PolicySuggestedFriends: inbox,
		PolicyFriends: inbox, PolicyNoOne: ReasonRecipientAllowsNoOne},
	"suggested": {PolicyEveryone: request, PolicySuggestedFriends: request,
		PolicyFriends: ReasonFriendsOnly, PolicyNoOne: ReasonRecipientAllowsNoOne},
	"suggested and R follows S": {PolicyEveryone: inbox, PolicySuggestedFriends: inbox,
		PolicyFriends: ReasonFriendsOnly, PolicyNoOne: ReasonRecipientAllowsNoOne},
}

func outcome(d Delivery, err error) string {
	var e *Error
	switch {
	case err == nil:
		return string(d)
	case errors.As(err, &e):
		return e.Reason
	default:
		return "unexpected error: " + err.Error()
	}
}

func input(rel relation, p DirectMessagePolicy) PolicyInput {
	return PolicyInput{SenderID: 1, RecipientID: 2, RecipientPolicy: p, HasText: true,
		SenderFollowsRecipient: rel.sFollowsR, RecipientFollowsSender: rel.rFollowsS,
		SuggestedToRecipient: rel.suggestedToRecipient}
}

func TestDecideMatrix(t *testing.T) {
	for _, rel := range relations {
		for _, p := range policies {
			for _, blocked := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/blocked=%v", rel.name, p, blocked), func(t *testing.T) {
					in := input(rel, p)
					in.Blocked = blocked
					expected := want[rel.name][p]
					if blocked {
						expected = ReasonBlocked // blocks always win
					}
					if got := outcome(Decide(in)); got != expected {
						t.Errorf("got %s, want %s", got, expected)
					}
				})
			}
		}
	}
}

// A conversation R has written in or accepted skips rules 4 and 5, but not
// blocks or NO_ONE.
func TestDecideAcceptedConversation(t *testing.T) {
	for _, rel := range relations {
		for _, p := range policies {
			in := input(rel, p)
			in.RecipientAccepted = true
			expected := inbox
			if p == PolicyNoOne {
				expected = ReasonRecipientAllowsNoOne
			}
			if got := outcome(Decide(in)); got != expected {
				t.Errorf("%s/%s: got %s, want %s", rel.name, p, got, expected)
			}
			in.Blocked = true
			if got := outcome(Decide(in)); got != ReasonBlocked {
				t.Errorf("%s/%s blocked: got %s, want BLOCKED", rel.name, p, got)
			}
		}
	}
}

func TestDecideCodes(t *testing.T) {
	tests := []struct {
		name   string
		in     PolicyInput
		code   Code
		reason string
	}{
		{"self", PolicyInput{SenderID: 1, RecipientID: 1, RecipientPolicy: PolicyEveryone, HasText: true},
			CodeBadUserInput, ReasonSelf},
		{"self even when blocked", PolicyInput{SenderID: 1, RecipientID: 1, Blocked: true, HasText: true},
			CodeBadUserInput, ReasonSelf},
		{"blocked", PolicyInput{SenderID: 1, RecipientID: 2, Blocked: true, RecipientPolicy: PolicyEveryone, HasText: true},
			CodeForbidden, ReasonBlocked},
		{"no one", PolicyInput{SenderID: 1, RecipientID: 2, RecipientPolicy: PolicyNoOne, HasText: true},
			CodeForbidden, ReasonRecipientAllowsNoOne},
		{"fourth request message", PolicyInput{SenderID: 1, RecipientID: 2, RecipientPolicy: PolicyEveryone,
			RequestMessages: 3, HasText: true}, CodeRateLimited, ReasonRequestLimit},
		{"video alone opens no request", PolicyInput{SenderID: 1, RecipientID: 2, RecipientPolicy: PolicyEveryone},
			CodeBadUserInput, ReasonTextRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decide(tt.in)
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Reason != tt.reason {
				t.Fatalf("got %v, want %s/%s", err, tt.code, tt.reason)
			}
		})
	}
}

func TestDecideRequestFollowUps(t *testing.T) {
	in := PolicyInput{SenderID: 1, RecipientID: 2, RecipientPolicy: PolicyEveryone, RequestMessages: 1}
	if got := outcome(Decide(in)); got != request {
		t.Errorf("a video inside an open request: got %s, want REQUEST", got)
	}
	in.RequestMessages = 2
	in.HasText = true
	if got := outcome(Decide(in)); got != request {
		t.Errorf("third request message: got %s, want REQUEST", got)
	}
	// The recipient following the sender moves the conversation to the inbox,
	// whatever the request count.
	in.RequestMessages, in.RecipientFollowsSender = 3, true
	if got := outcome(Decide(in)); got != inbox {
		t.Errorf("after R follows S: got %s, want INBOX", got)
	}
}

func TestDecideAgeRules(t *testing.T) {
	bands := map[string]AgeBand{"13-15": Teen13, "16-17": Teen16, "18+": Adult}
	tests := []struct {
		sender, recipient string
		policy            DirectMessagePolicy
		rel               relation
		want              string
	}{
		// 13–15: nobody can message them, they can't send.
		{"18+", "13-15", PolicyEveryone, relations[3], ReasonAgeRestricted},
		{"16-17", "13-15", PolicyEveryone, relations[3], ReasonAgeRestricted},
		{"13-15", "18+", PolicyEveryone, relations[3], ReasonAgeRestricted},
		{"13-15", "13-15", PolicyEveryone, relations[3], ReasonAgeRestricted},
		// 16–17: friends and suggested friends only, even if EVERYONE is stored.
		{"18+", "16-17", PolicyEveryone, relations[0], ReasonFriendsAndSuggestedOnly},
		{"18+", "16-17", PolicyEveryone, relations[4], request},
		{"18+", "16-17", PolicyEveryone, relations[3], inbox},
		{"18+", "16-17", PolicySuggestedFriends, relations[5], inbox},
		{"18+", "16-17", PolicyFriends, relations[4], ReasonFriendsOnly},
		{"18+", "16-17", PolicyNoOne, relations[3], ReasonRecipientAllowsNoOne},
		{"16-17", "18+", PolicyEveryone, relations[0], request}, // they may send
		// 18+: the core rules.
		{"18+", "18+", PolicyEveryone, relations[0], request},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s→%s/%s/%s", tt.sender, tt.recipient, tt.policy, tt.rel.name)
		t.Run(name, func(t *testing.T) {
			in := input(tt.rel, tt.policy)
			in.SenderAge, in.RecipientAge = bands[tt.sender], bands[tt.recipient]
			if got := outcome(Decide(in)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	// Blocks still win over age, so the reason never hints at a blocker's age.
	in := input(relations[3], PolicyEveryone)
	in.Blocked, in.RecipientAge = true, Teen13
	if got := outcome(Decide(in)); got != ReasonBlocked {
		t.Errorf("blocked 13-15 recipient: got %s, want BLOCKED", got)
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
