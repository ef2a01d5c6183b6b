package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// ledger counts reservations against capacity buckets in a transaction
// (the slot_usage rows): the reservation rules' view of capacity. The
// upsert's row lock makes each count atomic on both backends.
type ledger struct{ tx *Tx }

// Take counts one more reservation against a bucket if it stays within
// limit.
func (l ledger) Take(ctx context.Context, queueID string, bucket time.Time, limit int) (bool, error) {
	var used int
	err := l.tx.queryRow(ctx, takeSQL, queueID, micros(bucket), limit).Scan(&used)
	if errors.Is(err, errNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take slot: %w", err)
	}
	return true, nil
}

// takeSQL counts one more in a bucket ($1, $2) if it stays within $3, and
// returns the count: no row when the bucket is full.
const takeSQL = `INSERT INTO slot_usage (queue_id, bucket_start, used) VALUES ($1, $2, 1)
	ON CONFLICT (queue_id, bucket_start) DO UPDATE SET used = slot_usage.used + 1 WHERE slot_usage.used < $3
	RETURNING used`

// firstTake is a ledger whose first Take, of a create's first candidate,
// was queued early (takeFirstLater) so that it travels with the create's
// reads: on PostgreSQL a booked create then costs one round trip fewer.
type firstTake struct {
	ledger
	queueID string
	bucket  time.Time
	limit   int
	wait    func() error
	took    bool
	// pending is set until a Take or release uses the queued one.
	pending bool
}

// takeFirstLater queues the take of the first candidate at its capacity
// (before overrides: see use) to travel with the next statement that needs
// an answer. It queues nothing, and returns a plain ledger's, where that
// saves no round trip (SQLite) or there is no candidate to take.
func takeFirstLater(ctx context.Context, tx *Tx, queueID string, cands []reservation.Candidate) (*firstTake, error) {
	l := &firstTake{ledger: ledger{tx}}
	if _, ok := tx.execer.(pgTxExec); !ok || len(cands) == 0 || cands[0].Cap <= 0 {
		return l, nil
	}
	c := cands[0]
	l.queueID, l.bucket, l.limit, l.pending = queueID, c.Bucket, c.Cap, true
	var err error
	l.wait, err = tx.queryLater(ctx, wrapErr("take slot"), func(rs rows) error {
		for rs.Next() {
			l.took = true
		}
		return nil
	}, takeSQL, queueID, micros(c.Bucket), c.Cap)
	return l, err
}

// use readies l for booking cands, the candidates with their capacity
// after overrides: a queued take whose limit an override changed is undone
// (if it counted), and booking takes that candidate anew.
func (l *firstTake) use(ctx context.Context, cands []reservation.Candidate) error {
	// Pending, the candidates are not empty: cands is the queued take's
	// candidates after overrides.
	if !l.pending || (cands[0].Bucket.Equal(l.bucket) && cands[0].Cap == l.limit) {
		return nil
	}
	return l.undo(ctx)
}

// undo undoes the queued take if it counted and no Take used it: for a
// create that books nothing (an admission refusal, say) and commits.
func (l *firstTake) undo(ctx context.Context) error {
	if !l.pending {
		return nil
	}
	l.pending = false
	if err := l.wait(); err != nil {
		return err
	}
	if !l.took {
		return nil
	}
	return l.ledger.Release(ctx, l.queueID, l.bucket)
}

// Take answers the take of the first candidate with the queued one.
func (l *firstTake) Take(ctx context.Context, queueID string, bucket time.Time, limit int) (bool, error) {
	if l.pending && queueID == l.queueID && bucket.Equal(l.bucket) && limit == l.limit {
		l.pending = false
		if err := l.wait(); err != nil {
			return false, err
		}
		return l.took, nil
	}
	return l.ledger.Take(ctx, queueID, bucket, limit)
}

