package config_test

import (
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/config"
)

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	const queues = "queues: [{id: q, timezone: UTC}]\n"
	for body, want := range map[string]int64{
		"":                          0,
		"memory_limit: off\n":       0,
		"memory_limit: 0\n":         0,
		"memory_limit: 512MiB\n":    512 << 20,
		"memory_limit: 2GiB\n":      2 << 30,
		"memory_limit: 65536KiB\n":  64 << 20,
		"memory_limit: 1TiB\n":      1 << 40,
		"memory_limit: 33554432B\n": 32 << 20,
	} {
		cfg, err := config.Parse("m.yaml", []byte(queues+body), t.TempDir(), nil)
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if cfg.MemoryLimit != want {
			t.Errorf("%q: MemoryLimit = %d, want %d", body, cfg.MemoryLimit, want)
		}
	}
	for body, want := range map[string]string{
		"memory_limit: 512\n":         `m.yaml:2: memory_limit: "512" is not a size like 512MiB`,
		"memory_limit: 512MB\n":       `m.yaml:2: memory_limit: "512MB" is not a size`,
		"memory_limit: -1GiB\n":       `m.yaml:2: memory_limit: "-1GiB" is not a size`,
		"memory_limit: 16MiB\n":       `m.yaml:2: memory_limit: "16MiB" is below 32MiB`,
		"memory_limit: 1.5GiB\n":      `m.yaml:2: memory_limit: "1.5GiB" is not a size`,
		"memory_limit: [1GiB]\n":      "m.yaml:2: memory_limit: must be a string",
		"memory_limit: 99999999TiB\n": `"99999999TiB" is not a size`,
	} {
		_, err := config.Parse("m.yaml", []byte(queues+body), t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %s", body, err, want)
		}
	}
}
