package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Group commit. Every write of a Store goes through one writer goroutine,
// which runs the writes waiting at that moment (up to maxBatch) in one
// transaction and commits them together. One commit (and, on PostgreSQL,
// one hold of the log-head lock) then serves many writes, which is what
// lets admissions approach the database's raw insert rate.
//
// Each write of a batch runs after a savepoint of its own (batch.go): a
// write that fails, whatever the reason (a refusal, a constraint
// violation, a driver error such as PostgreSQL's refusal of a NUL), is
// rolled back to it and fails alone, and the others commit without
// running again. What belongs to the batch as a whole (an event hook's
// error, the log's, the commit's, a savepoint that cannot be made) rolls
// the whole batch back, and the writer then runs each write of the batch
// in a transaction of its own, so that one bad write never takes the
// others down; a deadlock or serialization failure retries the batch.
// Write functions must therefore be safe to run twice and must not call
// the Store's write methods.

// maxBatch caps the writes committed together; lingerFor is how long the
// writer waits for company under load. On PostgreSQL each write of a batch
// is a subtransaction (its savepoint): a transaction with more than 64 of
// them that write overflows the server's per-backend cache of
// subtransaction ids, which slows every snapshot of every session, so
// maxBatch must stay at most 64.
const (
	maxBatch  = 64
	lingerFor = 250 * time.Microsecond
)

type writeJob struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan error
}

// errClosed is returned for writes submitted after Close.
var errClosed = errors.New("storage: closed")

type writer struct {
	jobs   chan *writeJob
	quit   chan struct{}
	closed chan struct{}
	once   sync.Once
	// since is when the batch running began (UnixNano; 0 between batches).
	since atomic.Int64
}

func (s *Store) startWriter() {
	s.w = &writer{jobs: make(chan *writeJob, 1024), quit: make(chan struct{}), closed: make(chan struct{})}
	go s.writeLoop()
}

// stopGrace is how long the writer's transaction may run before Close
// cancels it (see stopWriter).
const stopGrace = 5 * time.Second

// stopWriter stops the writer: the writes submitted and not started fail
// with errClosed; the transaction running may finish until stopGrace after
// it began. On PostgreSQL it then is cancelled (its statements run with
// s.ctx): a
// database that does not answer (a commit waiting on a slow disk, a lock
// another session holds, a server gone) must not hold the process's stop
// up for as long as it does not answer. Its writes then fail, which their
// callers learn (a commit cut short may have been made: its outcome is
// unknown, as with any connection lost at its commit).
func (s *Store) stopWriter() {
	s.w.once.Do(func() { close(s.w.quit) })
	for {
		wait := stopGrace
		if since := s.w.since.Load(); since != 0 {
			wait = time.Until(time.Unix(0, since).Add(stopGrace))
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-s.w.closed:
			t.Stop()
			return
		case <-t.C:
		}
		if since := s.w.since.Load(); since != 0 && time.Since(time.Unix(0, since)) >= stopGrace {
			break
		}
	}
	s.logger.Warn("the database did not finish a write within the stop's grace; cancelling it", "grace", stopGrace.String())
	s.cancel()
	<-s.w.closed
}

// writeLoop is the writer goroutine; it exits on stopWriter after running
// what was already submitted.
func (s *Store) writeLoop() {
	defer close(s.w.closed)
	lastSize := 0
	for {
		var first *writeJob
		select {
		case first = <-s.w.jobs:
		case <-s.w.quit:
			for {
				select {
				case j := <-s.w.jobs:
					j.done <- errClosed
				default:
					return
				}
			}
		}
		batch := []*writeJob{first}
		// Under load (the last batch had company), linger a moment for
		// as many writes as the last batch had: a commit costs about as
		// much as several writes.
		var linger <-chan time.Time
		if lastSize > 1 {
			linger = time.After(lingerFor)
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case j := <-s.w.jobs:
				batch = append(batch, j)
				continue
			default:
			}
			if linger == nil || len(batch) >= lastSize {
				break
			}
			select {
			case j := <-s.w.jobs:
				batch = append(batch, j)
			case <-linger:
				break collect
			}
		}
		lastSize = len(batch)
		s.w.since.Store(time.Now().UnixNano())
		s.runBatch(batch)
		s.w.since.Store(0)
	}
}

