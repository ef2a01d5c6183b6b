package genesys

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// CheckToken fetches an access token now (a token still valid is reused),
// so that a preflight check can tell whether the client credentials work
// before any call. Refused credentials are an *APIError with Op "token"
// (Status 401, Code "invalid_client" from Genesys); a network failure is
// returned as it is.
func (c *Client) CheckToken(ctx context.Context) error {
	if _, _, err := c.tokens.token(); err != nil {
		return c.tokenOutcome(ctx, "token", err).err
	}
	return nil
}

// Answer is what Probe saw of Genesys' answer.
type Answer struct {
	// Status is the HTTP status of the last answer.
	Status int
	// Date is its Date header (zero when absent or unparseable), and
	// Received the local time it arrived: their difference is the skew of
	// Genesys' clock against this host's, to a second (Date's precision).
	Date, Received time.Time
}

// Probe makes one harmless call of a preflight check (a GET of an id that
// does not exist, a POST with an empty body that Genesys refuses with 400
// after it checked the permission) and returns what Genesys answered. The
// error is the call's, as for any call: an *APIError for a non-2xx answer
// (403 missing.permissions says a permission is missing), nil for a 2xx.
func (c *Client) Probe(ctx context.Context, method, path string, body any) (Answer, error) {
	var a Answer
	err := c.do(ctx, call{op: "probe", method: method, path: path, body: body, onResponse: func(status int, h http.Header) {
		a.Status, a.Received = status, time.Now()
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			a.Date = d
		}
	}})
	return a, err
}

// SMSPhoneNumber is an SMS number the org owns.
type SMSPhoneNumber struct {
	ID                string `json:"id"`
	PhoneNumber       string `json:"phoneNumber"`
	PhoneNumberStatus string `json:"phoneNumberStatus,omitempty"`
}

// FindSMSPhoneNumber looks for an SMS number of the org: GET
// /api/v2/routing/sms/phonenumbers?phoneNumber=… (permission
// sms:phoneNumber:view; this route is not in the reference Slotline was
// written from, see the package doc). It returns nil, nil when the org
// does not own the number.
func (c *Client) FindSMSPhoneNumber(ctx context.Context, number string) (*SMSPhoneNumber, error) {
	if number == "" {
		return nil, invalidf("find sms phone number: number is required")
	}
	var resp struct {
		Entities []SMSPhoneNumber `json:"entities"`
	}
	q := url.Values{"phoneNumber": {number}}
	if err := c.do(ctx, call{op: "find_sms_phone_number", method: http.MethodGet, path: "/api/v2/routing/sms/phonenumbers?" + q.Encode(), out: &resp}); err != nil {
		return nil, err
	}
	for _, n := range resp.Entities {
		if n.PhoneNumber == number {
			return &n, nil
		}
	}
	return nil, nil
}

// MissingPermissions reports whether err is Genesys' 403
// missing.permissions: the OAuth client's roles lack a permission the call
// needs.
func MissingPermissions(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusForbidden && e.Code == "missing.permissions"
}
