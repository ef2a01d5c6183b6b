// SPDX-License-Identifier: Apache-2.0

// Package jobs runs Slotline's durable jobs on River: one client per
// process over the store's database (River's SQLite driver on the store's
// single writer connection, its pgx driver on the PostgreSQL pool, chosen
// by storage.Store.JobDriver), the queues, the retry policy and the one
// backoff (package backoff), inserts on their own or inside a store transaction,
// start and stop.
//
// Packages with work to do register it before the client opens: each kind
// of job with its queue, attempts, uniqueness and timeout (Register), each
// queue with its workers (AddQueue), the periodic jobs (AddPeriodic). The
// Genesys sync and the webhook deliveries do; nothing outside this package
// imports River.
//
// The life of a Client: New, the registrations, Open (the River client, on
// tables storage.Store.Migrate has migrated: see Driver.Migrate), Start
// (the workers), Stop.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/slotline/slotline/internal/backoff"
)

// Args are a job's arguments, stored as JSON. Kind names the kind of job
// (two characters or more); it must not change once jobs of the kind are
// stored.
type Args interface {
	Kind() string
}

// Job is one run of a job.
type Job[A Args] struct {
	ID      int64
	Attempt int // 1 on the first run
	Args    A
}

// Kind configures one kind of job.
type Kind struct {
	// Queue is the queue the kind's jobs run on (AddQueue).
	Queue string
	// MaxAttempts bounds the runs of a job (default Config.MaxAttempts).
	MaxAttempts int
	// UniqueByArgs makes an insert of a job whose arguments equal those of
	// one River still holds, not cancelled or discarded, a no-op (a
	// completed job counts until River deletes it, a day later);
	// UniqueByPeriod does the same within each period.
	UniqueByArgs   bool
	UniqueByPeriod time.Duration
	// UniqueUnfinished makes an insert of a job whose arguments (those
	// tagged `river:"unique"`, or all) equal those of a job not finished
	// yet (available, scheduled, retrying or running) a no-op; a finished
	// job (completed, cancelled, discarded) does not count. Inserts of
	// such a kind report what they did (Inserted).
	UniqueUnfinished bool
	// Timeout bounds one run (default Config.JobTimeout).
	Timeout time.Duration
}

// unfinished are the states of a job not finished yet, over which a
// UniqueUnfinished kind is unique (River requires pending, running and
// scheduled among them).
var unfinished = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}

// Inserted is what an insert did with one job.
type Inserted struct {
	// ID is the job added or, for a Duplicate, the unfinished job that
	// made the insert a no-op.
	ID int64
	// Duplicate: a job of a UniqueUnfinished kind with the same arguments
	// was not finished, and none was added.
	Duplicate bool
	// RunningElsewhere: that unfinished job is running in another job
	// client than this one: another process's, or one that died with it
	// running, which River rescues only after Config.JobTimeout and a
	// minute.
	RunningElsewhere bool
}

// InsertOpts are the options of one insert.
type InsertOpts struct {
	// ScheduledAt is when the job may run (zero: now).
	ScheduledAt time.Time
}

// Tx is the transaction a job is inserted in: the store's
// (*storage.Tx), whose Driver is *sql.Tx on SQLite or pgx.Tx on
// PostgreSQL and whose Context is the context its statements run with.
type Tx interface {
	Driver() any
	Context(ctx context.Context) context.Context
}

// Config configures a Client.
type Config struct {
	Logger *slog.Logger
	// JobTimeout bounds a run of a kind without a Timeout of its own
	// (default 5 min).
	JobTimeout time.Duration
	// MaxAttempts bounds the runs of a kind without MaxAttempts of its own
	// (default 40).
	MaxAttempts int
	// RetryBase is the first wait before a failed job runs again (default
	// 1 s); each attempt doubles it, with full jitter, up to 5 min.
	RetryBase time.Duration
	// FetchCooldown is the pause between fetches of jobs (default 50 ms), so
	// that a burst drains at the pace of the work rather than of River's
	// polling. It is also the least time between two of River's insert
	// notifications of a queue, each of which wakes the job client of every
	// process: at 5 ms nearly every write transaction sent one (7% more
	// creates/s with three processes on two cores at 50 ms; a job inserted
	// alone is still fetched at once, one in a busy stream up to this much
	// later).
	FetchCooldown time.Duration
}

// Client is the job queue of one process.
type Client struct {
	cfg    Config
	driver Driver

	mu       sync.Mutex
	workers  *river.Workers
	kinds    map[string]Kind
	queues   map[string]river.QueueConfig
	periodic []*river.PeriodicJob
	err      error // a registration that came too late
	q        queue // nil until Open
}

