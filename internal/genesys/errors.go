package genesys

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidRequest is wrapped by the errors the client returns without
// calling Genesys because the request itself is unusable (an empty id, no
// callback number, an SMS text over 765 characters, …). IsPermanent reports
// true for it.
var ErrInvalidRequest = errors.New("invalid genesys request")

// invalidf returns an error wrapping ErrInvalidRequest.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidRequest)
}

// APIError is a non-2xx answer from the Genesys Cloud Platform API (or from
// its OAuth token endpoint), parsed from the ErrorBody JSON document and the
// ININ-Correlation-Id response header.
type APIError struct {
	// Op names the client operation, e.g. "create_callback" or "token".
	Op string
	// Status is the HTTP status code.
	Status int
	// Code is Genesys' machine code, e.g. "bad.request",
	// "too.many.requests.retry.after", or the OAuth "error" field.
	Code string
	// Message is Genesys' human-readable message.
	Message string
	// ContextID is the ErrorBody's contextId.
	ContextID string
	// CorrelationID is the ININ-Correlation-Id response header (the
	// contextId when the header is missing). Quote it to Genesys support.
	CorrelationID string
	// RetryAfter is the Retry-After header, when present.
	RetryAfter time.Duration
	// Details are the ErrorBody's details.
	Details []Detail

	retryAfterSet bool // the response carried a valid Retry-After
}

// Detail is one entry of an ErrorBody's details array.
type Detail struct {
	ErrorCode  string `json:"errorCode,omitempty"`
	FieldName  string `json:"fieldName,omitempty"`
	EntityID   string `json:"entityId,omitempty"`
	EntityName string `json:"entityName,omitempty"`
}

// Error returns the operation, status, Genesys code, message and
// correlation id. It never includes a response body beyond its message.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "genesys %s: status %d", e.Op, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id " + e.CorrelationID + ")")
	}
	return b.String()
}

// errorBody is Genesys' ErrorBody (reference §10).
type errorBody struct {
	Message   string   `json:"message"`
	Code      string   `json:"code"`
	Status    int      `json:"status"`
	ContextID string   `json:"contextId"`
	Details   []Detail `json:"details"`
}

// maxMessage bounds the message copied from an error body.
const maxMessage = 500

// newAPIError builds an APIError from a response and up to the first bytes
// of its body. A body that is not an ErrorBody (a gateway's HTML page)
// yields the status text as the message.
func newAPIError(op string, resp *http.Response, body []byte) *APIError {
	e := &APIError{
		Op:            op,
		Status:        resp.StatusCode,
		CorrelationID: resp.Header.Get("ININ-Correlation-Id"),
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
		e.RetryAfter, e.retryAfterSet = d, true
	}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && (eb.Code != "" || eb.Message != "") {
		e.Code, e.Message, e.ContextID, e.Details = eb.Code, truncate(eb.Message, maxMessage), eb.ContextID, eb.Details
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if e.CorrelationID == "" {
		e.CorrelationID = e.ContextID
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// maxRetryAfterHeader bounds a parsed Retry-After (seconds) so that a
// hostile value cannot overflow a time.Duration.
const maxRetryAfterHeader = 7 * 24 * 3600

// parseRetryAfter reads a Retry-After header given in seconds (Genesys'
// form) or as an HTTP date.
func parseRetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) {
			secs = 0
		}
		if secs > maxRetryAfterHeader {
			secs = maxRetryAfterHeader
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := time.Until(t)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// UnknownOutcomeError reports that a non-idempotent request (creating a
// callback) may or may not have taken effect in Genesys: it was sent, and
// then the answer was lost (a timeout, a dropped connection, a 5xx). The
// client never repeats such a request. The caller must first look for the
// callback (FindCallbacks, then GetCallbackConversation and the
// participant attributes carrying its own key) and adopt it, and create
// again only when it is certainly absent.
type UnknownOutcomeError struct {
	// Op names the operation, e.g. "create_callback".
	Op string
	// Err is the cause: a transport error, a context error or an *APIError.
	Err error
}

// Error describes the operation and the cause.
func (e *UnknownOutcomeError) Error() string {
	return fmt.Sprintf("genesys %s: outcome unknown: %v", e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// TopicRejectedError reports notification topics that Genesys refused to
// subscribe (ChannelTopic state "Rejected"); a rejected topic otherwise
// fails silently.
type TopicRejectedError struct {
	// Topics are the rejected topics with their reasons.
	Topics []ChannelTopic
}

// Error lists the rejected topics, their reasons and missing permissions.
func (e *TopicRejectedError) Error() string {
	parts := make([]string, 0, len(e.Topics))
	for _, t := range e.Topics {
		s := t.ID
		var why []string
		if t.RejectionReason != "" {
			why = append(why, t.RejectionReason)
		}
		if len(t.MissingPermissions) > 0 {
			why = append(why, "missing permissions: "+strings.Join(t.MissingPermissions, ", "))
		}
		if len(why) > 0 {
			s += " (" + strings.Join(why, "; ") + ")"
		}
		parts = append(parts, s)
	}
	return "genesys subscribe: topics rejected: " + strings.Join(parts, ", ")
}

// IsNotFound reports whether err is (or wraps) an *APIError with status
// 404.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsPermanent reports whether repeating the request cannot help: err is an
// *APIError with a 4xx status other than 408 and 429, a
// *TopicRejectedError, or wraps ErrInvalidRequest. Jobs use it to mark a
// sync failed rather than retry it.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrInvalidRequest) {
		return true
	}
	var tr *TopicRejectedError
	if errors.As(err, &tr) {
		return true
	}
	var e *APIError
	if !errors.As(err, &e) {
		return false
	}
	return e.Status >= 400 && e.Status < 500 &&
		e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}
