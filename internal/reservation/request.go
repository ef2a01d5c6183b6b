package reservation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Limits on requests.
const (
	MaxCandidates       = 20
	MaxSlotLength       = 4 * time.Hour
	MaxReasonLength     = 500
	MaxNameLength       = 200
	MinConcurrencyLimit = 1
	MaxConcurrencyLimit = 50
)

// CreateRequest is the seed's reservation payload, decoded and checked.
type CreateRequest struct {
	CallbackID       string             `json:"callback_id,omitempty"`
	CallbackNumber   string             `json:"callback_number"`
	CustomerName     string             `json:"customer_name,omitempty"`
	Candidates       []Slot             `json:"-"`
	Channel          ChannelPreferences `json:"channel_preferences"`
	QueueID          string             `json:"queue_id"`
	Reason           string             `json:"reason"`
	ConcurrencyLimit int                `json:"concurrency_limit,omitempty"`
	// Locale is the customer's language (canonical BCP 47), "" for the
	// queue's.
	Locale string `json:"locale,omitempty"`

	// number is CallbackNumber as DecodeCreate parsed it.
	number Number
}

// Number returns the callback number parsed: as DecodeCreate parsed it,
// or parsed now when the request was built otherwise (or its
// CallbackNumber changed since).
func (r *CreateRequest) Number() Number {
	if r.number.s == r.CallbackNumber && r.number.parsed != nil {
		return r.number
	}
	return ParseNumber(r.CallbackNumber)
}

// Hash returns a digest of the request's meaning (not its formatting), used
// to tell a replay of an idempotent request from a different one.
func (r *CreateRequest) Hash() string {
	return hashJSON(struct {
		*CreateRequest
		Slots []string `json:"slots"`
	}{r, slotKeys(r.Candidates)})
}

// UpdateRequest is a PATCH of a reservation: any of a new time slot matrix
// (a reschedule), reason, channel preferences and customer name.
type UpdateRequest struct {
	Candidates   []Slot              `json:"-"`
	Reason       *string             `json:"reason,omitempty"`
	Channel      *ChannelPreferences `json:"channel_preferences,omitempty"`
	CustomerName *string             `json:"customer_name,omitempty"`
}

// Hash returns a digest of the request's meaning.
func (r *UpdateRequest) Hash() string {
	return hashJSON(struct {
		*UpdateRequest
		Slots []string `json:"slots"`
	}{r, slotKeys(r.Candidates)})
}

func slotKeys(slots []Slot) []string {
	keys := make([]string, len(slots))
	for i, s := range slots {
		keys[i] = s.Start.UTC().Format(time.RFC3339Nano) + "/" + s.End.UTC().Format(time.RFC3339Nano)
	}
	return keys
}

func hashJSON(v any) string {
	b, _ := json.Marshal(v) // plain structs of strings, numbers and bools cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var (
	e164          = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	callbackIDPat = regexp.MustCompile(`^[A-Za-z0-9._:@+-]{1,128}$`)
)

// ValidNumber reports whether s is a valid E.164 phone number.
func ValidNumber(s string) bool {
	if !e164.MatchString(s) {
		return false
	}
	return ParseNumber(s).Valid()
}

// MaskedNumber is a phone number that logs masked (MaskNumber), and only
// when the record is written: a log call whose level is off costs nothing.
type MaskedNumber string

// LogValue implements slog.LogValuer.
func (n MaskedNumber) LogValue() slog.Value { return slog.StringValue(MaskNumber(string(n))) }

// MaskNumber hides all but the country calling code and the last two digits
// of a phone number, for logs and audit entries.
func MaskNumber(s string) string {
	if s == "" {
		return ""
	}
	cc := ""
	if num, err := phonenumbers.Parse(s, ""); err == nil {
		cc = fmt.Sprintf("+%d", num.GetCountryCode())
	}
	return maskWith(s, cc)
}

// maskWith masks s given its country calling code cc ("+49"; "" when s
// does not parse).
func maskWith(s, cc string) string {
	if s == "" {
		return ""
	}
	if !strings.HasPrefix(s, cc) || cc == "" {
		cc = ""
	}
	rest := strings.TrimPrefix(s, cc)
	if len(rest) <= 2 {
		return cc + strings.Repeat("*", len(rest))
	}
	return cc + strings.Repeat("*", len(rest)-2) + rest[len(rest)-2:]
}