// queue hides River's transaction type (*sql.Tx or pgx.Tx).
type queue interface {
	insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
	insertTx(ctx context.Context, tx Tx, args river.JobArgs, opts *river.InsertOpts) error
	insertManyTx(ctx context.Context, tx Tx, params []river.InsertManyParams) error
	insertMany(ctx context.Context, params []river.InsertManyParams) ([]Inserted, error)
	unfinished(ctx context.Context, kind string, each func(row *rivertype.JobRow, elsewhere bool) error) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
}

// Driver is River's driver for the store's database, with how to use it;
// storage.Store.JobDriver makes it.
type Driver struct {
	migrate func(ctx context.Context, logger *slog.Logger) error
	open    func(ctx context.Context, rc *river.Config) (queue, error)
}

// Migrate applies River's migrations (its tables) that have not been
// applied. River takes no lock of its own: two processes migrating one
// database at once can both try to create the same table, and one fails.
// storage.Store.Migrate therefore calls it under the store's migration
// lock, after the store's own migrations; nothing else should.
func (d Driver) Migrate(ctx context.Context, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return d.migrate(ctx, logger)
}

// DriverOptions tune how River uses a database.
type DriverOptions struct {
	// FastInsert inserts many jobs through River's fast path, which
	// neither returns nor decodes the rows it wrote (faster on SQLite; on
	// PostgreSQL the path is a COPY that the transaction's batched
	// statements cannot ride with).
	FastInsert bool
	// PollInterval is how often River looks for new jobs where the
	// database cannot notify it (SQLite); zero keeps River's default.
	PollInterval time.Duration
}

// NewDriver wraps a River driver.
func NewDriver[TTx any](d riverdriver.Driver[TTx], opts DriverOptions) Driver {
	migrator := func(logger *slog.Logger) (*rivermigrate.Migrator[TTx], error) {
		m, err := rivermigrate.New(d, &rivermigrate.Config{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("river migrator: %w", err)
		}
		return m, nil
	}
	return Driver{migrate: func(ctx context.Context, logger *slog.Logger) error {
		m, err := migrator(logger)
		if err != nil {
			return err
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		return nil
	}, open: func(ctx context.Context, rc *river.Config) (queue, error) {
		// Open migrates nothing (see Driver.Migrate): it only checks, so
		// that a database nobody migrated fails here, saying so, rather
		// than at the first job.
		m, err := migrator(rc.Logger)
		if err != nil {
			return nil, err
		}
		res, err := m.Validate(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("check river migrations: %w", err)
		}
		if !res.OK {
			return nil, fmt.Errorf("river's tables are not migrated (%s): migrate the store first", strings.Join(res.Messages, "; "))
		}
		if opts.PollInterval > 0 {
			rc.FetchPollInterval = opts.PollInterval
		}
		client, err := river.NewClient(d, rc)
		if err != nil {
			return nil, fmt.Errorf("river client: %w", err)
		}
		return &riverQueue[TTx]{client: client, fast: opts.FastInsert}, nil
	}}
}

// New returns a Client over driver; register the work, then Open it.
func New(driver Driver, cfg Config) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 40
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.FetchCooldown <= 0 {
		cfg.FetchCooldown = 50 * time.Millisecond
	}
	return &Client{cfg: cfg, driver: driver, workers: river.NewWorkers(), kinds: map[string]Kind{},
		queues: map[string]river.QueueConfig{}}
}

// errLate is a registration after Open: the River client is already built.
var errLate = errors.New("jobs: work registered after the client opened")

// late records a registration after Open; the caller holds c.mu.
func (c *Client) late() bool {
	if c.q != nil {
		c.err = errors.Join(c.err, errLate)
		return true
	}
	return false
}

// AddQueue adds a queue run by up to workers jobs at a time.
func (c *Client) AddQueue(name string, workers int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.late() {
		return
	}
	c.queues[name] = river.QueueConfig{MaxWorkers: max(workers, 1)}
}

// Register makes work run the jobs of A's kind, configured by k. Register
// every kind before Open.
func Register[A Args](c *Client, k Kind, work func(ctx context.Context, job *Job[A]) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.late() {
		return
	}
	var zero A
	c.kinds[zero.Kind()] = k
	river.AddWorker(c.workers, &worker[A]{work: work, timeout: k.Timeout})
}

// AddPeriodic inserts args every period (and once at start with
// runOnStart), with the options of its kind.
func (c *Client) AddPeriodic(every time.Duration, args Args, runOnStart bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.late() {
		return
	}
	c.periodic = append(c.periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return args, c.insertOpts(args, nil) },
		&river.PeriodicJobOpts{RunOnStart: runOnStart}))
}

