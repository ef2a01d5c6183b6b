package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// HTTP bounds what clients may hold of the HTTP server: time per response
// and connections. The counts are per process.
type HTTP struct {
	// WriteTimeout bounds the writing of each response, from the start of
	// its handling (default 30s); past it the connection is closed. A stream
	// subscription keeps its own limits once upgraded.
	WriteTimeout time.Duration
	// MaxConnections is the most connections open at once, stream
	// subscriptions included (default 4096; 0: no cap). One more is closed
	// as soon as it is accepted.
	MaxConnections int
	// MaxConnectionsPerAddress is the most connections open at once from
	// one source IP address (default 0: no cap). Behind a proxy or load
	// balancer every connection comes from its address: keep 0 there, or
	// set it above what the proxy opens.
	MaxConnectionsPerAddress int
}

// Defaults of the http block.
const (
	DefaultWriteTimeout   = 30 * time.Second
	DefaultMaxConnections = 4096
)

// maxConns bounds the connection caps (far beyond what one process can
// serve; a larger number is a typo).
const maxConns = 10_000_000

// http reads the http block into h, which holds the defaults.
func (p *parser) http(n *yaml.Node, path string, h *HTTP) error {
	_, err := p.block(n, path,
		decoder{"write_timeout", into(&h.WriteTimeout, p.positiveDuration)},
		decoder{"max_connections", into(&h.MaxConnections, p.intFromTo(0, maxConns, " (0: no cap)"))},
		decoder{"max_connections_per_address", into(&h.MaxConnectionsPerAddress, p.intFromTo(0, maxConns, " (0: no cap)"))},
	)
	return err
}
