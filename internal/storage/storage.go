// SPDX-License-Identifier: Apache-2.0

// Package storage keeps Slotline's state in SQLite (the embedded default) or
// PostgreSQL (shared by many processes). Both backends run the same SQL
// through a thin adapter (the statements are written in the common subset:
// $N parameters, ON CONFLICT, RETURNING); the differences (row locks, the
// connection pools, error codes) live in this file.
//
// Every change is one transaction that also appends its events (numbered so
// that readers never miss one) and its hash-chained audit entry. Just
// before it commits, the transaction runs the hooks registered with
// OnEvents with its events: that is where the Genesys sync enqueues its
// jobs and the webhook dispatcher records its deliveries, atomically with
// the change. The rules that decide what a change does are the domain's
// (package reservation); storage runs them on locked rows.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// Backend names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is the database. It is safe for concurrent use.
type Store struct {
	backend string
	logger  *slog.Logger

	// SQLite: one writer connection (SQLite has one writer at a time; a
	// single connection avoids busy-waiting) and a pool of readers.
	wdb, rdb *sql.DB
	cp       *checkpointer
	// PostgreSQL.
	pool *pgxpool.Pool

	dsn    string
	w      *writer
	ctx    context.Context // the writer's; canceled by Close
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error
	committed commitSignal
	hooks     atomic.Pointer[[]EventHook] // read at every commit
	hooksMu   sync.Mutex                  // serializes OnEvents
	// auditKey signs and checks the audit log's checkpoints (SetAuditKey).
	auditKey atomic.Pointer[[]byte]
	// endpoints0 is LogEndpoints' cache (PostgreSQL).
	endpoints0 endpointCache
	// readHook, when set (by tests: export_test.go), sees each read run
	// outside a transaction before it runs: the query-plan test explains
	// the statements the store really builds.
	readHook atomic.Pointer[func(q string, args []any)]
}

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	// MaxConns caps the PostgreSQL pool (default 16) or the SQLite reader
	// pool (default 4).
	MaxConns int
	// Synchronous is SQLite's synchronous pragma: NORMAL (the default; WAL
	// stays consistent and loses nothing when the process dies) or FULL
	// (also survives power loss, slower).
	Synchronous string
	// MustExist makes Connect fail, naming the database, when it does not
	// exist yet, where SQLite would otherwise create an empty file: for
	// the commands that only read an existing database (audit verify).
	MustExist bool
}

// Open connects to dsn ("sqlite:PATH" or "postgres://…") and applies the
// migrations.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	s, err := Connect(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Connect connects to dsn without migrating.
func Connect(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var s *Store
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		s, err = openSQLite(strings.TrimPrefix(dsn, "sqlite:"), opts)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err = openPostgres(ctx, dsn, opts)
	default:
		return nil, fmt.Errorf("database %q: want sqlite:PATH or postgres://…", RedactDSN(dsn))
	}
	if err != nil {
		return nil, err
	}
	s.dsn = dsn
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.startWriter()
	if s.cp != nil {
		s.cp.start(s.ctx, s.logger)
	}
	return s, nil
}

// DSN returns the database the store was opened on.
func (s *Store) DSN() string { return s.dsn }

// RedactDSN hides the password of a database URL, for messages.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// SQLiteURL returns the modernc driver's data source for a SQLite file as
// Slotline opens it for writing: WAL, a busy timeout, synchronous NORMAL
// (or the given mode), the writer's checkpoint threshold (most of the
// copying is done in the background: see checkpoint.go), and immediate
// transactions. Pages are SQLite's default 4 KiB.
func SQLiteURL(file, synchronous string) string {
	if synchronous == "" {
		synchronous = "NORMAL"
	}
	return "file:" + file + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(ON)&_pragma=synchronous(" + synchronous + ")&_pragma=wal_autocheckpoint(" +
		strconv.Itoa(writerAutoCheckpoint) + ")&_txlock=immediate"
}

func openSQLite(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("database: sqlite: needs a file path, like sqlite:./slotline.db")
	}
	file, query, _ := strings.Cut(path, "?")
	base := SQLiteURL(file, opts.Synchronous)
	if query != "" {
		base += "&" + query
	}
	if opts.MustExist {
		if err := sqliteExists(file); err != nil {
			return nil, err
		}
		// Should it vanish in between, opening still creates nothing.
		base += "&mode=rw"
	}
	// The writer keeps its statement journals in memory: each write of a
	// group commit runs after a savepoint (batch.go), and the pages it
	// changes are copied to the journal of that savepoint, which would
	// otherwise spill to a temporary file, a write(2) per page. (Readers
	// keep the default: a large sort may still use a file.)
	wconn, err := newCachingConnector(base + "&_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	wdb := sql.OpenDB(wconn)
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before readers open it.
	if err := wdb.Ping(); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	// Readers and the checkpointer never begin write transactions.
	plain := strings.Replace(base, "&_txlock=immediate", "", 1)
	rconn, err := newCachingConnector(plain + "&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	cp, err := newCheckpointer(plain)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	rdb := sql.OpenDB(rconn)
	n := opts.MaxConns
	if n <= 0 {
		n = 4
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	return &Store{backend: SQLite, logger: opts.Logger, wdb: wdb, rdb: rdb, cp: cp}, nil
}

// sqliteExists reports, naming the file (and where a relative name points),
// that a SQLite database is not there.
func sqliteExists(file string) error {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		where := ""
		if abs, aerr := filepath.Abs(file); aerr == nil && abs != file {
			where = " (" + abs + ")"
		}
		return fmt.Errorf("database sqlite:%s does not exist%s", file, where)
	case err != nil:
		return fmt.Errorf("database sqlite:%s: %w", file, err)
	case fi.IsDir():
		return fmt.Errorf("database sqlite:%s is a directory, not a SQLite file", file)
	}
	return nil
}

func openPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", RedactDSN(dsn), err)
	}
	cfg.MaxConns = 16
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", RedactDSN(dsn), err)
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, connectError(dsn, cfg.ConnConfig, err)
	}
	return &Store{backend: Postgres, logger: opts.Logger, pool: pool}, nil
}

