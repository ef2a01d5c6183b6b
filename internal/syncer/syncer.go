// SPDX-License-Identifier: Apache-2.0

// Package syncer carries reservations to Genesys Cloud and brings Genesys'
// changes back. Every event of a reservation that waits for a sync enqueues
// a job in the event's own transaction (Runner.OnEvents, a store event
// hook); the sync worker makes Genesys match the reservation (create,
// reschedule, cancel), never creating a callback twice; the notification
// listener (one per database, by lease) and a periodic reconciliation apply
// what happens inside Genesys; a missed callback whose customer allowed it
// gets one SMS.
//
// Jobs run on the jobs package (River): a process killed mid-burst leaves
// its jobs in the database for the next one.
package syncer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// Store is what the sync reads and writes.
type Store interface {
	FindReservationByID(ctx context.Context, id string) (*reservation.Reservation, error)
	FindReservationByConversation(ctx context.Context, conversationID string) (*reservation.Reservation, error)
	FindUnsettled(ctx context.Context, cursor int64, limit int) ([]*reservation.Reservation, int64, error)
	MarkSynced(ctx context.Context, id string, res reservation.SyncResult, w reservation.Write) (*reservation.Reservation, error)
	MarkSyncFailed(ctx context.Context, id, reason string, failReservation bool, w reservation.Write) (*reservation.Reservation, error)
	RecordSyncAttempt(ctx context.Context, id, lastErr string, increment bool) (int, error)
	ApplyGenesys(ctx context.Context, id string, u reservation.GenesysUpdate, w reservation.Write) (*reservation.Reservation, bool, error)
	SMSSent(ctx context.Context, id string) (bool, error)
	ClaimNotification(ctx context.Context, id, kind, slotKey string) (notify.Record, error)
	FinishNotification(ctx context.Context, id, kind, slotKey string, o storage.Outcome, w reservation.Write) (bool, error)
	FindSendingNotifications(ctx context.Context, limit int) ([]notify.Record, error)
	HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (*storage.Lease, error)
	SaveScheduleImport(ctx context.Context, queueID, data string, at time.Time) error
	LoadScheduleImport(ctx context.Context, queueID string) (string, time.Time, error)
	FindReachable(ctx context.Context, queueID, number string, from, to time.Time) ([]*reservation.Reservation, error)
	CancelReached(ctx context.Context, id string, at time.Time, within time.Duration, w reservation.Write) (*reservation.Reservation, bool, error)
}

// Genesys is what the sync needs from the Genesys Cloud client.
type Genesys interface {
	CreateCallback(ctx context.Context, req genesys.CreateCallbackRequest) (*genesys.CallbackResponse, error)
	RescheduleCallback(ctx context.Context, req genesys.PatchCallbackRequest) (*genesys.CallbackResponse, error)
	CancelCallback(ctx context.Context, conversationID string, ids []genesys.CallbackIdentifier) error
	DisconnectConversation(ctx context.Context, conversationID string) error
	FindCallbacks(ctx context.Context, q genesys.FindQuery) ([]string, error)
	GetCallbackConversation(ctx context.Context, id string) (*genesys.CallbackConversation, error)
	GetConversation(ctx context.Context, id string) (*genesys.Conversation, error)
	SendSMS(ctx context.Context, m genesys.AgentlessMessage) (*genesys.AgentlessResponse, error)
	CreateChannel(ctx context.Context) (*genesys.Channel, error)
	Subscribe(ctx context.Context, channelID string, topics []string, replace bool) ([]genesys.ChannelTopic, error)
}

// Observer receives the sync's metrics.
type Observer interface {
	// SyncOutcome counts a sync step: op create|reschedule|cancel|adopt|
	// sms; outcome ok|retry|failed|unknown, and also: adopt searching (a
	// lost create not found yet, searched again), cancel fallback (landed
	// after the conversation disconnect) and unverified (never landed:
	// sync failed), reschedule agent_required (Genesys wants an agentId
	// the callback cannot give: sync failed), sms refused (permanent).
	SyncOutcome(op, outcome string)
	SyncLag(d time.Duration)          // admission to synced
	NotificationEvent(kind string)    // callback|heartbeat|pong|socket_closing|other
	ListenerConnected(connected bool) // the listener's socket state
	ReconcileRepair(kind string)      // status|resync|retry (a failed sync tried again)
	// SMSRefused counts a failed SMS send: kind permanent|transient, reason
	// one of genesys' SMS… reasons.
	SMSRefused(kind, reason string)
}