// Release counts one fewer (it travels with the next statement).
func (l ledger) Release(ctx context.Context, queueID string, bucket time.Time) error {
	return l.tx.execLater(ctx, wrapErr("release slot"), "UPDATE slot_usage SET used = used - 1 WHERE queue_id = $1 AND bucket_start = $2 AND used > 0",
		queueID, micros(bucket))
}

// Force counts one more whatever the limit, and reports whether the
// bucket is now over it.
func (l ledger) Force(ctx context.Context, queueID string, bucket time.Time, limit int) (bool, error) {
	var used int
	err := l.tx.queryRow(ctx, `INSERT INTO slot_usage (queue_id, bucket_start, used) VALUES ($1, $2, 1)
		ON CONFLICT (queue_id, bucket_start) DO UPDATE SET used = slot_usage.used + 1 RETURNING used`,
		queueID, micros(bucket)).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("force slot: %w", err)
	}
	return used > limit, nil
}

const reservationColumns = `id, client_id, callback_id, queue_id, timezone, callback_number, customer_name, candidates,
	slot_start, slot_end, bucket_start, channel, reason, concurrency_limit, status, sync_state, sync_conversation_id,
	sync_attempts, sync_error, version, created_at, updated_at, sync_callback_ids, sync_scheduled_at, disconnect_type,
	overbooked, outcome, disconnect_reasons, wrapup_code, dial_attempts, locale, sms_opt_out, cancel_reason,
	self_nonce, self_digest, self_reschedules`

func scanReservation(r row) (*reservation.Reservation, error) {
	var v reservation.Reservation
	var callbackID *string
	var cands, channel string
	var start, end, bucket, created, updated, syncAt int64
	var cbIDs, reasons string
	var overbooked, optOut int
	err := r.Scan(&v.ID, &v.ClientID, &callbackID, &v.QueueID, &v.TimeZone, &v.CallbackNumber, &v.CustomerName, &cands,
		&start, &end, &bucket, &channel, &v.Reason, &v.ConcurrencyLimit, &v.Status, &v.Sync.State, &v.Sync.ConversationID,
		&v.Sync.Attempts, &v.Sync.LastError, &v.Version, &created, &updated, &cbIDs, &syncAt, &v.DisconnectType, &overbooked,
		&v.Outcome, &reasons, &v.WrapupCode, &v.DialAttempts, &v.Locale, &optOut, &v.CancelReason,
		&v.SelfNonce, &v.SelfDigest, &v.SelfReschedules)
	if err != nil {
		return nil, err
	}
	if reasons != "[]" && reasons != "" {
		if err := json.Unmarshal([]byte(reasons), &v.DisconnectReasons); err != nil {
			return nil, fmt.Errorf("decode disconnect reasons of %s: %w", v.ID, err)
		}
	}
	v.Overbooked = overbooked != 0
	v.SMSOptOut = optOut != 0
	if syncAt != 0 {
		v.Sync.ScheduledAt = instant(syncAt)
	}
	if err := json.Unmarshal([]byte(cbIDs), &v.Sync.CallbackIDs); err != nil {
		return nil, fmt.Errorf("decode callback identifiers of %s: %w", v.ID, err)
	}
	if len(v.Sync.CallbackIDs) == 0 {
		v.Sync.CallbackIDs = nil
	}
	if callbackID != nil {
		v.CallbackID = *callbackID
	}
	v.Slot = reservation.Slot{Start: instant(start), End: instant(end)}
	v.Bucket = instant(bucket)
	v.CreatedAt, v.UpdatedAt = instant(created), instant(updated)
	var cs []storedSlot
	if err := json.Unmarshal([]byte(cands), &cs); err != nil {
		return nil, fmt.Errorf("decode candidates of %s: %w", v.ID, err)
	}
	for _, c := range cs {
		v.Candidates = append(v.Candidates, reservation.Slot{Start: instant(c.Start), End: instant(c.End)})
	}
	if err := json.Unmarshal([]byte(channel), &v.Channel); err != nil {
		return nil, fmt.Errorf("decode channel of %s: %w", v.ID, err)
	}
	return &v, nil
}

