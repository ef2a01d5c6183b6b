package selfservice

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
)

// Store is what the service reads and writes besides the booking service.
type Store interface {
	FindReservationBySelfDigest(ctx context.Context, digest string) (*reservation.Reservation, error)
	OptOutSMS(ctx context.Context, id string, w reservation.Write) (*reservation.Reservation, error)
}

// Limits are the per-token and per-address request rates (per second,
// refilled up to their bursts; a zero rate is no limit).
type Limits struct {
	PerToken        float64
	PerTokenBurst   int
	PerAddress      float64
	PerAddressBurst int
}

// Config configures a Service.
type Config struct {
	Links   *Links
	Booking *booking.Service
	Store   Store
	Limits  Limits
	Logger  *slog.Logger
	// Now is the clock (default the booking service's).
	Now func() time.Time
}

// Service is what a customer holding a link may do.
type Service struct {
	links   *Links
	booking *booking.Service
	store   Store
	logger  *slog.Logger
	now     func() time.Time
	// byToken and byAddress reuse the failed-login throttle's token
	// buckets: byToken keyed on the token's digest alone, byAddress on
	// the source address; every request takes from both.
	byToken, byAddress *auth.Throttle
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{links: cfg.Links, booking: cfg.Booking, store: cfg.Store, logger: cfg.Logger, now: cfg.Now}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = cfg.Booking.Now
	}
	s.byToken = auth.NewThrottle(auth.ThrottleConfig{PerClient: cfg.Limits.PerToken, PerClientBurst: cfg.Limits.PerTokenBurst, Now: s.now})
	s.byAddress = auth.NewThrottle(auth.ThrottleConfig{PerAddress: cfg.Limits.PerAddress, PerAddressBurst: cfg.Limits.PerAddressBurst, Now: s.now})
	return s
}

// Links returns the service's links.
func (s *Service) Links() *Links { return s.links }

// ErrLink is the answer to a token that opens nothing: unknown, tampered
// with, or its reservation erased or deleted. It is one value, so that
// every such answer is the same and tells nobody whether a reservation
// exists.
var ErrLink = &reservation.Error{Code: reservation.ENOTFOUND, Message: "this link does not open any reservation"}

// ErrExpired is the answer to a link past its lifetime.
var ErrExpired = &reservation.Error{Code: reservation.EGONE, Message: "this link has expired"}

// Allow takes one request of token from addr out of the rate limits; it
// returns how long to wait when either is spent (0: go ahead).
func (s *Service) Allow(token, addr string) time.Duration {
	if _, ref := s.byAddress.Begin("", addr); ref != nil {
		return ref.RetryAfter
	}
	if _, ref := s.byToken.Begin(Digest(token), ""); ref != nil {
		return ref.RetryAfter
	}
	return 0
}

// Open returns the reservation token opens. Errors: ErrLink (ENOTFOUND),
// ErrExpired (EGONE).
func (s *Service) Open(ctx context.Context, token string) (*reservation.Reservation, error) {
	if !wellFormed(token) {
		return nil, ErrLink
	}
	r, err := s.store.FindReservationBySelfDigest(ctx, Digest(token))
	if errors.Is(err, reservation.ErrNotFound) {
		return nil, ErrLink
	}
	if err != nil {
		return nil, err
	}
	// The digest matched; the comparison of the token itself is the
	// check that the digest's row was made by this server's secret.
	if !s.links.matches(r, token) || r.CallbackNumber == "" {
		return nil, ErrLink
	}
	if !s.now().Before(s.links.Expires(r)) {
		return nil, ErrExpired
	}
	return r, nil
}

// Policy returns the self-service policy of r's queue, and false when the
// queue is no longer configured.
func (s *Service) Policy(r *reservation.Reservation) (reservation.SelfPolicy, bool) {
	q, err := s.booking.Queue(r.QueueID)
	if err != nil {
		return reservation.SelfPolicy{}, false
	}
	return q.SelfService, true
}

// caller is the customer acting on r.
func (s *Service) caller(r *reservation.Reservation, requestID string) (booking.Caller, error) {
	p, ok := s.Policy(r)
	if !ok {
		return booking.Caller{}, reservation.Errorf(reservation.ECHANGENOTALLOWED, "the reservation's queue no longer takes changes")
	}
	return booking.Caller{ClientID: reservation.ActorCustomer, All: true, RequestID: requestID,
		Origin: reservation.OriginCustomer, Self: &p}, nil
}

// Reschedule moves the reservation token opens to the first slot of
// matrix with room, under the queue's calendar, capacity and self-service
// policy, as any change is (and so on to Genesys). Errors: those of Open,
// ECHANGENOTALLOWED, EINVALID, ECONFLICT.
func (s *Service) Reschedule(ctx context.Context, token string, matrix []reservation.Slot, requestID string) (*reservation.Reservation, error) {
	r, err := s.Open(ctx, token)
	if err != nil {
		return nil, err
	}
	c, err := s.caller(r, requestID)
	if err != nil {
		return nil, err
	}
	// Checked here too so that a change past the cutoff hears so rather
	// than what the calendar thinks of the new slots; storage checks again
	// on the locked reservation.
	if err := c.Self.Allow(r, true, s.now()); err != nil {
		return nil, err
	}
	res, err := s.booking.Update(ctx, c, r.ID, nil, &reservation.UpdateRequest{Candidates: matrix})
	if err != nil {
		return nil, retried(err)
	}
	s.logger.InfoContext(ctx, "reservation rescheduled by the customer", "reservation_id", r.ID, "request_id", requestID)
	return res.Reservation, nil
}

