package storage

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// A savepoint per write. The writes that group commit runs in one
// transaction each run after a savepoint (both backends have SAVEPOINT); a
// write that fails is rolled back to it, its events, audit entries and
// callbacks are dropped, and the others go on. On SQLite every statement
// answers at once, so a write's failure is known when its function
// returns, and its savepoint is released then. On PostgreSQL a write's
// deferred statements (execLater) travel with a later write's first
// query, or when the writes are done: a failure among them belongs to the
// write that queued it, which is rolled back while the later ones, whose
// statements the server skipped after the failure, are sent again. That
// works with one savepoint name: the failing write's savepoint is always
// the innermost one (those of the writes after it were among the skipped
// statements), and ROLLBACK TO names the innermost savepoint of a name.
// Savepoints are never released on PostgreSQL (releasing one would
// release those inside it): a batch of n writes is n nested
// subtransactions, which is why maxBatch is at most 64.

// savepointName names every write's savepoint.
const savepointName = "w"

// batch is the bookkeeping of a group commit's writes in one transaction.
type batch struct {
	ctx context.Context
	tx  *Tx
	pg  *pgTxExec // nil on SQLite
	// cur is the write running; len(errs) once they have all run.
	cur int
	// errs is each write's outcome.
	errs []error
	// marks says where each write's entries begin in tx's events, audits,
	// after and numbered.
	marks []logMark
	// sent says which writes have had a statement reach the database
	// (PostgreSQL: one that has not has nothing to roll back).
	sent []bool
	// broken, once set, stops the batch: something went wrong that
	// belongs to no one write (a savepoint, a deadlock to retry).
	broken error
	// done is set once the writes are over and their statements sent.
	done bool
}

// logMark is a position in a transaction's log entries.
type logMark struct{ events, audits, after, numbered int }

func (m logMark) minus(o logMark) logMark {
	return logMark{m.events - o.events, m.audits - o.audits, m.after - o.after, m.numbered - o.numbered}
}

// newBatch prepares tx for n writes.
func (s *Store) newBatch(tx *Tx, n int) *batch {
	b := &batch{ctx: s.ctx, tx: tx, errs: make([]error, n), marks: make([]logMark, n), sent: make([]bool, n)}
	if pe, ok := tx.execer.(pgTxExec); ok {
		b.pg = &pe
		pe.st.batch = b
	}
	return b
}

// active reports whether b's writes are running or their statements being
// sent (false for nil: a transaction of one write has no batch).
func (b *batch) active() bool { return b != nil && !b.done }

// writing returns the write running, or -1.
func (b *batch) writing() int {
	if b.active() && b.cur < len(b.errs) {
		return b.cur
	}
	return -1
}

// sending records that the pending statements pend, and with running one
// of the write running, are being sent.
func (b *batch) sending(pend []deferred, running bool) {
	if !b.active() {
		return
	}
	for _, d := range pend {
		if d.write >= 0 {
			b.sent[d.write] = true
		}
	}
	if running && b.cur < len(b.sent) {
		b.sent[b.cur] = true
	}
}

func (b *batch) mark() logMark {
	t := b.tx
	return logMark{len(t.events), len(t.audits), len(t.after), len(t.numbered)}
}

// run runs write i, the next, after a savepoint of its own, and records
// its outcome. It returns an error only when the batch must stop.
func (b *batch) run(i int, fn func(tx *Tx) error) error {
	b.cur = i
	b.marks[i] = b.mark()
	if err := b.savepoint(i); err != nil {
		return err
	}
	err := fn(b.tx)
	if b.broken != nil {
		return b.broken
	}
	if err == nil {
		err = b.errs[i] // a statement of the write failed; the function did not say
	}
	switch {
	case err == nil:
		return b.release()
	case retryable(err):
		return err // a deadlock or serialization failure: the batch is retried
	}
	b.errs[i] = err
	return b.rollback(i)
}

// finish ends the writes. On PostgreSQL what they left to send (the last
// writes' deferred statements) is not sent on its own: it travels with the
// next statement that needs an answer, an event hook's or the log's with
// the COMMIT, a round trip less per batch. A failure among it is still the
// write's that queued it (see tailFailure and Store.hooksAndCommitPG).
func (b *batch) finish() error {
	b.cur = len(b.errs)
	b.done = true
	if b.pg != nil {
		b.pg.st.batch = nil
		b.pg.st.tail = b
	}
	return nil
}

