// SPDX-License-Identifier: Apache-2.0

// Package memnet is an in-memory network for tests: a net.Listener whose
// DialContext connects to it with net.Pipe. A server and its clients on it
// run inside one testing/synctest bubble (their connections block on
// channels the bubble can see), so the bubble's fake clock drives their
// timers, and synctest.Wait tells when both have done all they can.
package memnet

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Listener is an in-memory listener; dial it with DialContext.
type Listener struct {
	addr      string
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a listener whose address reads addr (e.g. "sim.test:80").
func New(addr string) *Listener {
	return &Listener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next connection dialled.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and further dials.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return addr(l.addr) }

// DialContext connects to the listener, whatever network and address it
// is asked for (an http.Transport's DialContext).
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, errors.Join(net.ErrClosed, ctx.Err())
}

type addr string

func (addr) Network() string  { return "mem" }
func (a addr) String() string { return string(a) }
