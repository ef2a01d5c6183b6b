// Package syncer carries reservations to Genesys Cloud and brings Genesys'
// changes back. Every reservation change enqueues a River job in the same
// transaction (Runner.Enqueue, used as the booking service's TxFunc); the
// sync worker makes Genesys match the reservation (create, reschedule,
// cancel), never creating a callback twice; the notification listener
// (one per database) and a periodic reconciliation apply what happens inside
// Genesys; a missed callback whose customer allowed it gets one SMS.
//
// Jobs run on River: on SQLite through the store's single writer connection
// (as River's SQLite driver asks), on PostgreSQL through the shared pool with
// LISTEN/NOTIFY, so a process killed mid-burst leaves its jobs in the
// database for the next one.
package syncer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// Genesys is what the sync needs from the Genesys Cloud client.
type Genesys interface {
	CreateCallback(ctx context.Context, req genesys.CreateCallbackRequest) (*genesys.CallbackResponse, error)
	RescheduleCallback(ctx context.Context, req genesys.PatchCallbackRequest) (*genesys.CallbackResponse, error)
	CancelCallback(ctx context.Context, conversationID string, ids []genesys.CallbackIdentifier) error
	FindCallbacks(ctx context.Context, q genesys.FindQuery) ([]string, error)
	GetCallbackConversation(ctx context.Context, id string) (*genesys.CallbackConversation, error)
	SendSMS(ctx context.Context, m genesys.AgentlessMessage) (*genesys.AgentlessResponse, error)
	CreateChannel(ctx context.Context) (*genesys.Channel, error)
	Subscribe(ctx context.Context, channelID string, topics []string, replace bool) ([]genesys.ChannelTopic, error)
}

// Queue is what the sync knows of a configured queue.
type Queue struct {
	*booking.Queue
	// SMSFrom is the queue's SMS number for the missed-callback SMS ("" =
	// no SMS from this queue).
	SMSFrom string
	// CallerID and ScriptID go into each created callback when set.
	CallerID, CallerIDName, ScriptID string
	// ScheduleGroupID names the Genesys schedule group whose hours the
	// queue uses (its Schedule.Imported is then kept by HoursImporter).
	ScheduleGroupID string
}

// Observer receives the sync's metrics.
type Observer interface {
	SyncOutcome(op, outcome string)   // op create|reschedule|cancel|adopt|sms; outcome ok|retry|failed|unknown
	SyncLag(d time.Duration)          // admission to synced
	NotificationEvent(kind string)    // callback|heartbeat|pong|socket_closing|other
	ListenerConnected(connected bool) // the listener's socket state
	ReconcileRepair(kind string)      // status|reschedule|resync
}

type nopObserver struct{}

func (nopObserver) SyncOutcome(string, string) {}
func (nopObserver) SyncLag(time.Duration)      {}
func (nopObserver) NotificationEvent(string)   {}
func (nopObserver) ListenerConnected(bool)     {}
func (nopObserver) ReconcileRepair(string)     {}

// Config configures the sync.
type Config struct {
	Store   *storage.Store
	Genesys Genesys
	Queues  []*Queue
	Logger  *slog.Logger
	// Observer gets metrics; default none.
	Observer Observer
	// Now is the clock used to judge "the slot has passed" and Genesys-side
	// times (the simulator's clock in sandbox mode); default time.Now.
	Now func() time.Time
	// Workers is River's MaxWorkers for the sync queue (default 16);
	// FetchCooldown its pause between fetches (default 5 ms), so that a
	// burst drains at the Genesys rate rather than at River's polling pace.
	Workers       int
	FetchCooldown time.Duration
	// ReconcileEvery is the period of the reconciliation (default 5 min).
	ReconcileEvery time.Duration
	// SMSText is the missed-callback SMS; {queue} and {reason} are replaced.
	SMSText string
	// JobTimeout bounds one job (default 5 min); a sync claim outlives it.
	JobTimeout time.Duration
	// RetryBase is the first wait before a failed job runs again (default
	// 1 s; doubled per attempt with full jitter, capped at 5 min).
	RetryBase time.Duration
	// Register adds other workers (webhook deliveries) to the River client
	// this package owns, with their periodic jobs; they run on their own
	// queue with Workers workers.
	Register func(w *river.Workers) []*river.PeriodicJob
	// OtherQueue names that queue ("" when Register is nil).
	OtherQueue string
	// LookupWindow is how long the search for a create whose outcome is
	// unknown waits for others to share its analytics query (default
	// DefaultLookupWindow).
	LookupWindow time.Duration
}