// connectTimeout bounds the first connection to PostgreSQL.
const connectTimeout = 10 * time.Second

// connectError says in one line why PostgreSQL could not be used: the
// server cannot be reached (and where it was looked for), the database does
// not exist, the login was refused; pgx's own message lists every address
// and TLS mode it tried, on several lines.
func connectError(dsn string, cc *pgx.ConnConfig, err error) error {
	where := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		return fmt.Errorf("database %s does not exist: PostgreSQL at %s has no database %q", RedactDSN(dsn), where, cc.Database)
	case errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000"):
		return fmt.Errorf("database %s: PostgreSQL at %s refused the login of user %q: %s", RedactDSN(dsn), where, cc.User, pgErr.Message)
	case errors.As(err, &pgErr):
		return fmt.Errorf("database %s: PostgreSQL at %s: %s (SQLSTATE %s)", RedactDSN(dsn), where, pgErr.Message, pgErr.Code)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("database %s is unreachable: cannot resolve the host %s: %v", RedactDSN(dsn), cc.Host, dnsErr)
	case errors.As(err, &opErr):
		return fmt.Errorf("database %s is unreachable: no PostgreSQL answers at %s: %v", RedactDSN(dsn), where, opErr)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("database %s is unreachable: PostgreSQL at %s did not answer within %s", RedactDSN(dsn), where, connectTimeout)
	}
	return fmt.Errorf("connect %s: %w", RedactDSN(dsn), err)
}

// Backend returns SQLite or Postgres.
func (s *Store) Backend() string { return s.backend }

// Pool returns the PostgreSQL pool, or nil on SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// DB returns the SQLite writer database, or nil on PostgreSQL.
func (s *Store) DB() *sql.DB { return s.wdb }

// poolCloseWait bounds Close's wait for the PostgreSQL pool's connections
// to close. A connection whose statement was cut short is closed by pgx in
// the background (a cancel request, then the server's goodbye, for up to
// 15 s): a server that does not answer would hold the stop up that long.
const poolCloseWait = 2 * time.Second

// Close finishes the writes already submitted (the one running within a
// grace: see stopWriter), then closes the connections, waiting at most
// poolCloseWait on PostgreSQL (the pool goes on closing, within pgx's own
// bounds). It may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopWriter()
		s.cancel()
		if s.pool != nil {
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				s.pool.Close()
			}()
			t := time.NewTimer(poolCloseWait)
			defer t.Stop()
			select {
			case <-closed:
			case <-t.C:
				s.logger.Warn("PostgreSQL connections are still closing; not waiting for them", "waited", poolCloseWait.String())
			}
			return
		}
		s.closeErr = errors.Join(s.cp.close(), s.rdb.Close(), s.wdb.Close())
	})
	return s.closeErr
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.pool != nil {
		return s.pool.Ping(ctx)
	}
	return s.rdb.PingContext(ctx)
}

// forUpdate is the row-lock suffix of a SELECT (SQLite transactions already
// hold the database's single write lock).
func (s *Store) forUpdate() string {
	if s.backend == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// execer runs statements on a connection or inside a transaction.
type execer interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface{ Scan(dest ...any) error }

// errNoRows is what row.Scan returns when there is no row, on both backends.
var errNoRows = errors.New("no rows")

type sqlConn interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type sqlExec struct{ c sqlConn }

func (e sqlExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.c.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqlExec) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := e.c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (e sqlExec) queryRow(ctx context.Context, q string, args ...any) row {
	return sqlRow{e.c.QueryRowContext(ctx, q, args...)}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	if err := r.r.Scan(dest...); errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	} else {
		return err
	}
}

type pgConn interface {
	Exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, q string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) pgx.Row
}

type pgExec struct{ c pgConn }

func (e pgExec) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.c.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (e pgExec) query(ctx context.Context, q string, args ...any) (rows, error) {
	return e.c.Query(ctx, q, args...)
}