type nopObserver struct{}

func (nopObserver) SyncOutcome(string, string) {}
func (nopObserver) SyncLag(time.Duration)      {}
func (nopObserver) NotificationEvent(string)   {}
func (nopObserver) ListenerConnected(bool)     {}
func (nopObserver) ReconcileRepair(string)     {}
func (nopObserver) SMSRefused(string, string)  {}

// Config configures the sync.
type Config struct {
	Store   Store
	Jobs    *jobs.Client
	Genesys Genesys
	Queues  []*booking.Queue
	Logger  *slog.Logger
	// Observer gets metrics; default none.
	Observer Observer
	// Now is the clock used to judge "the slot has passed" and Genesys-side
	// times (the simulator's clock in sandbox mode); default time.Now.
	Now func() time.Time
	// Workers is how many sync jobs run at once in this process (default
	// 16).
	Workers int
	// ReconcileEvery is the period of the reconciliation (default 5 min).
	ReconcileEvery time.Duration
	// SMSText, when set, is the missed-callback SMS of every locale
	// SMSTemplates gives no missed message (sms.text, from before
	// templates).
	SMSText string
	// SMSTemplates are the configured messages to customers by locale and
	// kind (sms.templates), over notify.Builtin.
	SMSTemplates map[string]map[string]string
	// ManageURL returns a reservation's self-service link for the
	// {manage_url} placeholder; nil, or "", leaves its line out.
	ManageURL func(reservation.Reservation) string
	// RetryBase is the first wait before a sync job tries a failed call
	// again itself (default 1 s; doubled per attempt with full jitter).
	RetryBase time.Duration
	// LookupWindow is how long the search for a create whose outcome is
	// unknown waits for others to share its analytics query (default
	// DefaultLookupWindow).
	LookupWindow time.Duration
	// OutcomeWait is how long after a callback's last communication ends
	// its outcome waits for the agent's wrap-up (default
	// DefaultOutcomeWait); each queue's NotReachedWrapups are the wrap-up
	// codes that make a callback not reached.
	OutcomeWait time.Duration
	// Until returns the real time until the Genesys-side clock (Now)
	// reads t: when to read a conversation again whose outcome waits for a
	// wrap-up (default time.Until; the sandbox's follows its clock's
	// speed).
	Until func(t time.Time) time.Duration
	// LostCreateWindow is how long after a create whose outcome is unknown
	// the sync keeps searching for its callback, with backoff, before it
	// creates again (default DefaultLostCreateWindow): longer than Genesys'
	// analytics may take to show a new callback. It is measured on Now.
	LostCreateWindow time.Duration
	// CancelVerifyWindow is how long a cancel reads the callback back,
	// with backoff from RetryBase, after the bulk disconnect and again
	// after the fallback disconnect of the conversation, before it records
	// the cancel as failed (default DefaultCancelVerifyWindow).
	CancelVerifyWindow time.Duration
	// FailedRetryBase and FailedRetryMax bound the wait before
	// reconciliation tries a failed reschedule or cancel again: base at the
	// first retry, doubled at each, at most max (default 1 min and 1 h).
	FailedRetryBase, FailedRetryMax time.Duration
	// SMSAttempts bounds the sends of one missed-callback SMS that fail
	// transiently (default 10); after the last, reservation.sms_failed.
	SMSAttempts int
}

// Defaults of Config.
const (
	DefaultLostCreateWindow   = 2 * time.Minute
	DefaultCancelVerifyWindow = 30 * time.Second
	DefaultFailedRetryBase    = time.Minute
	DefaultFailedRetryMax     = time.Hour
	DefaultSMSAttempts        = 10
)

// DataKey is the callback data key holding our reservation id; it is how a
// callback created before a lost response is found again.
const DataKey = "slotline_reservation_id"