func (s *Store) runBatch(batch []*writeJob) {
	live := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- err
			continue
		}
		live = append(live, j)
	}
	if len(live) == 1 {
		live[0].done <- s.txRetry(live[0].fn)
		return
	}
	if len(live) == 0 {
		return
	}
	var errs []error
	err := s.txRetry(func(tx *Tx) error {
		b := s.newBatch(tx, len(live))
		for i, j := range live {
			if err := b.run(i, j.fn); err != nil {
				return err
			}
		}
		if err := b.finish(); err != nil {
			return err
		}
		errs = b.errs
		return nil
	})
	if err == nil {
		for i, j := range live {
			j.done <- errs[i]
		}
		return
	}
	for _, j := range live {
		j.done <- s.txRetry(j.fn)
	}
}

// inTx runs fn in a write transaction, committed with the other writes
// waiting at the same time. It returns fn's error or the commit's.
func (s *Store) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	return s.submit(ctx, fn, nil)
}

// submit submits fn to the writer and waits for its outcome, or until
// abandon is closed (nil: never).
func (s *Store) submit(ctx context.Context, fn func(tx *Tx) error, abandon <-chan struct{}) error {
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	// A caller that has gone submits nothing (the writer would only drop
	// it, after whatever it is running: when the database is slow to
	// answer, a caller stopping would wait for that).
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.w.quit:
		return errClosed
	default:
	}
	select {
	case s.w.jobs <- j:
	case <-s.w.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once submitted the write may commit: wait for its outcome (its
	// channel is buffered: the writer never waits for a caller that has
	// abandoned it). A write that slipped in after the writer stopped
	// never runs.
	select {
	case err := <-j.done:
		return err
	case <-abandon:
		return ctx.Err()
	case <-s.w.closed:
		select {
		case err := <-j.done:
			return err
		default:
			return errClosed
		}
	}
}

// inTxWithin is inTx for a write whose outcome its caller need not wait
// for: it returns ctx's error when ctx is done before the outcome, and the
// write may still commit after that (or, not started yet, is dropped).
func (s *Store) inTxWithin(ctx context.Context, fn func(tx *Tx) error) error {
	return s.submit(ctx, fn, ctx.Done())
}

// txRetry runs fn in one transaction; on PostgreSQL a deadlock or
// serialization failure retries it.
func (s *Store) txRetry(fn func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.txOnce(fn)
		if err != nil && attempt < 5 && retryable(err) {
			s.logger.Debug("retrying transaction", "attempt", attempt+1, "err", err)
			continue
		}
		return err
	}
}

