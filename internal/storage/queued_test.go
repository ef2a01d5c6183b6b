package storage_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestQueuedReadsInAGroupCommit runs queued reads (the create's opt-out
// and overrides reads) in group commits on PostgreSQL: a write whose
// deferred statement fails on the server fails alone while the next
// write's queued read is sent again and answers; a read whose scan fails
// in the process, after the server ran what followed it, fails only its
// write (the batch then runs its writes one to a transaction); and a read
// left queued at the end is not sent with the COMMIT, so that its failure
// commits nothing.
func TestQueuedReadsInAGroupCommit(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t, storagetest.PostgresDSN(t))
	if err := storage.ExecSQL(t.Context(), s, "CREATE TABLE qr (x int)"); err != nil {
		t.Fatal(err)
	}
	rows := func() []string {
		t.Helper()
		got, err := storage.QueryStrings(s, "SELECT x::text FROM qr ORDER BY x")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	boom := errors.New("scan failed in the process")
	for _, tc := range []struct {
		name  string
		first func(tx *storage.Tx) error
	}{
		{"server failure", func(tx *storage.Tx) error {
			if err := storage.ExecLater(tx, "INSERT INTO qr VALUES (1)"); err != nil {
				return err
			}
			return storage.ExecLater(tx, "SELECT 1/0")
		}},
		{"scan failure", func(tx *storage.Tx) error {
			if err := storage.ExecLater(tx, "INSERT INTO qr VALUES (1)"); err != nil {
				return err
			}
			var n int64
			return storage.QueryLater(tx, &n, boom, "SELECT 7::bigint")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := storage.ExecSQL(t.Context(), s, "DELETE FROM qr"); err != nil {
				t.Fatal(err)
			}
			var got, count int64
			errs := storage.RunBatch(s, tc.first, func(tx *storage.Tx) error {
				got, count = 0, 0
				if err := storage.ExecLater(tx, "INSERT INTO qr VALUES (2)"); err != nil {
					return err
				}
				if err := storage.QueryLater(tx, &got, nil, "SELECT 42::bigint"); err != nil {
					return err
				}
				var err error
				count, err = storage.QueryInt(tx, "SELECT count(*) FROM qr")
				return err
			})
			if errs[0] == nil {
				t.Error("the first write succeeded")
			}
			if errs[1] != nil {
				t.Errorf("the second write failed: %v", errs[1])
			}
			if got != 42 || count != 1 {
				t.Errorf("the second write read %d and counted %d rows; want 42 and 1 (its own)", got, count)
			}
			if r := rows(); !slices.Equal(r, []string{"2"}) {
				t.Errorf("rows after the batch: %v, want only the second write's", r)
			}
		})
	}
	t.Run("left queued at commit", func(t *testing.T) {
		if err := storage.ExecSQL(t.Context(), s, "DELETE FROM qr"); err != nil {
			t.Fatal(err)
		}
		errs := storage.RunBatch(s, func(tx *storage.Tx) error {
			if err := storage.ExecLater(tx, "INSERT INTO qr VALUES (3)"); err != nil {
				return err
			}
			var n int64
			return storage.QueryLater(tx, &n, boom, "SELECT 7::bigint")
		})
		if !errors.Is(errs[0], boom) {
			t.Errorf("the write's error is %v, want the scan's", errs[0])
		}
		if r := rows(); len(r) != 0 {
			t.Errorf("rows after the failed write: %v, want none (it must not commit)", r)
		}
	})
}
