package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/ical"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// Content types an endpoint may take.
const (
	ContentJSON     = "application/json"
	ContentCalendar = "text/calendar"
)

// DefaultSchedule is the wait before each retry: immediately, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (about 76 hours in
// all), each with ±10% jitter; after the last the delivery is failed.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// DispatchStore is what the dispatcher reads and writes.
type DispatchStore interface {
	LogEndpoints(ctx context.Context, tx *storage.Tx) ([]*storage.Endpoint, error)
	InsertEventDeliveries(ctx context.Context, tx *storage.Tx, ds []*storage.Delivery, events []int) error
	EndpointsWithDue(ctx context.Context, now time.Time) ([]string, error)
	HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (*storage.Lease, error)
	FindEndpoint(ctx context.Context, id string) (*storage.Endpoint, error)
	DueDeliveries(ctx context.Context, endpointID string, now time.Time, limit int) ([]*storage.Delivery, error)
	NextDue(ctx context.Context, endpointID string) (time.Time, bool, error)
	FindEventsBySeqs(ctx context.Context, seqs []int64) ([]reservation.Event, error)
	RecordAttempts(ctx context.Context, ds []*storage.Delivery, failingSince *time.Time) error
	UpdateEndpoint(ctx context.Context, id, action string, fn func(e *storage.Endpoint) error, w reservation.Write) (*storage.Endpoint, error)
	RecordSystemEvent(ctx context.Context, ev reservation.Event, entry *audit.Entry) (int64, error)
	AddDelivery(ctx context.Context, d *storage.Delivery) error
	RetryDelivery(ctx context.Context, endpointID, id string, w reservation.Write) (*storage.Delivery, error)
}

// Observer receives the webhook metrics.
type Observer interface {
	Delivery(outcome string, status int, d time.Duration, lag time.Duration) // outcome: delivered, retry, failed, disabled
	EndpointDisabled(reason string)
	DeliveryExhausted()
}

type nopObserver struct{}

func (nopObserver) Delivery(string, int, time.Duration, time.Duration) {}
func (nopObserver) EndpointDisabled(string)                            {}
func (nopObserver) DeliveryExhausted()                                 {}

// Config configures a Dispatcher.
type Config struct {
	Store DispatchStore
	// Jobs runs the deliveries; New registers them with it.
	Jobs   *jobs.Client
	Logger *slog.Logger
	// Client sends the requests; it must not follow redirects (New wraps
	// its CheckRedirect) and should dial through the SSRF guard.
	Client   *http.Client
	Observer Observer
	// Now is the clock that schedules retries (tests move it).
	Now func() time.Time
	// Schedule is the retry schedule (default DefaultSchedule).
	Schedule []time.Duration
	// Timeout bounds each attempt (default 15 s).
	Timeout time.Duration
	// DisableAfter disables an endpoint whose deliveries have all failed
	// this long (default 5 days).
	DisableAfter time.Duration
	// QueueNames names the queues in calendar summaries.
	QueueNames map[string]string
	// Workers is how many delivery jobs run at once in this process
	// (default 16).
	Workers int
	// SeesAll reports whether the endpoints of a client receive the
	// events of every client (it holds callback:admin); nil means none
	// does. Other endpoints receive their own client's events only.
	SeesAll func(clientID string) bool
}

// Dispatcher turns events into deliveries and delivers them.
type Dispatcher struct {
	cfg  Config
	jobs *jobs.Client
	id   string

	// Endpoints with new deliveries, waiting for Run to start their jobs.
	wakeMu  sync.Mutex
	waiting map[string]struct{}
	wakeSig chan struct{}
}

// Queue is the job queue of deliveries.
const Queue = "webhooks"