func (e pgExec) queryRow(ctx context.Context, q string, args ...any) row {
	return pgRow{e.c.QueryRow(ctx, q, args...)}
}

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	if err := r.r.Scan(dest...); errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	} else {
		return err
	}
}

// reader returns an execer for reads outside a transaction.
func (s *Store) reader() execer {
	var e execer = sqlExec{s.rdb}
	if s.pool != nil {
		e = pgExec{s.pool}
	}
	if h := s.readHook.Load(); h != nil {
		return hookedExec{e, *h}
	}
	return e
}

// snapshotReader returns an execer whose reads see one snapshot of the
// database, for a read of several statements that must agree (on
// PostgreSQL a read-only REPEATABLE READ transaction; SQLite's readers are
// the plain ones, its one writer ordering everything), and the function
// that ends it.
func (s *Store) snapshotReader(ctx context.Context) (execer, func(), error) {
	if s.pool == nil {
		return s.reader(), func() {}, nil
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	var e execer = pgExec{tx}
	if h := s.readHook.Load(); h != nil {
		e = hookedExec{e, *h}
	}
	return e, func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }, nil
}

// readStrings runs a read of one text column outside any transaction.
func (s *Store) readStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	return readStringsOn(ctx, s.reader(), q, args...)
}

// readStringsOn runs a read of one text column with e.
func readStringsOn(ctx context.Context, e execer, q string, args ...any) ([]string, error) {
	rs, err := e.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// hookedExec shows each statement to a hook before running it.
type hookedExec struct {
	execer
	hook func(q string, args []any)
}

func (e hookedExec) query(ctx context.Context, q string, args ...any) (rows, error) {
	e.hook(q, args)
	return e.execer.query(ctx, q, args...)
}

func (e hookedExec) queryRow(ctx context.Context, q string, args ...any) row {
	e.hook(q, args)
	return e.execer.queryRow(ctx, q, args...)
}

// Tx is one write transaction. Driver returns the driver's transaction
// (*sql.Tx on SQLite; on PostgreSQL a pgx.Tx whose statements join the
// store's pipeline, pgDriverTx) for callers that add statements of their
// own, such as River's job inserts.
type Tx struct {
	execer
	driver any
	// Events and audit entries appended by the writes of this transaction,
	// written (and numbered) just before it commits.
	events []pendingEvent
	audits []*audit.Entry
	// after runs once the transaction has committed (never if it did not).
	after []func()
	// numbered run once the events are numbered (OnNumbered).
	numbered []func(ctx context.Context, events []reservation.Event) error
	// PostgreSQL: the deliveries of the events (InsertEventDeliveries),
	// with the place of each one's event in events; whether the
	// transaction changes a webhook endpoint, and the endpoints' generation
	// its deliveries were made at (LogEndpoints).
	deliveries     []*Delivery
	deliveryEvents []int
	bumpWebhooks   bool
	webhooksSeen   bool
	webhookGen     int64
}

// OnNumbered arranges for fn to run in this transaction once its events
// are numbered, under the log-head lock, just before the commit, with the
// transaction's events (their Seq set). An event hook uses it for what must
// see every change committed before its events' numbers. It costs a round
// trip to the database while the lock that every write of every process
// takes last is held (on PostgreSQL the log is otherwise written and
// committed in one pipeline): prefer what needs no such step, as the
// webhook dispatcher does with LogEndpoints and InsertEventDeliveries.
func (t *Tx) OnNumbered(fn func(ctx context.Context, events []reservation.Event) error) {
	t.numbered = append(t.numbered, fn)
}

// Context returns the context for statements a caller adds through Driver:
// the writer's, as for the store's own (see sqlTxExec and pgTxExec: a caller
// going away must not interrupt a batch others share); on SQLite it is
// never done, on PostgreSQL only by Close, past its grace.
func (t *Tx) Context(ctx context.Context) context.Context {
	switch e := t.execer.(type) {
	case sqlTxExec:
		return e.ctx
	case pgTxExec:
		return e.ctx
	}
	return ctx
}

// AfterCommit arranges for fn to run once this transaction has committed;
// it never runs for a transaction rolled back (or retried: the retry is a
// new transaction). It runs on the store's writer goroutine, so it must be
// quick and must not block; hand anything slow to a goroutine of its own
// owner.
func (t *Tx) AfterCommit(fn func()) { t.after = append(t.after, fn) }

// runAfterCommit runs the AfterCommit functions.
func (t *Tx) runAfterCommit() {
	for _, fn := range t.after {
		fn()
	}
}

// pendingEvent is an event with its reservation already encoded.
type pendingEvent struct {
	reservation.Event
	data []byte
}

// Driver returns the underlying *sql.Tx, or on PostgreSQL the store's
// pgx.Tx (pgDriverTx).
func (t *Tx) Driver() any { return t.driver }

func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// isUniqueViolation reports whether err is a unique or primary key violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// micros converts an instant to the stored form (Unix microseconds).
func micros(t time.Time) int64 { return t.UnixMicro() }

// instant converts the stored form back to a UTC instant.
func instant(us int64) time.Time { return time.UnixMicro(us).UTC() }
