package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSelfServiceReachesGenesys: serve in sandbox mode (the simulator over
// HTTP); a reservation rescheduled through its self-service link is
// rescheduled in the simulator like any change, and the reservation's
// events say the customer made it.
func TestSelfServiceReachesGenesys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + filepath.Join(dir, "s.db") + "\n" +
		"public_url: https://callbacks.example.com\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"self_service: {link_ttl: 2h}\n" +
		"queues:\n  - id: q1\n    timezone: America/New_York\n    hours: 24/7\n    self_service: {max_reschedules: 1, cutoff: 5m}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := sandboxServe(t, cfg)
	sim, call := srv.sim, srv.call
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st := call("POST", "/oauth/token", "basic", "grant_type=client_credentials", &tok); st != 200 {
		t.Fatalf("token: %d", st)
	}
	start := time.Now().Add(24 * time.Hour).Truncate(time.Hour).UTC()
	slot := func(s time.Time) string {
		return fmt.Sprintf(`[{"start":%q,"end":%q}]`, s.Format(time.RFC3339), s.Add(15*time.Minute).Format(time.RFC3339))
	}
	var created struct {
		ID          string `json:"id"`
		ManageURL   string `json:"manage_url"`
		ManageToken string `json:"manage_token"`
	}
	req := `{"callback_number":"+14155550123","queue_id":"q1","reason":"billing","time_slot_matrix":` + slot(start) +
		`,"channel_preferences":{"primary":"voice"}}`
	if st := call("POST", "/api/v2/callbacks", tok.AccessToken, req, &created); st != 201 {
		t.Fatalf("create: %d", st)
	}
	if created.ManageURL != "https://callbacks.example.com/manage/"+created.ManageToken || created.ManageToken == "" {
		t.Fatalf("manage_url %q, token %q", created.ManageURL, created.ManageToken)
	}
	// The link opens the manage page, an HTML page.
	page, err := http.Get(srv.base + strings.TrimPrefix(created.ManageURL, "https://callbacks.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if ct := page.Header.Get("Content-Type"); page.StatusCode != 200 || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("the link answered %d %s, want the manage page", page.StatusCode, ct)
	}
	type simCallback struct {
		ScheduledTime time.Time         `json:"callbackScheduledTime"`
		Data          map[string]string `json:"data"`
	}
	scheduled := func() []simCallback {
		resp, err := http.Get(sim + "/sim/callbacks")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var cbs []simCallback
		if err := json.NewDecoder(resp.Body).Decode(&cbs); err != nil {
			t.Fatal(err)
		}
		return cbs
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after 30 s: %+v", what, scheduled())
			}
			time.Sleep(20 * time.Millisecond) // poll interval
		}
	}
	waitFor("callback in the simulator", func() bool {
		cbs := scheduled()
		return len(cbs) == 1 && cbs[0].ScheduledTime.Equal(start)
	})
	path := "/api/v2/self/" + created.ManageToken
	moved := start.Add(2 * time.Hour)
	if st := call("PATCH", path, "", `{"time_slot_matrix":`+slot(moved)+`}`, nil); st != 200 {
		t.Fatalf("self reschedule: %d", st)
	}
	waitFor("reschedule in the simulator", func() bool {
		cbs := scheduled()
		return len(cbs) == 1 && cbs[0].ScheduledTime.Equal(moved)
	})
	var p struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	}
	if st := call("PATCH", path, "", `{"time_slot_matrix":`+slot(start)+`}`, &p); st != 409 || p.Code != "change_not_allowed" || p.Reason != "max_reschedules" {
		t.Fatalf("second reschedule: %d %+v", st, p)
	}
	logText := srv.stop()
	if strings.Contains(logText, created.ManageToken) {
		t.Fatal("the server's log holds the token")
	}
	if !strings.Contains(logText, "reservation rescheduled by the customer") {
		t.Fatal("the server's log has no line of the customer's reschedule")
	}
}
