package app

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/slotline/slotline/internal/config"
)

// TestApplyMemoryLimit: memory_limit becomes the runtime's soft limit
// while serve runs, and the previous one comes back after; GOMEMLIMIT in
// the environment wins over the file.
func TestApplyMemoryLimit(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	before := debug.SetMemoryLimit(-1)
	cfg := &config.Config{MemoryLimit: 3 << 30}
	restore := applyMemoryLimit(cfg, func(string) string { return "" }, logger)
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("limit while serving = %d, want %d", got, int64(3<<30))
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after serving = %d, want the previous %d", got, before)
	}
	restore = applyMemoryLimit(cfg, func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}, logger)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set the limit became %d, want it left at %d", got, before)
	}
	restore()
	restore = applyMemoryLimit(&config.Config{}, func(string) string { return "" }, logger)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("without memory_limit the limit became %d, want it left at %d", got, before)
	}
	restore()
}
