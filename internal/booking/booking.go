// SPDX-License-Identifier: Apache-2.0

// Package booking is the reservation service: it judges requests against
// each queue's calendar, turns them into capacity candidates, commits them
// through storage, replays idempotent requests, and explains refusals (each
// candidate's reason and the nearest free slots).
package booking

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// Store is what the service reads and writes: storage.Store, or anything
// that keeps the same promises (the storagetest suite).
type Store interface {
	CreateReservation(ctx context.Context, r *reservation.Reservation, cands []reservation.Candidate, w reservation.Write) (int, error)
	UpdateReservation(ctx context.Context, id string, c reservation.Change, w reservation.Write) (*reservation.Reservation, int, error)
	CancelReservation(ctx context.Context, id string, w reservation.Write) (*reservation.Reservation, bool, error)
	FindReservationByID(ctx context.Context, id string) (*reservation.Reservation, error)
	FindReservations(ctx context.Context, f reservation.Filter) ([]*reservation.Reservation, string, error)
	FindIdempotency(ctx context.Context, clientID, key string) (*reservation.IdempotencyRecord, error)
	SlotUsage(ctx context.Context, queueID string, from, to time.Time) (map[int64]int, error)
}

// Queue is one configured queue: the calendar its bookings are judged
// against, and what its callbacks carry to Genesys.
type Queue struct {
	ID             string
	GenesysQueueID string
	Name           string
	TimeZone       string
	// Calendar is what a booking is judged against.
	Calendar *schedule.Calendar
	// ScheduleGroupID names the Genesys schedule group the queue's hours
	// come from, if any (the sync's hours importer then keeps
	// Calendar.Imported).
	ScheduleGroupID string
	// SMSFrom is the queue's number for the missed-callback SMS ("": no
	// SMS from this queue).
	SMSFrom string
	// CallerID, CallerIDName and ScriptID go into each callback created in
	// Genesys when set.
	CallerID, CallerIDName, ScriptID string
	// NotReachedWrapups are the Genesys wrap-up codes (ids or names) that
	// make a callback whose call was answered not reached: a voicemail, the
	// wrong person.
	NotReachedWrapups []string
	// Locale is the language (BCP 47) of the messages to customers who
	// chose none ("": reservation.DefaultLocale).
	Locale string
	// CancelIfReachedWithin is how long before a slot a call of the same
	// customer answered by an agent of the queue cancels the reservation
	// (reason customer_reached); 0: never.
	CancelIfReachedWithin time.Duration
	// SelfService is what the queue's customers may change through their
	// reservations' self-service links.
	SelfService reservation.SelfPolicy
	// NumberRules refuse callback numbers by country, prefix and type
	// (nil: none).
	NumberRules *reservation.NumberRules
	// Admission is the duplicate rule and the throttles a create is
	// judged by in its transaction (admission.go).
	Admission reservation.Admission
	// Notify is which SMS the queue's customers get (the sync sends them);
	// nil is notify.DefaultPolicy (the missed-callback fallback only).
	Notify *notify.Policy
}

