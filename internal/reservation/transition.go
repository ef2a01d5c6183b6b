package reservation

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The rules of a reservation's life: how a create books a slot, how a
// change or a cancel moves its capacity, and how what Genesys reports
// moves it forward. Storage runs each rule on the reservation it locked,
// inside the transaction of the change, with a Ledger over its capacity
// counters, then saves the reservation and appends the event the rule
// names. The rules are plain functions of the reservation, the request and
// the ledger, and are tested without a database.

// Ledger counts reservations against a queue's capacity buckets, inside
// the transaction of a change.
type Ledger interface {
	// Take counts one more reservation against bucket if the count stays
	// within limit; it reports whether it did.
	Take(ctx context.Context, queueID string, bucket time.Time, limit int) (bool, error)
	// Release counts one fewer against bucket (never below zero).
	Release(ctx context.Context, queueID string, bucket time.Time) error
	// Force counts one more against bucket whatever its limit and reports
	// whether the count is now over the limit.
	Force(ctx context.Context, queueID string, bucket time.Time, limit int) (over bool, err error)
}

// Transition is what a rule did to a reservation.
type Transition struct {
	// Changed says the reservation changed and must be saved. A rule that
	// changes the booking itself also moves Version and UpdatedAt.
	Changed bool
	// Event is the event type that records the change; "" for a change
	// without an event (the bookkeeping of a sync in progress).
	Event string
	// Action names the change in the audit log; Detail holds its key,
	// value pairs.
	Action string
	Detail []any
	// Kind and Note become the event's kind and reason (the messages to
	// the customer: reservation.notified and its kin).
	Kind, Note string
}

// MaxErrorBytes bounds the sync error kept on a reservation.
const MaxErrorBytes = 500

// Check returns ErrNotFound when the write is limited to one client's
// reservations (Owner) and r belongs to another, as if r did not exist;
// else EPRECONDITION unless r is at one of the versions the write names
// (any version when it names none).
func (w *Write) Check(r *Reservation) error {
	if w.Owner != "" && r.ClientID != w.Owner {
		return ErrNotFound
	}
	if len(w.IfMatch) == 0 || slices.Contains(w.IfMatch, r.Version) {
		return nil
	}
	parts := make([]string, len(w.IfMatch))
	for i, v := range w.IfMatch {
		parts[i] = strconv.Itoa(v)
	}
	return Errorf(EPRECONDITION, "reservation %s is at version %d, not %s; read it again and retry",
		r.ID, r.Version, strings.Join(parts, " or "))
}

// String formats s as "start/end" in UTC, RFC 3339.
func (s Slot) String() string {
	return s.Start.UTC().Format(time.RFC3339) + "/" + s.End.UTC().Format(time.RFC3339)
}

// Book books the first candidate with room for a new reservation and fills
// in r's slot, bucket, status, sync state, version and timestamps. It
// returns the index of the candidate booked, or ErrFull when none has room.
func Book(ctx context.Context, r *Reservation, cands []Candidate, l Ledger, now time.Time) (int, Transition, error) {
	chosen, err := takeFirst(ctx, l, r, cands, false)
	if err != nil {
		return -1, Transition{}, err
	}
	c := cands[chosen]
	r.Slot, r.Bucket = c.Slot, c.Bucket
	r.Status = StatusScheduled
	r.Sync = Sync{State: SyncPending}
	r.Version = 1
	r.CreatedAt, r.UpdatedAt = now, now
	return chosen, Transition{Changed: true, Event: EventCreated, Action: "reservation.create",
		Detail: []any{"queue_id", r.QueueID, "slot", r.Slot.String(), "candidate", chosen}}, nil
}

// takeFirst takes a place in the first candidate's bucket with room and
// returns its index. With own, a candidate in r's own bucket needs no new
// place (r already holds one there).
func takeFirst(ctx context.Context, l Ledger, r *Reservation, cands []Candidate, own bool) (int, error) {
	for i, c := range cands {
		if own && c.Bucket.Equal(r.Bucket) && r.HoldsSlot() {
			return i, nil
		}
		if c.Cap <= 0 {
			continue
		}
		ok, err := l.Take(ctx, r.QueueID, c.Bucket, c.Cap)
		if err != nil {
			return -1, err
		}
		if ok {
			return i, nil
		}
	}
	return -1, ErrFull
}

