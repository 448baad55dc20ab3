package models

import (
	"errors"
	"fmt"
	"testing"
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
