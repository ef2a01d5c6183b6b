package config

import (
	"path"
	"time"

	"go.yaml.in/yaml/v3"
)

// Stream configures the WebSocket event stream.
type Stream struct {
	// AllowedOrigins are extra browser origins that may open the stream,
	// as path.Match patterns on the origin's host ("*.example.com") or on
	// the whole origin when they have a scheme ("https://app.example.com");
	// the server's own host and public_url's host are always allowed.
	AllowedOrigins []string
	// Window is the most frames in flight without an ack (default 100).
	Window int
	// SlowConsumerTimeout closes a connection whose window stays full this
	// long (default 30s).
	SlowConsumerTimeout time.Duration
	// MaxFrameBytes bounds a client's frame (default 65536).
	MaxFrameBytes int
	// MaxSubscriptionsPerClient is the most subscriptions one API client
	// may hold open at once in one process (default 20; 0: no cap).
	MaxSubscriptionsPerClient int
	// Ring is how many recent events the server keeps encoded in memory
	// while anyone subscribes (0: stream.DefaultRing); subscribers further
	// behind read from the database.
	Ring int
}

// DefaultMaxSubscriptionsPerClient is stream.max_subscriptions_per_client
// when the file does not set it.
const DefaultMaxSubscriptionsPerClient = 20

// stream reads the stream block into st.
func (p *parser) stream(n *yaml.Node, path string, st *Stream) error {
	_, err := p.block(n, path,
		decoder{"allowed_origins", into(&st.AllowedOrigins, p.origins)},
		decoder{"window", into(&st.Window, p.intFromTo(1, 10000, ""))},
		decoder{"slow_consumer_timeout", into(&st.SlowConsumerTimeout, p.positiveDuration)},
		decoder{"max_frame_bytes", into(&st.MaxFrameBytes, p.intFromTo(256, 16<<20, ""))},
		decoder{"ring", into(&st.Ring, p.intFromTo(64, 1_000_000, " events"))},
		decoder{"max_subscriptions_per_client", into(&st.MaxSubscriptionsPerClient, p.intFromTo(0, 100_000, " (0: no cap)"))},
	)
	return err
}

// origins reads a list of origin patterns.
func (p *parser) origins(n *yaml.Node, path string) ([]string, error) {
	return listOf(p, n, path, p.origin)
}

// origin reads a pattern path.Match accepts, for an origin's host or the
// whole origin.
func (p *parser) origin(n *yaml.Node, field string) (string, error) {
	o, err := p.str(n, field)
	if err != nil {
		return "", err
	}
	if _, err := path.Match(o, ""); err != nil || o == "" {
		return "", p.errorf(n, field, "%q is not a host pattern like *.example.com or https://app.example.com", o)
	}
	return o, nil
}
