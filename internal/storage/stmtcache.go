package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"modernc.org/sqlite"
)

// SQLite statement caching at the driver. database/sql runs a query that
// was not prepared (db.QueryContext, tx.ExecContext, …) through the
// connection's QueryContext or ExecContext, and the SQLite driver parses
// and plans the SQL again on every call. Slotline's own reads, and the
// statements River runs inside our transactions, are of that kind, and
// parsing was a third of the writer's time. cachingConn keeps a prepared
// statement per SQL text on each connection and runs repeats through it.

// maxCachedStmts bounds the statements kept per connection; past it, new
// texts run unprepared as before.
const maxCachedStmts = 256

// sqliteConn is what the SQLite driver's connections implement and what
// database/sql looks for (it falls back to weaker paths when a method is
// missing).
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConnector opens SQLite connections that cache their statements.
type cachingConnector struct{ base driver.Connector }

func newCachingConnector(dsn string) (driver.Connector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{base: base}, nil
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("storage: the SQLite driver's connection %T lacks a context method", conn)
	}
	return &cachingConn{sqliteConn: sc, stmts: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// cachingConn is one connection with its statements. database/sql uses a
// connection from one goroutine at a time, so it needs no lock; a
// statement whose rows are still open is busy, and a second use of the
// same text meanwhile runs unprepared.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool
}

// cached returns the statement for query, preparing it the first time;
// nil means run it unprepared (the cache is full, the text does not
// prepare, or the statement is busy). A text of several statements (a
// migration) is kept too: the driver then parses it on each run, as it
// would have anyway.
func (c *cachingConn) cached(ctx context.Context, query string) *cachedStmt {
	if st, ok := c.stmts[query]; ok {
		if st == nil || st.busy {
			return nil
		}
		return st
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil
	}
	s, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil // let the unprepared path report it
	}
	full, ok := s.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		s.Close()
		c.stmts[query] = nil
		return nil
	}
	st := &cachedStmt{stmt: full}
	c.stmts[query] = st
	return st
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st := c.cached(ctx, query)
	if st == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := st.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	sr, ok := rows.(sqliteRows)
	if !ok {
		return rows, nil // cannot happen with this driver; the statement stays free
	}
	st.busy = true
	return &cachedRows{sqliteRows: sr, st: st}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st := c.cached(ctx, query)
	if st == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return st.stmt.ExecContext(ctx, args)
}

// Close closes the cached statements, then the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for _, st := range c.stmts {
		if st != nil {
			errs = append(errs, st.stmt.Close())
		}
	}
	c.stmts = nil
	return errors.Join(append(errs, c.sqliteConn.Close())...)
}

// sqliteRows is what the SQLite driver's rows implement.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// cachedRows frees its statement for the next use when closed.
type cachedRows struct {
	sqliteRows
	st *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.sqliteRows.Close()
	r.st.busy = false
	return err
}