// Open checks that River's tables are migrated (Driver.Migrate, which
// storage.Store.Migrate runs) and builds the River client. Inserts need
// it; Start runs the workers.
func (c *Client) Open(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.q != nil {
		return c.err
	}
	rc := &river.Config{
		Logger:        c.cfg.Logger.With("subsystem", "river"),
		Workers:       c.workers,
		JobTimeout:    c.cfg.JobTimeout,
		MaxAttempts:   c.cfg.MaxAttempts,
		RetryPolicy:   retryPolicy{base: c.cfg.RetryBase},
		FetchCooldown: c.cfg.FetchCooldown,
		Queues:        c.queues,
		PeriodicJobs:  c.periodic,
		// Jobs that were running in a process that died run again after
		// this; the owners of the work resume it sooner at their start.
		RescueStuckJobsAfter: c.cfg.JobTimeout + time.Minute,
	}
	q, err := c.driver.open(ctx, rc)
	if err != nil {
		return err
	}
	c.q = q
	return c.err
}

func (c *Client) opened() (queue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.q == nil {
		return nil, errors.New("jobs: the client is not open")
	}
	return c.q, nil
}

// Start starts the workers and the periodic jobs. A registration that came
// after Open is an error here: its work would never run.
func (c *Client) Start(ctx context.Context) error {
	q, err := c.opened()
	if err != nil {
		return err
	}
	c.mu.Lock()
	late := c.err
	c.mu.Unlock()
	if late != nil {
		return late
	}
	return q.start(ctx)
}

// Stop waits for running jobs to finish, until ctx is done.
func (c *Client) Stop(ctx context.Context) error {
	q, err := c.opened()
	if err != nil {
		return err
	}
	return q.stop(ctx)
}

// insertOpts are River's options for args of a registered kind.
func (c *Client) insertOpts(args Args, o *InsertOpts) *river.InsertOpts {
	k := c.kinds[args.Kind()]
	ro := &river.InsertOpts{Queue: k.Queue, MaxAttempts: k.MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: k.UniqueByArgs, ByPeriod: k.UniqueByPeriod}}
	if k.UniqueUnfinished {
		ro.UniqueOpts.ByArgs, ro.UniqueOpts.ByState = true, unfinished
	}
	if o != nil {
		ro.ScheduledAt = o.ScheduledAt
	}
	return ro
}

// Insert adds a job on its own.
func (c *Client) Insert(ctx context.Context, args Args, opts *InsertOpts) error {
	q, err := c.opened()
	if err != nil {
		return err
	}
	return q.insert(ctx, args, c.insertOpts(args, opts))
}

// InsertTx adds a job inside a store transaction: it exists if and only if
// the transaction commits.
func (c *Client) InsertTx(ctx context.Context, tx Tx, args Args, opts *InsertOpts) error {
	q, err := c.opened()
	if err != nil {
		return err
	}
	return q.insertTx(ctx, tx, args, c.insertOpts(args, opts))
}

// InsertMany adds jobs on their own, in one statement, and reports what
// it did with each, in order. Two jobs of a unique kind with the same
// arguments must not be in one call.
func (c *Client) InsertMany(ctx context.Context, args []Args) ([]Inserted, error) {
	if len(args) == 0 {
		return nil, nil
	}
	q, err := c.opened()
	if err != nil {
		return nil, err
	}
	return q.insertMany(ctx, c.manyParams(args))
}

// InsertManyTx adds jobs inside a store transaction in one statement. A
// job of a unique kind that duplicates one not finished is left out; two
// jobs of a unique kind with the same arguments must not be in one call
// (PostgreSQL refuses the statement).
func (c *Client) InsertManyTx(ctx context.Context, tx Tx, args []Args) error {
	if len(args) == 0 {
		return nil
	}
	q, err := c.opened()
	if err != nil {
		return err
	}
	return q.insertManyTx(ctx, tx, c.manyParams(args))
}

func (c *Client) manyParams(args []Args) []river.InsertManyParams {
	params := make([]river.InsertManyParams, len(args))
	for i, a := range args {
		params[i] = river.InsertManyParams{Args: a, InsertOpts: c.insertOpts(a, nil)}
	}
	return params
}

// Unfinished is a job not finished yet (ListUnfinished lists them).
type Unfinished[A Args] struct {
	ID   int64
	Args A
	// Running: the job is running; RunningElsewhere: in another job
	// client than this one (as in Inserted).
	Running, RunningElsewhere bool
}

// ListUnfinished calls each with every job of A's kind not finished yet
// (available, pending, scheduled, retrying or running), in the order they
// were inserted, whatever options they were inserted with: a job an older
// build inserted without the kind's uniqueness is listed too (an insert of
// a UniqueUnfinished kind does not see those). It reads them a page at a
// time; each must not insert jobs.
func ListUnfinished[A Args](ctx context.Context, c *Client, each func(Unfinished[A]) error) error {
	q, err := c.opened()
	if err != nil {
		return err
	}
	var zero A
	return q.unfinished(ctx, zero.Kind(), func(row *rivertype.JobRow, elsewhere bool) error {
		u := Unfinished[A]{ID: row.ID, Running: row.State == rivertype.JobStateRunning, RunningElsewhere: elsewhere}
		if err := json.Unmarshal(row.EncodedArgs, &u.Args); err != nil {
			return fmt.Errorf("jobs: the arguments of %s job %d: %w", row.Kind, row.ID, err)
		}
		return each(u)
	})
}