// markPending records that Genesys does not yet reflect r's latest change.
// While r has no conversation, its attempts count the creates sent whose
// outcome may be unknown, and stay: the sync must look for the callback such
// a create may have made before it creates (or, for a cancel, forgets) one.
func markPending(r *Reservation) {
	r.Sync.State = SyncPending
	if r.Sync.ConversationID != "" {
		r.Sync.Attempts = 0
	}
	r.Sync.LastError = ""
}

// bump records a change to the booking itself.
func bump(r *Reservation, now time.Time) {
	r.Version++
	r.UpdatedAt = now
}

// Update applies a change to a scheduled reservation. With new candidates
// it moves the reservation's capacity: the first candidate with room is
// taken before the old bucket is released, so that a full answer (ErrFull)
// leaves nothing to undo; the reservation's own bucket always has its
// place. It returns the index of the candidate booked (-1 without a
// reschedule). Errors: ECONFLICT (not scheduled any more), ErrFull.
func Update(ctx context.Context, r *Reservation, c Change, l Ledger, now time.Time) (int, Transition, error) {
	if r.Status != StatusScheduled {
		return -1, Transition{}, Errorf(ECONFLICT, "reservation %s is %s and can no longer be changed", r.ID, r.Status)
	}
	t := Transition{Changed: true, Event: EventUpdated, Action: "reservation.update"}
	chosen := -1
	if c.Candidates != nil {
		var err error
		if chosen, err = takeFirst(ctx, l, r, c.Candidates, true); err != nil {
			return -1, Transition{}, err
		}
		if !c.Candidates[chosen].Bucket.Equal(r.Bucket) {
			if err := l.Release(ctx, r.QueueID, r.Bucket); err != nil {
				return -1, Transition{}, err
			}
		}
		t.Detail = append(t.Detail, "from", r.Slot.String())
		r.Slot, r.Bucket = c.Candidates[chosen].Slot, c.Candidates[chosen].Bucket
		r.Candidates = c.Matrix
		r.Overbooked = false
		markPending(r)
		t.Event, t.Action = EventRescheduled, "reservation.reschedule"
		t.Detail = append(t.Detail, "slot", r.Slot.String(), "candidate", chosen)
	}
	if c.Reason != nil {
		r.Reason = *c.Reason
	}
	if c.Channel != nil {
		r.Channel = *c.Channel
	}
	if c.CustomerName != nil {
		r.CustomerName = *c.CustomerName
	}
	bump(r, now)
	return chosen, t, nil
}

// Cancel cancels a scheduled or in-progress reservation and frees its
// slot. Canceling a canceled reservation changes nothing. Errors: ECONFLICT
// (already completed, missed or failed).
func Cancel(ctx context.Context, r *Reservation, l Ledger, now time.Time) (Transition, error) {
	switch r.Status {
	case StatusCanceled:
		return Transition{}, nil
	case StatusScheduled, StatusInProgress:
	default:
		return Transition{}, Errorf(ECONFLICT, "reservation %s is already %s", r.ID, r.Status)
	}
	if r.HoldsSlot() {
		if err := l.Release(ctx, r.QueueID, r.Bucket); err != nil {
			return Transition{}, err
		}
	}
	r.Status, r.Outcome = StatusCanceled, OutcomeCanceled
	markPending(r)
	bump(r, now)
	return Transition{Changed: true, Event: EventCanceled, Action: "reservation.cancel", Detail: []any{"slot", r.Slot.String()}}, nil
}

// InSync reports whether Genesys, as last recorded on r, reflects r: a
// scheduled reservation has its callback at its slot's start; a canceled
// one has none (never created, or disconnected).
func InSync(r *Reservation, disconnected bool) bool {
	switch r.Status {
	case StatusScheduled:
		return r.Sync.ConversationID != "" && r.Sync.ScheduledAt.Equal(r.Slot.Start)
	case StatusCanceled:
		return r.Sync.ConversationID == "" || disconnected
	}
	return true
}

// syncTransition is a Transition of the sync, whose audit detail is the
// state the reservation ends in.
func syncTransition(r *Reservation, event, action string) Transition {
	return Transition{Changed: true, Event: event, Action: action,
		Detail: []any{"status", string(r.Status), "sync", string(r.Sync.State), "conversation_id", r.Sync.ConversationID}}
}