func (fe *Fields) instant(m map[string]json.RawMessage, path, key string) (time.Time, bool) {
	s, ok := fe.Str(m, path, key)
	if !ok {
		if _, present := m[key]; !present {
			fe.Add(join(path, key), "is required")
		}
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		if msg := OffsetProblem(s); msg != "" {
			fe.Add(join(path, key), fmt.Sprintf("%q %s", s, msg))
			return time.Time{}, false
		}
		if msg := RangeProblem(t); msg != "" {
			fe.Add(join(path, key), fmt.Sprintf("%q %s", s, msg))
			return time.Time{}, false
		}
		return t, true
	}
	if _, err2 := time.Parse("2006-01-02T15:04:05", strings.SplitN(s, ".", 2)[0]); err2 == nil {
		fe.Add(join(path, key), fmt.Sprintf("%q has no UTC offset; write it like 2026-06-15T14:00:00-04:00", s))
	} else {
		fe.Add(join(path, key), fmt.Sprintf("%q is not an RFC 3339 date-time", s))
	}
	return time.Time{}, false
}

// MaxOffset is the largest UTC offset, either way, that a time may carry:
// the zones in use run from -12:00 to +14:00.
const MaxOffset = 14 * time.Hour

// OffsetProblem says what is wrong with the UTC offset of s, an RFC 3339
// date-time that time.Parse has accepted, or returns "". time.Parse takes
// offsets up to ±24:00 and minutes up to 60 (+10:60 reads as +11:00); no
// zone is that far off, so such a time is a mistake, not an instant to
// book.
func OffsetProblem(s string) string {
	if len(s) < 6 {
		return ""
	}
	off := s[len(s)-6:]
	if (off[0] != '+' && off[0] != '-') || off[3] != ':' {
		return "" // Z
	}
	h := int(off[1]-'0')*10 + int(off[2]-'0')
	m := int(off[4]-'0')*10 + int(off[5]-'0')
	if m >= 60 || time.Duration(h)*time.Hour+time.Duration(m)*time.Minute > MaxOffset {
		return "has the UTC offset " + off + "; an offset is at most ±14:00, with minutes below 60"
	}
	return ""
}

// MinInstant and MaxInstant bound the instants a slot (or an
// availability window) may start or end at. Slotline writes them back in
// the queue's time zone, and RFC 3339 has four-digit years: from the zero
// time (0001-01-01T00:00:00Z) to two days before the year 10000, every
// zone (their offsets, local mean times included, stay within a day)
// writes them within the years 0000 to 9999.
var (
	MinInstant = time.Time{}
	MaxInstant = time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC)
)

// RangeProblem says why t is not between MinInstant and MaxInstant, or
// returns "".
func RangeProblem(t time.Time) string {
	if t.Before(MinInstant) || t.After(MaxInstant) {
		return "is out of range: instants run from 0001-01-01T00:00:00Z to 9999-12-30T00:00:00Z"
	}
	return ""
}

func (fe *Fields) matrix(m map[string]json.RawMessage, key string) []Slot {
	raw, ok := m[key]
	if !ok {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		fe.Add(key, "must be an array of {start, end}")
		return nil
	}
	if len(items) == 0 {
		fe.Add(key, "must hold at least one slot")
		return nil
	}
	if len(items) > MaxCandidates {
		fe.Add(key, fmt.Sprintf("must hold at most %d slots (got %d)", MaxCandidates, len(items)))
		return nil
	}
	slots := make([]Slot, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", key, i)
		sm := fe.Object(path, item, "start", "end")
		if sm == nil {
			continue
		}
		start, ok1 := fe.instant(sm, path, "start")
		end, ok2 := fe.instant(sm, path, "end")
		if !ok1 || !ok2 {
			continue
		}
		switch {
		case !end.After(start):
			fe.Add(path+".end", "must be after start")
		case end.Sub(start) > MaxSlotLength:
			fe.Add(path+".end", fmt.Sprintf("makes the slot %s long; at most %s is allowed", end.Sub(start), MaxSlotLength))
		default:
			slots = append(slots, Slot{start, end})
		}
	}
	return slots
}