// Runner carries reservations to Genesys: its jobs, the listener and the
// hours importer.
type Runner struct {
	mu            sync.Mutex
	lastFull      time.Time // when the last full reconciliation ended
	reconcileFrom int64     // where a reconciliation cut short resumes (0: the start)
	reconciling   atomic.Bool
	// syncing counts the sync jobs running in this process; reconciliation
	// yields to them (yieldToSync).
	syncing atomic.Int64

	// agentRequired is set once Genesys has refused a reschedule for its
	// agentId: later reschedules read the callback's owner first.
	agentRequired atomic.Bool

	cfg     Config
	logger  *slog.Logger
	lookups *lookups
	lost    lostCreates
	queues  map[string]*booking.Queue
	// policies holds each queue's outcome policy, by queue id.
	policies map[string]outcomePolicy
	id       string
	jobs     *jobs.Client
	now      func() time.Time

	// templates are the messages to customers (sms.templates).
	templates *notify.Templates
}

// jobQueue is the job queue the sync's jobs run on.
const jobQueue = "genesys"

// New builds the sync and registers its jobs with cfg.Jobs (before the
// job client opens): the sync of a reservation, the missed-callback SMS,
// the read of an outcome that waited for a wrap-up and the periodic
// reconciliation. Install OnEvents as a store event hook.
func New(cfg Config) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 5 * time.Minute
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.LookupWindow <= 0 {
		cfg.LookupWindow = DefaultLookupWindow
	}
	if cfg.OutcomeWait <= 0 {
		cfg.OutcomeWait = DefaultOutcomeWait
	}
	if cfg.Until == nil {
		cfg.Until = time.Until
	}
	if cfg.LostCreateWindow <= 0 {
		cfg.LostCreateWindow = DefaultLostCreateWindow
	}
	if cfg.CancelVerifyWindow <= 0 {
		cfg.CancelVerifyWindow = DefaultCancelVerifyWindow
	}
	if cfg.FailedRetryBase <= 0 {
		cfg.FailedRetryBase = DefaultFailedRetryBase
	}
	if cfg.FailedRetryMax <= 0 {
		cfg.FailedRetryMax = DefaultFailedRetryMax
	}
	cfg.FailedRetryMax = max(cfg.FailedRetryMax, cfg.FailedRetryBase)
	if cfg.SMSAttempts <= 0 {
		cfg.SMSAttempts = DefaultSMSAttempts
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	r := &Runner{cfg: cfg, logger: cfg.Logger, queues: map[string]*booking.Queue{}, policies: map[string]outcomePolicy{},
		id: "sync-" + hex.EncodeToString(b), jobs: cfg.Jobs, now: cfg.Now}
	r.templates = notify.NewTemplates(withLegacyText(cfg.SMSTemplates, cfg.SMSText))
	r.lookups = &lookups{r: r, open: map[string]*lookupBatch{}}
	r.lost.m = map[string]*lostCreate{}
	for _, q := range cfg.Queues {
		r.queues[q.ID] = q
		r.policies[q.ID] = newOutcomePolicy(q.NotReachedWrapups, cfg.OutcomeWait)
	}
	r.jobs.AddQueue(jobQueue, cfg.Workers)
	jobs.Register(r.jobs, jobs.Kind{Queue: jobQueue, UniqueUnfinished: true}, r.workSync)
	jobs.Register(r.jobs, jobs.Kind{Queue: jobQueue, MaxAttempts: cfg.SMSAttempts, UniqueByArgs: true}, r.workSMS)
	jobs.Register(r.jobs, jobs.Kind{Queue: jobQueue, MaxAttempts: cfg.SMSAttempts}, r.workNotify)
	jobs.Register(r.jobs, jobs.Kind{Queue: jobQueue, MaxAttempts: 10, UniqueByArgs: true}, r.workOutcome)
	jobs.Register(r.jobs, jobs.Kind{Queue: jobQueue, MaxAttempts: 3, UniqueByArgs: true}, r.workRetry)
	jobs.Register(r.jobs, jobs.Kind{Queue: jobQueue, MaxAttempts: 3, UniqueByPeriod: time.Minute,
		Timeout: 30 * time.Minute}, r.workReconcile)
	r.jobs.AddPeriodic(cfg.ReconcileEvery, reconcileArgs{}, true)
	return r
}