// DataKey is the callback data key holding our reservation id; it is how a
// callback created before a lost response is found again.
const DataKey = "slotline_reservation_id"

// DefaultSMSText is the missed-callback SMS unless configured.
const DefaultSMSText = "We tried to call you back about {reason} but could not reach you. Reply or book a new time with {queue}."

// Runner owns the River client and the workers.
type Runner struct {
	mu            sync.Mutex
	lastFull      time.Time // when the last full reconciliation ended
	reconcileFrom int64     // where a reconciliation cut short resumes (0: the start)
	reconciling   atomic.Bool
	// syncing counts the sync jobs running in this process; reconciliation
	// yields to them (yieldToSync).
	syncing atomic.Int64

	cfg     Config
	logger  *slog.Logger
	lookups *lookups
	queues  map[string]*Queue
	id      string
	jobs    jobQueue
	now     func() time.Time
}

// jobQueue hides River's transaction type (*sql.Tx or pgx.Tx).
type jobQueue interface {
	insertTx(ctx context.Context, tx *storage.Tx, args river.JobArgs, opts *river.InsertOpts) error
	insertManyTx(ctx context.Context, tx *storage.Tx, params []river.InsertManyParams) error
	insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

type riverQueue[TTx any] struct {
	client *river.Client[TTx]
	// fast inserts many jobs through River's fast path (SQLite).
	fast bool
}

func (q *riverQueue[TTx]) insertTx(ctx context.Context, tx *storage.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	t, ok := tx.Driver().(TTx)
	if !ok {
		return fmt.Errorf("syncer: transaction %T is not River's", tx.Driver())
	}
	_, err := q.client.InsertTx(tx.Context(ctx), t, args, opts)
	return err
}

// insertManyTx inserts jobs that are not unique (sync jobs), those of a
// group commit in one statement. On SQLite it takes River's fast path,
// which neither returns nor decodes the rows it wrote (HTTP admissions
// about 8% faster); on PostgreSQL that path is a COPY, an exchange of its
// own that the transaction's batched statements cannot ride with, and
// measured slower (about 930 against 1,250 admissions/s).
func (q *riverQueue[TTx]) insertManyTx(ctx context.Context, tx *storage.Tx, params []river.InsertManyParams) error {
	t, ok := tx.Driver().(TTx)
	if !ok {
		return fmt.Errorf("syncer: transaction %T is not River's", tx.Driver())
	}
	var err error
	if q.fast {
		_, err = q.client.InsertManyFastTx(tx.Context(ctx), t, params)
	} else {
		_, err = q.client.InsertManyTx(tx.Context(ctx), t, params)
	}
	return err
}

func (q *riverQueue[TTx]) insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := q.client.Insert(ctx, args, opts)
	return err
}

func (q *riverQueue[TTx]) start(ctx context.Context) error { return q.client.Start(ctx) }
func (q *riverQueue[TTx]) stop(ctx context.Context) error  { return q.client.Stop(ctx) }

// Queue names.
const (
	queueSync = "genesys"
)

