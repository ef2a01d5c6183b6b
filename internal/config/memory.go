package config

import (
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// memoryUnits are the units memory_limit takes, as GOMEMLIMIT does.
var memoryUnits = []struct {
	suffix string
	bytes  int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// minMemoryLimit is the least memory_limit: below it the Go runtime
// would collect garbage all the time for a server's ordinary heap.
const minMemoryLimit = 32 << 20

// memoryLimit reads memory_limit: a size in bytes with a unit B, KiB, MiB,
// GiB or TiB (as GOMEMLIMIT takes it), or off (0: no limit).
func (p *parser) memoryLimit(n *yaml.Node, path string) (int64, error) {
	s, err := p.str(n, path)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return 0, nil
	}
	for _, u := range memoryUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || v < 0 || v > math.MaxInt64/u.bytes {
			break
		}
		if b := v * u.bytes; b >= minMemoryLimit {
			return b, nil
		}
		return 0, p.errorf(n, path, "%q is below 32MiB", s)
	}
	return 0, p.errorf(n, path, "%q is not a size like 512MiB or 2GiB (units B, KiB, MiB, GiB, TiB), or off", s)
}
