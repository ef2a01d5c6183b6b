package reservation

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in one table (httpapi).
const (
	EINVALID         = "invalid"            // the request is malformed or breaks a rule
	ENOTFOUND        = "not_found"          // no such resource
	EMETHOD          = "method_not_allowed" // the resource exists but not with this method
	ECONFLICT        = "conflict"           // a slot is full, an idempotency key is reused with another body
	EPRECONDITION    = "precondition"       // If-Match does not match the current version
	EUNAUTHORIZED    = "unauthorized"       // no or bad credentials
	EFORBIDDEN       = "forbidden"          // credentials lack a scope
	ERATELIMITED     = "rate_limited"       // the client is over its rate limit
	ETOOMANYSTREAMS  = "too_many_streams"   // the client holds as many stream subscriptions as it may
	ETOOLARGE        = "too_large"          // the body is over the limit
	EUNSUPPORTEDTYPE = "unsupported_type"   // the body's content type is not accepted
	EUNAVAILABLE     = "unavailable"        // a dependency is down
	EINTERNAL        = "internal"           // anything else; never shown in detail
	ENOTALLOWED      = "number_not_allowed" // the queue's number_rules refuse the callback number
	EDUPLICATE       = "duplicate"          // the number already has an active reservation (duplicates: strict)
	ETHROTTLED       = "throttled"          // over the queue's throttle (per_number or per_queue)
)

// Error codes of the publishable keys (the widget's).
const (
	EORIGINNOTALLOWED = "origin_not_allowed" // a publishable key used from an origin it does not list
	EPROOFREQUIRED    = "proof_required"     // a create through a publishable key without a valid proof of work
)

// Error is the one coded error of the domain. Message is safe to show to the
// client; Fields maps a request field (JSON path) to what is wrong with it.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	// Extra carries structured details rendered as problem extension
	// members (for example the per-candidate reasons of a full slot).
	Extra map[string]any
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error about one field.
func FieldError(field, msg string) *Error {
	return &Error{Code: EINVALID, Message: field + " " + msg, Fields: map[string]string{field: msg}}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrNotFound is returned by stores when a reservation does not exist.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "reservation not found"}

// Error codes of customer self-service.
const (
	ECHANGENOTALLOWED = "change_not_allowed" // a customer's change is past the queue's cutoff or reschedule count
	EGONE             = "gone"               // a self-service link has expired
)
