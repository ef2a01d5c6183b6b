package genesys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// wireTimeLayout is how the client writes instants: UTC with milliseconds,
// the form of every example in the Genesys documentation.
const wireTimeLayout = "2006-01-02T15:04:05.000Z"

// formatTime renders t in wireTimeLayout.
func formatTime(t time.Time) string { return t.UTC().Format(wireTimeLayout) }

// flexTime decodes a Genesys instant leniently: RFC 3339 with or without
// fractional seconds, a date-time without an offset (read as UTC), epoch
// milliseconds (analytics detail events use them), or null / "" (no time).
type flexTime struct{ t *time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		f.t = nil
		return nil
	}
	if b[0] != '"' {
		ms, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("genesys time %s: not a string or epoch milliseconds", b)
		}
		t := time.UnixMilli(ms).UTC()
		f.t = &t
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := parseInstant(s)
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

// instantLayouts are tried in order by parseInstant. time.Parse accepts
// fractional seconds after the seconds field even when the layout has
// none, so these cover ".000", ".123456" and no fraction.
var instantLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
}

// parseInstant parses s with instantLayouts; "" yields nil. A time without
// an offset is read as UTC.
func parseInstant(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range instantLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("genesys time %q: unrecognised format", s)
}
