package reservation

import (
	"errors"
	"time"
)

// Candidate is one slot a write may book, already checked against the
// queue's calendar: Bucket is the start of the capacity bucket it counts
// against and Cap that bucket's effective cap (the smaller of the queue's
// capacity and the request's concurrency limit).
type Candidate struct {
	Slot   Slot
	Bucket time.Time
	Cap    int
}

// ErrFull is returned when every candidate's bucket is full.
var ErrFull = errors.New("every candidate slot is full")

// ErrKeyTaken is returned by writes whose idempotency key was stored by a
// concurrent request first: the caller looks the key up again and replays
// or refuses.
var ErrKeyTaken = errors.New("idempotency key already used")

// CallbackIDKey is the idempotency key of a client's callback_id.
func CallbackIDKey(callbackID string) string { return "callback_id:" + callbackID }

// Idempotency records a write's response under a client's key. Method,
// Target and Status describe the request as the API received it; the store
// keeps them as given and compares nothing.
type Idempotency struct {
	Key         string
	Method      string
	Target      string
	RequestHash string
	Status      int // the status to replay
}

// CreateIdempotency is the record of a create (POST /api/v2/callbacks)
// under key, answered 201 when it is replayed.
func CreateIdempotency(key, requestHash string) *Idempotency {
	return &Idempotency{Key: key, Method: "POST", Target: "/api/v2/callbacks", RequestHash: requestHash, Status: 201}
}

// UpdateIdempotency is the record of a change (PATCH
// /api/v2/callbacks/{id}) under key.
func UpdateIdempotency(key, id, requestHash string) *Idempotency {
	return &Idempotency{Key: key, Method: "PATCH", Target: "/api/v2/callbacks/" + id, RequestHash: requestHash, Status: 200}
}

// CancelIdempotency is the record of a cancel (DELETE
// /api/v2/callbacks/{id}) under key.
func CancelIdempotency(key, id string) *Idempotency {
	return &Idempotency{Key: key, Method: "DELETE", Target: "/api/v2/callbacks/" + id, Status: 200}
}

// IdempotencyRecord is a stored response to an idempotent write.
type IdempotencyRecord struct {
	Method      string
	Target      string
	RequestHash string
	Status      int
	Reservation *Reservation // as it was right after the write
	CreatedAt   time.Time
}

// Write describes who makes a change and under which conditions.
type Write struct {
	Actor     string // API client id, "genesys", "sync" or "system"
	Origin    string // OriginAPI, …
	RequestID string
	Now       time.Time // zero means time.Now
	// Owner, when set, limits the write to that client's reservations:
	// another client's answers ErrNotFound, as if it did not exist. Empty
	// means any client's (the system, Genesys, or a client holding
	// callback:admin).
	Owner string
	// IfMatch, when not empty, makes the write fail with EPRECONDITION
	// unless the reservation is at one of these versions.
	IfMatch []int
	// Idempotency, when set, stores the write's response under a key. A
	// reservation created with a callback_id must come with the record of
	// its key (CallbackIDKey): that record is what makes the id unique per
	// client.
	Idempotency *Idempotency
	// Self, when set, is the self-service policy of a change the customer
	// makes through the reservation's link: checked on the locked
	// reservation (SelfPolicy.Allow), and a reschedule is counted.
	Self *SelfPolicy
	// Seal, when set, is called on a new reservation once it has its id,
	// before it is stored (the self-service link's nonce and digest).
	Seal func(*Reservation)
	// Admission, when active, is checked in a create's transaction before
	// it books: a *DuplicateError or *ThrottledError refuses it.
	Admission *Admission
}

// Time returns the instant of the write: w.Now, or the current time.
func (w *Write) Time() time.Time {
	if w.Now.IsZero() {
		return time.Now().UTC()
	}
	return w.Now.UTC()
}

// Change is a PATCH: a new slot (Candidates, already checked) and/or new
// details. Nil fields are left as they are.
type Change struct {
	Candidates   []Candidate
	Matrix       []Slot // the request's matrix, stored with the reservation
	Reason       *string
	Channel      *ChannelPreferences
	CustomerName *string
}

// Filter selects reservations. Results are ordered by callback time, then
// creation order.
type Filter struct {
	// ClientID, when set, selects only that client's reservations.
	ClientID       string
	QueueID        string
	Status         Status
	From, To       time.Time // callback time in [From, To); zero = unbounded
	CallbackNumber string
	Cursor         string // from a previous page's next cursor
	Limit          int    // default 50, at most 500
}

// StoredEvent is an event as the log holds it: Event without its subject,
// and Subject, the reservation or webhook note encoded as it was committed
// (see Event.AppendJSONWithSubject).
type StoredEvent struct {
	Event
	Subject []byte
}

// SyncResult is what Genesys holds after a successful create, reschedule
// or cancel.
type SyncResult struct {
	ConversationID string
	CallbackIDs    []CallbackIdentifier
	// ScheduledAt is the callback time Genesys now holds; zero when the
	// callback was disconnected.
	ScheduledAt  time.Time
	Disconnected bool
}

// GenesysUpdate is what the notification listener or the reconciliation
// read from Genesys about a reservation's callback.
type GenesysUpdate struct {
	// Status is the status Genesys implies ("" when it implies none yet).
	Status Status
	// Outcome is the outcome of a final Status ("": OutcomeOf(Status)).
	Outcome Outcome
	// DisconnectType and DisconnectReasons say how the callback (for a
	// missed one, the last call to the customer) ended.
	DisconnectType    string
	DisconnectReasons []DisconnectReason
	// WrapupCode is the agent's wrap-up code, if any; DialAttempts counts
	// the calls placed to the customer so far.
	WrapupCode   string
	DialAttempts int
	// ScheduledAt is the callback time Genesys holds (zero if unknown);
	// Bucket and Cap are its bucket and that bucket's capacity, used when
	// the time was changed inside Genesys.
	ScheduledAt time.Time
	Bucket      time.Time
	Cap         int
}
