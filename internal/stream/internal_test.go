package stream

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// recordConn is a net.Conn that records each Write.
type recordConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

// TestCorkHoldsABatchAndGivesItsBufferBack: while corked, writes go out
// together when the batch ends, in order, in writes of at most corkLimit
// (one larger than that as it is); a Cork holds no buffer outside a batch.
func TestCorkHoldsABatchAndGivesItsBufferBack(t *testing.T) {
	rc := &recordConn{}
	c := &Cork{Conn: rc}
	if _, err := c.Write([]byte("uncorked")); err != nil || len(rc.writes) != 1 {
		t.Fatalf("an uncorked write: %v, %d writes; want it sent at once", err, len(rc.writes))
	}
	c.cork()
	var want bytes.Buffer
	want.WriteString("uncorked")
	msg := bytes.Repeat([]byte{'m'}, 1000)
	for i := range 200 { // 200 KB: more than three buffers' worth
		msg[0] = byte(i)
		want.Write(msg)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte{'B'}, 2*corkLimit)
	want.Write(big)
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	want.WriteString("tail")
	if _, err := c.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	held := len(rc.writes)
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != held+1 {
		t.Errorf("uncork made %d writes, want 1 (the tail held)", len(rc.writes)-held)
	}
	if c.buf != nil {
		t.Errorf("the Cork keeps a buffer of %d bytes after the batch; want it back in the pool", cap(*c.buf))
	}
	got := bytes.Join(rc.writes, nil)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the connection got %d bytes that differ from the %d written", len(got), want.Len())
	}
	// 1 uncorked, 200 KB in writes of at most corkLimit (4), the big one
	// as it is, then the tail: not a write per message.
	if n := len(rc.writes); n > 8 {
		t.Errorf("%d writes for one batch, want at most 8", n)
	}
	for i, w := range rc.writes {
		if len(w) > corkLimit && !bytes.Equal(w, big) {
			t.Errorf("write %d is %d bytes, over the buffer's %d", i, len(w), corkLimit)
		}
	}
}

func TestSharpDrop(t *testing.T) {
	tests := []struct {
		peak, now int64
		minDrop   int
		want      bool
	}{
		{1000, 0, 100, true},
		{1000, 500, 100, true},
		{1000, 501, 100, false}, // fewer than half left
		{150, 60, 100, false},   // fewer than minDrop left
		{200, 100, 100, true},
		{0, 0, 100, false},
		{5, 0, 1, true},
	}
	for _, tt := range tests {
		if got := sharpDrop(tt.peak, tt.now, tt.minDrop); got != tt.want {
			t.Errorf("sharpDrop(%d, %d, %d) = %v, want %v", tt.peak, tt.now, tt.minDrop, got, tt.want)
		}
	}
}

// TestReleaseMemoryNotForAFewSubscribers: a drop smaller than MinDrop, or
// than half of the subscribers, releases nothing; the next departure that
// makes it sharp does.
func TestReleaseMemoryNotForAFewSubscribers(t *testing.T) {
	h := NewHub(nil, nil, 64) // ReleaseMemory reads no log
	type check struct {
		peak, now int64
		sharp     bool
	}
	checks := make(chan check, 100)
	freed := make(chan int64, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.ReleaseMemory(ctx, ReleaseOptions{MinDrop: 10, Quiet: time.Millisecond,
			Free:    func() { freed <- h.readers.Load() },
			checked: func(peak, now int64, sharp bool) { checks <- check{peak, now, sharp} }})
	}()
	defer func() {
		cancel()
		<-done
	}()
	next := func() check {
		t.Helper()
		select {
		case c := <-checks:
			return c
		case <-time.After(time.Minute):
			t.Fatal("the drop was not judged within a minute")
			return check{}
		}
	}
	var subs []func()
	for range 20 {
		subs = append(subs, h.Attach())
	}
	for _, d := range subs[:9] { // 9 of 20: fewer than MinDrop and than half
		d()
	}
	for c := next(); c.now != 11; c = next() {
		if c.sharp {
			t.Fatalf("judged %d of %d sharp", c.peak-c.now, c.peak)
		}
	}
	select {
	case n := <-freed:
		t.Fatalf("released with %d subscribers left of 20", n)
	default:
	}
	for _, d := range subs[9:11] { // 11 of 20
		d()
	}
	for c := next(); c.now != 9; c = next() {
	}
	select {
	case n := <-freed:
		if n != 9 {
			t.Errorf("released with %d subscribers, want 9", n)
		}
	case <-time.After(time.Minute):
		t.Fatal("no release after 11 of 20 subscribers left")
	}
	for _, d := range subs[11:] {
		d()
	}
}

// toldLog is a Log whose notifications tell the head: it counts the reads
// of the head that a hub makes.
type toldLog struct {
	reads atomic.Int64
	wake  chan func(int64)
}

func (l *toldLog) LastEventSeq(context.Context) (int64, error) {
	l.reads.Add(1)
	return 0, nil
}

func (l *toldLog) FindStoredEvents(context.Context, int64, int) ([]reservation.StoredEvent, error) {
	return nil, nil
}

func (l *toldLog) ListenEvents(ctx context.Context, wake func(seq int64)) error {
	wake(0) // listening
	l.wake <- wake
	<-ctx.Done()
	return nil
}

// TestHubWithoutReadersFollowsTheToldHead: a hub that nobody reads, while
// it still listens (its last reader gone less than Linger ago), follows
// the head the notifications tell, without reading it from the database
// (a query per commit of every process, in every process), and Head
// answers from it.
func TestHubWithoutReadersFollowsTheToldHead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := &toldLog{wake: make(chan func(int64), 1)}
	h := NewHub(l, nil, 0)
	h.Linger = time.Hour
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	detach := h.Attach()
	wake := <-l.wake
	detach()
	for deadline := time.Now().Add(10 * time.Second); !h.live.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hub never followed the log after its listener started")
		}
	}
	for seq := int64(1); seq <= 50; seq++ {
		wake(seq)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		head, err := h.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if head == 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub's head is %d, want the told 50", head)
		}
		time.Sleep(time.Millisecond)
	}
	// One read at start, one after the listener's first wake; a third only
	// if the safety-net poll ran.
	if n := l.reads.Load(); n > 3 {
		t.Errorf("the hub read the head %d times for 50 told commits", n)
	}
}