// Cancel cancels the reservation token opens, before the queue's cutoff.
// Canceling again returns it. Errors: those of Open, ECHANGENOTALLOWED,
// ECONFLICT.
func (s *Service) Cancel(ctx context.Context, token, requestID string) (*reservation.Reservation, error) {
	r, err := s.Open(ctx, token)
	if err != nil {
		return nil, err
	}
	c, err := s.caller(r, requestID)
	if err != nil {
		return nil, err
	}
	if err := c.Self.Allow(r, false, s.now()); err != nil {
		return nil, err
	}
	res, err := s.booking.Cancel(ctx, c, r.ID, nil)
	if err != nil {
		return nil, retried(err)
	}
	return res.Reservation, nil
}

// OptOut stops every SMS to the number of the reservation token opens:
// this reservation, the number's others and its later ones. Errors: those
// of Open.
func (s *Service) OptOut(ctx context.Context, token, requestID string) (*reservation.Reservation, error) {
	r, err := s.Open(ctx, token)
	if err != nil {
		return nil, err
	}
	w := reservation.Write{Actor: reservation.ActorCustomer, Origin: reservation.OriginCustomer, RequestID: requestID, Now: s.now()}
	out, err := s.store.OptOutSMS(ctx, r.ID, w)
	if errors.Is(err, reservation.ErrNotFound) {
		return nil, ErrLink
	}
	return out, err
}

// retried turns a reservation gone between its read and its write into
// the answer of a link that opens nothing.
func retried(err error) error {
	if errors.Is(err, reservation.ErrNotFound) {
		return ErrLink
	}
	return err
}

// View is the reservation as its customer may see it.
type View struct {
	Status         reservation.Status `json:"status"`
	QueueName      string             `json:"queue_name"`
	CallbackNumber string             `json:"callback_number"`
	TimeSlot       SlotView           `json:"time_slot"`
	TimeZone       string             `json:"timezone"`
	// CustomerTimeSlot is the slot in the customer's zone (from the
	// number), else the queue's.
	CustomerTimeSlot SlotView `json:"customer_time_slot"`
	CustomerTimeZone string   `json:"customer_timezone"`
	MayReschedule    bool     `json:"may_reschedule"`
	MayCancel        bool     `json:"may_cancel"`
	ReschedulesLeft  int      `json:"reschedules_left"`
	ChangeCutoff     string   `json:"change_cutoff"`
	SMSOptOut        bool     `json:"sms_opt_out"`
	LinkExpiresAt    string   `json:"link_expires_at"`
}

// SlotView is a slot in one zone.
type SlotView struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// View returns r as its customer sees it: the number masked, the times in
// the queue's and the customer's zone, what they may still do.
func (s *Service) View(r *reservation.Reservation) View {
	p, ok := s.Policy(r)
	name := r.QueueID
	qloc := time.UTC
	if q, err := s.booking.Queue(r.QueueID); err == nil {
		name, qloc = q.Name, q.Calendar.Location
	}
	cloc := reservation.CustomerZone(r.CallbackNumber)
	if cloc == nil {
		cloc = qloc
	}
	in := func(loc *time.Location) SlotView {
		return SlotView{Start: r.Slot.Start.In(loc).Format(time.RFC3339), End: r.Slot.End.In(loc).Format(time.RFC3339)}
	}
	now := s.now()
	open := ok && r.Status == reservation.StatusScheduled && now.Before(p.Deadline(r))
	left := 0
	if ok {
		left = p.RemainingReschedules(r)
	}
	return View{
		Status: r.Status, QueueName: name, CallbackNumber: reservation.MaskNumber(r.CallbackNumber),
		TimeSlot: in(qloc), TimeZone: qloc.String(), CustomerTimeSlot: in(cloc), CustomerTimeZone: cloc.String(),
		MayReschedule: open && left > 0, MayCancel: open, ReschedulesLeft: left,
		ChangeCutoff: p.Deadline(r).In(qloc).Format(time.RFC3339), SMSOptOut: r.SMSOptOut,
		LinkExpiresAt: s.links.Expires(r).UTC().Format(reservation.TimeFormat),
	}
}

// Availability returns the availability of the queue of the reservation
// token opens, as booking.Service.Availability does, with the
// reservation's concurrency limit. Errors: those of Open, EINVALID.
func (s *Service) Availability(ctx context.Context, r *reservation.Reservation, from, to time.Time) ([]booking.Slot, error) {
	return s.booking.Availability(ctx, r.QueueID, from, to, r.ConcurrencyLimit)
}
