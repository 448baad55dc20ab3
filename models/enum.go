package models

import (
	"io"
	"slices"
	"strconv"
	"time"
)

// The enums below implement gqlgen's Marshaler and Unmarshaler interfaces
// structurally, so this package never imports gqlgen.

// DirectMessagePolicy is a user's answer to "who can send me direct messages".
type DirectMessagePolicy string

const (
	PolicyEveryone         DirectMessagePolicy = "EVERYONE"
	PolicySuggestedFriends DirectMessagePolicy = "SUGGESTED_FRIENDS"
	PolicyFriends          DirectMessagePolicy = "FRIENDS"
	PolicyNoOne            DirectMessagePolicy = "NO_ONE"
)

var policies = []DirectMessagePolicy{PolicyEveryone, PolicySuggestedFriends, PolicyFriends, PolicyNoOne}

func (p DirectMessagePolicy) MarshalGQL(w io.Writer)    { writeQuoted(w, string(p)) }
func (p *DirectMessagePolicy) UnmarshalGQL(v any) error { return unmarshalEnum(v, p, policies) }

// Delivery is where a message lands for its recipient.
type Delivery string

const (
	DeliveryInbox   Delivery = "INBOX"
	DeliveryRequest Delivery = "REQUEST"
)

var deliveries = []Delivery{DeliveryInbox, DeliveryRequest}

func (d Delivery) MarshalGQL(w io.Writer)    { writeQuoted(w, string(d)) }
func (d *Delivery) UnmarshalGQL(v any) error { return unmarshalEnum(v, d, deliveries) }

// VideoVisibility is who may watch a video.
type VideoVisibility string

const (
	VisibilityPublic  VideoVisibility = "PUBLIC"
	VisibilityFriends VideoVisibility = "FRIENDS"
	VisibilityPrivate VideoVisibility = "PRIVATE"
)

var visibilities = []VideoVisibility{VisibilityPublic, VisibilityFriends, VisibilityPrivate}

func (v VideoVisibility) MarshalGQL(w io.Writer)    { writeQuoted(w, string(v)) }
func (v *VideoVisibility) UnmarshalGQL(x any) error { return unmarshalEnum(x, v, visibilities) }

// ReportReason is why a message request was reported.
type ReportReason string

var reportReasons = []ReportReason{"SPAM", "HARASSMENT", "HATE", "NUDITY", "SCAM", "OTHER"}

func (r ReportReason) MarshalGQL(w io.Writer)    { writeQuoted(w, string(r)) }
func (r *ReportReason) UnmarshalGQL(v any) error { return unmarshalEnum(v, r, reportReasons) }

// SuggestionReason says why a user is suggested as a friend.
type SuggestionReason string

const (
	SuggestedByContacts SuggestionReason = "CONTACTS"
	SuggestedByFacebook SuggestionReason = "FACEBOOK"
)

var suggestionReasons = []SuggestionReason{SuggestedByContacts, SuggestedByFacebook}

func (r SuggestionReason) MarshalGQL(w io.Writer)    { writeQuoted(w, string(r)) }
func (r *SuggestionReason) UnmarshalGQL(v any) error { return unmarshalEnum(v, r, suggestionReasons) }

// ConversationStatus is a member's state in a conversation. The API shows
// ACTIVE, PENDING and REQUEST; a DELETED member no longer sees it.
type ConversationStatus string

const (
	StatusActive  ConversationStatus = "ACTIVE"
	StatusPending ConversationStatus = "PENDING"
	StatusRequest ConversationStatus = "REQUEST"
	StatusDeleted ConversationStatus = "DELETED"
	// StatusLeft: a former group member, who left or was removed.
	StatusLeft ConversationStatus = "LEFT"
)

var statuses = []ConversationStatus{StatusActive, StatusPending, StatusRequest}

func (s ConversationStatus) MarshalGQL(w io.Writer)    { writeQuoted(w, string(s)) }
func (s *ConversationStatus) UnmarshalGQL(v any) error { return unmarshalEnum(v, s, statuses) }

func writeQuoted(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

func unmarshalEnum[T ~string](v any, dst *T, valid []T) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(valid, T(s)) {
		return Invalid("%v is not one of %v", v, valid)
	}
	*dst = T(s)
	return nil
}

// Date is a calendar date, carried as midnight UTC.
type Date struct{ time.Time }

const dateLayout = "2006-01-02"

func (d Date) MarshalGQL(w io.Writer) { writeQuoted(w, d.Format(dateLayout)) }

func (d *Date) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return Invalid("a date must be a string like 2008-04-30")
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Invalid("%q is not a date like 2008-04-30", s)
	}
	d.Time = t
	return nil
}

func (d Date) String() string { return d.Format(dateLayout) }
