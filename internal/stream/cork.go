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
//
// A Cork holds a buffer only while corked: it takes one from a pool shared
// by every connection when the batch's first write comes and gives it back
// when the batch ends, so that a thousand idle subscribers hold no
// buffers, and those of a fan-out stay in use by the connections writing.
type Cork struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte // from corkPool while corked and written to; nil otherwise
}

// corkLimit is the most a Cork holds before it writes anyway: the size of
// the pooled buffers.
const corkLimit = 64 << 10

// corkPool holds the buffers of the connections not corked now.
var corkPool = sync.Pool{New: func() any {
	b := make([]byte, 0, corkLimit)
	return &b
}}

// Write sends p, or holds it while corked.
func (c *Cork) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = corkPool.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > cap(*c.buf) {
		if err := c.sendLocked(); err != nil {
			return 0, err
		}
		if len(p) >= cap(*c.buf) {
			return c.Conn.Write(p) // larger than the buffer: as it is
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// sendLocked writes what is held, keeping the buffer.
func (c *Cork) sendLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
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

// uncork sends what was held, stops holding and gives the buffer back to
// the pool.
func (c *Cork) uncork() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.sendLocked()
	if c.buf != nil {
		corkPool.Put(c.buf)
		c.buf = nil
	}
	return err
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