// tailFailure is a batch's deferred statement that failed after its
// writes were done, in the round trip of an event hook or of the COMMIT:
// the server skipped what followed it (rest). Store.hooksAndCommitPG undoes
// the write (batch.undoWrite), then makes the hooks' and the log's
// statements anew.
type tailFailure struct {
	b     *batch
	write int
	err   error
	rest  []deferred
}

func (b *batch) savepoint(i int) error {
	if b.pg != nil {
		b.pg.st.pending = append(b.pg.st.pending, deferred{q: "SAVEPOINT " + savepointName, write: i, control: true})
		return nil
	}
	_, err := b.tx.exec(b.ctx, "SAVEPOINT "+savepointName)
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	return nil
}

func (b *batch) release() error {
	if b.pg != nil {
		return nil // see above: PostgreSQL's stay
	}
	if _, err := b.tx.exec(b.ctx, "RELEASE "+savepointName); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// rollback undoes write i, the one running.
func (b *batch) rollback(i int) error {
	b.drop(i)
	if b.pg != nil {
		// Its statements still waiting are dropped; if none reached the
		// database (its savepoint among them), nothing is left to undo.
		st := b.pg.st
		st.pending = slices.DeleteFunc(st.pending, func(d deferred) bool { return d.write == i })
		switch {
		case !b.sent[i]:
		case b.pg.conn.PgConn().TxStatus() == 'E':
			// A statement failed: the transaction takes nothing but the
			// rollback now (not even the preparing of a statement sent
			// with it).
			if _, err := b.pg.conn.Exec(b.ctx, "ROLLBACK TO SAVEPOINT "+savepointName); err != nil {
				return fmt.Errorf("roll back to savepoint: %w", err)
			}
		default:
			// A refusal (a full slot, say) changed nothing: the rollback
			// travels with the next statement.
			st.pending = append(st.pending, deferred{q: "ROLLBACK TO SAVEPOINT " + savepointName, write: i, control: true})
		}
		return nil
	}
	if _, err := b.tx.exec(b.ctx, "ROLLBACK TO "+savepointName); err != nil {
		return fmt.Errorf("roll back to savepoint: %w", err)
	}
	return b.release()
}

// drop removes write k's log entries and callbacks from the transaction.
func (b *batch) drop(k int) {
	start, end := b.marks[k], b.mark()
	if k+1 <= b.cur && k+1 < len(b.marks) {
		end = b.marks[k+1]
	}
	t := b.tx
	t.events = slices.Delete(t.events, start.events, end.events)
	t.audits = slices.Delete(t.audits, start.audits, end.audits)
	t.after = slices.Delete(t.after, start.after, end.after)
	t.numbered = slices.Delete(t.numbered, start.numbered, end.numbered)
	n := end.minus(start)
	for j := k + 1; j <= b.cur && j < len(b.marks); j++ {
		b.marks[j] = b.marks[j].minus(n)
	}
}

// failed handles the failure err of d, a deferred statement of write
// d.write, in a flush during the batch's writes; rest are the statements
// sent after it, which the server skipped, and resend sends the pending
// ones again (with the flush's own statement).
func (b *batch) failed(d deferred, err error, rest []deferred, resend func() (pgx.BatchResults, error)) (pgx.BatchResults, error) {
	switch {
	case d.control || retryable(err):
		b.broken = err
		return nil, err
	case d.write == b.cur:
		// The write running gets the error, as it would alone.
		if b.errs[d.write] == nil {
			b.errs[d.write] = err
		}
		return nil, err
	}
	// An earlier write failed: it alone is rolled back, and the later
	// statements are sent again.
	if rerr := b.undoWrite(b.ctx, d.write, err, rest); rerr != nil {
		b.broken = rerr
		return nil, rerr
	}
	return resend()
}

// undoWrite rolls write w back to its savepoint (the innermost: the later
// writes' savepoints were among the statements the server skipped after
// w's failure err), records err as its outcome, drops its log entries and
// callbacks, and queues again the later writes' statements among rest, the
// statements sent after the failed one.
func (b *batch) undoWrite(ctx context.Context, w int, err error, rest []deferred) error {
	if _, rerr := b.pg.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepointName); rerr != nil {
		return fmt.Errorf("roll back write %d of the batch: %w", w, rerr)
	}
	b.errs[w] = err
	b.drop(w)
	for _, r := range rest {
		if r.write > w {
			b.pg.st.pending = append(b.pg.st.pending, r)
		}
	}
	return nil
}