// Observer is told the outcome of every admission attempt (for metrics).
// Outcome is "admitted", "replayed" or "rejected"; reason is a
// schedule.Reason, "invalid", "conflict" or "".
type Observer interface {
	Admission(outcome, reason string)
	Stage(stage string, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) Admission(string, string)    {}
func (nopObserver) Stage(string, time.Duration) {}

// Service books, changes and cancels reservations.
type Service struct {
	store    Store
	queues   map[string]*Queue
	order    []*Queue
	now      func() time.Time
	logger   *slog.Logger
	observer Observer
	seal     func(*reservation.Reservation)
}

// Options tune a Service.
type Options struct {
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger
	Observer Observer
	// Seal, when set, is called on each new reservation once it has its
	// id, before it is stored (the self-service link gives it its nonce
	// and digest).
	Seal func(*reservation.Reservation)
}

// New returns a Service over the store and queues.
func New(store Store, queues []*Queue, opts Options) *Service {
	s := &Service{store: store, queues: map[string]*Queue{}, order: queues, now: opts.Now, logger: opts.Logger,
		observer: opts.Observer, seal: opts.Seal}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.observer == nil {
		s.observer = nopObserver{}
	}
	for _, q := range queues {
		s.queues[q.ID] = q
	}
	return s
}

// Now returns the service's clock reading.
func (s *Service) Now() time.Time { return s.now() }

// Queues returns the queues in configuration order.
func (s *Service) Queues() []*Queue { return s.order }

// Queue returns one queue or ENOTFOUND.
func (s *Service) Queue(id string) (*Queue, error) {
	q, ok := s.queues[id]
	if !ok {
		return nil, reservation.Errorf(reservation.ENOTFOUND, "queue %q does not exist", id)
	}
	return q, nil
}

// Caller identifies who makes a request.
type Caller struct {
	ClientID string
	// All lets the caller reach every client's reservations (the
	// callback:admin scope); without it, another client's reservation
	// answers ENOTFOUND, as if it did not exist.
	All       bool
	RequestID string
	// IdempotencyKey is the Idempotency-Key header, if any.
	IdempotencyKey string
	// Origin is the origin of the caller's changes ("":
	// reservation.OriginAPI); Self, for a customer acting through the
	// reservation's link, the queue's policy the change is held to.
	Origin string
	Self   *reservation.SelfPolicy
}

// CandidateResult says what became of one candidate of a refused request.
type CandidateResult struct {
	Index  int             `json:"index"`
	Start  string          `json:"start"`
	End    string          `json:"end"`
	Reason schedule.Reason `json:"reason"`
	// text, when set, says why in the words of this candidate (for a slot
	// in the future whose bucket has begun, "past" alone would puzzle).
	text string
}

// FreeSlot is a bookable bucket offered as an alternative.
type FreeSlot struct {
	Start     string `json:"start"`
	End       string `json:"end"`
	Remaining int    `json:"remaining"`
}

// Result is a successful write.
type Result struct {
	Reservation *reservation.Reservation
	Replayed    bool // an idempotent replay of an earlier request
	Created     bool // a new reservation (201)
	// DuplicateOf is set when a create booked nothing because its number
	// already has this active reservation (duplicates: lenient).
	DuplicateOf string
}

// Create books the first candidate of req that passes the queue's calendar
// and has room. Errors: EINVALID (no candidate passes the calendar, unknown
// queue), ECONFLICT (every passing candidate is full; an idempotency key
// reused with another request).
func (s *Service) Create(ctx context.Context, c Caller, req *reservation.CreateRequest) (*Result, error) {
	start := time.Now()
	q, ok := s.queues[req.QueueID]
	if !ok {
		s.observer.Admission("rejected", "invalid")
		return nil, reservation.FieldError("queue_id", fmt.Sprintf("names no configured queue (%q)", req.QueueID))
	}
	key := ""
	switch {
	case req.CallbackID != "":
		key = reservation.CallbackIDKey(req.CallbackID)
	case c.IdempotencyKey != "":
		key = "key:" + c.IdempotencyKey
	}
	idem := reservation.CreateIdempotency(key, req.Hash())
	// A key is not looked up before the create: its write's transaction
	// refuses a key stored before (ErrKeyTaken, ahead of a full slot or a
	// refusal of the queue's admission rules), so that only a create
	// refused here, before its write, looks its key up first: a replay is
	// answered the same either way.
	number := req.Number()
	if err := q.NumberRules.CheckNumber(number); err != nil {
		if res, ok, rerr := s.replayFirst(ctx, c, idem); ok {
			return res, rerr
		}
		s.observer.Admission("rejected", reservation.ENOTALLOWED)
		return nil, err
	}
	now := s.now()
	cands, results := s.candidates(q, req.Candidates, req.ConcurrencyLimit, now)
	s.observer.Stage("validation", time.Since(start))
	if len(cands) == 0 {
		if res, ok, rerr := s.replayFirst(ctx, c, idem); ok {
			return res, rerr
		}
		s.observer.Admission("rejected", string(results[0].Reason))
		return nil, s.refusal(ctx, q, reservation.EINVALID, results, req.Candidates[0].Start, req.ConcurrencyLimit, now)
	}
	r := &reservation.Reservation{
		ClientID:         c.ClientID,
		CallbackID:       req.CallbackID,
		QueueID:          q.ID,
		TimeZone:         q.TimeZone,
		CallbackNumber:   req.CallbackNumber,
		CustomerName:     req.CustomerName,
		Candidates:       req.Candidates,
		Channel:          req.Channel,
		Reason:           req.Reason,
		ConcurrencyLimit: req.ConcurrencyLimit,
		Locale:           cmp.Or(req.Locale, q.Locale, reservation.DefaultLocale),
	}
	w := s.write(c, now)
	w.Seal = s.seal
	if key != "" {
		w.Idempotency = idem
	}
	if q.Admission.Active() {
		w.Admission = &q.Admission
	}
	admit := time.Now()
	_, err := s.store.CreateReservation(ctx, r, candidatesOf(cands), w)
	s.observer.Stage("admission", time.Since(admit))
	switch {
	case errors.Is(err, reservation.ErrFull):
		for _, cd := range cands {
			results[cd.index].Reason = schedule.ReasonFull
		}
		s.observer.Admission("rejected", string(schedule.ReasonFull))
		return nil, s.refusal(ctx, q, reservation.ECONFLICT, results, req.Candidates[0].Start, req.ConcurrencyLimit, now)
	case errors.Is(err, reservation.ErrKeyTaken):
		// The key was stored before: by an earlier request (a replay), or
		// by a concurrent one that committed first.
		if res, err := s.replay(ctx, c, idem); res != nil || err != nil {
			return res, err
		}
		return nil, fmt.Errorf("idempotency key %s taken but not found", key)
	case err != nil:
		if res, ok, aerr := s.admissionRefusal(ctx, c, err); ok {
			return res, aerr
		}
		return nil, err
	}
	s.observer.Admission("admitted", "")
	s.logger.InfoContext(ctx, "reservation created", "reservation_id", r.ID, "queue_id", q.ID,
		"callback_number", number, "slot", r.Slot.Start.UTC(),
		"client_id", c.ClientID, "request_id", c.RequestID)
	return &Result{Reservation: r, Created: true}, nil
}

// replayFirst is the replay of a create refused before its write: ok
// when idem's key (if any) was used before, with what replay answers.
func (s *Service) replayFirst(ctx context.Context, c Caller, idem *reservation.Idempotency) (*Result, bool, error) {
	if idem.Key == "" {
		return nil, false, nil
	}
	res, err := s.replay(ctx, c, idem)
	return res, res != nil || err != nil, err
}

// replay returns the stored response for an idempotency key, nil if the key
// is new, or ECONFLICT if it was used for another request.
func (s *Service) replay(ctx context.Context, c Caller, idem *reservation.Idempotency) (*Result, error) {
	rec, err := s.store.FindIdempotency(ctx, c.ClientID, idem.Key)
	if err != nil || rec == nil {
		return nil, err
	}
	if rec.Method != idem.Method || rec.Target != idem.Target || rec.RequestHash != idem.RequestHash {
		s.observer.Admission("rejected", "conflict")
		what := "Idempotency-Key"
		if len(idem.Key) > 12 && idem.Key[:12] == "callback_id:" {
			what = "callback_id"
		}
		e := reservation.Errorf(reservation.ECONFLICT,
			"%s %q was already used for a different request (%s %s); use a new key", what, keyValue(idem.Key), rec.Method, rec.Target)
		e.Extra = map[string]any{"reservation_id": rec.Reservation.ID}
		return nil, e
	}
	if idem.Method == "POST" {
		s.observer.Admission("replayed", "")
	}
	return &Result{Reservation: rec.Reservation, Replayed: true, Created: rec.Status == 201}, nil
}

func keyValue(k string) string {
	for _, p := range []string{"callback_id:", "key:"} {
		if len(k) > len(p) && k[:len(p)] == p {
			return k[len(p):]
		}
	}
	return k
}

func (s *Service) write(c Caller, now time.Time) reservation.Write {
	return reservation.Write{Actor: c.ClientID, Owner: c.owner(), Origin: cmp.Or(c.Origin, reservation.OriginAPI),
		RequestID: c.RequestID, Now: now, Self: c.Self}
}

type candidate struct {
	index int
	reservation.Candidate
}

func candidatesOf(cs []candidate) []reservation.Candidate {
	out := make([]reservation.Candidate, len(cs))
	for i, c := range cs {
		out[i] = c.Candidate
	}
	return out
}

// candidates judges each slot against the calendar; it returns the ones
// that pass, with their bucket and effective cap, and a result per slot.
func (s *Service) candidates(q *Queue, slots []reservation.Slot, limit int, now time.Time) ([]candidate, []CandidateResult) {
	var out []candidate
	results := make([]CandidateResult, len(slots))
	loc := q.Calendar.Location
	for i, sl := range slots {
		reason := q.Calendar.Check(sl.Start, sl.End, now)
		results[i] = CandidateResult{Index: i, Start: sl.Start.In(loc).Format(time.RFC3339), End: sl.End.In(loc).Format(time.RFC3339), Reason: reason}
		b := q.Calendar.BucketAt(sl.Start)
		if reason == schedule.ReasonPast && sl.Start.After(now) {
			results[i].text = "falls in a slot that has already begun (" + b.Start.In(loc).Format("15:04") + "–" +
				b.End.In(loc).Format("15:04") + "); the next one starts at " + b.End.In(loc).Format("15:04")
		}
		if reason != schedule.OK {
			continue
		}
		out = append(out, candidate{i, reservation.Candidate{Slot: sl, Bucket: b.Start, Cap: effectiveCap(q.Calendar.CapacityAt(b.Start), limit)}})
	}
	return out, results
}

func effectiveCap(capacity, limit int) int {
	if limit > 0 && limit < capacity {
		return limit
	}
	return capacity
}

var reasonText = map[schedule.Reason]string{
	schedule.ReasonPast:     "is in the past",
	schedule.ReasonLeadTime: "starts sooner than the queue's lead time allows",
	schedule.ReasonHorizon:  "is beyond the queue's booking horizon",
	schedule.ReasonHoliday:  "falls on a date the queue is closed",
	schedule.ReasonClosed:   "is outside the queue's opening hours",
	schedule.ReasonFull:     "is full",
}

// refusal builds the error for a request none of whose candidates could be
// booked: each candidate's reason and the three nearest free slots.
func (s *Service) refusal(ctx context.Context, q *Queue, code string, results []CandidateResult, around time.Time, limit int, now time.Time) error {
	fields := map[string]string{}
	why := func(r CandidateResult) string {
		if r.text != "" {
			return r.text
		}
		return reasonText[r.Reason]
	}
	for _, r := range results {
		fields[fmt.Sprintf("time_slot_matrix[%d]", r.Index)] = why(r)
	}
	msg := "no slot of time_slot_matrix can be booked"
	if len(results) == 1 {
		msg = "the requested slot " + why(results[0])
	}
	e := &reservation.Error{Code: code, Message: msg, Fields: fields, Extra: map[string]any{"candidates": results}}
	free, err := s.nearestFree(ctx, q, around, limit, now, 3)
	if err != nil {
		s.logger.WarnContext(ctx, "nearest free slots", "queue_id", q.ID, "err", err)
	} else {
		e.Extra["nearest_free_slots"] = free
	}
	return e
}

// nearestFree returns up to n bookable buckets nearest to around, in time
// order, searching the whole booking window.
func (s *Service) nearestFree(ctx context.Context, q *Queue, around time.Time, limit int, now time.Time, n int) ([]FreeSlot, error) {
	avail, err := s.availability(ctx, q, now, now.Add(q.Calendar.Horizon+q.Calendar.LeadTime), limit, now)
	if err != nil {
		return nil, err
	}
	var free []Slot
	for _, a := range avail {
		if a.Reason == schedule.OK {
			free = append(free, a)
		}
	}
	dist := func(a Slot) time.Duration {
		d := a.Start.Sub(around)
		if d < 0 {
			return -d
		}
		return d
	}
	sort.SliceStable(free, func(i, j int) bool { return dist(free[i]) < dist(free[j]) })
	if len(free) > n {
		free = free[:n]
	}
	sort.Slice(free, func(i, j int) bool { return free[i].Start.Before(free[j].Start) })
	loc := q.Calendar.Location
	out := make([]FreeSlot, len(free))
	for i, f := range free {
		out[i] = FreeSlot{Start: f.Start.In(loc).Format(time.RFC3339), End: f.End.In(loc).Format(time.RFC3339), Remaining: f.Remaining}
	}
	return out, nil
}

// Slot is one bucket of a queue's availability.
type Slot struct {
	schedule.Bucket
	Capacity  int
	Used      int
	Remaining int
	Reason    schedule.Reason // OK means a create of this bucket would be admitted now
}

// MaxWindow is the longest availability window one call may ask for.
const MaxWindow = 31 * 24 * time.Hour

// Availability returns every bucket of the queue that starts in [from, to),
// with its capacity, use and the reason it cannot be booked, exactly as a
// create of that bucket would be judged now. limit is the caller's
// concurrency_limit (0 for none). Errors: ENOTFOUND, EINVALID.
func (s *Service) Availability(ctx context.Context, queueID string, from, to time.Time, limit int) ([]Slot, error) {
	q, err := s.Queue(queueID)
	if err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, reservation.FieldError("to", "must be after from")
	}
	if to.Sub(from) > MaxWindow {
		return nil, reservation.FieldError("to", "must be at most 31 days after from")
	}
	return s.availability(ctx, q, from, to, limit, s.now())
}