// txOnce runs fn in a transaction, then the event hooks, then writes the
// events and audit entries its writes appended (taking the log-head lock
// last), and commits. Statements run with the writer's own context: a
// caller that goes away does not abort a batch others share.
func (s *Store) txOnce(fn func(tx *Tx) error) error {
	if s.pool != nil {
		return s.txOncePG(fn)
	}
	// Close stops the writer before it cancels s.ctx: nothing is lost by
	// running the transaction with a context that is never done.
	ctx := context.WithoutCancel(s.ctx)
	stx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer stx.Rollback()
	tx := &Tx{execer: sqlTxExec{stx, ctx}, driver: stx}
	if err := fn(tx); err != nil {
		return err
	}
	if err := s.runHooks(ctx, tx); err != nil {
		return err
	}
	if err := s.flushLog(ctx, tx); err != nil {
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.afterCommit(tx)
	return nil
}

// txOncePG is txOnce on PostgreSQL: the log, the NOTIFY and the COMMIT
// travel in one pipeline after the transaction's own statements
// (commitPG), so the transaction ends without a round trip of its own.
func (s *Store) txOncePG(fn func(tx *Tx) error) error {
	ctx := s.ctx
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Released idle after the COMMIT, or after the rollback; the pool
	// closes a connection left in a transaction.
	defer conn.Release()
	// The BEGIN travels with the transaction's first statement.
	pe := pgTxExec{conn: conn.Conn(), st: &pgState{pending: []deferred{{q: "BEGIN", write: -1, control: true}}}, ctx: ctx}
	tx := &Tx{execer: pe, driver: pgDriverTx{pe}}
	err = fn(tx)
	if err == nil {
		err = s.hooksAndCommitPG(ctx, tx, pe)
	}
	if err != nil {
		// Also when the pipelined COMMIT failed: a rollback outside a
		// transaction only draws a warning. The endpoints LogEndpoints
		// kept may be why (another process changed one): read them again.
		pe.rollback()
		if retryable(err) {
			s.endpoints0.drop()
		}
		return err
	}
	if tx.bumpWebhooks {
		s.endpoints0.drop()
	}
	s.afterCommit(tx)
	return nil
}

// hooksAndCommitPG runs the event hooks and commits. A group commit's
// last writes' statements travel with the first of those round trips (see
// batch.finish): when one of them fails, its write alone is rolled back
// and dropped, as it would have been during the writes, and the hooks and
// the commit run again, for the events left. (River may then not send its
// insert notification again, having just decided to send one: the other
// processes' job clients find the jobs at their next fetch.)
func (s *Store) hooksAndCommitPG(ctx context.Context, tx *Tx, pe pgTxExec) error {
	m := tx.hookMark()
	for {
		err := s.runHooks(ctx, tx)
		if err == nil {
			err = s.commitPG(ctx, tx, pe)
		}
		f := pe.st.tailFailed
		if err == nil || f == nil || pe.conn.PgConn().TxStatus() != 'E' {
			return err
		}
		pe.st.tailFailed = nil
		tx.resetHooks(m)
		if uerr := f.b.undoWrite(ctx, f.write, f.err, f.rest); uerr != nil {
			return errors.Join(err, uerr)
		}
		// The write's callbacks are gone: the hooks' start moved.
		m = tx.hookMark()
	}
}

// hookState is what the event hooks add to a transaction (hookMark).
type hookState struct {
	after, numbered, deliveries int
	webhooksSeen                bool
	webhookGen                  int64
}

// hookMark returns what the hooks have not added to tx yet.
func (t *Tx) hookMark() hookState {
	return hookState{len(t.after), len(t.numbered), len(t.deliveries), t.webhooksSeen, t.webhookGen}
}

// resetHooks takes back what the hooks added to tx since m.
func (t *Tx) resetHooks(m hookState) {
	t.after, t.numbered = t.after[:m.after], t.numbered[:m.numbered]
	t.deliveries, t.deliveryEvents = t.deliveries[:m.deliveries], t.deliveryEvents[:m.deliveries]
	t.webhooksSeen, t.webhookGen = m.webhooksSeen, m.webhookGen
}

// afterCommit tells the store's readers and tx's AfterCommit functions
// that tx has committed.
func (s *Store) afterCommit(tx *Tx) {
	if len(tx.events) > 0 {
		s.committed.fire()
	}
	tx.runAfterCommit()
}

// sqlTxExec runs statements in a SQLite transaction (the connection keeps
// them prepared: see stmtcache.go), all with the writer's context rather
// than the one each caller passes. The writes that group commit puts in
// one transaction share it: one caller going away must not interrupt a
// statement the others depend on. And that context is never done, which
// spares the driver a watcher goroutine per statement (it starts one for
// every context that can be canceled).
type sqlTxExec struct {
	tx  *sql.Tx
	ctx context.Context
}

func (e sqlTxExec) exec(_ context.Context, q string, args ...any) (int64, error) {
	res, err := e.tx.ExecContext(e.ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqlTxExec) query(_ context.Context, q string, args ...any) (rows, error) {
	r, err := e.tx.QueryContext(e.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (e sqlTxExec) queryRow(_ context.Context, q string, args ...any) row {
	return sqlRow{e.tx.QueryRowContext(e.ctx, q, args...)}
}

// deferred is a statement whose result nobody reads, sent with the next
// statement that needs an answer (or at commit) in one round trip.
type deferred struct {
	q      string
	args   []any
	mapErr func(error) error
	// scan, when not nil, reads the statement's rows (queryLater).
	scan func(rows) error
	// write is the write of a group-commit batch that queued it (-1 for
	// none); control marks the batch's own savepoint statements.
	write   int
	control bool
}

// pgTxExec runs statements in a PostgreSQL transaction on conn,
// piggybacking the deferred ones (the BEGIN first) on the next round trip,
// all with the writer's context (the store's) rather than the one each
// caller passes, as sqlTxExec does: the writes that group commit puts in
// one transaction share it, and pgx cuts the connection of a statement
// whose context ends, which would roll the others back with the one whose
// caller went away.
type pgTxExec struct {
	conn *pgx.Conn
	st   *pgState
	ctx  context.Context
}

// rollback ends a transaction that will not commit, if it began.
func (e pgTxExec) rollback() {
	if e.conn.PgConn().TxStatus() != 'I' {
		_, _ = e.conn.Exec(e.ctx, "ROLLBACK")
	}
}

// pgState is what the statements of one PostgreSQL transaction share.
type pgState struct {
	pending []deferred
	// batch is the group commit's bookkeeping while its writes run (nil
	// otherwise); tail is it once they are done, while what they left may
	// still be waiting to be sent, and tailFailed a failure among that.
	batch      *batch
	tail       *batch
	tailFailed *tailFailure
}

// flush sends the deferred statements, with extra (if not nil) queued
// last in the same batch; it returns the batch results positioned at extra.
// A deferred statement that fails fails the write that queued it: while a
// group commit's writes run, an earlier write's failure is rolled back to
// its savepoint and the statements queued after it are sent again (see
// batch.failed), so that the write running now does not take the blame.
func (e pgTxExec) flush(_ context.Context, extra func(b *pgx.Batch)) (pgx.BatchResults, error) {
	ctx := e.ctx
	if len(e.st.pending) == 0 && extra == nil {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, d := range e.st.pending {
		b.Queue(d.q, d.args...)
	}
	if extra != nil {
		extra(b)
	}
	br := e.conn.SendBatch(ctx, b)
	pend := e.st.pending
	e.st.pending = nil
	e.st.batch.sending(pend, extra != nil)
	for k, d := range pend {
		if err := d.result(br); err != nil {
			br.Close()
			var local localScanError
			isLocal := errors.As(err, &local)
			if isLocal {
				err = local.err
			}
			if d.mapErr != nil {
				err = d.mapErr(err)
			}
			if isLocal {
				// The server ran every statement after it: no one write's
				// savepoint can undo it alone. The batch stops (its writes
				// then run one to a transaction), and the transaction is
				// rolled back.
				if e.st.batch.active() {
					e.st.batch.broken = err
				}
				return nil, err
			}
			if e.st.batch.active() && d.write >= 0 {
				return e.st.batch.failed(d, err, pend[k+1:], func() (pgx.BatchResults, error) { return e.flush(ctx, extra) })
			}
			if e.st.tail != nil && d.write >= 0 && !d.control && !retryable(err) {
				// A write's statement, sent after the writes: the caller (a
				// hook, the commit) fails, and hooksAndCommitPG undoes that
				// write alone.
				e.st.tailFailed = &tailFailure{b: e.st.tail, write: d.write, err: err, rest: pend[k+1:]}
			}
			return nil, err
		}
	}
	return br, nil
}

// localScanError is a queued read's scan failing in the process, not on
// the server.
type localScanError struct{ err error }

func (e localScanError) Error() string { return e.err.Error() }

// result reads d's outcome from br: its rows when it has a scan. A failure
// of the scan itself, while the server reports none, is a localScanError.
func (d deferred) result(br pgx.BatchResults) error {
	if d.scan == nil {
		_, err := br.Exec()
		return err
	}
	rs, err := br.Query()
	if err != nil {
		return err
	}
	err = d.scan(rs)
	rs.Close()
	if rerr := rs.Err(); rerr != nil {
		return rerr // the server's, which the scan may have met first
	}
	if err != nil {
		return localScanError{err}
	}
	return nil
}

func (e pgTxExec) exec(_ context.Context, q string, args ...any) (int64, error) {
	tag, err := e.pgxExec(q, args...)
	return tag.RowsAffected(), err
}

// pgxExec sends the deferred statements and q in one round trip.
func (e pgTxExec) pgxExec(q string, args ...any) (pgconn.CommandTag, error) {
	if len(e.st.pending) == 0 {
		e.st.batch.sending(nil, true)
		return e.conn.Exec(e.ctx, q, args...)
	}
	br, err := e.flush(e.ctx, func(b *pgx.Batch) { b.Queue(q, args...) })
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// query sends the deferred statements and the query in one round trip.
func (e pgTxExec) query(_ context.Context, q string, args ...any) (rows, error) {
	return e.pgxQuery(q, args...)
}

func (e pgTxExec) pgxQuery(q string, args ...any) (pgx.Rows, error) {
	if len(e.st.pending) == 0 {
		e.st.batch.sending(nil, true)
		return e.conn.Query(e.ctx, q, args...)
	}
	br, err := e.flush(e.ctx, func(b *pgx.Batch) { b.Queue(q, args...) })
	if err != nil {
		return nil, err
	}
	rs, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{rs, br}, nil
}

// batchRows are a query's rows read from a batch, which closes with them.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

func (e pgTxExec) queryRow(_ context.Context, q string, args ...any) row {
	if len(e.st.pending) == 0 {
		e.st.batch.sending(nil, true)
		return pgRow{e.conn.QueryRow(e.ctx, q, args...)}
	}
	br, err := e.flush(e.ctx, func(b *pgx.Batch) { b.Queue(q, args...) })
	if err != nil {
		return errRow{err}
	}
	return batchRow{br}
}

type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// execLater runs a statement whose result is not needed: on PostgreSQL it
// travels with the next statement that needs an answer, or at commit. A
// failure is reported there, passed through mapErr when not nil.
func (t *Tx) execLater(ctx context.Context, mapErr func(error) error, q string, args ...any) error {
	if pe, ok := t.execer.(pgTxExec); ok {
		pe.st.pending = append(pe.st.pending, deferred{q: q, args: args, mapErr: mapErr, write: pe.st.batch.writing()})
		return nil
	}
	_, err := t.exec(ctx, q, args...)
	if err != nil && mapErr != nil {
		return mapErr(err)
	}
	return err
}

// queryLater runs a query whose rows scan reads: on PostgreSQL it travels
// with the next statement that needs an answer (or with flushDeferred), as
// execLater's statements do, so that several reads share a round trip; it
// never travels with the COMMIT (commitPG sends it first). A failure, of
// the query or of scan, is reported there, through mapErr when not nil.
// On SQLite it runs at once. wait returns once the rows have been read,
// sending the read if it has not gone yet.
func (t *Tx) queryLater(ctx context.Context, mapErr func(error) error, scan func(rows) error, q string, args ...any) (
	wait func() error, err error) {
	read := false
	scanned := func(rs rows) error {
		err := scan(rs)
		if err == nil {
			err = rs.Err() // a failed query reads as no rows
		}
		read = err == nil
		return err
	}
	wait = func() error {
		if !read {
			if err := t.flushDeferred(ctx); err != nil {
				return err
			}
		}
		if !read {
			return errNotRead
		}
		return nil
	}
	if pe, ok := t.execer.(pgTxExec); ok {
		pe.st.pending = append(pe.st.pending, deferred{q: q, args: args, mapErr: mapErr, scan: scanned, write: pe.st.batch.writing()})
		return wait, nil
	}
	rs, err := t.query(ctx, q, args...)
	if err == nil {
		err = scanned(rs)
		rs.Close()
	}
	if err != nil && mapErr != nil {
		err = mapErr(err)
	}
	return wait, err
}

// errNotRead is the error of a queued read that was dropped unsent (its
// write rolled back): a bug, if it is ever seen.
var errNotRead = errors.New("storage: a queued read was not sent")

// hasQueuedReads reports whether a queryLater read waits to be sent.
func (st *pgState) hasQueuedReads() bool {
	for _, d := range st.pending {
		if d.scan != nil {
			return true
		}
	}
	return false
}

// flushDeferred sends what execLater and queryLater kept.
func (t *Tx) flushDeferred(ctx context.Context) error {
	pe, ok := t.execer.(pgTxExec)
	if !ok {
		return nil
	}
	br, err := pe.flush(ctx, nil)
	if err != nil || br == nil {
		return err
	}
	return br.Close()
}
