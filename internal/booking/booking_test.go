package booking_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
)

type bundle struct {
	svc   *booking.Service
	store *storage.Store
	queue *booking.Queue
	now   time.Time
}

// setup returns a service over a fresh SQLite store with one office-hours
// queue in New York and a clock fixed at a Tuesday morning.
func setup(t *testing.T) *bundle {
	t.Helper()
	store, err := storage.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "b.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	loc, _ := time.LoadLocation("America/New_York")
	sc := &schedule.Calendar{
		Location: loc, SlotMinutes: 15, Capacity: 2, LeadTime: 30 * time.Minute, Horizon: 10 * 24 * time.Hour,
		Closed: map[schedule.Date]bool{{Year: 2026, Month: 12, Day: 4}: true},
	}
	for d := time.Monday; d <= time.Friday; d++ {
		sc.Hours[d] = []schedule.Interval{{Start: 9 * 60, End: 12 * 60}, {Start: 13 * 60, End: 17 * 60}}
	}
	sat := schedule.Interval{Start: 9 * 60, End: 10 * 60}
	sc.Hours[time.Saturday] = []schedule.Interval{sat}
	sc.Overrides = []schedule.CapacityOverride{{Days: []time.Weekday{time.Saturday}, Hours: &sat, Capacity: 1}}
	q := &booking.Queue{ID: "support", Name: "Support", TimeZone: "America/New_York", Calendar: sc}
	now := time.Date(2026, 12, 1, 10, 7, 0, 0, loc)
	svc := booking.New(store, []*booking.Queue{q}, booking.Options{Now: func() time.Time { return now }})
	return &bundle{svc: svc, store: store, queue: q, now: now}
}

func (b *bundle) request(id string, slots ...time.Time) *reservation.CreateRequest {
	req := &reservation.CreateRequest{
		CallbackID: id, CallbackNumber: "+14155550199", QueueID: "support", Reason: "help",
		Channel: reservation.ChannelPreferences{Primary: "voice"},
	}
	for _, s := range slots {
		req.Candidates = append(req.Candidates, reservation.Slot{Start: s, End: s.Add(15 * time.Minute)})
	}
	return req
}

func caller() booking.Caller { return booking.Caller{ClientID: "website", RequestID: "r"} }

func at(b *bundle, day, hour, minute int) time.Time {
	return time.Date(2026, 12, day, hour, minute, 0, 0, b.queue.Calendar.Location)
}

