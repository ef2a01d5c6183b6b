package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/storage"
)

// TestMustExist: with MustExist a missing SQLite file is an error that
// names it, and nothing is created; without, Connect creates the file.
func TestMustExist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	if s, err := storage.Connect(ctx, "sqlite:"+path, storage.Options{MustExist: true}); err == nil {
		s.Close()
		t.Fatal("MustExist opened a missing file")
	} else if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %q does not name the missing file", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("MustExist created %d files", len(entries))
	}
	s, err := storage.Connect(ctx, "sqlite:"+path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = storage.Connect(ctx, "sqlite:"+path, storage.Options{MustExist: true})
	if err != nil {
		t.Fatalf("MustExist on an existing file: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
	s.Close()
}