// OnEvents is the sync's store event hook: in the transaction of each
// change, a reservation that waits for a sync gets a sync job for its
// version, unless one is waiting or running for it already (the jobs of
// every write sharing the transaction in one insert, one per reservation),
// and each message to the customer the change calls for (its queue's
// notify policy: a confirmation, a reminder, a cancel, a missed callback's
// fallback) gets its notify_sms job.
func (r *Runner) OnEvents(ctx context.Context, tx *storage.Tx, events []reservation.Event) error {
	var syncs []jobs.Args
	at := map[string]int{} // reservation id → its job in syncs
	for _, ev := range events {
		res := ev.Reservation
		if res == nil {
			continue
		}
		if res.Sync.State == reservation.SyncPending {
			a := syncArgs{ReservationID: res.ID, Version: res.Version}
			if i, ok := at[res.ID]; !ok {
				at[res.ID] = len(syncs)
				syncs = append(syncs, a)
			} else if a.Version > syncs[i].(syncArgs).Version {
				syncs[i] = a // one job, for the latest version
			}
		}
		for _, a := range r.planNotify(ev) {
			if err := r.jobs.InsertTx(ctx, tx, a, r.notifyOpts(a)); err != nil {
				return err
			}
		}
	}
	return r.jobs.InsertManyTx(ctx, tx, syncs)
}

// Resume enqueues a sync of every reservation still waiting for one that
// has no sync job waiting or running for its version (a restart with a
// backlog leaves those jobs in the database: they are not doubled); run it
// once the jobs have started. A reservation with a sync job waiting to run
// or running here (for any version: a job syncs the reservation as it is
// when it runs) gets none either, whatever build inserted that job: the jobs of a build
// before genesys_sync was unique carry no unique key, and the unique
// insert does not see them. After a crash, jobs that were running stay
// "running" until River rescues them (Config.JobTimeout and a minute
// later): for a job running in another job client, Resume adds one that
// carries its work on now (a duplicate job, should that client be alive in
// another process, finds nothing to do).
func (r *Runner) Resume(ctx context.Context) error {
	waiting, err := r.waitingSyncs(ctx)
	if err != nil {
		return fmt.Errorf("resume the sync: %w", err)
	}
	n, rescued := 0, 0
	for cursor := int64(0); ; {
		page, next, err := r.cfg.Store.FindUnsettled(ctx, cursor, 500)
		if err != nil {
			return fmt.Errorf("find reservations waiting for a sync: %w", err)
		}
		var args []jobs.Args
		for _, res := range page {
			if res.Sync.State == reservation.SyncPending && !waiting[res.ID] {
				args = append(args, syncArgs{ReservationID: res.ID, Version: res.Version})
			}
		}
		ins, err := r.jobs.InsertMany(ctx, args)
		if err != nil {
			return fmt.Errorf("resume the sync: %w", err)
		}
		var rescue []jobs.Args
		for i, in := range ins {
			switch a := args[i].(syncArgs); {
			case !in.Duplicate:
				n++
			case in.RunningElsewhere:
				a.Rescue = in.ID
				rescue = append(rescue, a)
			}
		}
		if ins, err = r.jobs.InsertMany(ctx, rescue); err != nil {
			return fmt.Errorf("resume the sync: %w", err)
		}
		for _, in := range ins {
			if !in.Duplicate {
				rescued++
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if n > 0 || rescued > 0 {
		r.logger.InfoContext(ctx, "resuming the sync of reservations left pending", "count", n, "rescued", rescued)
	}
	return r.resumeNotify(ctx)
}

// waitingSyncs returns the reservations that have a sync job waiting to
// run (available, scheduled or retrying) or running in this process, of
// any version and inserted by any build. A job running in another job
// client is left out: Resume's insert finds it (and rescues it) or, for a
// job without a unique key, adds the job that carries its work on.
func (r *Runner) waitingSyncs(ctx context.Context) (map[string]bool, error) {
	waiting := map[string]bool{}
	err := jobs.ListUnfinished(ctx, r.jobs, func(j jobs.Unfinished[syncArgs]) error {
		if !j.RunningElsewhere {
			waiting[j.Args.ReservationID] = true
		}
		return nil
	})
	return waiting, err
}

// withLegacyText returns custom with text (sms.text) as the missed message
// of every locale, built in or configured, that has none of its own.
func withLegacyText(custom map[string]map[string]string, text string) map[string]map[string]string {
	if text == "" {
		return custom
	}
	out := map[string]map[string]string{}
	for _, m := range []map[string]map[string]string{notify.Builtin, custom} {
		for locale := range m {
			out[locale] = map[string]string{notify.KindMissed: text}
		}
	}
	for locale, kinds := range custom {
		for kind, s := range kinds {
			out[locale][kind] = s
		}
	}
	return out
}
