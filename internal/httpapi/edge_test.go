package httpapi_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
	"github.com/slotline/slotline/internal/stream"
)

// TestZeroTimeIsABound: 0001-01-01T00:00:00Z, the zero time, is an instant
// like any other. It was taken as absent: to= listed everything and
// availability's from= started now.
func TestZeroTimeIsABound(t *testing.T) {
	t.Parallel()
	h := newHostileServer(t, "")
	count := func(query string) int {
		t.Helper()
		r := h.send(t, "GET", "/api/v2/callbacks?"+query, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, r.status, r.short())
		}
		return len(r.json(t)["items"].([]any))
	}
	if n := count("to=0001-01-01T00:00:00Z"); n != 0 {
		t.Errorf("to=0001-01-01T00:00:00Z listed %d reservations, want none (nothing is that early)", n)
	}
	if n := count("from=0001-01-01T00:00:00Z"); n != 1 {
		t.Errorf("from=0001-01-01T00:00:00Z listed %d reservations, want 1", n)
	}
	if n := count("to=0001-01-01T00:00:00.000001Z"); n != 0 {
		t.Errorf("to one microsecond later listed %d reservations, want none", n)
	}
	r := h.send(t, "GET", "/api/v2/queues/queue_12345/availability?from=0001-01-01T00:00:00Z", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("availability: %d %s", r.status, r.short())
	}
	if got, want := r.json(t)["from"], (time.Time{}).In(h.loc).Format(time.RFC3339); got != want {
		t.Errorf("availability from = %v, want %s (the zero time in the queue's zone)", got, want)
	}
}

// TestBrokenEscapeIsRefused: a query parameter that cannot be decoded was
// dropped, silently: a broken cursor gave the first page again.
func TestBrokenEscapeIsRefused(t *testing.T) {
	t.Parallel()
	h := newHostileServer(t, "")
	h.create(t)
	for _, path := range []string{
		"/api/v2/callbacks?limit=1&cursor=%zz",
		"/api/v2/callbacks?limit=1&cursor=abc%2",
		"/api/v2/webhooks/" + h.epID + "/deliveries?limit=1&cursor=%zz",
	} {
		r := h.send(t, "GET", path, "", nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.json(t)["detail"].(string), "cursor") {
			t.Errorf("%s: %d %s; want a 400 naming the cursor", path, r.status, r.short())
		}
	}
}

// TestBadBytesNeverReachTheDatabase: NUL and invalid UTF-8 in an id, a
// filter or a header answer 404 or 400 on both backends (PostgreSQL
// answered 500, SQLSTATE 22021), and the refused write is still audited,
// its target made storable.
func TestBadBytesNeverReachTheDatabase(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if backend == storage.Postgres {
				dsn = storagetest.PostgresDSN(t)
			}
			h := newHostileServer(t, dsn)
			for _, c := range []struct {
				method, path string
				header       []string
				want         int
			}{
				{"GET", "/api/v2/callbacks/cb_%00", nil, 404},
				{"GET", "/api/v2/callbacks/cb_%ff", nil, 404},
				{"PATCH", "/api/v2/callbacks/cb_%00", nil, 404},
				{"DELETE", "/api/v2/callbacks/cb_%ff", nil, 404},
				{"GET", "/api/v2/webhooks/we_%00", nil, 404},
				{"POST", "/api/v2/webhooks/" + h.epID + "/deliveries/msg_%00/retry", nil, 404},
				{"GET", "/api/v2/queues/%00/calendar.ics?token=cal_x", []string{"Authorization", ""}, 401},
				{"GET", "/api/v2/callbacks?queue_id=%00", nil, 400},
				{"GET", "/api/v2/callbacks?callback_number=%ff", nil, 400},
				{"DELETE", "/api/v2/callbacks/" + h.resID, []string{"Idempotency-Key", "k\xff"}, 400},
			} {
				body := ""
				if c.method == "PATCH" {
					body = `{"reason":"x"}`
				}
				if r := h.send(t, c.method, c.path, body, c.header); r.status != c.want {
					t.Errorf("%s %s: %d %s; want %d", c.method, c.path, r.status, r.short(), c.want)
				}
			}
			entries, err := h.store.FindAuditEntries(context.Background(), 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			refused := 0
			for _, e := range entries {
				if e.Outcome == audit.OutcomeRefused && e.Target == "cb_\uFFFD" {
					refused++
				}
			}
			if refused != 2 {
				t.Errorf("%d refusals audited with the target cb_\uFFFD, want 2 (the PATCH and the DELETE)", refused)
			}
			for _, rec := range h.logs.atLeast(slog.LevelError) {
				t.Errorf("logged at %s: %s: %s", rec.level, rec.msg, rec.err)
			}
		})
	}
}

// TestStreamEndLogLevels: a stream ended by the server's shutdown (or by
// the client) is logged at Debug; one ended by a failure at Warn. Every
// normal close was a Warn.
func TestStreamEndLogLevels(t *testing.T) {
	t.Parallel()
	wsURL := func(srv *httptest.Server) string {
		return "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v2/callbacks/websocket"
	}
	ended := func(t *testing.T, logs *logRecords) logRecord {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case rec := <-logs.notify:
				if rec.msg == "stream ended" {
					return rec
				}
			case <-timeout:
				t.Fatal("no \"stream ended\" record")
			}
		}
	}

	t.Run("Shutdown", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store, err := storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "s.db"), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		authSvc := auth.NewService(store, []*auth.Client{auth.NewClient("website", websiteSecret, config.Scopes, 0, 0)}, time.Hour)
		// The hub never runs: the stream waits for its head until the
		// server shuts down.
		hub := stream.NewHub(store, nil, 0)
		logs := &logRecords{notify: make(chan logRecord, 64)}
		srv := httptest.NewUnstartedServer(httpapi.NewServer(httpapi.Deps{Booking: booking.New(store, nil, booking.Options{}),
			Auth: authSvc, Store: store, Stream: stream.NewServer(hub, store, nil), Logger: slog.New(logs)}))
		srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
		srv.Start()
		defer srv.Close()
		c, _ := authSvc.Authenticate("website", websiteSecret)
		tok, _, err := authSvc.Issue(ctx, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := websocket.Dial(context.Background(), wsURL(srv), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		cancel()
		if rec := ended(t, logs); rec.level != slog.LevelDebug {
			t.Errorf("a stream ended by the shutdown (%s) was logged at %s, want DEBUG", rec.err, rec.level)
		}
	})

	t.Run("Failure", func(t *testing.T) {
		t.Parallel()
		h := newHostileServer(t, "")
		// The token is cached; the subscription's cursor cannot be read.
		if err := h.store.Close(); err != nil {
			t.Fatal(err)
		}
		ws, _, err := websocket.Dial(context.Background(), wsURL(h.srv)+"?subscription=s1",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + h.token}}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		if rec := ended(t, h.logs); rec.level != slog.LevelWarn {
			t.Errorf("a stream ended by a database failure (%s) was logged at %s, want WARN", rec.err, rec.level)
		}
	})
}
