package reservation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fields decodes JSON objects strictly, field by field, and collects what
// is wrong with each, named by its path ("channel_preferences.primary",
// "time_slot_matrix[2].start"): unknown fields, wrong types, bad values.
// The request decoders of the API (reservations, webhook endpoints) are
// written with it, so that every refusal reads the same. The zero value is
// ready to use.
type Fields struct {
	fields map[string]string
	order  []string
}

// Add records msg against field, unless field already has one.
func (fe *Fields) Add(field, msg string) {
	if fe.fields == nil {
		fe.fields = map[string]string{}
	}
	if _, ok := fe.fields[field]; ok {
		return
	}
	fe.fields[field] = msg
	fe.order = append(fe.order, field)
}

// Err returns nil when nothing was recorded, else an EINVALID *Error with
// every field's message, whose Message names the first (and how many
// more).
func (fe *Fields) Err() error {
	if len(fe.order) == 0 {
		return nil
	}
	first := fe.order[0]
	msg := first + ": " + fe.fields[first]
	if n := len(fe.order); n > 1 {
		msg += fmt.Sprintf(" (and %d more)", n-1)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fe.fields}
}

// Object decodes raw, the JSON object at path ("" for the body), into its
// members, recording unknown members and a body that is not JSON, not an
// object or not valid UTF-8. Members that are null are left out, as if
// absent.
//
// The body's bytes are checked before decoding: encoding/json would
// silently replace invalid UTF-8 with U+FFFD, after which no check of a
// decoded string could tell. A top-level member whose value holds such
// bytes is named; bytes elsewhere (in a key, say) are the body's.
func (fe *Fields) Object(path string, raw json.RawMessage, known ...string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	err := json.Unmarshal(raw, &m)
	if path == "" && !utf8.Valid(raw) {
		named := false
		if err == nil {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if !utf8.Valid(m[k]) {
					fe.Add(k, "must be valid UTF-8")
					named = true
				}
			}
		}
		if !named {
			fe.Add("body", fmt.Sprintf("is not valid UTF-8 (at byte %d)", invalidUTF8At(raw)))
		}
		return nil
	}
	var syn *json.SyntaxError
	if path == "" && (errors.As(err, &syn) || len(bytes.TrimSpace(raw)) == 0) {
		at := int64(0)
		if syn != nil {
			at = syn.Offset
		}
		fe.Add("body", fmt.Sprintf("is not valid JSON (at byte %d)", at))
		return nil
	}
	if err != nil || m == nil {
		fe.Add(pathOr(path, "body"), "must be a JSON object")
		return nil
	}
	var unknown []string
	for k := range m {
		found := false
		for _, kn := range known {
			found = found || k == kn
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		fe.Add(join(path, k), "unknown field")
	}
	for k, v := range m {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(m, k) // null means absent
		}
	}
	return m
}

// invalidUTF8At returns the offset of the first byte of b that is not part
// of valid UTF-8 (len(b) if there is none).
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// ValidText reports whether s can be stored as text by every backend:
// valid UTF-8 without NUL characters (PostgreSQL refuses both, SQLite
// would keep them). The body has been checked for UTF-8 (Object), but a
// JSON string can still spell a NUL as \u0000.
func ValidText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func pathOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Str returns member key of m as a string; ok is false when it is absent
// or not a string, or not ValidText (both recorded).
func (fe *Fields) Str(m map[string]json.RawMessage, path, key string) (string, bool) {
	raw, ok := m[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		fe.Add(join(path, key), "must be a string")
		return "", false
	}
	if msg := textProblem(s); msg != "" {
		fe.Add(join(path, key), msg)
		return "", false
	}
	return s, true
}

// textProblem says why s is not ValidText, or returns "".
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL characters (\\u0000)"
	}
	return ""
}

// Bool returns member key of m as a boolean (false when absent; a
// non-boolean is recorded).
func (fe *Fields) Bool(m map[string]json.RawMessage, path, key string) bool {
	raw, ok := m[key]
	if !ok {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		fe.Add(join(path, key), "must be true or false")
	}
	return b
}

// Strs returns member key of m as an array of strings; ok is false when it
// is absent or is not one (recorded as "must be " + what).
func (fe *Fields) Strs(m map[string]json.RawMessage, path, key, what string) ([]string, bool) {
	raw, ok := m[key]
	if !ok {
		return nil, false
	}
	var v []string
	if err := json.Unmarshal(raw, &v); err != nil {
		fe.Add(join(path, key), "must be "+what)
		return nil, false
	}
	for _, s := range v {
		if msg := textProblem(s); msg != "" {
			fe.Add(join(path, key), msg)
			return nil, false
		}
	}
	return v, true
}

// Int returns member key of m as a 32-bit integer; ok is false when it is
// absent or not one (recorded).
func (fe *Fields) Int(m map[string]json.RawMessage, path, key string) (int, bool) {
	raw, ok := m[key]
	if !ok {
		return 0, false
	}
	var n json.Number
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		fe.Add(join(path, key), "must be an integer")
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		fe.Add(join(path, key), "must be an integer")
		return 0, false
	}
	i, err := n.Int64()
	if err != nil || i < -1<<31 || i > 1<<31-1 {
		fe.Add(join(path, key), "must be an integer")
		return 0, false
	}
	return int(i), true
}

// Text returns member key of m as a string of at most max characters
// without control characters; ok is false when it is absent or is not
// (recorded). (Invalid UTF-8 never gets this far: Object refuses the body.)
func (fe *Fields) Text(m map[string]json.RawMessage, path, key string, max int) (string, bool) {
	s, ok := fe.Str(m, path, key)
	if !ok {
		return "", false
	}
	if n := utf8.RuneCountInString(s); n > max {
		fe.Add(join(path, key), fmt.Sprintf("must be at most %d characters (got %d)", max, n))
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			fe.Add(join(path, key), "must not contain control characters")
			return "", false
		}
	}
	return s, true
}
