package stream_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
)

// runHub starts a hub over a new SQLite database, stopped at the test's
// end.
func runHub(t *testing.T) (*stream.Hub, *storage.Store) {
	t.Helper()
	store, err := storage.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "s.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.NewHub(store, nil, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hub.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	if _, err := hub.Head(t.Context()); err != nil {
		t.Fatal(err)
	}
	return hub, store
}

// runRelease runs hub.ReleaseMemory with o until the test ends.
func runRelease(t *testing.T, hub *stream.Hub, o stream.ReleaseOptions) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hub.ReleaseMemory(ctx, o)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitFor waits for a value on ch, failing after a minute.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s after a minute", what)
		panic("unreachable")
	}
}

// TestReleaseMemoryAfterSubscribersLeave: when most of a hub's
// subscribers leave, the memory is released once, after the departures
// have stopped, and not again before Every has passed.
func TestReleaseMemoryAfterSubscribersLeave(t *testing.T) {
	t.Parallel()
	hub, _ := runHub(t)
	var mu sync.Mutex
	left := 0 // subscribers detached so far
	freed := make(chan int, 10)
	const every = 300 * time.Millisecond
	runRelease(t, hub, stream.ReleaseOptions{MinDrop: 10, Quiet: 20 * time.Millisecond, Every: every, Free: func() {
		mu.Lock()
		defer mu.Unlock()
		freed <- left
	}})
	detach := func(ds []func()) {
		for _, d := range ds {
			mu.Lock()
			left++
			mu.Unlock()
			d()
		}
	}
	var subs []func()
	for range 40 {
		subs = append(subs, hub.Attach())
	}
	// 30 of 40 leave: a release, with all 30 gone.
	detach(subs[:30])
	first := time.Now()
	if n := waitFor(t, freed, "release after 30 of 40 subscribers left"); n != 30 {
		t.Errorf("released with %d subscribers gone, want 30 (after the departures)", n)
	}
	// 40 more come and go at once: the next release waits for Every.
	subs = subs[30:]
	for range 40 {
		subs = append(subs, hub.Attach())
	}
	detach(subs)
	n := waitFor(t, freed, "second release")
	if n != 80 {
		t.Errorf("second release with %d subscribers gone, want 80", n)
	}
	if d := time.Since(first); d < every {
		t.Errorf("second release %v after the first, want at least %v", d, every)
	}
	// Calling a detach again changes nothing (it counts once).
	detach(subs[:1])
	attach := hub.Attach()
	defer attach()
}

// TestPingsKeepAReadingClientAndDropASilentOne: the server pings every
// PingEvery; a client that reads (and so answers) stays connected, one
// that answers nothing for IdleTimeout is dropped.
func TestPingsKeepAReadingClientAndDropASilentOne(t *testing.T) {
	t.Parallel()
	hub, store := runHub(t)
	srv := stream.NewServer(hub, store, nil)
	served := make(chan error, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var handlers sync.WaitGroup
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		served <- srv.Serve(ctx, ws, stream.Options{ClientID: "c", After: -1, PingEvery: 20 * time.Millisecond, IdleTimeout: 200 * time.Millisecond})
	}))
	t.Cleanup(func() {
		cancel()
		hs.CloseClientConnections()
		hs.Close()
		handlers.Wait()
	})
	url := "ws" + strings.TrimPrefix(hs.URL, "http")

	pings := make(chan struct{}, 100)
	reader, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
		select {
		case pings <- struct{}{}:
		default:
		}
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.CloseNow()
	rctx, rdone := context.WithCancel(context.Background())
	go func() { // reads (and so answers pings) until the connection ends
		defer rdone()
		for {
			if _, _, err := reader.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	for i := range 5 {
		waitFor(t, pings, "ping "+string(rune('1'+i)))
	}
	select {
	case err := <-served:
		t.Fatalf("the server dropped a client that answers its pings: %v", err)
	case <-rctx.Done():
		t.Fatal("the server closed a client that answers its pings")
	default:
	}

	// A client that never reads never answers: dropped after IdleTimeout.
	silent, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.CloseNow()
	waitFor(t, served, "the silent client's end")
	select {
	case <-rctx.Done():
		t.Fatal("the reading client was closed too")
	default:
	}
}
