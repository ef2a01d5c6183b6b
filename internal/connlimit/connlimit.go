// SPDX-License-Identifier: Apache-2.0

// Package connlimit caps the connections a listener keeps open: in all, and
// per source address. A connection over a cap is closed as soon as it is
// accepted, before a byte is read or written, so that refusing costs the
// server no more than accepting; the client sees the connection closed (or
// reset) without an answer.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Reasons a connection is refused, as Observer.ConnRefused reports them.
const (
	ReasonTotal   = "max_connections"
	ReasonAddress = "max_connections_per_address"
)

// Config says how many connections a Listener keeps open.
type Config struct {
	// Max is the most connections open at once, in all; 0 means no cap.
	Max int
	// MaxPerAddress is the most connections open at once from one source
	// IP address; 0 means no cap. Behind a proxy or load balancer every
	// connection comes from the proxy's address: leave it 0 there, or set
	// it above what the proxy opens.
	MaxPerAddress int
	// Observer, if not nil, is told of every connection opened, closed and
	// refused.
	Observer Observer
}

// Observer is told what a Listener does, for metrics. Its methods must be
// safe for concurrent use and must not block.
type Observer interface {
	// ConnOpened and ConnClosed bracket each accepted connection.
	ConnOpened()
	ConnClosed()
	// ConnRefused counts a connection closed at once, with its reason
	// (ReasonTotal or ReasonAddress).
	ConnRefused(reason string)
}

// Listener is a net.Listener that keeps at most its Config's connections
// open. The counts are of this listener only (one process).
type Listener struct {
	net.Listener
	cfg Config

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int
}

// Listen returns ln under the caps of cfg. Closing a connection it returned
// (by whoever owns it then: the HTTP server, or a handler that hijacked it)
// gives its place back.
func Listen(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, byAddr: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps. Connections over a
// cap are closed here, and Accept goes on waiting for one within them; it
// returns only the underlying listener's errors.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := sourceAddr(c)
		if reason := l.admit(addr); reason != "" {
			_ = c.Close()
			if l.cfg.Observer != nil {
				l.cfg.Observer.ConnRefused(reason)
			}
			continue
		}
		if l.cfg.Observer != nil {
			l.cfg.Observer.ConnOpened()
		}
		return &conn{Conn: c, l: l, addr: addr}, nil
	}
}

// Open returns how many connections are open now: accepted and not yet
// closed.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// OpenFrom returns how many connections from addr are open now.
func (l *Listener) OpenFrom(addr netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byAddr[addr.Unmap()]
}

// admit counts a new connection from addr, or returns why it is refused.
func (l *Listener) admit(addr netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Max > 0 && l.open >= l.cfg.Max {
		return ReasonTotal
	}
	if l.cfg.MaxPerAddress > 0 && addr.IsValid() && l.byAddr[addr] >= l.cfg.MaxPerAddress {
		return ReasonAddress
	}
	l.open++
	if addr.IsValid() {
		l.byAddr[addr]++
	}
	return ""
}

// release gives back the place of a connection from addr.
func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	l.open--
	if addr.IsValid() {
		if n := l.byAddr[addr] - 1; n > 0 {
			l.byAddr[addr] = n
		} else {
			delete(l.byAddr, addr)
		}
	}
	l.mu.Unlock()
	if l.cfg.Observer != nil {
		l.cfg.Observer.ConnClosed()
	}
}

// sourceAddr returns the IP address c comes from (IPv4-mapped IPv6
// addresses as IPv4), or the zero Addr when it is not an IP connection
// (which then counts only against the total).
func sourceAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// conn is an accepted connection that gives its place back when closed.
type conn struct {
	net.Conn
	l    *Listener
	addr netip.Addr
	once sync.Once
}

// Close closes the connection and, the first time, gives its place back.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}

// CloseWrite shuts down the writing side when the connection can (TCP),
// as net/http does before closing a connection whose request it did not
// read to the end.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
