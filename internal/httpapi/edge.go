package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slotline/slotline/internal/reservation"
)

// Edge checks. Whatever a handler passes to the database must be text that
// both backends store: PostgreSQL refuses NUL and invalid UTF-8 (SQLSTATE
// 22021, which would be a 500), SQLite keeps them. Request bodies are
// checked by their decoders (reservation.Fields), the Idempotency-Key
// header by caller; path ids and query parameters here, before any handler
// runs a query with them.

// maxIDBytes bounds a path id; every id Slotline makes or configures is far
// shorter.
const maxIDBytes = 200

// validID reports whether s can be the id of something (a reservation, a
// queue, a webhook endpoint, a delivery): 1 to maxIDBytes bytes of UTF-8
// without control characters.
func validID(s string) bool {
	if s == "" || len(s) > maxIDBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// checkIDs answers a path id that cannot exist as not found, in the words
// the handler would use for a missing one, without asking the database.
func checkIDs(r *http.Request) error {
	if id := r.PathValue("id"); id != "" && !validID(id) {
		switch {
		case strings.Contains(r.Pattern, "/api/v2/callbacks/"):
			return reservation.ErrNotFound
		case strings.Contains(r.Pattern, "/api/v2/webhooks/"):
			return reservation.Errorf(reservation.ENOTFOUND, "webhook endpoint %q does not exist", id)
		case strings.Contains(r.Pattern, "/api/v2/queues/"):
			return reservation.Errorf(reservation.ENOTFOUND, "queue %q does not exist", id)
		}
		return reservation.Errorf(reservation.ENOTFOUND, "%q does not exist", id)
	}
	if d := r.PathValue("delivery"); d != "" && !validID(d) {
		return reservation.Errorf(reservation.ENOTFOUND, "delivery %q does not exist", d)
	}
	return nil
}

// query parses r's query string. r.URL.Query leaves out, silently, every
// parameter it cannot decode (a cursor with a broken escape would give the
// first page); here a broken %-escape, a ';' (not a separator since Go
// 1.17) or a parameter that is not valid text (UTF-8 without NUL) is an
// EINVALID error naming the parameter.
func query(r *http.Request) (url.Values, error) {
	out := url.Values{}
	rest := r.URL.RawQuery
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		if part == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || !reservation.ValidText(key) {
			return nil, reservation.FieldError("query", fmt.Sprintf("has a parameter name that cannot be decoded (%q)", rawKey))
		}
		if strings.Contains(part, ";") {
			return nil, reservation.FieldError(key, "holds a ';', which does not separate parameters: use & between them and %3B in a value")
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, reservation.FieldError(key, "has a broken %-escape (% must be followed by two hex digits)")
		}
		if !reservation.ValidText(value) {
			return nil, reservation.FieldError(key, "must be valid UTF-8 without NUL characters")
		}
		out[key] = append(out[key], value)
	}
	return out, nil
}

// auditText makes s, a path id taken as the target of a refused write,
// storable: invalid UTF-8 and NUL become U+FFFD.
func auditText(s string) string {
	if reservation.ValidText(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}
