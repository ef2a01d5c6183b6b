package stream

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// Cork holds a stream connection's writes while a batch of frames goes
// out, and sends them together when the batch ends: the WebSocket library
// flushes every message, which would otherwise cost a system call (and a
// TCP segment) per frame.
type Cork struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

// corkLimit is the most a Cork holds before it writes anyway.
const corkLimit = 64 << 10

// Write sends p, or holds it while corked.
func (c *Cork) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) < corkLimit {
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *Cork) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 4*corkLimit {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// cork starts holding writes (a nil Cork does nothing).
func (c *Cork) cork() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork sends what was held and stops holding.
func (c *Cork) uncork() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

// CorkWriter wraps the ResponseWriter of a WebSocket upgrade so that the
// connection the library hijacks can be corked; after the upgrade, Cork is
// set (pass it in Options.Cork).
type CorkWriter struct {
	http.ResponseWriter
	Cork *Cork
}

// Hijack hijacks the underlying connection and wraps it in a Cork.
func (w *CorkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.Cork = &Cork{Conn: conn}
	brw.Writer = bufio.NewWriterSize(w.Cork, 4096)
	return w.Cork, brw, nil
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *CorkWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
