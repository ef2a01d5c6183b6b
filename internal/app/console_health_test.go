package app

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/password"
)

// TestConsoleRetrySync: a reschedule the simulator refuses (400) fails the
// reservation's sync; the health page lists it with Genesys' reason and a
// Retry for the queue's supervisor (none for a viewer, whose forged POST
// is refused 403); Retry syncs it, audited with the operator's name, and
// redirects back to the health page. The reports page and its CSV count
// the booking.
func TestConsoleRetrySync(t *testing.T) {
	t.Parallel()
	srv, token := serveConfig(t, "clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write, callback:admin]\n"+
		"operators:\n  - {username: ada, password_hash: '"+password.New("ada-secret-pw")+"', role: supervisor, queues: [q1]}\n"+
		"  - {username: vic, password_hash: '"+password.New("vic-secret-pw")+"', role: viewer}\n"+
		"queues:\n  - {id: q1, name: Support, timezone: America/New_York, hours: 24/7}\n")
	slot := func(s time.Time) string {
		return fmt.Sprintf(`[{"start":%q,"end":%q}]`, s.Format(time.RFC3339), s.Add(15*time.Minute).Format(time.RFC3339))
	}
	start := time.Now().Truncate(15 * time.Minute).Add(2 * time.Hour).UTC()
	var created struct {
		ID string `json:"id"`
	}
	if st := srv.call("POST", "/api/v2/callbacks", token, `{"callback_number":"+14155550123","queue_id":"q1",
		"time_slot_matrix":`+slot(start)+`,"channel_preferences":{"primary":"voice"}}`, &created); st != 201 {
		t.Fatalf("create: %d", st)
	}
	waitSynced(t, srv, token, created.ID, start)

	// The simulator refuses the reschedule for good.
	req, _ := http.NewRequest("POST", srv.sim+"/sim/faults", strings.NewReader(
		`{"method":"PATCH","pathPrefix":"/api/v2/conversations/callbacks","status":400}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("script fault: %v %v", resp, err)
	}
	resp.Body.Close()
	moved := start.Add(time.Hour)
	if st := srv.call("PATCH", "/api/v2/callbacks/"+created.ID, token, `{"time_slot_matrix":`+slot(moved)+`}`, nil); st != 200 {
		t.Fatalf("reschedule: %d", st)
	}
	var got struct {
		Sync struct {
			State, Error string
		} `json:"sync"`
	}
	for deadline := time.Now().Add(30 * time.Second); got.Sync.State != "failed"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sync %+v after 30 s, want failed", got.Sync)
		}
		srv.call("GET", "/api/v2/callbacks/"+created.ID, token, "", &got)
	}

	ada := signedIn(t, srv.base, "ada", "ada-secret-pw")
	st, page := ada.get("/console/health")
	if st != 200 || !strings.Contains(page, created.ID) || !strings.Contains(page, "status 400") ||
		!strings.Contains(page, ">Retry</button>") {
		t.Fatalf("health (%d) lacks the failed sync, its reason or Retry:\n%s", st, page)
	}
	for _, want := range []string{"Sync to Genesys", "Notification listener", "Genesys budget", "calls per minute"} {
		if !strings.Contains(page, want) {
			t.Errorf("health lacks %q", want)
		}
	}

	vic := signedIn(t, srv.base, "vic", "vic-secret-pw")
	if _, vpage := vic.get("/console/health"); !strings.Contains(vpage, created.ID) || strings.Contains(vpage, ">Retry</button>") {
		t.Errorf("a viewer's health page: the failed sync listed %v, Retry shown %v", strings.Contains(vpage, created.ID),
			strings.Contains(vpage, ">Retry</button>"))
	}
	if st, _ := vic.post("/console/reservations/"+created.ID+"/retry-sync", url.Values{"csrf": {vic.csrf}}); st != http.StatusForbidden {
		t.Errorf("a viewer's retry: %d, want 403", st)
	}
	if st, _ := ada.post("/console/reservations/"+created.ID+"/retry-sync", url.Values{"back": {"/console/health"}}); st != http.StatusForbidden {
		t.Errorf("a retry without the CSRF token: %d, want 403", st)
	}
	st, loc := ada.post("/console/reservations/"+created.ID+"/retry-sync", url.Values{"csrf": {ada.csrf}, "back": {"/console/health"}})
	if st != http.StatusSeeOther || loc != "/console/health?retried="+created.ID {
		t.Fatalf("retry: %d to %q", st, loc)
	}
	waitSynced(t, srv, token, created.ID, moved)
	if _, page := ada.get("/console/health"); strings.Contains(page, "r-"+created.ID) {
		t.Error("the health page still lists the sync as failed")
	}
	// Back elsewhere than the console is ignored.
	if st, loc := ada.post("/console/reservations/"+created.ID+"/retry-sync", url.Values{"csrf": {ada.csrf},
		"back": {"https://evil.example/"}}); st != http.StatusConflict {
		t.Errorf("a retry of a synced reservation: %d %q, want 409", st, loc)
	}

	// Reports: the booking counts on its day; the CSV is the API's.
	day := moved.In(mustZone(t, "America/New_York")).Format("2006-01-02")
	st, rep := ada.get("/console/reports?from=" + day + "&to=" + day)
	if st != 200 || !strings.Contains(rep, "Outcomes per day, Support") || !strings.Contains(rep, "<th scope=\"row\">"+day+"</th><td>1</td>") {
		t.Errorf("reports (%d) lack the booking:\n%s", st, rep)
	}
	st, csv := ada.get("/console/reports.csv?from=" + day + "&to=" + day)
	var api string
	{
		req, _ := http.NewRequest("GET", srv.base+"/api/v2/reports/outcomes?format=csv&queue_id=q1&from="+day+"&to="+day, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		api = string(b)
	}
	if st != 200 || csv != api || !strings.Contains(csv, "q1,"+day+",1,") {
		t.Errorf("CSV (%d):\n%s\nAPI:\n%s", st, csv, api)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