// New builds the sync: it migrates River's tables and prepares the River
// client (started by Start).
func New(ctx context.Context, cfg Config) (*Runner, error) {
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
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = 5 * time.Millisecond
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 5 * time.Minute
	}
	if cfg.SMSText == "" {
		cfg.SMSText = DefaultSMSText
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 5 * time.Minute
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.LookupWindow <= 0 {
		cfg.LookupWindow = DefaultLookupWindow
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	r := &Runner{cfg: cfg, logger: cfg.Logger, queues: map[string]*Queue{}, id: "sync-" + hex.EncodeToString(b), now: cfg.Now}
	r.lookups = &lookups{r: r, open: map[string]*lookupBatch{}}
	for _, q := range cfg.Queues {
		r.queues[q.ID] = q
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{r: r})
	river.AddWorker(workers, &smsWorker{r: r})
	river.AddWorker(workers, &reconcileWorker{r: r})
	var periodic []*river.PeriodicJob
	if cfg.Register != nil {
		periodic = cfg.Register(workers)
	}
	rc := &river.Config{
		Logger:        cfg.Logger.With("subsystem", "river"),
		Workers:       workers,
		JobTimeout:    cfg.JobTimeout,
		MaxAttempts:   40,
		RetryPolicy:   retryPolicy{base: cfg.RetryBase},
		FetchCooldown: cfg.FetchCooldown,
		Queues: map[string]river.QueueConfig{
			queueSync: {MaxWorkers: cfg.Workers},
		},
		PeriodicJobs: append(periodic,
			river.NewPeriodicJob(river.PeriodicInterval(cfg.ReconcileEvery),
				func() (river.JobArgs, *river.InsertOpts) { return reconcileArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true})),
		RescueStuckJobsAfter: cfg.JobTimeout + time.Minute, // Start resumes sooner
	}
	if cfg.OtherQueue != "" {
		rc.Queues[cfg.OtherQueue] = river.QueueConfig{MaxWorkers: cfg.Workers}
	}
	var err error
	switch cfg.Store.Backend() {
	case storage.SQLite:
		r.jobs, err = newRiver(ctx, riversqlite.New(cfg.Store.DB()), rc, true, func(c *river.Config) { c.FetchPollInterval = 50 * time.Millisecond })
	case storage.Postgres:
		r.jobs, err = newRiver(ctx, riverpgxv5.New(cfg.Store.Pool()), rc, false, nil)
	default:
		err = fmt.Errorf("syncer: unknown backend %q", cfg.Store.Backend())
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func newRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], rc *river.Config, fast bool, tune func(*river.Config)) (jobQueue, error) {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: rc.Logger})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	if tune != nil {
		tune(rc)
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &riverQueue[TTx]{client: client, fast: fast}, nil
}

// Start starts the workers, then enqueues a sync of every reservation
// still waiting for one: after a crash, jobs that were running stay
// "running" until River rescues them, and this carries their work on now
// (a duplicate job finds nothing to do).
func (r *Runner) Start(ctx context.Context) error {
	if err := r.jobs.start(ctx); err != nil {
		return err
	}
	n := 0
	for cursor := int64(0); ; {
		page, next, err := r.cfg.Store.FindUnsettled(ctx, cursor, 500)
		if err != nil {
			return fmt.Errorf("find reservations waiting for a sync: %w", err)
		}
		for _, res := range page {
			if res.Sync.State != reservation.SyncPending {
				continue
			}
			if err := r.jobs.insert(ctx, syncArgs{ReservationID: res.ID}, nil); err != nil {
				return err
			}
			n++
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if n > 0 {
		r.logger.InfoContext(ctx, "resuming the sync of reservations left pending", "count", n)
	}
	return nil
}

// Stop waits for running jobs to finish (until ctx is done).
func (r *Runner) Stop(ctx context.Context) error { return r.jobs.stop(ctx) }

// InsertTx adds a River job inside a storage transaction (for the other
// workers given to Register).
func (r *Runner) InsertTx(ctx context.Context, tx *storage.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	return r.jobs.insertTx(ctx, tx, args, opts)
}

// Insert adds a River job on its own.
func (r *Runner) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	return r.jobs.insert(ctx, args, opts)
}

// Enqueue schedules a sync of r inside the transaction that changed it. It
// is the booking service's TxFunc. The jobs of all the writes sharing the
// transaction are inserted together, in one statement, before it commits.
func (r *Runner) Enqueue(_ context.Context, tx *storage.Tx, res *reservation.Reservation) error {
	if res.Sync.State != reservation.SyncPending {
		return nil
	}
	// Sync jobs are not unique (syncArgs.InsertOpts): the fast insert,
	// which fails the whole statement on a unique conflict, fits them.
	storage.Gather(tx, "genesys_sync_jobs", river.InsertManyParams{Args: syncArgs{ReservationID: res.ID}}, r.jobs.insertManyTx)
	return nil
}

// retryPolicy retries with exponential backoff and full jitter, from base
// up to 5 min.
type retryPolicy struct{ base time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(backoff(job.Attempt, p.base, 5*time.Minute))
}

// backoff returns a random wait in [0, min(cap, base·2^attempt)) ("full
// jitter").
func backoff(attempt int, base, cap time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < cap; i++ {
		d *= 2
	}
	if d > cap {
		d = cap
	}
	return time.Duration(mrand.Int64N(int64(d))) + time.Millisecond
}