type storedSlot struct {
	Start int64 `json:"s"`
	End   int64 `json:"e"`
}

func encodeSlots(slots []reservation.Slot) string {
	cs := make([]storedSlot, len(slots))
	for i, s := range slots {
		cs[i] = storedSlot{micros(s.Start), micros(s.End)}
	}
	b, _ := json.Marshal(cs)
	return string(b)
}

func encodeChannel(ch reservation.ChannelPreferences) string {
	b, _ := json.Marshal(ch)
	return string(b)
}

func encodeCallbackIDs(ids []reservation.CallbackIdentifier) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

func encodeReasons(rs []reservation.DisconnectReason) string {
	if len(rs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(rs)
	return string(b)
}

func syncMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// auditDetail renders an audit entry's detail object from key, value
// pairs, leaving out nil and "" values, exactly as encoding/json renders
// the map of them (keys sorted, a repeated key's last value wins) but
// without a map and reflection: it runs on the writer's time.
func auditDetail(kv ...any) string {
	type pair struct {
		k string
		v any
	}
	ps := make([]pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if v := kv[i+1]; v != nil && v != "" {
			ps = append(ps, pair{kv[i].(string), v})
		}
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	b := make([]byte, 0, 160)
	b = append(b, '{')
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].k == p.k {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = reservation.AppendJSONString(b, p.k)
		b = append(b, ':')
		switch v := p.v.(type) {
		case string:
			b = reservation.AppendJSONString(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				j, _ = json.Marshal(err.Error())
			}
			b = append(b, j...)
		}
	}
	return string(append(b, '}'))
}

// errNoCallbackIDKey is a programming error: a reservation with a
// callback_id written without the record that keeps the id unique.
var errNoCallbackIDKey = errors.New("storage: a reservation with a callback_id needs the idempotency record of its key")

// CreateReservation books the first candidate with room (reservation.Book)
// and stores r, filling in its slot, bucket, status, version and
// timestamps. It returns the index of the candidate booked, ErrFull when
// none has room, and ErrKeyTaken if the client already used the write's
// idempotency key (for a callback_id, reservation.CallbackIDKey: a
// reservation with a callback_id must come with that record), ahead of
// any refusal: the caller need not look the key up first (a create whose
// key is new reads nothing more for it; its insert's unique key finds a
// taken one, and a refused create looks it up in the same transaction,
// before it commits what the refusal counted). With an
// active w.Admission it first applies the queue's throttles and duplicate
// rule (admission.go): *reservation.ThrottledError or
// *reservation.DuplicateError.
func (s *Store) CreateReservation(ctx context.Context, r *reservation.Reservation, cands []reservation.Candidate, w reservation.Write) (int, error) {
	if r.CallbackID != "" && (w.Idempotency == nil || w.Idempotency.Key != reservation.CallbackIDKey(r.CallbackID)) {
		return -1, errNoCallbackIDKey
	}
	chosen := -1
	now := w.Time()
	var refused error
	err := s.inTx(ctx, func(tx *Tx) error {
		var t reservation.Transition
		var err error
		var adm admission
		refused = nil
		// The admission's locks, then the reads that booking needs, queued
		// to travel with the admission's read: on PostgreSQL one round trip
		// for them all (the locks in the same order as always: the number's
		// admission lock, its opt-out lock, the queue's capacity lock). A
		// create the admission refuses has then taken the two shared locks
		// and made the two reads for nothing: it may wait behind an opt-out
		// or an override change that it would not have waited for before.
		active := w.Admission.Active()
		if active {
			if err := s.lockAdmission(ctx, tx, r, w.Admission); err != nil {
				return err
			}
		}
		optOut, err := s.carryOptOut(ctx, tx, r)
		if err != nil {
			return err
		}
		getCapped, err := s.cappedLater(ctx, tx, r.QueueID, r.ConcurrencyLimit, cands)
		if err != nil {
			return err
		}
		// The first candidate's take, queued too (a create is booked far
		// more often than refused); a refused create, or one whose first
		// candidate an override caps, undoes it. Its row lock comes after
		// the capacity lock, as booking's always has.
		l, err := takeFirstLater(ctx, tx, r.QueueID, cands)
		if err != nil {
			return err
		}
		if active {
			if adm, err = s.admit(ctx, tx, r, w.Admission, now); err != nil {
				return err
			}
			if adm.refused != nil {
				// A replay is answered, not refused (and counts nothing).
				if err := s.keyTaken(ctx, tx, w); err != nil {
					return err
				}
				// Commit what the refusal counted, and nothing else.
				refused = adm.refused
				return l.undo(ctx)
			}
		}
		if err := optOut(); err != nil {
			return err
		}
		capped, err := getCapped()
		if err != nil {
			return err
		}
		if err := l.use(ctx, capped); err != nil {
			return err
		}
		if chosen, t, err = reservation.Book(ctx, r, capped, l, now); err != nil {
			if errors.Is(err, reservation.ErrFull) {
				if err := s.keyTaken(ctx, tx, w); err != nil {
					return err
				}
			}
			if errors.Is(err, reservation.ErrFull) && adm.numberHit != nil {
				refused = err // the per_number count of a refused create stays
				return adm.numberHit.record(ctx, tx, now)
			}
			return err
		}
		if err := adm.booked(ctx, tx, now); err != nil {
			return err
		}
		if r.ID == "" {
			r.ID = newID("cb_", 5)
		}
		if w.Seal != nil {
			w.Seal(r)
		}
		err = tx.execLater(ctx, wrapErr("insert reservation"), `INSERT INTO reservations (`+reservationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
			$23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36)`,
			r.ID, r.ClientID, nullable(r.CallbackID), r.QueueID, r.TimeZone, r.CallbackNumber, r.CustomerName,
			encodeSlots(r.Candidates), micros(r.Slot.Start), micros(r.Slot.End), micros(r.Bucket), encodeChannel(r.Channel),
			r.Reason, r.ConcurrencyLimit, string(r.Status), string(r.Sync.State), r.Sync.ConversationID, r.Sync.Attempts,
			r.Sync.LastError, r.Version, micros(r.CreatedAt), micros(r.UpdatedAt), encodeCallbackIDs(r.Sync.CallbackIDs),
			syncMicros(r.Sync.ScheduledAt), r.DisconnectType, boolInt(r.Overbooked), string(r.Outcome),
			encodeReasons(r.DisconnectReasons), r.WrapupCode, r.DialAttempts, r.Locale, boolInt(r.SMSOptOut), r.CancelReason,
			r.SelfNonce, r.SelfDigest, r.SelfReschedules)
		if err != nil {
			return err
		}
		return s.finishWrite(ctx, tx, r, t, w, now)
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return -1, err
	}
	return chosen, nil
}

// finishWrite stores the idempotent response and appends the event and
// the audit entry of a transition.
func (s *Store) finishWrite(ctx context.Context, tx *Tx, r *reservation.Reservation, t reservation.Transition, w reservation.Write, now time.Time) error {
	// Not json.Marshal: it would check and compact what MarshalJSON made.
	data, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode reservation: %w", err)
	}
	snapshot := *r
	ev := pendingEvent{Event: reservation.Event{
		ID: newID("evt_", 8), Type: t.Event, OccurredAt: now, Origin: w.Origin, Actor: w.Actor, Owner: r.ClientID,
		ReservationID: r.ID, QueueID: r.QueueID, Kind: t.Kind, Reason: t.Note, Reservation: &snapshot,
	}, data: data}
	if w.Idempotency != nil {
		if err := s.saveIdempotency(ctx, tx, r, ev.ID, w, now); err != nil {
			return err
		}
	}
	detail := append(t.Detail, "version", r.Version, "request_id", w.RequestID, "origin", w.Origin)
	if w.Origin == reservation.OriginAPI && w.Actor != r.ClientID {
		// A client holding callback:admin acted on another's reservation.
		detail = append(detail, "owner", r.ClientID)
	}
	entry := &audit.Entry{
		At: now, Actor: w.Actor, Action: t.Action, Target: r.ID, Outcome: audit.OutcomeOK,
		Detail: auditDetail(detail...),
	}
	return s.appendLog(ctx, tx, []pendingEvent{ev}, entry)
}

// lockReservation reads a reservation for update and checks the write's
// If-Match versions.
func (s *Store) lockReservation(ctx context.Context, tx *Tx, id string, w reservation.Write) (*reservation.Reservation, error) {
	r, err := scanReservation(tx.queryRow(ctx, "SELECT "+reservationColumns+" FROM reservations WHERE id = $1"+s.forUpdate(), id))
	if errors.Is(err, errNoRows) {
		return nil, reservation.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read reservation: %w", err)
	}
	if err := w.Check(r); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) saveReservation(ctx context.Context, tx *Tx, r *reservation.Reservation) error {
	return tx.execLater(ctx, wrapErr("update reservation"), `UPDATE reservations SET customer_name = $2, candidates = $3, slot_start = $4, slot_end = $5,
		bucket_start = $6, channel = $7, reason = $8, status = $9, sync_state = $10, sync_conversation_id = $11,
		sync_attempts = $12, sync_error = $13, version = $14, updated_at = $15, callback_number = $16,
		sync_callback_ids = $17, sync_scheduled_at = $18, disconnect_type = $19, overbooked = $20, outcome = $21,
		disconnect_reasons = $22, wrapup_code = $23, dial_attempts = $24, locale = $25, sms_opt_out = $26, cancel_reason = $27,
		self_reschedules = $28 WHERE id = $1`,
		r.ID, r.CustomerName, encodeSlots(r.Candidates), micros(r.Slot.Start), micros(r.Slot.End), micros(r.Bucket),
		encodeChannel(r.Channel), r.Reason, string(r.Status), string(r.Sync.State), r.Sync.ConversationID,
		r.Sync.Attempts, r.Sync.LastError, r.Version, micros(r.UpdatedAt), r.CallbackNumber,
		encodeCallbackIDs(r.Sync.CallbackIDs), syncMicros(r.Sync.ScheduledAt), r.DisconnectType, boolInt(r.Overbooked),
		string(r.Outcome), encodeReasons(r.DisconnectReasons), r.WrapupCode, r.DialAttempts, r.Locale, boolInt(r.SMSOptOut), r.CancelReason,
		r.SelfReschedules)
}

// wrapErr returns an error mapper that names the failed step.
func wrapErr(step string) func(error) error {
	return func(err error) error { return fmt.Errorf("%s: %w", step, err) }
}

// UpdateReservation applies a change to a scheduled reservation
// (reservation.Update): with new candidates it moves the reservation's
// capacity atomically, or nothing changes (ErrFull). It returns the updated
// reservation and the index of the candidate booked (-1 without a
// reschedule). Errors: ENOTFOUND, EPRECONDITION (If-Match), ECONFLICT (not
// scheduled any more), ErrFull.
func (s *Store) UpdateReservation(ctx context.Context, id string, c reservation.Change, w reservation.Write) (*reservation.Reservation, int, error) {
	chosen := -1
	r, _, err := s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, now time.Time) (reservation.Transition, error) {
		var t reservation.Transition
		if err := w.Self.Allow(r, c.Candidates != nil, now); err != nil {
			return t, err
		}
		var err error
		cc := c // the caps read in this attempt of the transaction
		if c.Candidates != nil {
			if cc.Candidates, err = s.capped(ctx, l.tx, r.QueueID, r.ConcurrencyLimit, c.Candidates); err != nil {
				return t, err
			}
		}
		chosen, t, err = reservation.Update(ctx, r, cc, l, now)
		if err == nil && w.Self != nil && c.Candidates != nil {
			r.SelfReschedules++
		}
		return t, err
	})
	if err != nil {
		return nil, -1, err
	}
	return r, chosen, nil
}

// CancelReservation cancels a reservation and frees its slot
// (reservation.Cancel). Canceling a canceled reservation changes nothing
// and returns it with changed false. Errors: ENOTFOUND, EPRECONDITION,
// ECONFLICT (already completed, missed or failed).
func (s *Store) CancelReservation(ctx context.Context, id string, w reservation.Write) (*reservation.Reservation, bool, error) {
	return s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, now time.Time) (reservation.Transition, error) {
		if err := w.Self.Allow(r, false, now); err != nil {
			return reservation.Transition{}, err
		}
		return reservation.Cancel(ctx, r, l, now)
	})
}

// rule changes a locked reservation inside the write's transaction.
type rule func(ctx context.Context, l ledger, r *reservation.Reservation, now time.Time) (reservation.Transition, error)

// mutate locks a reservation, applies a rule, saves the reservation and
// appends the transition's event and audit entry, all in one transaction.
// A write with an idempotency key whose rule changes nothing (a repeated
// cancel) stores its response all the same. It reports whether the rule
// changed anything.
func (s *Store) mutate(ctx context.Context, id string, w reservation.Write, fn rule) (*reservation.Reservation, bool, error) {
	var out *reservation.Reservation
	var changed bool
	now := w.Time()
	err := s.inTx(ctx, func(tx *Tx) error {
		r, err := s.lockReservation(ctx, tx, id, w)
		if err != nil {
			return err
		}
		t, err := fn(ctx, ledger{tx}, r, now)
		if err != nil {
			return err
		}
		out, changed = r, t.Changed
		switch {
		case !t.Changed && w.Idempotency != nil:
			return s.saveIdempotency(ctx, tx, r, "", w, now)
		case !t.Changed:
			return nil
		}
		if err := s.saveReservation(ctx, tx, r); err != nil {
			return err
		}
		if t.Event == "" {
			return nil
		}
		return s.finishWrite(ctx, tx, r, t, w, now)
	})
	if err != nil {
		return nil, false, err
	}
	return out, changed, nil
}

// FindReservationByID returns one reservation or ENOTFOUND.
func (s *Store) FindReservationByID(ctx context.Context, id string) (*reservation.Reservation, error) {
	r, err := scanReservation(s.reader().queryRow(ctx, "SELECT "+reservationColumns+" FROM reservations WHERE id = $1", id))
	if errors.Is(err, errNoRows) {
		return nil, reservation.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find reservation: %w", err)
	}
	return r, nil
}

// FindReservations returns one page of reservations and the cursor of the
// next page ("" on the last page). A bad cursor is EINVALID.
func (s *Store) FindReservations(ctx context.Context, f reservation.Filter) ([]*reservation.Reservation, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		f.Limit = 500
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	add := func(cond string, v any) { where = append(where, strings.ReplaceAll(cond, "?", arg(v))) }
	col := s.filterColumn(f.Status)
	if f.ClientID != "" {
		add(col("client_id")+" = ?", f.ClientID)
	}
	if f.QueueID != "" {
		add(col("queue_id")+" = ?", f.QueueID)
	}
	if f.Status != "" {
		where = append(where, s.statusWhere(f.Status, arg))
	}
	if !f.From.IsZero() {
		add("slot_start >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		add("slot_start < ?", micros(f.To))
	}
	if f.CallbackNumber != "" {
		add("callback_number = ?", f.CallbackNumber)
	}
	if f.Cursor != "" {
		start, pk, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", reservation.FieldError("cursor", "is not a cursor from a previous page")
		}
		args = append(args, start, pk)
		n := len(args)
		// The first term bounds the index range (a page starts where the
		// last ended, not at the start of the index); the second skips the
		// rows of that instant up to the cursor's.
		where = append(where, fmt.Sprintf("slot_start >= $%d AND (slot_start > $%d OR pk > $%d)", n-1, n-1, n))
	}
	var queues []string
	read := s.reader()
	if f.QueueID == "" && s.mergesQueues(f.Status) {
		// The queues and their merged page in one snapshot: a queue's first
		// reservation of the status committed between the two would
		// otherwise be missing from the page, and the cursor pass it.
		e, end, err := s.snapshotReader(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("find reservations: %w", err)
		}
		defer end()
		read = e
		ids, err := s.statusQueues(ctx, read, f.Status)
		if err != nil {
			return nil, "", err
		}
		if len(ids) == 0 {
			return nil, "", nil
		}
		for _, id := range ids {
			queues = append(queues, arg(id))
		}
	}
	q := pageSQL(where, queues, "slot_start, pk", f.Limit+1, arg)
	rs, err := read.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("find reservations: %w", err)
	}
	defer rs.Close()
	var out []*reservation.Reservation
	var pks []int64
	for rs.Next() {
		var pk int64
		r, err := scanReservation(pkRow{rs, &pk})
		if err != nil {
			return nil, "", fmt.Errorf("scan reservation: %w", err)
		}
		out = append(out, r)
		pks = append(pks, pk)
	}
	if err := rs.Err(); err != nil {
		return nil, "", fmt.Errorf("find reservations: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		last := out[f.Limit-1]
		next = encodeCursor(micros(last.Slot.Start), pks[f.Limit-1])
		out = out[:f.Limit]
	}
	return out, next, nil
}

// sparseStatus reports whether st is one of the statuses of the partial
// index that holds the bookings ahead and the failed reservations:
// reservations_status_slot (status, slot_start, pk) on SQLite (migration
// 0023), reservations_status_queue_slot (status, queue_id, slot_start, pk)
// on PostgreSQL (migration 0025).
func sparseStatus(st reservation.Status) bool {
	switch st {
	case reservation.StatusScheduled, reservation.StatusInProgress, reservation.StatusFailed:
		return true
	}
	return false
}

// filterColumn returns how a list filtered by status names its other
// filters' (text) columns. On SQLite, for a status of the partial index,
// as +column, which no index serves: SQLite, which keeps no statistics,
// would otherwise walk the client's or the queue's slot index, the whole
// history before the bookings ahead; it walks the status's index and
// checks the client and queue there. On PostgreSQL the plain column: its
// index of those statuses leads with the status and the queue, so a
// queue's list is a range of it, and its statistics (of the plain columns:
// an expression would be estimated as matching one row in 200, and the
// planner, expecting fewer rows than the LIMIT, would sort them all)
// choose it; a list over several queues merges their pages (pageSQL).
func (s *Store) filterColumn(st reservation.Status) func(string) string {
	if s.backend == SQLite && sparseStatus(st) {
		return func(c string) string { return "+" + c }
	}
	return func(c string) string { return c }
}

// statusWhere is the condition of a list filtered by status. The
// statuses of the partial index are named as literals, which a planner
// needs to see the index's condition implied; SQLite also needs that
// condition itself (status IN (…)), which PostgreSQL derives from the
// equality (and would count again in its estimate, as a second filter).
// arg adds any other status as a parameter, and on SQLite the column as
// +status, so that SQLite does not take reservations_status_updated and
// sort every reservation of that status: it walks the slot order, where
// those statuses are dense.
func (s *Store) statusWhere(st reservation.Status, arg func(any) string) string {
	switch {
	case sparseStatus(st) && s.backend == Postgres:
		return "status = '" + string(st) + "'"
	case sparseStatus(st):
		return "status = '" + string(st) + "' AND status IN ('scheduled', 'in_progress', 'failed')"
	case s.backend == SQLite:
		return "+status = " + arg(string(st))
	}
	return "status = " + arg(string(st))
}

// mergesQueues reports whether a list of st that is not of one queue
// reads each queue's page and merges them: on PostgreSQL, for a status of
// reservations_status_queue_slot, whose order within a status is by queue
// first (PostgreSQL 15 has no skip scan).
func (s *Store) mergesQueues(st reservation.Status) bool {
	return s.backend == Postgres && sparseStatus(st)
}

// statusQueues returns, read with e, the queues holding reservations of st, a status of
// reservations_status_queue_slot (PostgreSQL), in order: a loose scan of
// that index, one probe for each queue.
func (s *Store) statusQueues(ctx context.Context, e execer, st reservation.Status) ([]string, error) {
	cond := s.statusWhere(st, nil)
	ids, err := readStringsOn(ctx, e, `WITH RECURSIVE q (id) AS (
		SELECT min(queue_id) FROM reservations WHERE `+cond+`
		UNION ALL
		SELECT (SELECT min(queue_id) FROM reservations WHERE `+cond+` AND queue_id > q.id) FROM q WHERE q.id IS NOT NULL
	) SELECT id FROM q WHERE id IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("status queues: %w", err)
	}
	return ids, nil
}

// pageSQL is the query of a page of reservations (pk, then the columns)
// that meet where, in order, LIMIT limit (arg adds it as a parameter).
// With queues (the placeholders of queue ids) it is the merge of each
// queue's page: each one's LIMIT in order from its range of the index,
// which PostgreSQL merges (a Merge Append) reading about one page across
// them all. There the LIMIT is a literal: with it a parameter, PostgreSQL
// plans the statement again on every call (about 1 ms for ten queues, more
// than it runs), as its generic plan, blind to the LIMIT, costs more; with
// the literal it keeps the generic plan after its first few calls.
func pageSQL(where, queues []string, order string, limit int, arg func(any) string) string {
	page := func(where []string, limit string) string {
		q := "SELECT pk, " + reservationColumns + " FROM reservations"
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		return q + " ORDER BY " + order + " LIMIT " + limit
	}
	if len(queues) == 0 {
		return page(where, arg(limit))
	}
	n := strconv.Itoa(limit)
	arms := make([]string, len(queues))
	for i, q := range queues {
		arms[i] = "(" + page(append([]string{"queue_id = " + q}, where...), n) + ")"
	}
	return "SELECT * FROM (" + strings.Join(arms, " UNION ALL ") + ") r ORDER BY " + order + " LIMIT " + n
}

// pkRow scans a leading pk column and then the reservation columns.
type pkRow struct {
	rs rows
	pk *int64
}

func (p pkRow) Scan(dest ...any) error { return p.rs.Scan(append([]any{p.pk}, dest...)...) }

func encodeCursor(start, pk int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(start, 10) + "." + strconv.FormatInt(pk, 10)))
}

func decodeCursor(c string) (int64, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, err
	}
	a, p, ok := strings.Cut(string(b), ".")
	if !ok {
		return 0, 0, errors.New("bad cursor")
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	pk, err2 := strconv.ParseInt(p, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	return start, pk, nil
}

// SlotUsage returns how many reservations hold each bucket of a queue that
// starts in [from, to), keyed by the bucket's start in Unix microseconds.
// Buckets nobody holds are absent.
func (s *Store) SlotUsage(ctx context.Context, queueID string, from, to time.Time) (map[int64]int, error) {
	rs, err := s.reader().query(ctx, `SELECT bucket_start, used FROM slot_usage
		WHERE queue_id = $1 AND bucket_start >= $2 AND bucket_start < $3 AND used > 0`, queueID, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("slot usage: %w", err)
	}
	defer rs.Close()
	out := map[int64]int{}
	for rs.Next() {
		var b int64
		var n int
		if err := rs.Scan(&b, &n); err != nil {
			return nil, err
		}
		out[b] = n
	}
	return out, rs.Err()
}