func (s *Service) availability(ctx context.Context, q *Queue, from, to time.Time, limit int, now time.Time) ([]Slot, error) {
	cells := q.Calendar.Grid(from, to, now)
	if len(cells) == 0 {
		return nil, nil
	}
	used, err := s.store.SlotUsage(ctx, q.ID, cells[0].Start, cells[len(cells)-1].End)
	if err != nil {
		return nil, err
	}
	// The capacity overrides are read after the use: a change committed in
	// between shows its capacity, never a stale one.
	capOf, err := s.capacityOf(ctx, q, cells[0].Start, cells[len(cells)-1].End)
	if err != nil {
		return nil, err
	}
	out := make([]Slot, len(cells))
	for i, c := range cells {
		capacity := effectiveCap(capOf(c.Start), limit)
		u := used[c.Start.UnixMicro()]
		sl := Slot{Bucket: c.Bucket, Capacity: capacity, Used: u, Remaining: max(capacity-u, 0), Reason: c.Reason}
		if sl.Reason == schedule.OK && sl.Remaining == 0 {
			sl.Reason = schedule.ReasonFull
		}
		out[i] = sl
	}
	return out, nil
}

// owner is the client c's reads and writes are limited to ("" for all).
func (c Caller) owner() string {
	if c.All {
		return ""
	}
	return c.ClientID
}