// MarkSynced records what Genesys holds after a create, reschedule or
// cancel. The sync state becomes synced when that matches the reservation;
// else (the reservation changed meanwhile) it stays pending, without an
// event: the worker that made the call goes on to the next step, and the
// change that made the two differ enqueued its own sync. A reservation
// becoming synced gets a reservation.synced event; the version does not
// change (it counts changes to the booking, not to its sync).
func MarkSynced(r *Reservation, res SyncResult) Transition {
	before := r.Sync
	if res.ConversationID != "" {
		r.Sync.ConversationID = res.ConversationID
	}
	if len(res.CallbackIDs) > 0 {
		r.Sync.CallbackIDs = res.CallbackIDs
	}
	if !res.ScheduledAt.IsZero() {
		r.Sync.ScheduledAt = res.ScheduledAt.UTC()
	}
	r.Sync.LastError = ""
	if !InSync(r, res.Disconnected) {
		r.Sync.State = SyncPending
		return Transition{Changed: true, Action: "reservation.sync"}
	}
	r.Sync.State = SyncSynced
	if before.State == SyncSynced && before.ConversationID == r.Sync.ConversationID && before.ScheduledAt.Equal(r.Sync.ScheduledAt) {
		return Transition{}
	}
	return syncTransition(r, EventSynced, "reservation.sync")
}

