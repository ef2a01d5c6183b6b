package reservation

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const seedBody = `{
  "callback_id": "cb_9f8e7d6c",
  "callback_number": "+14155550199",
  "time_slot_matrix": [
    {"start": "2024-06-15T14:00:00-04:00", "end": "2024-06-15T14:15:00-04:00"}
  ],
  "channel_preferences": {"primary": "voice", "fallback": "sms", "allow_sms": true},
  "queue_id": "queue_12345",
  "reason": "Technical support escalation",
  "concurrency_limit": 10
}`

func TestDecodeCreateSeed(t *testing.T) {
	t.Parallel()
	r, err := DecodeCreate([]byte(seedBody))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 6, 15, 18, 0, 0, 0, time.UTC)
	if r.CallbackID != "cb_9f8e7d6c" || r.CallbackNumber != "+14155550199" || r.QueueID != "queue_12345" ||
		r.Reason != "Technical support escalation" || r.ConcurrencyLimit != 10 ||
		r.Channel != (ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true}) ||
		len(r.Candidates) != 1 || !r.Candidates[0].Start.Equal(start) || !r.Candidates[0].End.Equal(start.Add(15*time.Minute)) {
		t.Errorf("decoded = %+v", r)
	}
}

// TestDecodeCreateInvalid: every failure names its field.
func TestDecodeCreateInvalid(t *testing.T) {
	t.Parallel()
	set := func(field, value string) string {
		// Replace one top-level member of the seed body (null removes it).
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(seedBody), &m); err != nil {
			t.Fatal(err)
		}
		if value == "null" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(value)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("set %s: %v", field, err)
		}
		return string(b)
	}
	without := func(field string) string { return set(field, "null") }
	slot := func(start, end string) string {
		return set("time_slot_matrix", `[{"start": "`+start+`", "end": "`+end+`"}]`)
	}
	longReason, _ := json.Marshal(strings.Repeat("x", 501))
	many := "[" + strings.Repeat(`{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:15:00Z"},`, 20) +
		`{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:15:00Z"}]`
	tests := []struct {
		name, body, field, want string
	}{
		{"malformed JSON", `{"callback_number": `, "body", "not valid JSON"},
		{"empty body", ``, "body", "not valid JSON"},
		{"not an object", `[1,2]`, "body", "JSON object"},
		{"unknown field", set("bogus", `1`), "bogus", "unknown field"},
		{"wrong type", set("callback_number", `14155550199`), "callback_number", "must be a string"},
		{"missing number", without("callback_number"), "callback_number", "is required"},
		{"missing queue", without("queue_id"), "queue_id", "is required"},
		{"empty queue", set("queue_id", `""`), "queue_id", "is required"},
		{"missing matrix", without("time_slot_matrix"), "time_slot_matrix", "is required"},
		{"empty matrix", set("time_slot_matrix", `[]`), "time_slot_matrix", "at least one"},
		{"too many slots", set("time_slot_matrix", many), "time_slot_matrix", "at most 20"},
		{"matrix not array", set("time_slot_matrix", `{}`), "time_slot_matrix", "array"},
		{"bad number", set("callback_number", `"+1415"`), "callback_number", "E.164"},
		{"number without plus", set("callback_number", `"14155550199"`), "callback_number", "E.164"},
		{"number with spaces", set("callback_number", `"+1 415 555 0199"`), "callback_number", "E.164"},
		{"invalid country", set("callback_number", `"+99955501990"`), "callback_number", "E.164"},
		{"no offset", slot("2030-01-01T10:00:00", "2030-01-01T10:15:00Z"), "time_slot_matrix[0].start", "no UTC offset"},
		{"not a time", slot("tomorrow", "2030-01-01T10:15:00Z"), "time_slot_matrix[0].start", "RFC 3339"},
		{"missing end", set("time_slot_matrix", `[{"start": "2030-01-01T10:00:00Z"}]`), "time_slot_matrix[0].end", "is required"},
		{"end before start", slot("2030-01-01T10:15:00Z", "2030-01-01T10:00:00Z"), "time_slot_matrix[0].end", "after start"},
		{"end equals start", slot("2030-01-01T10:15:00Z", "2030-01-01T10:15:00Z"), "time_slot_matrix[0].end", "after start"},
		{"too long", slot("2030-01-01T10:00:00Z", "2030-01-01T14:01:00Z"), "time_slot_matrix[0].end", "at most 4h"},
		{"slot unknown field", set("time_slot_matrix", `[{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:15:00Z", "x": 1}]`), "time_slot_matrix[0].x", "unknown field"},
		{"limit zero", set("concurrency_limit", `0`), "concurrency_limit", "from 1 to 50"},
		{"limit 51", set("concurrency_limit", `51`), "concurrency_limit", "from 1 to 50"},
		{"limit fraction", set("concurrency_limit", `1.5`), "concurrency_limit", "integer"},
		{"limit string", set("concurrency_limit", `"10"`), "concurrency_limit", "integer"},
		{"locale not a tag", set("locale", `"english please"`), "locale", "BCP 47"},
		{"locale empty", set("locale", `""`), "locale", "BCP 47"},
		{"locale number", set("locale", `7`), "locale", "string"},
		{"primary sms", set("channel_preferences", `{"primary": "sms"}`), "channel_preferences.primary", "not supported"},
		{"fallback email", set("channel_preferences", `{"primary": "voice", "fallback": "email"}`), "channel_preferences.fallback", "not supported"},
		{"sms not allowed", set("channel_preferences", `{"primary": "voice", "fallback": "sms", "allow_sms": false}`), "channel_preferences.fallback", "allow_sms"},
		{"channel unknown", set("channel_preferences", `{"primary": "voice", "langue": "fr"}`), "channel_preferences.langue", "unknown field"},
		{"reason too long", set("reason", string(longReason)), "reason", "at most 500"},
		{"reason control", set("reason", `"line\nbreak"`), "reason", "control characters"},
		{"callback id spaces", set("callback_id", `"cb 1"`), "callback_id", "letters, digits"},
		// time.Parse accepts offsets up to ±24:00 and minutes up to 60.
		{"offset +24:00", slot("2030-01-01T10:00:00+24:00", "2030-01-01T10:15:00+24:00"), "time_slot_matrix[0].start", "UTC offset +24:00"},
		{"offset +14:01", slot("2030-01-01T10:00:00Z", "2030-01-01T10:15:00+14:01"), "time_slot_matrix[0].end", "at most ±14:00"},
		{"offset -14:30", slot("2030-01-01T10:00:00-14:30", "2030-01-01T10:15:00Z"), "time_slot_matrix[0].start", "at most ±14:00"},
		{"year 0000", slot("0000-12-31T20:00:00Z", "0000-12-31T20:15:00Z"), "time_slot_matrix[0].start", "out of range"},
		{"year 9999", slot("9999-12-30T00:00:00Z", "9999-12-31T00:15:00Z"), "time_slot_matrix[0].end", "out of range"},
		{"offset minutes 60", slot("2030-01-01T10:00:00+10:60", "2030-01-01T10:15:00Z"), "time_slot_matrix[0].start", "minutes below 60"},
		// Invalid UTF-8 is refused before encoding/json replaces it.
		{"reason invalid UTF-8", strings.Replace(seedBody, "escalation", "escalation\xff", 1), "reason", "valid UTF-8"},
		{"name invalid UTF-8", set("customer_name", "\"Zo\xc3\""), "customer_name", "valid UTF-8"},
		{"key invalid UTF-8", strings.Replace(seedBody, `"reason"`, "\"rea\xffson\"", 1), "body", "not valid UTF-8 (at byte"},
		{"truncated UTF-8", seedBody[:len(seedBody)-2] + "\xe2\x82", "body", "not valid UTF-8"},
		// PostgreSQL refuses NUL in text; every string is checked.
		{"queue NUL", set("queue_id", `"queue_12345\u0000"`), "queue_id", "NUL"},
		{"callback id NUL", set("callback_id", `"\u0000"`), "callback_id", "NUL"},
		{"number NUL", set("callback_number", `"+14155550199\u0000"`), "callback_number", "NUL"},
		{"reason NUL", set("reason", `"a\u0000b"`), "reason", "NUL"},
		{"start NUL", slot(`2030-01-01T10:00:00Z\u0000`, "2030-01-01T10:15:00Z"), "time_slot_matrix[0].start", "NUL"},
		{"primary NUL", set("channel_preferences", `{"primary": "voice\u0000"}`), "channel_preferences.primary", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeCreate([]byte(tt.body))
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID {
				t.Fatalf("err = %v, want an invalid error", err)
			}
			msg, ok := e.Fields[tt.field]
			if !ok {
				t.Fatalf("fields = %v, want one for %q", e.Fields, tt.field)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("fields[%q] = %q, want it to mention %q", tt.field, msg, tt.want)
			}
		})
	}
}

