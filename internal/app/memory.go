package app

import (
	"log/slog"
	"runtime/debug"

	"github.com/slotline/slotline/internal/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit to the file's
// memory_limit, unless GOMEMLIMIT, which the runtime has applied already,
// is set: the environment beats the file. It returns the function that
// puts the previous limit back, for when serve returns.
func applyMemoryLimit(cfg *config.Config, getenv func(string) string, logger *slog.Logger) (restore func()) {
	if cfg.MemoryLimit <= 0 {
		return func() {}
	}
	if env := getenv("GOMEMLIMIT"); env != "" {
		logger.Info("memory_limit: GOMEMLIMIT is set and wins", "gomemlimit", env, "memory_limit", cfg.MemoryLimit)
		return func() {}
	}
	prev := debug.SetMemoryLimit(cfg.MemoryLimit)
	logger.Info("memory limit set", "bytes", cfg.MemoryLimit)
	return func() { debug.SetMemoryLimit(prev) }
}
