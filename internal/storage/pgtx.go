package storage

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/slotline/slotline/internal/jobs"
)

// pgDriverTx is the pgx.Tx a PostgreSQL write transaction gives callers
// that add statements of their own (Tx.Driver: River's job inserts). Its
// statements join the transaction's pipeline: the deferred ones (the BEGIN
// among them, for a transaction whose first statement is a caller's) go
// first, in the same round trip. River's insert notification, an Exec whose
// result River does not read, is deferred like execLater's statements and
// travels with the COMMIT, and so does River's job insert where no one reads
// the rows it returns: a round trip less per transaction each.
//
// The store begins and ends the transaction: Begin, Commit and Rollback
// are refused, and LargeObjects is not available.
type pgDriverTx struct{ e pgTxExec }

// errStoreOwnsTx is the error of what only the store does to its
// transaction.
var errStoreOwnsTx = errors.New("storage: the store begins and ends its transactions")

// deferredDriverExec reports whether a caller's Exec may wait for the next
// round trip: River's insert notification (a NOTIFY, which the server
// delivers at COMMIT anyway).
func deferredDriverExec(sql string) bool {
	return strings.HasPrefix(sql, "-- name: PGNotifyMany ")
}

// Begin is refused: a write has no nested transactions.
func (t pgDriverTx) Begin(context.Context) (pgx.Tx, error) { return nil, errStoreOwnsTx }

// Commit is refused: the store commits.
func (t pgDriverTx) Commit(context.Context) error { return errStoreOwnsTx }

// Rollback is refused: the store rolls back a write that fails.
func (t pgDriverTx) Rollback(context.Context) error { return errStoreOwnsTx }

// LargeObjects is not available in a store transaction.
func (t pgDriverTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Conn returns the transaction's connection.
func (t pgDriverTx) Conn() *pgx.Conn { return t.e.conn }

// sendPending sends the deferred statements on their own.
func (t pgDriverTx) sendPending() error {
	br, err := t.e.flush(t.e.ctx, nil)
	if err != nil || br == nil {
		return err
	}
	return br.Close()
}

// CopyFrom sends the deferred statements, then copies.
func (t pgDriverTx) CopyFrom(_ context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.sendPending(); err != nil {
		return 0, err
	}
	return t.e.conn.CopyFrom(t.e.ctx, table, columns, src)
}

// SendBatch sends the deferred statements, then b.
func (t pgDriverTx) SendBatch(_ context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := t.sendPending(); err != nil {
		return errBatchResults{err}
	}
	return t.e.conn.SendBatch(t.e.ctx, b)
}

// Prepare sends the deferred statements, then prepares.
func (t pgDriverTx) Prepare(_ context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := t.sendPending(); err != nil {
		return nil, err
	}
	return t.e.conn.Prepare(t.e.ctx, name, sql)
}

// Exec runs sql with the deferred statements, or defers it (River's
// insert notification: see pgDriverTx).
func (t pgDriverTx) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	st := t.e.st
	if deferredDriverExec(sql) {
		st.pending = append(st.pending, deferred{q: sql, args: args, mapErr: wrapErr("job notification"), write: st.batch.writing()})
		return pgconn.CommandTag{}, nil
	}
	return t.e.pgxExec(sql, args...)
}

// deferredDriverQuery reports whether a caller's query may wait for the
// next round trip, answered with no rows: River's job insert, where the
// caller reads none of the rows it returns (jobs.RowsUnread).
func deferredDriverQuery(ctx context.Context, sql string) bool {
	return strings.HasPrefix(sql, "-- name: JobInsertFastMany ") && jobs.RowsUnread(ctx)
}

// Query runs sql with the deferred statements, in one round trip, or
// defers it (River's job insert: see deferredDriverQuery). A deferred
// query's failure fails the transaction, in the round trip that sends it.
func (t pgDriverTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if deferredDriverQuery(ctx, sql) {
		st := t.e.st
		st.pending = append(st.pending, deferred{q: sql, args: args, mapErr: wrapErr("insert jobs"), write: st.batch.writing()})
		return noRows{}, nil
	}
	return t.e.pgxQuery(sql, args...)
}

// noRows are the rows of a deferred query.
type noRows struct{}

func (noRows) Close()                                       {}
func (noRows) Err() error                                   { return nil }
func (noRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (noRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (noRows) Next() bool                                   { return false }
func (noRows) Scan(...any) error                            { return pgx.ErrNoRows }
func (noRows) Values() ([]any, error)                       { return nil, pgx.ErrNoRows }
func (noRows) RawValues() [][]byte                          { return nil }
func (noRows) Conn() *pgx.Conn                              { return nil }
func (noRows) TypeMap() *pgtype.Map                         { return nil }

// QueryRow runs sql with the deferred statements, in one round trip.
func (t pgDriverTx) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	rs, err := t.e.pgxQuery(sql, args...)
	if err != nil {
		return errPgxRow{err}
	}
	return firstRow{rs}
}

// firstRow is pgx's QueryRow over rows: the first row, or pgx.ErrNoRows.
type firstRow struct{ rs pgx.Rows }

func (r firstRow) Scan(dest ...any) error {
	defer r.rs.Close()
	if !r.rs.Next() {
		if err := r.rs.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rs.Scan(dest...); err != nil {
		return err
	}
	r.rs.Close()
	return r.rs.Err()
}

type errPgxRow struct{ err error }

func (r errPgxRow) Scan(...any) error { return r.err }

// errBatchResults are the results of a batch that was not sent.
type errBatchResults struct{ err error }

func (r errBatchResults) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, r.err }
func (r errBatchResults) Query() (pgx.Rows, error)         { return nil, r.err }
func (r errBatchResults) QueryRow() pgx.Row                { return errPgxRow(r) }
func (r errBatchResults) Close() error                     { return r.err }
func (r errBatchResults) Tx() pgx.Tx                       { return nil }
