package connlimit_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/connlimit"
)

// refusals counts the listener's refusals by reason.
type refusals struct {
	mu       sync.Mutex
	byReason map[string]int
	open     int
}

func (r *refusals) ConnOpened() { r.mu.Lock(); r.open++; r.mu.Unlock() }
func (r *refusals) ConnClosed() { r.mu.Lock(); r.open--; r.mu.Unlock() }
func (r *refusals) ConnRefused(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byReason[reason]++
}

func (r *refusals) count(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byReason[reason]
}

// bundle is an HTTP server on a capped listener.
type bundle struct {
	ln   *connlimit.Listener
	obs  *refusals
	addr string
}

func setup(t *testing.T, cfg connlimit.Config) *bundle {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	obs := &refusals{byReason: map[string]int{}}
	cfg.Observer = obs
	ln := connlimit.Listen(tcp, cfg)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return &bundle{ln: ln, obs: obs, addr: tcp.Addr().String()}
}

// client is one raw TCP connection to the server, from a chosen loopback
// address.
type client struct {
	net.Conn
	r *bufio.Reader
}

// dial connects from the loopback address from (127.0.0.1, 127.0.0.2, …;
// every 127/8 address is the loopback on Linux), skipping t where the
// system offers only 127.0.0.1 (never under CI, which runs on Linux).
func (b *bundle) dial(t *testing.T, from string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", b.addr)
	if err != nil {
		if from != "127.0.0.1" && os.Getenv("CI") == "" {
			t.Skipf("cannot connect from %s (only 127.0.0.1 is a loopback address here?): %v", from, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: bufio.NewReader(c)}
}

// served sends a request on c and reports whether it was answered (true)
// or the connection was closed without an answer (false). A connection
// left open without an answer fails t: a refusal must close at once.
func (c *client) served(t *testing.T) bool {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: slotline\r\n\r\n"); err != nil {
		return false // already reset
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the connection was neither served nor closed")
		}
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// open connects from each address in turn and reports which were served.
func (b *bundle) open(t *testing.T, from ...string) ([]*client, []bool) {
	t.Helper()
	var cs []*client
	var ok []bool
	for _, f := range from {
		c := b.dial(t, f)
		cs = append(cs, c)
		ok = append(ok, c.served(t))
	}
	return cs, ok
}

// waitOpen waits until the listener holds n connections.
func (b *bundle) waitOpen(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.ln.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the listener holds %d connections, want %d", b.ln.Open(), n)
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
}

func want(t *testing.T, what string, got, want []bool) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: served %v, want %v", what, got, want)
	}
}

// TestListenerCaps: over real sockets, a connection past the per-address
// cap or the total cap is closed at once without an answer, while
// connections within them are served; closing some gives their places
// back.
func TestListenerCaps(t *testing.T) {
	t.Parallel()
	b := setup(t, connlimit.Config{Max: 5, MaxPerAddress: 2})

	a, ok := b.open(t, "127.0.0.1", "127.0.0.1", "127.0.0.1")
	want(t, "three from one address", ok, []bool{true, true, false})
	bs, ok := b.open(t, "127.0.0.2", "127.0.0.2", "127.0.0.2")
	want(t, "three from a second address", ok, []bool{true, true, false})
	_, ok = b.open(t, "127.0.0.3", "127.0.0.3")
	want(t, "two from a third address, the second past the total", ok, []bool{true, false})
	if got := b.obs.count(connlimit.ReasonAddress); got != 2 {
		t.Errorf("%d refusals per address, want 2", got)
	}
	if got := b.obs.count(connlimit.ReasonTotal); got != 1 {
		t.Errorf("%d refusals past the total, want 1", got)
	}
	if got := b.ln.OpenFrom(netip.MustParseAddr("127.0.0.1")); got != 2 {
		t.Errorf("OpenFrom(127.0.0.1) = %d, want 2", got)
	}

	// One from the first address closes: that address may connect again,
	// once.
	a[0].Close()
	b.waitOpen(t, 4)
	_, ok = b.open(t, "127.0.0.1", "127.0.0.1")
	want(t, "after one closed", ok, []bool{true, false})

	// Two from the second address close: the third address gets one of
	// their places; its cap is then reached.
	bs[0].Close()
	bs[1].Close()
	b.waitOpen(t, 3)
	_, ok = b.open(t, "127.0.0.3", "127.0.0.3")
	want(t, "the third address after two closed", ok, []bool{true, false})
	_, ok = b.open(t, "127.0.0.4", "127.0.0.4")
	want(t, "a fourth address", ok, []bool{true, false})
	b.obs.mu.Lock()
	defer b.obs.mu.Unlock()
	if b.obs.open != b.ln.Open() {
		t.Errorf("the observer counts %d open, the listener %d", b.obs.open, b.ln.Open())
	}
}

// TestListenerTotalOnly: with no per-address cap (behind a proxy, where
// every connection has its address), one address may take the whole total.
func TestListenerTotalOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, connlimit.Config{Max: 3})
	cs, ok := b.open(t, "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1")
	want(t, "four from one address", ok, []bool{true, true, true, false})
	cs[1].Close()
	b.waitOpen(t, 2)
	_, ok = b.open(t, "127.0.0.1")
	want(t, "after one closed", ok, []bool{true})
}