// TruncateError cuts a sync error to at most MaxErrorBytes, at a character
// boundary.
func TruncateError(s string) string {
	if len(s) <= MaxErrorBytes {
		return s
	}
	s = s[:MaxErrorBytes]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// MarkSyncFailed records that Genesys refused a change for good; the event
// is reservation.sync_failed. With failReservation (a refused create) a
// scheduled reservation also becomes failed and frees its slot; otherwise
// (a refused reschedule or cancel) only its sync state says so. The same
// refusal recorded again changes nothing.
func MarkSyncFailed(ctx context.Context, r *Reservation, reason string, failReservation bool, l Ledger, now time.Time) (Transition, error) {
	reason = TruncateError(reason)
	if r.Sync.State == SyncFailed && r.Sync.LastError == reason {
		return Transition{}, nil
	}
	r.Sync.State = SyncFailed
	r.Sync.LastError = reason
	if failReservation && r.Status == StatusScheduled {
		if err := l.Release(ctx, r.QueueID, r.Bucket); err != nil {
			return Transition{}, err
		}
		r.Status, r.Outcome = StatusFailed, OutcomeFailed
		bump(r, now)
	}
	return syncTransition(r, EventSyncFailed, "reservation.sync_failed"), nil
}

// rank orders statuses so that what Genesys reports only moves forward.
func rank(s Status) int {
	switch s {
	case StatusScheduled:
		return 0
	case StatusInProgress:
		return 1
	}
	return 2
}

// staleAttempt reports whether u is a late report of an attempt that
// ended before Genesys put the callback back to scheduled: r is scheduled
// after having been dialled, and u shows the callback at another time than
// r's, dialled no more often than r records. (A report of the next attempt
// shows r's time; one of a later move inside Genesys is a scheduled one.)
func staleAttempt(r *Reservation, u GenesysUpdate) bool {
	return r.Status == StatusScheduled && r.DialAttempts > 0 && rank(u.Status) > rank(StatusScheduled) &&
		!u.ScheduledAt.IsZero() && !u.ScheduledAt.Equal(r.Slot.Start) && u.DialAttempts <= r.DialAttempts
}

// ApplyGenesys brings a reservation in line with what Genesys reports.
// Updates are idempotent and only move forward (scheduled, then in
// progress, then an end state), so repeated, late or out-of-order
// notifications change nothing:
//
//   - a final reservation changes no more, except that our own cancel
//     landing in Genesys makes a canceled one synced;
//   - a callback time changed inside Genesys (a supervisor's reschedule:
//     neither our slot nor what we last sent) moves a scheduled reservation
//     to it even if that bucket is full, marking it overbooked;
//   - a callback in progress that Genesys puts back to scheduled at a new
//     time (an agent's reschedule after nobody answered, a CustomerFirst
//     retry) goes back to scheduled there, the one move backwards; a late
//     report of the attempt before it changes nothing (staleAttempt);
//   - a status ahead of the reservation's is taken, with the disconnect
//     type and reasons, the wrap-up code, the dial attempts and, for an
//     end state, the outcome (reservation.failed for a callback Genesys
//     could not place); a cancel or a failure inside Genesys frees the
//     slot;
//   - our pending reschedule showing up in Genesys makes it synced.
func ApplyGenesys(ctx context.Context, r *Reservation, u GenesysUpdate, l Ledger, now time.Time) (Transition, error) {
	const action = "reservation.genesys"
	if r.Status.Final() {
		if r.Status == StatusCanceled && r.Sync.State == SyncPending && u.Status.Final() {
			r.Sync.State = SyncSynced
			return syncTransition(r, EventSynced, action), nil
		}
		return Transition{}, nil
	}
	if staleAttempt(r, u) {
		return Transition{}, nil
	}
	moved := !u.ScheduledAt.IsZero() && !u.ScheduledAt.Equal(r.Slot.Start) && !u.ScheduledAt.Equal(r.Sync.ScheduledAt)
	backAgain := r.Status == StatusInProgress && u.Status == StatusScheduled && !u.ScheduledAt.IsZero() && !u.ScheduledAt.Equal(r.Slot.Start)
	if (moved && r.Status == StatusScheduled) || backAgain {
		if err := moveSlot(ctx, r, u, l); err != nil {
			return Transition{}, err
		}
		// Calls placed before the move count even when the report of the
		// attempt was missed (a dropped socket, then a read of the
		// conversation as it is now).
		r.DialAttempts = max(r.DialAttempts, u.DialAttempts)
		if backAgain {
			r.Status = StatusScheduled
			r.WrapupCode = u.WrapupCode
		} else if u.WrapupCode != "" {
			r.WrapupCode = u.WrapupCode
		}
		if u.Status == "" || u.Status == StatusScheduled {
			bump(r, now)
			return syncTransition(r, EventRescheduled, action), nil
		}
	}
	if u.Status == "" || rank(u.Status) < rank(r.Status) || u.Status == r.Status {
		if r.Sync.State == SyncPending && r.Status == StatusScheduled &&
			r.Sync.ConversationID != "" && u.ScheduledAt.Equal(r.Slot.Start) {
			r.Sync.ScheduledAt = u.ScheduledAt.UTC()
			r.Sync.State = SyncSynced
			return syncTransition(r, EventSynced, action), nil
		}
		return Transition{}, nil
	}
	held := r.HoldsSlot()
	r.Status = u.Status
	if held && !r.HoldsSlot() { // canceled or failed inside Genesys
		if err := l.Release(ctx, r.QueueID, r.Bucket); err != nil {
			return Transition{}, err
		}
	}
	r.DisconnectType = u.DisconnectType
	r.DisconnectReasons = u.DisconnectReasons
	r.WrapupCode = u.WrapupCode
	r.DialAttempts = max(r.DialAttempts, u.DialAttempts)
	if r.Status.Final() {
		r.Outcome = u.Outcome
		if r.Outcome == "" {
			r.Outcome = OutcomeOf(r.Status)
		}
	}
	r.Sync.State = SyncSynced
	bump(r, now)
	t := syncTransition(r, StatusEvent(u.Status), action)
	if r.Outcome != "" {
		t.Detail = append(t.Detail, "outcome", string(r.Outcome))
	}
	return t, nil
}

// moveSlot moves r to the callback time Genesys holds, u.ScheduledAt, even
// into a full bucket (marking r overbooked): Genesys is the truth.
func moveSlot(ctx context.Context, r *Reservation, u GenesysUpdate, l Ledger) error {
	if err := l.Release(ctx, r.QueueID, r.Bucket); err != nil {
		return err
	}
	over, err := l.Force(ctx, r.QueueID, u.Bucket, u.Cap)
	if err != nil {
		return err
	}
	d := r.Slot.End.Sub(r.Slot.Start)
	r.Slot = Slot{Start: u.ScheduledAt.UTC(), End: u.ScheduledAt.UTC().Add(d)}
	r.Bucket = u.Bucket
	r.Overbooked = over
	r.Sync.ScheduledAt = u.ScheduledAt.UTC()
	r.Sync.State = SyncSynced
	return nil
}