// Snooze, returned by a job's work, runs the job again after d without
// counting an attempt.
func Snooze(d time.Duration) error { return river.JobSnooze(d) }

// retryPolicy retries with full-jitter backoff from base up to 5 min.
type retryPolicy struct{ base time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(backoff.Full(job.Attempt, p.base, 5*time.Minute))
}

// worker runs one kind's jobs on River.
type worker[A Args] struct {
	river.WorkerDefaults[A]
	work    func(ctx context.Context, job *Job[A]) error
	timeout time.Duration
}

func (w *worker[A]) Work(ctx context.Context, j *river.Job[A]) error {
	return w.work(ctx, &Job[A]{ID: j.ID, Attempt: j.Attempt, Args: j.Args})
}

// Timeout is the kind's, or 0 for the client's.
func (w *worker[A]) Timeout(*river.Job[A]) time.Duration { return w.timeout }

// riverQueue is a River client over one driver.
type riverQueue[TTx any] struct {
	client *river.Client[TTx]
	fast   bool
}

func (q *riverQueue[TTx]) driverTx(tx Tx) (TTx, error) {
	t, ok := tx.Driver().(TTx)
	if !ok {
		return t, fmt.Errorf("jobs: transaction %T is not River's", tx.Driver())
	}
	return t, nil
}

func (q *riverQueue[TTx]) insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := q.client.Insert(ctx, args, opts)
	return err
}

func (q *riverQueue[TTx]) insertTx(ctx context.Context, tx Tx, args river.JobArgs, opts *river.InsertOpts) error {
	t, err := q.driverTx(tx)
	if err != nil {
		return err
	}
	_, err = q.client.InsertTx(tx.Context(ctx), t, args, opts)
	return err
}

func (q *riverQueue[TTx]) insertManyTx(ctx context.Context, tx Tx, params []river.InsertManyParams) error {
	t, err := q.driverTx(tx)
	if err != nil {
		return err
	}
	if q.fast {
		_, err = q.client.InsertManyFastTx(tx.Context(ctx), t, params)
	} else {
		_, err = q.client.InsertManyTx(context.WithValue(tx.Context(ctx), rowsUnreadKey{}, true), t, params)
	}
	return err
}

type rowsUnreadKey struct{}

// RowsUnread reports whether ctx is that of a job insert in a store
// transaction whose returned rows no one reads (InsertManyTx): the
// transaction may send the insert with a later statement instead of on its
// own, as long as the transaction fails if the insert does.
func RowsUnread(ctx context.Context) bool {
	unread, _ := ctx.Value(rowsUnreadKey{}).(bool)
	return unread
}

func (q *riverQueue[TTx]) insertMany(ctx context.Context, params []river.InsertManyParams) ([]Inserted, error) {
	res, err := q.client.InsertMany(ctx, params)
	if err != nil {
		return nil, err
	}
	out := make([]Inserted, len(res))
	for i, r := range res {
		out[i] = Inserted{ID: r.Job.ID, Duplicate: r.UniqueSkippedAsDuplicate}
		if r.UniqueSkippedAsDuplicate {
			out[i].RunningElsewhere = q.elsewhere(r.Job)
		}
	}
	return out, nil
}

// listPage is how many jobs one read of unfinished takes (a variable for
// the tests, which page through a few).
var listPage = 1000

func (q *riverQueue[TTx]) unfinished(ctx context.Context, kind string, each func(row *rivertype.JobRow, elsewhere bool) error) error {
	params := river.NewJobListParams().Kinds(kind).States(unfinished...).First(listPage)
	for {
		res, err := q.client.JobList(ctx, params)
		if err != nil {
			return fmt.Errorf("jobs: list the unfinished %s jobs: %w", kind, err)
		}
		for _, row := range res.Jobs {
			if err := each(row, q.elsewhere(row)); err != nil {
				return err
			}
		}
		if len(res.Jobs) < listPage {
			return nil
		}
		params = params.After(res.LastCursor)
	}
}

// elsewhere says whether row is running in another job client than q.
func (q *riverQueue[TTx]) elsewhere(row *rivertype.JobRow) bool {
	if row.State != rivertype.JobStateRunning {
		return false
	}
	by := row.AttemptedBy
	return len(by) == 0 || by[len(by)-1] != q.client.ID()
}

func (q *riverQueue[TTx]) start(ctx context.Context) error { return q.client.Start(ctx) }
func (q *riverQueue[TTx]) stop(ctx context.Context) error  { return q.client.Stop(ctx) }
