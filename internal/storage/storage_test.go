package storage_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) *storage.Store {
		s, err := storage.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "test.db"), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) *storage.Store {
		s, err := storage.Open(context.Background(), storagetest.PostgresDSN(t), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
