package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/browsertest"
	"github.com/slotline/slotline/internal/password"
)

// TestBrowserConsoleHealth: an admin sees a webhook delivery to a local
// receiver on the health page and Replay sends it again; the health and
// reports pages pass axe and the phone's width check.
func TestBrowserConsoleHealth(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	srv, token := serveConfig(t, "clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write, webhook:read, webhook:write]\n"+
		"webhooks: {allow_private: true, allow_http: true}\n"+
		"operators:\n  - {username: root, password_hash: '"+password.New("root-secret-pw")+"', role: admin}\n"+
		"queues:\n  - {id: q1, name: Support, timezone: America/New_York, hours: 24/7}\n")
	if st := srv.call("POST", "/api/v2/webhooks", token, `{"name":"CRM","url":"`+recv.URL+`/hook","events":["reservation.created"]}`, nil); st != 201 {
		t.Fatalf("create webhook: %d", st)
	}
	start := time.Now().Truncate(15 * time.Minute).Add(3 * time.Hour).UTC()
	if st := srv.call("POST", "/api/v2/callbacks", token, `{"callback_number":"+14155550123","queue_id":"q1",
		"time_slot_matrix":[{"start":"`+start.Format(time.RFC3339)+`","end":"`+start.Add(15*time.Minute).Format(time.RFC3339)+`"}],
		"channel_preferences":{"primary":"voice"}}`, nil); st != 201 {
		t.Fatalf("create: %d", st)
	}
	for deadline := time.Now().Add(30 * time.Second); got.Load() < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no delivery in 30 s")
		}
	}

	b := browsertest.New(t, browsertest.Locale("en-US"))
	b.Go(srv.base + "/console/login")
	b.Fill("textbox", "Username", "root")
	b.Fill("textbox", "Password", "root-secret-pw")
	b.ClickNavigate("button", "Sign in")
	b.WaitFor("button", "Sign out")
	b.Go(srv.base + "/console/health")
	b.WaitFor("heading", "Health")
	b.WaitFor("heading", "CRM")
	checkPage(t, b)
	b.NoHorizontalScroll()
	screenshot(b, "console-health")
	b.ClickNavigate("button", "Replay")
	b.WaitFor("status", "")
	for deadline := time.Now().Add(30 * time.Second); got.Load() < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Replay sent nothing in 30 s")
		}
	}
	checkPage(t, b)

	b.Go(srv.base + "/console/reports")
	b.WaitFor("heading", "Outcomes")
	if !b.Exists("link", "Download CSV") {
		t.Error("no Download CSV link")
	}
	if !strings.Contains(b.Text("table", "Outcomes per day, Support"), "Booked") {
		t.Error("the report's table lacks its columns")
	}
	checkPage(t, b)
	b.NoHorizontalScroll()
	screenshot(b, "console-reports")
}