// New returns a Dispatcher and registers its jobs with cfg.Jobs (before
// the job client opens): the deliveries of an endpoint, and the sweep
// (every 30 s, a safety net that starts a delivery job for every endpoint
// with something due). Install OnEvents as a store event hook and run Run.
func New(cfg Config) *Dispatcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = 5 * 24 * time.Hour
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	c := *cfg.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Timeout = cfg.Timeout
	cfg.Client = &c
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	d := &Dispatcher{cfg: cfg, jobs: cfg.Jobs, id: "wh-" + hex.EncodeToString(b), waiting: map[string]struct{}{},
		wakeSig: make(chan struct{}, 1)}
	d.jobs.AddQueue(Queue, cfg.Workers)
	jobs.Register(d.jobs, jobs.Kind{Queue: Queue, MaxAttempts: 5}, d.workDeliver)
	jobs.Register(d.jobs, jobs.Kind{Queue: Queue, UniqueByPeriod: 30 * time.Second}, d.workSweep)
	d.jobs.AddPeriodic(30*time.Second, sweepArgs{}, true)
	return d
}

// deliverArgs is the job that delivers an endpoint's due deliveries.
type deliverArgs struct {
	EndpointID string `json:"endpoint_id"`
}

// Kind names the job (jobs.Args).
func (deliverArgs) Kind() string { return "webhook_deliver" }

// sweepArgs is the periodic job that starts the delivery of every endpoint
// with something due.
type sweepArgs struct{}

// Kind names the job (jobs.Args).
func (sweepArgs) Kind() string { return "webhook_sweep" }

// OnEvents is the dispatcher's store event hook: it makes one delivery per
// event and matching enabled endpoint in the event's own transaction, and
// once that commits asks Run to start a delivery job for each endpoint
// concerned. The endpoints are those of the moment the events are
// numbered (storage's LogEndpoints, checked under the log-head lock), where
// every endpoint change of every process is ordered with the events: an
// endpoint sees every event after its creation and none after it was
// disabled or deleted.
// Starting the job after the commit, from Run, keeps the job queue's
// insert out of the writer's path; a process that dies in between leaves
// its deliveries due, and the sweep (every 30 s, and at start) finds them.
func (d *Dispatcher) OnEvents(ctx context.Context, tx *storage.Tx, events []reservation.Event) error {
	eps, err := d.cfg.Store.LogEndpoints(ctx, tx)
	if err != nil || len(eps) == 0 {
		return err
	}
	now := d.cfg.Now()
	var ds []*storage.Delivery
	var places []int // of each delivery's event in events
	var touched []string
	all := map[string]bool{}
	for _, ep := range eps {
		if _, ok := all[ep.ClientID]; !ok {
			all[ep.ClientID] = d.cfg.SeesAll != nil && d.cfg.SeesAll(ep.ClientID)
		}
	}
	for i, ev := range events {
		for _, ep := range eps {
			if ev.Webhook != nil && ev.Webhook.EndpointID == ep.ID {
				continue // never tell an endpoint about itself
			}
			if ev.Owner != ep.ClientID && !all[ep.ClientID] {
				continue // another client's
			}
			if !ep.Wants(ev.Type, ev.QueueID) || (ev.Type == reservation.EventWebhookPing) {
				continue
			}
			ds = append(ds, &storage.Delivery{ID: NewDeliveryID(), EndpointID: ep.ID, EventType: ev.Type,
				NextAttemptAt: now, CreatedAt: now})
			places = append(places, i)
			if !slices.Contains(touched, ep.ID) {
				touched = append(touched, ep.ID)
			}
		}
	}
	if len(ds) == 0 {
		return nil
	}
	if err := d.cfg.Store.InsertEventDeliveries(ctx, tx, ds, places); err != nil {
		return err
	}
	tx.AfterCommit(func() { d.wake(touched) })
	return nil
}

// wake marks endpoints as having new deliveries; it never blocks.
func (d *Dispatcher) wake(ids []string) {
	d.wakeMu.Lock()
	for _, id := range ids {
		d.waiting[id] = struct{}{}
	}
	d.wakeMu.Unlock()
	select {
	case d.wakeSig <- struct{}{}:
	default:
	}
}