func (fe *Fields) channel(m map[string]json.RawMessage, key string) (ChannelPreferences, bool) {
	raw, ok := m[key]
	if !ok {
		return ChannelPreferences{Primary: "voice"}, false
	}
	cm := fe.Object(key, raw, "primary", "fallback", "allow_sms")
	if cm == nil {
		return ChannelPreferences{}, true
	}
	var ch ChannelPreferences
	ch.Primary, _ = fe.Str(cm, key, "primary")
	ch.Fallback, _ = fe.Str(cm, key, "fallback")
	ch.AllowSMS = fe.Bool(cm, key, "allow_sms")
	if ch.Primary == "" {
		ch.Primary = "voice"
	}
	if ch.Primary != "voice" {
		fe.Add(key+".primary", fmt.Sprintf("%q is not supported; use \"voice\"", ch.Primary))
	}
	switch ch.Fallback {
	case "", "none":
		ch.Fallback = ""
	case "sms":
		if !ch.AllowSMS {
			fe.Add(key+".fallback", "is \"sms\" but allow_sms is false")
		}
	default:
		fe.Add(key+".fallback", fmt.Sprintf("%q is not supported; use \"sms\" or \"none\"", ch.Fallback))
	}
	return ch, true
}

// DecodeCreate decodes and checks a create body. Every problem is reported
// with the JSON path of its field; the error is an EINVALID *Error.
func DecodeCreate(body []byte) (*CreateRequest, error) {
	var fe Fields
	m := fe.Object("", body, "callback_id", "callback_number", "customer_name", "time_slot_matrix",
		"channel_preferences", "queue_id", "reason", "concurrency_limit", "locale")
	if m == nil {
		return nil, fe.Err()
	}
	var r CreateRequest
	if id, ok := fe.Str(m, "", "callback_id"); ok {
		if !callbackIDPat.MatchString(id) {
			fe.Add("callback_id", "must be 1 to 128 letters, digits or . _ : @ + -")
		}
		r.CallbackID = id
	}
	if num, ok := fe.Str(m, "", "callback_number"); ok {
		// Parsed once here; the queue's number rules and the log's mask
		// use the same parse (CreateRequest.Number).
		if e164.MatchString(num) {
			r.number = ParseNumber(num)
		}
		if !r.number.Valid() {
			fe.Add("callback_number", "is not a valid E.164 phone number (like +14155550199)")
		}
		r.CallbackNumber = num
	} else if _, present := m["callback_number"]; !present {
		fe.Add("callback_number", "is required")
	}
	r.CustomerName, _ = fe.Text(m, "", "customer_name", MaxNameLength)
	if q, ok := fe.Str(m, "", "queue_id"); ok && q != "" {
		r.QueueID = q
	} else if !ok {
		if _, present := m["queue_id"]; !present {
			fe.Add("queue_id", "is required")
		}
	} else {
		fe.Add("queue_id", "is required")
	}
	if _, present := m["time_slot_matrix"]; !present {
		fe.Add("time_slot_matrix", "is required")
	}
	r.Candidates = fe.matrix(m, "time_slot_matrix")
	r.Channel, _ = fe.channel(m, "channel_preferences")
	r.Reason, _ = fe.Text(m, "", "reason", MaxReasonLength)
	if n, ok := fe.Int(m, "", "concurrency_limit"); ok {
		if n < MinConcurrencyLimit || n > MaxConcurrencyLimit {
			fe.Add("concurrency_limit", fmt.Sprintf("must be from %d to %d (got %d)", MinConcurrencyLimit, MaxConcurrencyLimit, n))
		}
		r.ConcurrencyLimit = n
	}
	if l, ok := fe.Str(m, "", "locale"); ok {
		canon, err := ParseLocale(l)
		if err != nil {
			fe.Add("locale", err.Error())
		}
		r.Locale = canon
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return &r, nil
}

// DecodeUpdate decodes and checks a PATCH body.
func DecodeUpdate(body []byte) (*UpdateRequest, error) {
	var fe Fields
	m := fe.Object("", body, "time_slot_matrix", "reason", "channel_preferences", "customer_name",
		"callback_id", "callback_number", "queue_id", "concurrency_limit")
	if m == nil {
		return nil, fe.Err()
	}
	for _, k := range []string{"callback_id", "callback_number", "queue_id", "concurrency_limit"} {
		if _, ok := m[k]; ok {
			fe.Add(k, "cannot be changed; cancel and reserve again")
		}
	}
	var r UpdateRequest
	r.Candidates = fe.matrix(m, "time_slot_matrix")
	if s, ok := fe.Text(m, "", "reason", MaxReasonLength); ok {
		r.Reason = &s
	}
	if s, ok := fe.Text(m, "", "customer_name", MaxNameLength); ok {
		r.CustomerName = &s
	}
	if ch, ok := fe.channel(m, "channel_preferences"); ok {
		r.Channel = &ch
	}
	if len(m) == 0 {
		fe.Add("body", "must change at least one of time_slot_matrix, reason, channel_preferences, customer_name")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return &r, nil
}
