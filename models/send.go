package models

import (
	"math"
	"time"
)

// This file is what a send writes, decided once for both databases: the
// store reads the facts (SendFacts) in one statement, PlanSend turns them
// into a SendPlan, and each dialect only executes the plan.

// SendFacts is what the store's facts statement tells about a sender, a
// recipient and their conversation. The tags are the statement's column
// names: rows are read by name, never by position (GORM maps the fields to
// the same snake_case names).
type SendFacts struct {
	// Duplicate: the sender already sent a message with this ClientMessageID.
	Duplicate              bool                `db:"duplicate"`
	SenderPolicy           DirectMessagePolicy `db:"sender_policy"`
	RecipientPolicy        DirectMessagePolicy `db:"recipient_policy"`
	Blocked                bool                `db:"blocked"`
	RecipientFollowsSender bool                `db:"recipient_follows_sender"`
	SenderFollowsRecipient bool                `db:"sender_follows_recipient"`
	// RecipientStatus is the recipient's member status, "" when not a member
	// or uninvited by their own block.
	RecipientStatus ConversationStatus `db:"recipient_status"`
	// RequestMessages is PolicyInput.RequestMessages.
	RequestMessages int `db:"request_messages"`
	// RequestID is the recipient's open request in the conversation, or 0.
	RequestID          int64     `db:"request_id"`
	Suggested          bool      `db:"suggested"`
	SenderBirthDate    time.Time `db:"sender_birth_date"`
	RecipientBirthDate time.Time `db:"recipient_birth_date"`
	// CapOldestAt is set when the sender has opened SendParams.RequestCap's
	// Count new requests within its Period: when the oldest of those was
	// opened. A request is new when it starts a contact (RequestMessages
	// was 0), not when it follows one its recipient removed.
	CapOldestAt *time.Time `db:"cap_oldest_at"`
	// CapUsed is how many of those new requests the window holds, up to
	// the cap's Count.
	CapUsed int `db:"cap_used"`
	// SenderPrev and RecipientPrev are the newest message IDs of all their
	// conversations (SendPrev); exact when read under their locks.
	SenderPrev    int64 `db:"sender_prev"`
	RecipientPrev int64 `db:"recipient_prev"`
}

// RequestCap bounds the new message requests a sender opens: at most Count
// in any Period. A zero Count is no cap.
type RequestCap struct {
	Count  int
	Period time.Duration
}

// RequestOp is what a send does to the recipient's request.
type RequestOp string

const (
	// RequestAccept accepts whatever request was open (an INBOX delivery).
	RequestAccept RequestOp = "accept"
	// RequestExtend adds the message to the open request, SendPlan.RequestID.
	RequestExtend RequestOp = "extend"
	// RequestOpenOne opens a request with this message.
	RequestOpenOne RequestOp = "open"
)

// SendPlan is a send that goes ahead: where the message lands and what it
// writes besides the message.
type SendPlan struct {
	Delivery        Delivery
	SenderStatus    ConversationStatus
	RecipientStatus ConversationStatus
	Request         RequestOp
	// RequestID is the request extended (RequestExtend).
	RequestID int64
	// NewRequest: the request opened is a new one, counted by the cap.
	NewRequest bool
}

// Input is the rules' view of the facts for p, on the day of now.
func (f SendFacts) Input(p SendParams, now time.Time) PolicyInput {
	return PolicyInput{
		SenderID:               p.SenderID,
		RecipientID:            p.RecipientID,
		Blocked:                f.Blocked,
		SenderPolicy:           f.SenderPolicy,
		RecipientPolicy:        f.RecipientPolicy,
		RecipientFollowsSender: f.RecipientFollowsSender,
		SenderFollowsRecipient: f.SenderFollowsRecipient,
		RecipientAccepted:      f.RecipientStatus == StatusActive || f.RecipientStatus == StatusPending,
		RequestMessages:        f.RequestMessages,
		HasText:                p.Text != nil,
		SuggestedToRecipient:   f.Suggested,
		SenderAge:              AgeBandOf(f.SenderBirthDate, now),
		RecipientAge:           AgeBandOf(f.RecipientBirthDate, now),
	}
}

// PlanSend decides a send from its facts at time now: the plan, or why it
// doesn't go ahead (ErrDuplicate for a repeated ClientMessageID, or a
// refusal as an *Error). A message that would open a new request past
// p.RequestCap is refused with RATE_LIMITED and the wait until the oldest
// counted request leaves the window.
func PlanSend(f SendFacts, p SendParams, now time.Time) (SendPlan, error) {
	if f.Duplicate {
		return SendPlan{}, ErrDuplicate
	}
	d, err := Decide(f.Input(p, now))
	if err != nil {
		return SendPlan{}, err
	}
	if d == DeliveryInbox {
		return SendPlan{Delivery: d, SenderStatus: StatusActive, RecipientStatus: StatusActive,
			Request: RequestAccept}, nil
	}
	plan := SendPlan{Delivery: d, SenderStatus: StatusPending, RecipientStatus: StatusRequest, Request: RequestOpenOne}
	switch {
	case f.RequestID != 0:
		plan.Request, plan.RequestID = RequestExtend, f.RequestID
	case f.RequestMessages == 0:
		if f.CapOldestAt != nil && p.RequestCap.Count > 0 {
			wait := max(f.CapOldestAt.Add(p.RequestCap.Period).Sub(now), time.Millisecond)
			return SendPlan{}, RateLimited(ReasonNewRequestLimit, "you have opened too many message requests today",
				time.Duration(math.Ceil(wait.Seconds()))*time.Second)
		}
		plan.NewRequest = true
	}
	return plan, nil
}