// Run starts the delivery jobs of endpoints that OnEvents woke, one per
// endpoint however many commits woke it meanwhile, until ctx is done. An
// endpoint whose job cannot be started is left to the sweep.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wakeSig:
		}
		d.wakeMu.Lock()
		ids := make([]string, 0, len(d.waiting))
		for id := range d.waiting {
			ids = append(ids, id)
		}
		clear(d.waiting)
		d.wakeMu.Unlock()
		for _, id := range ids {
			if err := d.Kick(ctx, id); err != nil && ctx.Err() == nil {
				d.cfg.Logger.WarnContext(ctx, "cannot start a delivery job; the sweep will", "endpoint", id, "err", err)
			}
		}
	}
}

// NewDeliveryID returns a new message id (the webhook-id).
func NewDeliveryID() string {
	b := make([]byte, 14)
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	_, _ = rand.Read(b[6:])
	return "msg_" + hex.EncodeToString(b)
}

// Kick starts a delivery job for an endpoint now.
func (d *Dispatcher) Kick(ctx context.Context, endpointID string) error {
	return d.jobs.Insert(ctx, deliverArgs{EndpointID: endpointID}, nil)
}

// workSweep starts a delivery job for every endpoint with something due.
func (d *Dispatcher) workSweep(ctx context.Context, _ *jobs.Job[sweepArgs]) error {
	ids, err := d.cfg.Store.EndpointsWithDue(ctx, d.cfg.Now())
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := d.Kick(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// A worker sends up to batchSize deliveries, for up to batchTime, before
// it records their outcomes in one transaction: larger batches spread the
// reads and the commit over more requests; a worker killed mid-batch sends
// them again; batchTime keeps a slow or hanging receiver's outcomes from
// waiting long unrecorded.
const (
	batchSize = 50
	batchTime = 5 * time.Second
)

// leaseTTL bounds how long a killed worker keeps an endpoint (its lease is
// renewed while the worker runs).
const leaseTTL = 20 * time.Second

// workDeliver delivers the endpoint's due deliveries in event order, then
// schedules itself for the next one due. It holds the endpoint's lease
// (one sender per endpoint across processes). The outcomes of each batch
// of up to batchSize are recorded in one transaction: a worker killed
// mid-batch sends those again, under the same webhook-id, which receivers
// deduplicate.
func (d *Dispatcher) workDeliver(ctx context.Context, job *jobs.Job[deliverArgs]) error {
	id := job.Args.EndpointID
	holder := d.id + "-" + strconv.FormatInt(job.ID, 10)
	lease, err := d.cfg.Store.HoldLease(ctx, storage.LeaseEndpoint(id), holder, leaseTTL)
	if err != nil {
		return err
	}
	if lease == nil {
		// Another worker holds the endpoint; it looks for more before it
		// lets go, so this job has nothing to add.
		return nil
	}
	done, err := d.deliverEndpoint(ctx, id, lease)
	if err != nil || done {
		return err
	}
	// Look again after letting go: a delivery made while this worker held
	// the lease had its job finish at once (above), so this one carries on.
	at, ok, err := d.cfg.Store.NextDue(ctx, id)
	if err != nil || !ok {
		return err
	}
	wait := max(at.Sub(d.cfg.Now()), 0)
	if wait <= 5*time.Second {
		return jobs.Snooze(wait)
	}
	return d.jobs.Insert(ctx, deliverArgs{EndpointID: id}, &jobs.InsertOpts{ScheduledAt: time.Now().Add(wait)})
}

// deliverEndpoint runs deliverDue while holding the endpoint's lease, and
// lets the lease go however it ends (even in a panic).
func (d *Dispatcher) deliverEndpoint(ctx context.Context, id string, lease *storage.Lease) (bool, error) {
	defer func() {
		if err := lease.Release(ctx); err != nil {
			d.cfg.Logger.WarnContext(ctx, "webhook endpoint lease", "endpoint_id", id, "err", err)
		}
	}()
	return d.deliverDue(ctx, id)
}

// deliverDue sends an endpoint's due deliveries for up to 30 s. It
// reports done when the endpoint is gone or disabled.
func (d *Dispatcher) deliverDue(ctx context.Context, id string) (done bool, err error) {
	started := time.Now()
	for time.Since(started) < 30*time.Second {
		ep, err := d.cfg.Store.FindEndpoint(ctx, id)
		if reservation.ErrorCode(err) == reservation.ENOTFOUND {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if !ep.Enabled {
			return true, nil
		}
		due, err := d.cfg.Store.DueDeliveries(ctx, id, d.cfg.Now(), batchSize)
		if err != nil || len(due) == 0 {
			return false, err
		}
		disabled, err := d.deliverBatch(ctx, ep, due)
		if err != nil || disabled {
			return disabled, err
		}
	}
	return false, nil
}

// deliverBatch sends a batch of one endpoint's deliveries in order and
// records the outcomes together. It reports whether the endpoint got
// disabled.
func (d *Dispatcher) deliverBatch(ctx context.Context, ep *storage.Endpoint, due []*storage.Delivery) (bool, error) {
	seqs := make([]int64, len(due))
	for i, del := range due {
		seqs[i] = del.EventSeq
	}
	evs, err := d.cfg.Store.FindEventsBySeqs(ctx, seqs)
	if err != nil {
		return false, err
	}
	bySeq := make(map[int64]*reservation.Event, len(evs))
	for i := range evs {
		bySeq[evs[i].Seq] = &evs[i]
	}
	wasFailing := ep.FailingSince
	health := func() *time.Time { // the endpoint's health, if it changed
		if ep.FailingSince.Equal(wasFailing) {
			return nil
		}
		f := ep.FailingSince
		return &f
	}
	var sent []*storage.Delivery
	var exhausted []*storage.Delivery
	disable := ""
	started := time.Now()
	for _, del := range due {
		if time.Since(started) >= batchTime {
			break // the rest stay due for the next batch
		}
		ev := bySeq[del.EventSeq]
		if ev == nil {
			// Nothing to send, ever: fail it rather than block the endpoint.
			del.Status, del.LastError = storage.DeliveryFailed, fmt.Sprintf("event %d does not exist", del.EventSeq)
			d.cfg.Logger.ErrorContext(ctx, "webhook delivery of a missing event", "endpoint_id", ep.ID, "delivery_id", del.ID,
				"event_seq", del.EventSeq)
			sent = append(sent, del)
			continue
		}
		out, err := d.attempt(ctx, ep, del, ev)
		if err != nil {
			// Keep what was sent so far (the job may be shutting down).
			if rerr := d.cfg.Store.RecordAttempts(context.WithoutCancel(ctx), sent, health()); rerr != nil {
				d.cfg.Logger.WarnContext(ctx, "webhook attempts not recorded", "endpoint_id", ep.ID, "err", rerr)
			}
			return false, err
		}
		sent = append(sent, del)
		if out == outcomeExhausted {
			exhausted = append(exhausted, del)
		}
		if out == outcomeGone {
			disable = "the endpoint answered 410 Gone"
			break
		}
		if !ep.FailingSince.IsZero() && d.cfg.Now().Sub(ep.FailingSince) >= d.cfg.DisableAfter {
			disable = "every delivery failed for " + humanDuration(d.cfg.DisableAfter)
			break
		}
	}
	// Record what was sent even if the job is being stopped meanwhile.
	if err := d.cfg.Store.RecordAttempts(context.WithoutCancel(ctx), sent, health()); err != nil {
		return false, err
	}
	for _, del := range exhausted {
		note := &reservation.WebhookNote{EndpointID: ep.ID, DeliveryID: del.ID, EventSeq: del.EventSeq,
			Reason: fmt.Sprintf("%d attempts failed; the last: %s", del.Attempts, lastOutcome(del))}
		if err := d.systemEvent(ctx, ep, reservation.EventDeliveryExhausted, note); err != nil {
			return false, err
		}
	}
	if disable != "" {
		return true, d.disable(ctx, ep, disable)
	}
	return false, nil
}

// body renders the request body of a delivery of ev.
func (d *Dispatcher) body(ep *storage.Endpoint, ev reservation.Event) ([]byte, string, error) {
	if ev.Reservation != nil && !ep.IncludeNumbers {
		r := *ev.Reservation
		r.CallbackNumber = reservation.MaskNumber(r.CallbackNumber)
		ev.Reservation = &r
	}
	if ep.ContentType == ContentCalendar {
		if ev.Reservation == nil {
			// Nothing to put on a calendar: a ping or a webhook event.
			b, err := json.Marshal(payload{Type: ev.Type, Timestamp: ev.OccurredAt.UTC().Format(time.RFC3339Nano), Data: &ev})
			return b, ContentJSON, err
		}
		method := "REQUEST"
		if ev.Reservation.Status == reservation.StatusCanceled || ev.Reservation.Status == reservation.StatusFailed {
			method = "CANCEL"
		}
		e := ical.FromReservation(ev.Reservation, d.cfg.QueueNames[ev.Reservation.QueueID], ep.IncludeNumbers, ev.OccurredAt)
		return ical.Marshal(method, []ical.Event{e}), ContentCalendar + "; charset=utf-8; method=" + method, nil
	}
	b, err := json.Marshal(payload{Type: ev.Type, Timestamp: ev.OccurredAt.UTC().Format(time.RFC3339Nano), Data: &ev})
	return b, ContentJSON, err
}

// payload is the JSON body of a delivery (Standard Webhooks' shape).
type payload struct {
	Type      string             `json:"type"`
	Timestamp string             `json:"timestamp"`
	Data      *reservation.Event `json:"data"`
}

// Outcomes of an attempt.
const (
	outcomeDelivered = iota
	outcomeRetry
	outcomeExhausted
	outcomeGone
)

// attempt sends one delivery and updates del and ep.FailingSince with the
// outcome; the caller records them.
func (d *Dispatcher) attempt(ctx context.Context, ep *storage.Endpoint, del *storage.Delivery, ev *reservation.Event) (int, error) {
	body, ctype, err := d.body(ep, *ev)
	if err != nil {
		return 0, err
	}
	now := d.cfg.Now()
	secrets := []string{ep.Secret}
	if ep.PreviousSecret != "" && now.Before(ep.PreviousUntil) {
		secrets = append(secrets, ep.PreviousSecret)
	}
	ts := time.Now().Unix()
	sig, err := SignatureHeader(secrets, del.ID, ts, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "Slotline-Webhooks/1")
	req.Header.Set("webhook-id", del.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := d.cfg.Client.Do(req)
	took := time.Since(start)
	if err != nil && ctx.Err() != nil {
		return 0, ctx.Err() // shutting down: not the receiver's fault
	}
	status := 0
	var retryAfter time.Duration
	if err == nil {
		status = resp.StatusCode
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // never echoed anywhere
		resp.Body.Close()
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
	}
	del.Attempts++
	del.LastStatus, del.LastLatencyMS = status, int(took.Milliseconds())
	del.LastError = ""
	if err != nil {
		del.LastError = errorText(err)
	}
	now = d.cfg.Now()
	switch {
	case err == nil && status >= 200 && status < 300:
		del.Status, del.DeliveredAt = storage.DeliveryDelivered, now
		ep.FailingSince = time.Time{}
		d.cfg.Observer.Delivery("delivered", status, took, now.Sub(del.CreatedAt))
		return outcomeDelivered, nil
	case err == nil && status == http.StatusGone:
		del.Status = storage.DeliveryCanceled
		d.cfg.Observer.Delivery("disabled", status, took, 0)
		return outcomeGone, nil
	}
	if ep.FailingSince.IsZero() {
		ep.FailingSince = now
	}
	if del.Attempts >= len(d.cfg.Schedule) {
		del.Status = storage.DeliveryFailed
		d.cfg.Observer.Delivery("failed", status, took, 0)
		d.cfg.Observer.DeliveryExhausted()
		return outcomeExhausted, nil
	}
	wait := jitter(d.cfg.Schedule[del.Attempts])
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && retryAfter > wait {
		wait = retryAfter
	}
	del.NextAttemptAt = now.Add(wait)
	d.cfg.Observer.Delivery("retry", status, took, 0)
	return outcomeRetry, nil
}

func lastOutcome(del *storage.Delivery) string {
	if del.LastError != "" {
		return del.LastError
	}
	return "HTTP " + strconv.Itoa(del.LastStatus)
}

// errorText names a transport failure without echoing anything the
// receiver sent.
func errorText(err error) string {
	var blocked interface{ Blocked() bool }
	if errors.As(err, &blocked) {
		return err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/10 + time.Duration(mrand.Int64N(int64(d/5)+1))
}

// disable turns an endpoint off with a reason and records the event.
func (d *Dispatcher) disable(ctx context.Context, ep *storage.Endpoint, reason string) error {
	_, err := d.cfg.Store.UpdateEndpoint(ctx, ep.ID, "webhook.disable", func(e *storage.Endpoint) error {
		e.Enabled, e.DisabledReason = false, reason
		return nil
	}, reservation.Write{Actor: "system", Origin: reservation.OriginSystem})
	if err != nil {
		return err
	}
	d.cfg.Logger.WarnContext(ctx, "webhook endpoint disabled", "endpoint_id", ep.ID, "reason", reason)
	d.cfg.Observer.EndpointDisabled(reason)
	return d.systemEvent(ctx, ep, reservation.EventWebhookDisabled, &reservation.WebhookNote{EndpointID: ep.ID, Reason: reason})
}

// systemEvent records an event about ep, for its client.
func (d *Dispatcher) systemEvent(ctx context.Context, ep *storage.Endpoint, typ string, note *reservation.WebhookNote) error {
	now := time.Now()
	ev := reservation.Event{Type: typ, OccurredAt: now, Origin: reservation.OriginSystem, Actor: "system", Owner: ep.ClientID, Webhook: note}
	detail, _ := json.Marshal(note)
	_, err := d.cfg.Store.RecordSystemEvent(ctx, ev, &audit.Entry{At: now, Actor: "system", Action: typ, Target: note.EndpointID,
		Outcome: audit.OutcomeOK, Detail: string(detail)})
	return err
}

// Ping records a webhook.ping event, made by w's actor, and a delivery of
// it to one endpoint (whatever its filters say), and starts the delivery.
// It returns the delivery's id, which the event names.
func (d *Dispatcher) Ping(ctx context.Context, ep *storage.Endpoint, w reservation.Write) (string, error) {
	endpointID := ep.ID
	note := &reservation.WebhookNote{EndpointID: endpointID, DeliveryID: NewDeliveryID()}
	now := w.Time()
	ev := reservation.Event{Type: reservation.EventWebhookPing, OccurredAt: now, Origin: w.Origin, Actor: w.Actor, Owner: ep.ClientID, Webhook: note}
	seq, err := d.cfg.Store.RecordSystemEvent(ctx, ev, &audit.Entry{At: now, Actor: w.Actor, Action: "webhook.ping", Target: endpointID,
		Outcome: audit.OutcomeOK, Detail: auditDetail(w)})
	if err != nil {
		return "", err
	}
	del := &storage.Delivery{ID: note.DeliveryID, EndpointID: endpointID, EventSeq: seq, EventType: ev.Type,
		NextAttemptAt: d.cfg.Now(), CreatedAt: d.cfg.Now()}
	if err := d.cfg.Store.AddDelivery(ctx, del); err != nil {
		return "", err
	}
	return del.ID, d.Kick(ctx, endpointID)
}

// auditDetail is the detail of an audit entry of w: its request id.
func auditDetail(w reservation.Write) string {
	if w.RequestID == "" {
		return "{}"
	}
	b, _ := json.Marshal(map[string]string{"request_id": w.RequestID})
	return string(b)
}

// Retry makes a delivery due again now (a manual replay) and starts it.
// Errors: ENOTFOUND.
func (d *Dispatcher) Retry(ctx context.Context, endpointID, deliveryID string, w reservation.Write) (*storage.Delivery, error) {
	w.Now = d.cfg.Now()
	del, err := d.cfg.Store.RetryDelivery(ctx, endpointID, deliveryID, w)
	if err != nil {
		return nil, err
	}
	return del, d.Kick(ctx, endpointID)
}

// humanDuration writes d for people: "5 days", "36 hours", "90 minutes",
// "45 seconds".
func humanDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= 2*time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(int64(d.Round(time.Second)/time.Second), "second")
}