// Find returns one of c's reservations. Errors: ENOTFOUND (also for
// another client's, unless c.All).
func (s *Service) Find(ctx context.Context, c Caller, id string) (*reservation.Reservation, error) {
	r, err := s.store.FindReservationByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if o := c.owner(); o != "" && r.ClientID != o {
		return nil, reservation.ErrNotFound
	}
	return r, nil
}

// List returns a page of c's reservations (of every client's when c.All;
// f.ClientID then narrows them to one client).
func (s *Service) List(ctx context.Context, c Caller, f reservation.Filter) ([]*reservation.Reservation, string, error) {
	if o := c.owner(); o != "" {
		f.ClientID = o
	}
	return s.store.FindReservations(ctx, f)
}

// Update reschedules a reservation and/or changes its details. A new matrix
// is judged like a create's; capacity moves atomically. Errors: ENOTFOUND,
// EPRECONDITION, EINVALID, ECONFLICT.
func (s *Service) Update(ctx context.Context, c Caller, id string, ifMatch []int, req *reservation.UpdateRequest) (*Result, error) {
	idem := reservation.UpdateIdempotency("key:"+c.IdempotencyKey, id, req.Hash())
	if c.IdempotencyKey != "" {
		if res, err := s.replay(ctx, c, idem); res != nil || err != nil {
			return res, err
		}
	}
	cur, err := s.Find(ctx, c, id)
	if err != nil {
		return nil, err
	}
	q, err := s.Queue(cur.QueueID)
	if err != nil {
		return nil, reservation.Errorf(reservation.ECONFLICT, "queue %q of reservation %s is no longer configured", cur.QueueID, id)
	}
	now := s.now()
	change := reservation.Change{Reason: req.Reason, Channel: req.Channel, CustomerName: req.CustomerName}
	var results []CandidateResult
	var cands []candidate
	if req.Candidates != nil {
		cands, results = s.candidates(q, req.Candidates, cur.ConcurrencyLimit, now)
		if len(cands) == 0 {
			return nil, s.refusal(ctx, q, reservation.EINVALID, results, req.Candidates[0].Start, cur.ConcurrencyLimit, now)
		}
		change.Candidates = candidatesOf(cands)
		change.Matrix = req.Candidates
	}
	w := s.write(c, now)
	w.IfMatch = ifMatch
	if c.IdempotencyKey != "" {
		w.Idempotency = idem
	}
	r, _, err := s.store.UpdateReservation(ctx, id, change, w)
	switch {
	case errors.Is(err, reservation.ErrFull):
		for _, cd := range cands {
			results[cd.index].Reason = schedule.ReasonFull
		}
		return nil, s.refusal(ctx, q, reservation.ECONFLICT, results, req.Candidates[0].Start, cur.ConcurrencyLimit, now)
	case errors.Is(err, reservation.ErrKeyTaken):
		if res, err := s.replay(ctx, c, idem); res != nil || err != nil {
			return res, err
		}
		return nil, fmt.Errorf("idempotency key taken but not found")
	case err != nil:
		return nil, err
	}
	s.logger.InfoContext(ctx, "reservation updated", "reservation_id", r.ID, "version", r.Version,
		"client_id", c.ClientID, "request_id", c.RequestID)
	return &Result{Reservation: r}, nil
}

// Cancel cancels a reservation and frees its slot; canceling again returns
// the canceled reservation. Errors: ENOTFOUND, EPRECONDITION, ECONFLICT.
func (s *Service) Cancel(ctx context.Context, c Caller, id string, ifMatch []int) (*Result, error) {
	idem := reservation.CancelIdempotency("key:"+c.IdempotencyKey, id)
	if c.IdempotencyKey != "" {
		if res, err := s.replay(ctx, c, idem); res != nil || err != nil {
			return res, err
		}
	}
	w := s.write(c, s.now())
	w.IfMatch = ifMatch
	if c.IdempotencyKey != "" {
		w.Idempotency = idem
	}
	r, changed, err := s.store.CancelReservation(ctx, id, w)
	if errors.Is(err, reservation.ErrKeyTaken) {
		if res, err := s.replay(ctx, c, idem); res != nil || err != nil {
			return res, err
		}
	}
	if err != nil {
		return nil, err
	}
	if changed {
		s.logger.InfoContext(ctx, "reservation canceled", "reservation_id", r.ID, "client_id", c.ClientID, "request_id", c.RequestID)
	}
	return &Result{Reservation: r}, nil
}