// TestAvailabilityAgreesWithCreate fills some buckets, then for every bucket
// of a week asks availability and tries a create of exactly that bucket: the
// two must agree on whether it can be booked and on the reason.
func TestAvailabilityAgreesWithCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for i := range 2 { // fill Wednesday 09:00
		if _, err := b.svc.Create(ctx, caller(), b.request(fmt.Sprintf("fill%d", i), at(b, 2, 9, 0))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.svc.Create(ctx, caller(), b.request("sat", at(b, 5, 9, 0))); err != nil { // Saturday capacity 1
		t.Fatal(err)
	}
	from, to := at(b, 1, 0, 0), at(b, 12, 0, 0)
	slots, err := b.svc.Availability(ctx, "support", from, to, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[schedule.Reason]int{}
	for i, sl := range slots {
		seen[sl.Reason]++
		res, err := b.svc.Create(ctx, caller(), b.request(fmt.Sprintf("probe%d", i), sl.Start))
		if sl.Reason == schedule.OK {
			if err != nil {
				t.Fatalf("%v: availability says free, create says %v", sl.Start, err)
			}
			// Undo, so the next probes see the same state.
			if _, err := b.svc.Cancel(ctx, caller(), res.Reservation.ID, nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var e *reservation.Error
		if !errors.As(err, &e) {
			t.Fatalf("%v: availability says %s, create says %v", sl.Start, sl.Reason, err)
		}
		got := e.Extra["candidates"].([]booking.CandidateResult)[0].Reason
		if got != sl.Reason {
			t.Fatalf("%v: availability says %s, create says %s", sl.Start, sl.Reason, got)
		}
		wantCode := reservation.EINVALID
		if sl.Reason == schedule.ReasonFull {
			wantCode = reservation.ECONFLICT
		}
		if e.Code != wantCode {
			t.Errorf("%v: code %s, want %s", sl.Start, e.Code, wantCode)
		}
	}
	for _, r := range []schedule.Reason{schedule.OK, schedule.ReasonPast, schedule.ReasonLeadTime, schedule.ReasonHorizon,
		schedule.ReasonHoliday, schedule.ReasonClosed, schedule.ReasonFull} {
		if seen[r] == 0 {
			t.Errorf("no slot with reason %q in the window: the test does not cover it", r)
		}
	}
}

func TestCreateFirstFitAndRefusal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	wed9 := at(b, 2, 9, 0)
	for i := range 2 {
		if _, err := b.svc.Create(ctx, caller(), b.request(fmt.Sprintf("f%d", i), wed9)); err != nil {
			t.Fatal(err)
		}
	}
	// Closed, then full, then free: the free one is booked.
	res, err := b.svc.Create(ctx, caller(), b.request("c1", at(b, 2, 12, 15), wed9, at(b, 2, 9, 30)))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !res.Reservation.Slot.Start.Equal(at(b, 2, 9, 30)) {
		t.Errorf("booked %v, want the third candidate", res.Reservation.Slot.Start)
	}
	// Every candidate full or closed: 409 with reasons and nearest free slots.
	_, err = b.svc.Create(ctx, caller(), b.request("c2", wed9, at(b, 2, 12, 15)))
	var e *reservation.Error
	if !errors.As(err, &e) || e.Code != reservation.ECONFLICT {
		t.Fatalf("err = %v, want conflict", err)
	}
	cands := e.Extra["candidates"].([]booking.CandidateResult)
	if cands[0].Reason != schedule.ReasonFull || cands[1].Reason != schedule.ReasonClosed {
		t.Errorf("candidates = %+v", cands)
	}
	if e.Fields["time_slot_matrix[0]"] == "" || e.Fields["time_slot_matrix[1]"] == "" {
		t.Errorf("fields = %v", e.Fields)
	}
	free := e.Extra["nearest_free_slots"].([]booking.FreeSlot)
	// 08:45 is closed (hours start at 09:00), so the nearest are 09:15, 09:30 (1 left) and 09:45.
	want := []string{"2026-12-02T09:15:00-05:00", "2026-12-02T09:30:00-05:00", "2026-12-02T09:45:00-05:00"}
	if len(free) != 3 {
		t.Fatalf("nearest free = %+v", free)
	}
	for i := range want {
		if free[i].Start != want[i] {
			t.Errorf("nearest free[%d] = %s, want %s", i, free[i].Start, want[i])
		}
	}
	if free[1].Remaining != 1 {
		t.Errorf("09:30 remaining = %d, want 1", free[1].Remaining)
	}
	// A request's own concurrency_limit caps the bucket.
	req := b.request("c3", at(b, 2, 9, 30))
	req.ConcurrencyLimit = 1
	if _, err := b.svc.Create(ctx, caller(), req); reservation.ErrorCode(err) != reservation.ECONFLICT {
		t.Errorf("concurrency_limit 1 on a bucket holding 1: err = %v, want conflict", err)
	}
	// Unknown queue names the field.
	req = b.request("c4", wed9)
	req.QueueID = "nope"
	if _, err := b.svc.Create(ctx, caller(), req); !errors.As(err, &e) || e.Fields["queue_id"] == "" {
		t.Errorf("unknown queue: err = %v", err)
	}
}

func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	req := b.request("same", at(b, 3, 10, 0))
	first, err := b.svc.Create(ctx, caller(), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.svc.Create(ctx, caller(), b.request("same", at(b, 3, 10, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || !again.Created || again.Reservation.ID != first.Reservation.ID {
		t.Errorf("replay = %+v", again)
	}
	// The replay did not book a second slot.
	slots, _ := b.svc.Availability(ctx, "support", at(b, 3, 10, 0), at(b, 3, 10, 15), 0)
	if slots[0].Used != 1 {
		t.Errorf("used = %d after a replay, want 1", slots[0].Used)
	}
	// Same key, different body: conflict naming the key.
	_, err = b.svc.Create(ctx, caller(), b.request("same", at(b, 3, 11, 0)))
	var e *reservation.Error
	if !errors.As(err, &e) || e.Code != reservation.ECONFLICT || e.Extra["reservation_id"] != first.Reservation.ID {
		t.Errorf("reused key: err = %v", err)
	}
	// Another client's identical key is its own.
	other := caller()
	other.ClientID = "crm"
	if res, err := b.svc.Create(ctx, other, b.request("same", at(b, 3, 10, 0))); err != nil || res.Replayed {
		t.Errorf("other client: %+v, %v", res, err)
	}
	// Without callback_id the Idempotency-Key header is the key.
	hc := caller()
	hc.IdempotencyKey = "k1"
	r1, err := b.svc.Create(ctx, hc, b.request("", at(b, 3, 11, 0)))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.svc.Create(ctx, hc, b.request("", at(b, 3, 11, 0)))
	if err != nil || !r2.Replayed || r2.Reservation.ID != r1.Reservation.ID {
		t.Errorf("header replay = %+v, %v", r2, err)
	}
}

// TestKeyAheadOfRefusalsBeforeTheWrite: a create refused before its write
// (the number rules, a slot now past) still answers its key as a replay
// would: the stored response, or a conflict for another body.
func TestKeyAheadOfRefusalsBeforeTheWrite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.queue.NumberRules = &reservation.NumberRules{Block: []string{"+1900"}}
	first, err := b.svc.Create(ctx, caller(), b.request("kept", at(b, 3, 10, 0)))
	if err != nil {
		t.Fatal(err)
	}
	refused := b.request("kept", at(b, 3, 10, 0))
	refused.CallbackNumber = "+19005550100"
	var e *reservation.Error
	if _, err := b.svc.Create(ctx, caller(), refused); !errors.As(err, &e) || e.Code != reservation.ECONFLICT || e.Extra["reservation_id"] != first.Reservation.ID {
		t.Errorf("reused key with a refused number: err = %v, want a conflict naming %s", err, first.Reservation.ID)
	}
	fresh := b.request("new", at(b, 3, 10, 0))
	fresh.CallbackNumber = "+19005550100"
	if _, err := b.svc.Create(ctx, caller(), fresh); !errors.As(err, &e) || e.Code != reservation.ENOTALLOWED {
		t.Errorf("a new key with a refused number: err = %v, want number_not_allowed", err)
	}
	past := b.request("kept", at(b, 1, 9, 0))
	if _, err := b.svc.Create(ctx, caller(), past); !errors.As(err, &e) || e.Code != reservation.ECONFLICT {
		t.Errorf("reused key with a past slot: err = %v, want a conflict", err)
	}
}

// TestCreateLogsTheNumberMasked: the log line of a create shows the number
// masked (from the create's one parse).
func TestCreateLogsTheNumberMasked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var buf bytes.Buffer
	svc := booking.New(b.store, []*booking.Queue{b.queue}, booking.Options{Now: b.svc.Now,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	req, err := reservation.DecodeCreate([]byte(`{"callback_number":"+14155550199","queue_id":"support","reason":"help",` +
		`"channel_preferences":{"primary":"voice"},"time_slot_matrix":[{"start":"` + at(b, 3, 10, 0).Format(time.RFC3339) +
		`","end":"` + at(b, 3, 10, 15).Format(time.RFC3339) + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(context.Background(), caller(), req); err != nil {
		t.Fatal(err)
	}
	var line struct {
		Msg    string `json:"msg"`
		Number string `json:"callback_number"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if line.Msg != "reservation created" || line.Number != reservation.MaskNumber("+14155550199") || strings.Contains(buf.String(), "5550199") {
		t.Errorf("log line %s: want callback_number %q", buf.String(), reservation.MaskNumber("+14155550199"))
	}
}

func TestRescheduleAndCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	res, err := b.svc.Create(ctx, caller(), b.request("r1", at(b, 3, 10, 0)))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Reservation.ID
	moved, err := b.svc.Update(ctx, caller(), id, []int{1}, &reservation.UpdateRequest{
		Candidates: []reservation.Slot{{Start: at(b, 3, 12, 30), End: at(b, 3, 12, 45)}, {Start: at(b, 3, 14, 0), End: at(b, 3, 14, 15)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !moved.Reservation.Slot.Start.Equal(at(b, 3, 14, 0)) || moved.Reservation.Version != 2 {
		t.Errorf("rescheduled to %v v%d, want 14:00 v2", moved.Reservation.Slot.Start, moved.Reservation.Version)
	}
	// A stale If-Match is refused.
	if _, err := b.svc.Cancel(ctx, caller(), id, []int{1}); reservation.ErrorCode(err) != reservation.EPRECONDITION {
		t.Errorf("stale cancel: err = %v", err)
	}
	// A reschedule whose candidates all fail the calendar is refused with reasons.
	_, err = b.svc.Update(ctx, caller(), id, nil, &reservation.UpdateRequest{
		Candidates: []reservation.Slot{{Start: at(b, 4, 10, 0), End: at(b, 4, 10, 15)}},
	})
	var e *reservation.Error
	if !errors.As(err, &e) || e.Code != reservation.EINVALID || e.Extra["candidates"].([]booking.CandidateResult)[0].Reason != schedule.ReasonHoliday {
		t.Errorf("reschedule to a holiday: err = %v", err)
	}
	c, err := b.svc.Cancel(ctx, caller(), id, []int{2})
	if err != nil || c.Reservation.Status != reservation.StatusCanceled {
		t.Fatalf("cancel = %+v, %v", c, err)
	}
	again, err := b.svc.Cancel(ctx, caller(), id, nil)
	if err != nil || again.Replayed || again.Reservation.Version != 3 || again.Reservation.Status != reservation.StatusCanceled {
		t.Errorf("second cancel = %+v, %v", again, err)
	}
}

func TestAvailabilityWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.svc.Availability(ctx, "support", b.now, b.now, 0); reservation.ErrorCode(err) != reservation.EINVALID {
		t.Errorf("empty window: err = %v", err)
	}
	if _, err := b.svc.Availability(ctx, "support", b.now, b.now.Add(32*24*time.Hour), 0); reservation.ErrorCode(err) != reservation.EINVALID {
		t.Errorf("window over 31 days: err = %v", err)
	}
	if _, err := b.svc.Availability(ctx, "nope", b.now, b.now.Add(time.Hour), 0); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Errorf("unknown queue: err = %v", err)
	}
	slots, err := b.svc.Availability(ctx, "support", at(b, 2, 9, 0), at(b, 2, 10, 0), 1)
	if err != nil || len(slots) != 4 || slots[0].Capacity != 1 {
		t.Errorf("concurrency_limit 1: %+v, %v", slots, err)
	}
}
