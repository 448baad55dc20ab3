package models

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Code classifies an error for API clients. The GraphQL edge copies it into
// extensions.code; anything without a code is masked as INTERNAL.
type Code string

const (
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeBadUserInput    Code = "BAD_USER_INPUT"
	CodeConflict        Code = "CONFLICT"
	CodeRateLimited     Code = "RATE_LIMITED"
	CodeUnavailable     Code = "UNAVAILABLE"
	CodeInternal        Code = "INTERNAL"
)

// Refusal reasons, sent as extensions.reason.
const (
	ReasonSelf                    = "SELF"
	ReasonBlocked                 = "BLOCKED"
	ReasonRecipientAllowsNoOne    = "RECIPIENT_ALLOWS_NO_ONE"
	ReasonSenderAllowsNoOne       = "SENDER_ALLOWS_NO_ONE"
	ReasonFriendsOnly             = "FRIENDS_ONLY"
	ReasonFriendsAndSuggestedOnly = "FRIENDS_AND_SUGGESTED_ONLY"
	ReasonRequestLimit            = "REQUEST_LIMIT"
	ReasonTextRequired            = "TEXT_REQUIRED"
	ReasonNotOwner                = "NOT_OWNER"
	ReasonTooManyAttempts         = "TOO_MANY_ATTEMPTS"
	ReasonNewRequestLimit         = "NEW_REQUEST_LIMIT"
	ReasonNotFriends              = "NOT_FRIENDS"
	ReasonRecipientSetting        = "RECIPIENT_SETTING"
	ReasonGroupFull               = "GROUP_FULL"
	ReasonNotAdmin                = "NOT_ADMIN"
	ReasonNotMember               = "NOT_MEMBER"
	ReasonGroupLimit              = "GROUP_LIMIT"
	// ReasonClientIDReused: a clientMessageId already used for another
	// message (another recipient, conversation or content).
	ReasonClientIDReused = "CLIENT_MESSAGE_ID_REUSED"
	// ReasonTooManySubscriptions refuses a subscription over the limit of
	// one websocket; the socket's others run on.
	ReasonTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
	// ReasonIntrospectionDisabled refuses __schema and __type on a server
	// with introspection turned off.
	ReasonIntrospectionDisabled = "INTROSPECTION_DISABLED"
)

// RateLimited says to slow down, and for how long.
func RateLimited(reason, message string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Reason: reason, Message: message, RetryAfter: retryAfter}
}

// Error is an error that is safe to show to the client: Message is written
// for a person, Code and Reason for a program.
type Error struct {
	Code    Code
	Reason  string
	Message string
	// RetryAfter, for RATE_LIMITED, is how long to wait before trying
	// again (Extensions makes it a second when it is less).
	RetryAfter time.Duration
	// Field, for bad input, names the input field at fault as the schema
	// does ("text", "first"); the GraphQL edge makes it the argument path
	// the client wrote ("input.text").
	Field string
}

// Extensions are what a client reads of e: extensions.code, and reason and
// retryAfter when they apply. Every RATE_LIMITED carries retryAfter, in
// whole seconds, at least 1, so that a generic "wait and retry" works.
func (e *Error) Extensions() map[string]any {
	ext := map[string]any{"code": string(e.Code)}
	if e.Reason != "" {
		ext["reason"] = e.Reason
	}
	if e.Code == CodeRateLimited {
		ext["retryAfter"] = e.RetryAfterSeconds()
	}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	return ext
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1.
func (e *Error) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is makes errors.Is match any *Error with the same code and reason, so
// sentinels like ErrNotFound work through wrapping.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code && (t.Reason == "" || t.Reason == e.Reason)
}

// Sentinels for the common cases.
var (
	ErrUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "sign in to do this"}
	ErrNotFound        = &Error{Code: CodeNotFound, Message: "not found"}
	// ErrUnavailable is a dependency (the database) that could not be
	// reached, or did not answer in time: the client may try again.
	ErrUnavailable = &Error{Code: CodeUnavailable, Message: "the service is unavailable; try again shortly"}
	// ErrDuplicate is a unique-constraint violation seen by the store.
	ErrDuplicate = &Error{Code: CodeConflict, Reason: "DUPLICATE", Message: "already exists"}
)

// Errorf builds a coded error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Refusal builds a coded error that carries a machine-readable reason.
func Refusal(code Code, reason, message string) *Error {
	return &Error{Code: code, Reason: reason, Message: message}
}

// NotFound says that a kind of thing does not exist, or that the viewer may
// not know it exists: the two are never told apart.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// Invalid reports bad input in words a person understands.
func Invalid(format string, args ...any) *Error {
	return Errorf(CodeBadUserInput, format, args...)
}

// InvalidField reports bad input in one field, named as in the schema.
func InvalidField(field, format string, args ...any) *Error {
	e := Invalid(format, args...)
	e.Field = field
	return e
}

// CodeOf returns the code of the first *Error in err's chain, or INTERNAL.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
