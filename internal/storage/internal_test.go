package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// auditDetail must render what encoding/json renders for the map of its
// pairs: entries already in the chain were hashed with that text.
func TestAuditDetailMatchesEncodingJSON(t *testing.T) {
	cases := [][]any{
		{},
		{"queue_id", "q1", "slot", "2026-11-27T13:00:00Z/2026-11-27T13:15:00Z", "candidate", 0, "version", 1},
		{"request_id", "a<b>&\"c\"\\\n\t\x01\u2028é", "origin", "api"},
		{"name", "", "url", nil, "enabled", true, "count", int64(-42)},
		{"b", 1, "a", 2, "b", 3},
		{"when", time.Date(2026, 2, 29, 1, 2, 3, 0, time.UTC), "list", []string{"x", "y"}},
		{"bad utf8", "\xff\xfe", "z", false},
	}
	for _, kv := range cases {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			if v := kv[i+1]; v != nil && v != "" {
				m[kv[i].(string)] = v
			}
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := auditDetail(kv...); got != string(want) {
			t.Errorf("auditDetail(%q)\n got %s\nwant %s", kv, got, want)
		}
	}
}

// Ids of one length made one after another sort in that order, also
// within one millisecond and across goroutines, and never repeat.
func TestIDsIncrease(t *testing.T) {
	const goroutines, each = 4, 5000
	out := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				out[g] = append(out[g], newID("evt_", 8))
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, ids := range out {
		for i, id := range ids {
			if len(id) != len("evt_")+2*(6+8) {
				t.Fatalf("id %q has the wrong length", id)
			}
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("id %q made after %q sorts before it", id, ids[i-1])
			}
			if seen[id] {
				t.Fatalf("id %q made twice", id)
			}
			seen[id] = true
		}
	}
}

// The writer leaves checkpoints to the checkpointer: after writes, the
// database file itself grows (the WAL was copied into it) without the
// writer passing its own threshold.
func TestCheckpointerCopiesWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cp.db")
	s, err := Open(ctx, "sqlite:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.cp.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	err = s.inTx(ctx, func(tx *Tx) error {
		for i := range 200 {
			if err := tx.execLater(ctx, nil, "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, 0)",
				fmt.Sprint("lease-", i), strings.Repeat("x", 2000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes: nothing checkpointed the WAL", before)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// insertRows writes every row, in order, whatever their number.
func TestInsertRowsChunks(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "rows.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "CREATE TABLE t (batch INTEGER NOT NULL, i INTEGER NOT NULL, s TEXT NOT NULL)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, rows := range []int{0, 1, 5, 63, 64, 100, 131} {
		args := make([]any, 0, rows*3)
		for i := range rows {
			args = append(args, rows, i, fmt.Sprint("row ", i))
		}
		err := s.inTx(ctx, func(tx *Tx) error {
			return insertRows(ctx, tx, nil, "INSERT INTO t (batch, i, s) VALUES ", 3, args)
		})
		if err != nil {
			t.Fatalf("%d rows: %v", rows, err)
		}
		rs, err := s.rdb.QueryContext(ctx, "SELECT i, s FROM t WHERE batch = $1 ORDER BY rowid", rows)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for rs.Next() {
			var i int
			var str string
			if err := rs.Scan(&i, &str); err != nil {
				t.Fatal(err)
			}
			if i != got || str != fmt.Sprint("row ", got) {
				t.Fatalf("%d rows: row %d is (%d, %q)", rows, got, i, str)
			}
			got++
		}
		rs.Close()
		if got != rows {
			t.Fatalf("inserted %d rows, want %d", got, rows)
		}
	}
}

// TestHeldLeaseDoesNotAbortTheBatch: a lease another holder has is an
// answer, so the writes group commit put in the same transaction commit
// with it, once: an error there would roll the batch back and run every
// write again on its own (a delivery job per commit, measured).
func TestHeldLeaseDoesNotAbortTheBatch(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "lease.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, err := s.AcquireLease(ctx, "sync:r1", "w1", time.Minute); err != nil || !ok {
		t.Fatalf("first holder: %v, %v", ok, err)
	}
	runs := 0
	var got bool
	var gotErr error
	other := &writeJob{ctx: ctx, done: make(chan error, 1), fn: func(tx *Tx) error {
		runs++
		_, err := tx.exec(ctx, "INSERT INTO leases (name, holder, expires_at) VALUES ('other', 'x', 0)")
		return err
	}}
	held := &writeJob{ctx: ctx, done: make(chan error, 1), fn: func(tx *Tx) error {
		got, gotErr = acquireLease(ctx, tx, "sync:r1", "w2", time.Minute)
		return gotErr
	}}
	s.runBatch([]*writeJob{other, held})
	if err := errors.Join(<-other.done, <-held.done); err != nil || got || gotErr != nil {
		t.Fatalf("batch = %v; w2 got the lease %v (%v)", err, got, gotErr)
	}
	if runs != 1 {
		t.Errorf("the other write ran %d times: the held lease aborted its batch", runs)
	}
}

// TestNotifiedSeq: a notification names its schema and the log's last
// number; another schema's is not for this one, and a bare number (a
// build before the schema was named) wakes with the number unknown.
func TestNotifiedSeq(t *testing.T) {
	for _, c := range []struct {
		payload string
		seq     int64
		ok      bool
	}{
		{"public 42", 42, true},
		{"slotline_test_x 7", 7, true},
		{"other 42", 0, false},
		{"42", 0, true},
		{"public x", 0, true},
	} {
		schema := "public"
		if strings.HasPrefix(c.payload, "slotline_test_x") {
			schema = "slotline_test_x"
		}
		if seq, ok := notifiedSeq(c.payload, schema); seq != c.seq || ok != c.ok {
			t.Errorf("notifiedSeq(%q, %q) = %d, %v; want %d, %v", c.payload, schema, seq, ok, c.seq, c.ok)
		}
	}
}
