package storage_test

import (
	"context"
	"sync"
	"testing"

	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestMigrateTogether: stores of several processes migrating one fresh
// PostgreSQL schema at once all succeed, River's tables included (River's
// migrator takes no lock of its own), and every migration is applied once.
func TestMigrateTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storagetest.PostgresDSN(t)
	const stores = 4
	var ss []*storage.Store
	for range stores {
		s, err := storage.Connect(ctx, dsn, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ss = append(ss, s)
	}
	applied := make([][]string, stores)
	errs := make([]error, stores)
	var wg sync.WaitGroup
	for i, s := range ss {
		wg.Go(func() { applied[i], errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	migrated := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: Migrate: %v", i, err)
		}
		if len(applied[i]) > 0 {
			migrated++
		}
	}
	// One took the lock first and applied everything; the others found
	// nothing left to do.
	if migrated != 1 {
		t.Errorf("applied %v, want every migration applied by one store", applied)
	}
	if pending, err := ss[0].PendingMigrations(ctx); err != nil || len(pending) > 0 {
		t.Errorf("pending after migrating = %v, %v", pending, err)
	}
	// River's tables are there: the job queue opens on them.
	if err := jobs.New(ss[1].JobDriver(), jobs.Config{}).Open(ctx); err != nil {
		t.Errorf("open the job queue: %v", err)
	}
}