func TestDecodeCreateOptional(t *testing.T) {
	t.Parallel()
	r, err := DecodeCreate([]byte(`{"callback_number": "+442071838750", "queue_id": "q",
		"time_slot_matrix": [{"start": "2030-03-29T01:30:00+01:00", "end": "2030-03-29T01:45:00+01:00"}],
		"channel_preferences": null, "customer_name": "Zoë O'Brien"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Channel.Primary != "voice" || r.Channel.Fallback != "" || r.ConcurrencyLimit != 0 || r.CustomerName != "Zoë O'Brien" ||
		r.Locale != "" {
		t.Errorf("defaults = %+v", r)
	}
	r, err = DecodeCreate([]byte(`{"callback_number": "+442071838750", "queue_id": "q", "locale": "fr-ca",
		"time_slot_matrix": [{"start": "2030-03-29T01:30:00+01:00", "end": "2030-03-29T01:45:00+01:00"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Locale != "fr-CA" {
		t.Errorf("locale = %q, want the canonical fr-CA", r.Locale)
	}
}

// TestDecodeCreateOffsets: the furthest offsets of real zones are accepted.
func TestDecodeCreateOffsets(t *testing.T) {
	t.Parallel()
	for _, off := range []string{"+14:00", "-12:00", "+05:45", "-09:30", "-14:00", "Z"} {
		body := strings.NewReplacer("2024-06-15T14:00:00-04:00", "2024-06-15T14:00:00"+off,
			"2024-06-15T14:15:00-04:00", "2024-06-15T14:15:00"+off).Replace(seedBody)
		if _, err := DecodeCreate([]byte(body)); err != nil {
			t.Errorf("offset %s: %v", off, err)
		}
	}
}

func TestRequestHash(t *testing.T) {
	t.Parallel()
	a, _ := DecodeCreate([]byte(seedBody))
	// The same meaning written differently hashes the same.
	compact := strings.Join(strings.Fields(seedBody), " ")
	compact = strings.Replace(compact, `"2024-06-15T14:00:00-04:00"`, `"2024-06-15T18:00:00Z"`, 1)
	b, err := DecodeCreate([]byte(compact))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Error("equivalent bodies hash differently")
	}
	c, _ := DecodeCreate([]byte(strings.Replace(seedBody, "escalation", "question", 1)))
	if a.Hash() == c.Hash() {
		t.Error("different bodies hash the same")
	}
}

func TestDecodeUpdate(t *testing.T) {
	t.Parallel()
	r, err := DecodeUpdate([]byte(`{"reason": "moved", "time_slot_matrix": [{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:15:00Z"}]}`))
	if err != nil || r.Reason == nil || *r.Reason != "moved" || len(r.Candidates) != 1 || r.Channel != nil {
		t.Fatalf("DecodeUpdate = %+v, %v", r, err)
	}
	for body, field := range map[string]string{
		`{}`:                           "body",
		`{"queue_id": "other"}`:        "queue_id",
		`{"callback_number": "+1415"}`: "callback_number",
		`{"time_slot_matrix": []}`:     "time_slot_matrix",
		`{"status": "canceled"}`:       "status",
		"{\"reason\": \"a\xffb\"}":     "reason",
		`{"customer_name": "\u0000"}`:  "customer_name",
	} {
		_, err := DecodeUpdate([]byte(body))
		var e *Error
		if !errors.As(err, &e) || e.Fields[field] == "" {
			t.Errorf("DecodeUpdate(%s): err = %v, want a complaint about %s", body, err, field)
		}
	}
}

func TestMaskNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+14155550199":  "+1********99",
		"+442071838750": "+44********50",
		"":              "",
		"garbage":       "*****ge",
	} {
		if got := MaskNumber(in); got != want {
			t.Errorf("MaskNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// A MaskedNumber logs masked, whatever the handler.
func TestMaskedNumberLogs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("created", "callback_number", MaskedNumber("+14155550199"))
	slog.New(slog.NewTextHandler(&buf, nil)).Info("created", "callback_number", MaskedNumber("+14155550199"))
	if out := buf.String(); strings.Contains(out, "+14155550199") || strings.Count(out, "+1********99") != 2 {
		t.Errorf("log output %q: want the number masked in both records", out)
	}
}

func TestReservationJSONRoundTrip(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 3, 10, 6, 30, 0, 0, time.UTC)
	r := &Reservation{
		ID: "cb_1", ClientID: "website", CallbackID: "x", QueueID: "q", TimeZone: "America/New_York",
		CallbackNumber: "+14155550199", Candidates: []Slot{{start, start.Add(15 * time.Minute)}},
		Slot: Slot{start, start.Add(15 * time.Minute)}, Channel: ChannelPreferences{Primary: "voice"},
		Reason: "r", ConcurrencyLimit: 3, Status: StatusScheduled, Sync: Sync{State: SyncPending}, Version: 2,
		CreatedAt: start.Add(-time.Hour), UpdatedAt: start.Add(-time.Minute),
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	// The seed's response fields, with callback_time in UTC milliseconds.
	for _, want := range []string{`"id":"cb_1"`, `"callback_number":"+14155550199"`, `"callback_time":"2030-03-10T06:30:00.000Z"`,
		`"queue_id":"q"`, `"reason":"r"`, `"status":"scheduled"`, `"start":"2030-03-10T01:30:00-05:00"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back Reservation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Bucket = r.Bucket
	if !back.Slot.Start.Equal(r.Slot.Start) || back.Version != 2 || back.CallbackNumber != r.CallbackNumber || !back.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("round trip = %+v", back)
	}
}

// FuzzDecodeCreate: the decoder never panics, and anything it accepts is
// well formed.
func FuzzDecodeCreate(f *testing.F) {
	f.Add([]byte(seedBody))
	f.Add([]byte(`{"callback_number":"+14155550199","queue_id":"q","time_slot_matrix":[{"start":"2030-01-01T10:00:00Z","end":"2030-01-01T10:15:00Z"}]}`))
	f.Add([]byte(`{"time_slot_matrix":[{"start":"x"}],"concurrency_limit":1e400}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeCreate(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID || len(e.Fields) == 0 {
				t.Fatalf("error is not a field error: %v", err)
			}
			return
		}
		if !ValidNumber(r.CallbackNumber) || r.QueueID == "" || len(r.Candidates) == 0 || len(r.Candidates) > MaxCandidates {
			t.Fatalf("accepted a bad request: %+v", r)
		}
		for _, s := range r.Candidates {
			if !s.End.After(s.Start) || s.End.Sub(s.Start) > MaxSlotLength {
				t.Fatalf("accepted a bad slot: %+v", s)
			}
			for _, at := range []time.Time{s.Start, s.End} {
				if _, off := at.Zone(); time.Duration(max(off, -off))*time.Second > MaxOffset {
					t.Fatalf("accepted the offset of %s", at)
				}
				if at.Before(MinInstant) || at.After(MaxInstant) {
					t.Fatalf("accepted the instant %s", at)
				}
			}
		}
		// Every string reaches the database: PostgreSQL refuses NUL and
		// invalid UTF-8 in text (SQLSTATE 22021).
		for _, s := range []string{r.CallbackID, r.CallbackNumber, r.CustomerName, r.QueueID, r.Reason, r.Channel.Primary, r.Channel.Fallback} {
			if !ValidText(s) {
				t.Fatalf("accepted the string %q", s)
			}
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted a body that is not UTF-8: %q", body)
		}
		if r.ConcurrencyLimit != 0 && (r.ConcurrencyLimit < 1 || r.ConcurrencyLimit > 50) {
			t.Fatalf("accepted concurrency_limit %d", r.ConcurrencyLimit)
		}
	})
}
