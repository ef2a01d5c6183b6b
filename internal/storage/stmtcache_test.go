package storage

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestCachingConn runs repeated, nested and many distinct statements over
// one SQLite connection that caches them, and checks every answer and the
// cache's bound.
func TestCachingConn(t *testing.T) {
	ctx := context.Background()
	connector, err := newCachingConnector(SQLiteURL(filepath.Join(t.TempDir(), "cache.db"), ""))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (v INTEGER PRIMARY KEY, s TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	// The same insert, many times, with other arguments each time.
	for i := 1; i <= 50; i++ {
		if _, err := db.ExecContext(ctx, "INSERT INTO t (v, s) VALUES ($1, $2)", i, fmt.Sprint("row ", i)); err != nil {
			t.Fatal(err)
		}
	}
	// A failing run of a cached statement leaves it usable.
	if _, err := db.ExecContext(ctx, "INSERT INTO t (v, s) VALUES ($1, $2)", 1, "duplicate"); err == nil {
		t.Fatal("a duplicate key was accepted")
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t (v, s) VALUES ($1, $2)", 51, "row 51"); err != nil {
		t.Fatalf("the statement after a failure: %v", err)
	}
	// Nested use of one text on one connection: the inner query runs while
	// the outer one's rows are open.
	const q = "SELECT v, s FROM t WHERE v <= $1 ORDER BY v"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, q, 3)
	if err != nil {
		t.Fatal(err)
	}
	var outer []int
	for rows.Next() {
		var v int
		var s string
		if err := rows.Scan(&v, &s); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, v)
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM ("+q+")", v).Scan(&n); err != nil || n != v {
			t.Fatalf("inner count up to %d = %d, %v", v, n, err)
		}
		var inner string
		if err := tx.QueryRowContext(ctx, q, v).Scan(&v, &inner); err != nil || inner != "row 1" {
			t.Fatalf("inner query: %q, %v", inner, err)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(outer) != "[1 2 3]" {
		t.Fatalf("outer rows = %v, want [1 2 3]", outer)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// More distinct texts than the cache holds: all answer, the cache stays bounded.
	for i := range maxCachedStmts + 40 {
		var s string
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT s FROM t WHERE v = %d", i%51+1)).Scan(&s); err != nil || s != fmt.Sprint("row ", i%51+1) {
			t.Fatalf("distinct query %d: %q, %v", i, s, err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("connection is %T, not a cachingConn", dc)
		}
		if len(c.stmts) > maxCachedStmts {
			return fmt.Errorf("%d statements cached, more than %d", len(c.stmts), maxCachedStmts)
		}
		if st := c.stmts[q]; st == nil || st.busy {
			return fmt.Errorf("the nested query's statement is %+v: missing or still busy", st)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
