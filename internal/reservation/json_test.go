package reservation

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// reflectJSON is the reference MarshalJSON is held to: encoding/json's
// rendering of reservationJSON, as MarshalJSON produced it before it
// wrote the JSON by hand.
func reflectJSON(r *Reservation) ([]byte, error) {
	loc := location(r.TimeZone)
	local := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	v := reservationJSON{
		ID: r.ID, CallbackID: r.CallbackID, CallbackNumber: r.CallbackNumber, CustomerName: r.CustomerName,
		CallbackTime: r.Slot.Start.UTC().Format(TimeFormat), QueueID: r.QueueID, Reason: r.Reason, Status: r.Status,
		Outcome: r.Outcome, CancelReason: r.CancelReason, DisconnectType: r.DisconnectType, DisconnectReasons: r.DisconnectReasons,
		WrapupCode: r.WrapupCode, DialAttempts: r.DialAttempts, Overbooked: r.Overbooked,
		TimeSlot:       slotJSON{local(r.Slot.Start), local(r.Slot.End)},
		TimeSlotMatrix: make([]slotJSON, len(r.Candidates)), TimeZone: r.TimeZone,
		ConcurrencyLimit: r.ConcurrencyLimit, ClientID: r.ClientID, Version: r.Version,
		CreatedAt: r.CreatedAt.UTC().Format(TimeFormat), UpdatedAt: r.UpdatedAt.UTC().Format(TimeFormat),
		Sync: syncJSON{Sync: r.Sync},
	}
	if !r.Sync.ScheduledAt.IsZero() {
		v.Sync.ScheduledAt = r.Sync.ScheduledAt.UTC().Format(TimeFormat)
	}
	ch := r.Channel
	v.ChannelPreferences = &ch
	for i, c := range r.Candidates {
		v.TimeSlotMatrix[i] = slotJSON{local(c.Start), local(c.End)}
	}
	return json.Marshal(v)
}

func sampleReservation() *Reservation {
	start := time.Date(2026, 3, 8, 6, 45, 0, 0, time.UTC) // the spring-forward day in New York
	return &Reservation{
		ID: "cb_0123", ClientID: "website", CallbackID: "web-42", QueueID: "queue_12345", TimeZone: "America/New_York",
		CallbackNumber: "+14155550123", CustomerName: "Zoë O'Brien", Reason: "billing",
		Slot:       Slot{Start: start, End: start.Add(15 * time.Minute)},
		Candidates: []Slot{{Start: start, End: start.Add(15 * time.Minute)}, {Start: start.Add(time.Hour), End: start.Add(75 * time.Minute)}},
		Channel:    ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true},
		Status:     StatusMissed, Outcome: OutcomeNotReached, DisconnectType: "timeout",
		DisconnectReasons: []DisconnectReason{{Type: "q850", Code: 19, Phrase: "No answer from user (user alerted)"}, {Type: "sip", Code: 480}},
		WrapupCode:        "0c1d-wrapup", DialAttempts: 2, Overbooked: true, ConcurrencyLimit: 3, Version: 7,
		CreatedAt: start.Add(-time.Hour).Add(123456 * time.Microsecond), UpdatedAt: start.Add(time.Minute),
		Sync: Sync{State: SyncSynced, ConversationID: "conv-1", CallbackIDs: []CallbackIdentifier{{"ACD", "a1"}, {"EXTERNAL", "e2"}},
			ScheduledAt: start, Attempts: 2, LastError: "429 then fine"},
	}
}

// TestMarshalJSONMatchesEncodingJSON holds the hand-written encoder to
// encoding/json, byte for byte, over full and empty reservations and
// strings that need every kind of escape.
func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\r",
		"bell\a back\b feed\f nul\x00 unit\x1f del\x7f", "line\u2028para\u2029end", "bad \xff\xfe utf8 \xc3",
		"emoji 📞 and ünïcödé", "\u00e9\u0301"}
	full := sampleReservation()
	cases := []*Reservation{full, {}, {TimeZone: "Australia/Lord_Howe", Candidates: []Slot{}}, {TimeZone: "Not/AZone"}}
	for _, s := range strs {
		r := *full
		r.ID, r.CallbackID, r.CallbackNumber, r.CustomerName, r.QueueID, r.Reason = s, s, s, s, s, s
		r.DisconnectType, r.ClientID, r.Channel.Primary, r.Channel.Fallback = s, s, s, s
		r.Outcome, r.WrapupCode = Outcome(s), s
		r.CancelReason = s
		r.DisconnectReasons = []DisconnectReason{{Type: s, Code: -1, Phrase: s}}
		r.Sync.ConversationID, r.Sync.LastError = s, s
		r.Sync.CallbackIDs = []CallbackIdentifier{{s, s}}
		r.Status, r.Sync.State = Status(s), SyncState(s)
		cases = append(cases, &r)
	}
	for i, r := range cases {
		want, err := reflectJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		var back Reservation
		if err := back.UnmarshalJSON(got); err != nil && r.TimeZone != "" {
			t.Errorf("case %d: does not read back: %v", i, err)
		}
	}
}

// FuzzMarshalJSON: for any strings, the encoder agrees with encoding/json.
func FuzzMarshalJSON(f *testing.F) {
	f.Add("billing", "Zoë", "conv-1")
	f.Add("<&>\u2028", "\xff", "\x00\x1f")
	f.Fuzz(func(t *testing.T, reason, name, conv string) {
		r := sampleReservation()
		r.Reason, r.CustomerName, r.Sync.ConversationID = reason, name, conv
		want, err := reflectJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := r.MarshalJSON()
		if !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
