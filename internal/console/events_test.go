package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
)

// idleFeed is a feed with no events: a read waits for its context.
type idleFeed struct{}

func (idleFeed) Head(context.Context) (int64, error) { return 0, nil }
func (idleFeed) Read(ctx context.Context, _ int64, _ int) ([]*stream.Item, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (idleFeed) Attach() func() { return func() {} }

// TestEventsEndAtSessionExpiry: the feed closes when the session would
// expire (here its idle timeout of 2 s), not later.
func TestEventsEndAtSessionExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := storage.Connect(ctx, "sqlite:"+filepath.Join(t.TempDir(), "console.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.Deps{Store: store, Feed: idleFeed{}, SessionIdle: 2 * time.Second,
		Operators: []config.Operator{{Username: "ada", PasswordHash: hash("ada-pw"), Role: "viewer"}},
		Queues:    []console.Queue{{ID: "q1", Name: "Support"}}})
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, store: store, srv: httptest.NewServer(c)}
	t.Cleanup(b.srv.Close)
	cl := b.client()
	b.mustSignIn(cl, "ada", "ada-pw")
	began := time.Now()
	resp, err := cl.Get(b.srv.URL + "/console/events")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %v %v", err, resp)
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		close(done)
	}()
	select {
	case <-done:
		if d := time.Since(began); d < time.Second {
			t.Errorf("the feed ended after %v, before the session's expiry", d)
		}
	case <-time.After(15 * time.Second):
		t.Error("the feed is still open 15 s after the session expired")
	}
	resp.Body.Close()
	// Expired now: the reconnect meets the sign-in.
	if r := b.do(cl, "GET", "/console/events", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after the expiry: %d, want 303", r.StatusCode)
	}
}
