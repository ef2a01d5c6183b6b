package httpapi_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/httpapi"
)

// TestReportOutcomes: GET /api/v2/reports/outcomes counts a client's
// reservations per queue and day of the queue's calendar, as JSON and as
// CSV; another client without callback:admin counts none of them, one with
// it counts all; bad parameters are problems naming the field.
func TestReportOutcomes(t *testing.T) {
	t.Parallel()
	b := newAPIWith(t, func(d *httpapi.Deps) {
		d.Auth = auth.NewService(d.Store.(auth.Store), []*auth.Client{
			auth.NewClient("website", trickySecret, []string{"callback:read", "callback:write"}, 0, 0),
			auth.NewClient("reader", "reader-secret-0123456789", []string{"callback:read"}, 0, 0),
			auth.NewClient("ops", "ops-secret-0123456789", []string{"callback:read", "callback:admin"}, 0, 0),
		}, time.Hour)
	})
	web := b.token(t, "website", trickySecret)
	slot := b.slot(3)
	start, _ := time.Parse(time.RFC3339, slot["start"])
	day := start.In(b.loc).Format(time.DateOnly)
	for _, id := range []string{"r1", "r2"} {
		if r := b.do(t, "POST", "/api/v2/callbacks", web, b.create(id, slot)); r.status != 201 {
			t.Fatalf("create %s: %d %s", id, r.status, r.raw)
		}
	}
	list := b.do(t, "GET", "/api/v2/callbacks?queue_id=queue_12345", web, nil)
	items, _ := list.body["entities"].([]any)
	if len(items) == 0 {
		items, _ = list.body["items"].([]any)
	}
	if len(items) != 2 {
		t.Fatalf("list: %s", list.raw)
	}
	id := items[0].(map[string]any)["id"].(string)
	if r := b.do(t, "DELETE", "/api/v2/callbacks/"+id, web, nil); r.status != 200 && r.status != 204 {
		t.Fatalf("cancel: %d %s", r.status, r.raw)
	}

	path := "/api/v2/reports/outcomes?queue_id=queue_12345&from=" + day + "&to=" + day
	dayOf := func(token string) map[string]any {
		t.Helper()
		r := b.do(t, "GET", path, token, nil)
		if r.status != 200 {
			t.Fatalf("report: %d %s", r.status, r.raw)
		}
		days, _ := r.body["days"].([]any)
		if len(days) != 1 {
			t.Fatalf("report days: %s", r.raw)
		}
		return days[0].(map[string]any)
	}
	d := dayOf(web)
	if d["date"] != day || d["booked"] != float64(2) || d["canceled"] != float64(1) || d["canceled_by_customer"] != float64(0) ||
		d["reach_rate"] != nil || d["queue_id"] != "queue_12345" {
		t.Errorf("website's day: %v", d)
	}
	if d := dayOf(b.token(t, "reader", "reader-secret-0123456789")); d["booked"] != float64(0) {
		t.Errorf("another client counts the website's reservations: %v", d)
	}
	if d := dayOf(b.token(t, "ops", "ops-secret-0123456789")); d["booked"] != float64(2) {
		t.Errorf("callback:admin counts %v, want every client's", d["booked"])
	}

	r := b.do(t, "GET", path+"&format=csv", web, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", r.status, r.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.raw))).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "queue_id" || rows[1][1] != day || rows[1][2] != "2" || rows[1][5] != "1" {
		t.Errorf("csv rows %q, %v", rows, err)
	}

	for _, bad := range []struct{ query, field string }{
		{"from=2026-13-01", "from"},
		{"from=2026-12-05&to=2026-12-01", "to"},
		{"from=2026-01-01&to=2026-12-31", "to"},
		{"punctual_within=soon", "punctual_within"},
		{"format=xml", "format"},
	} {
		r := b.do(t, "GET", "/api/v2/reports/outcomes?"+bad.query, web, nil)
		errs, _ := r.body["errors"].(map[string]any)
		if r.status != 400 || errs[bad.field] == nil {
			t.Errorf("%s: %d %s, want 400 naming %s", bad.query, r.status, r.raw, bad.field)
		}
	}
	if r := b.do(t, "GET", "/api/v2/reports/outcomes?queue_id=nope", web, nil); r.status != 404 {
		t.Errorf("unknown queue: %d", r.status)
	}
}

// testReportsConformance produces the report's documented answers, each
// checked against openapi.json.
func testReportsConformance(t *testing.T, b *specBundle) {
	tok := b.token(t, "reader", readerSecret, "")
	day := b.now.UTC().Format(time.DateOnly)
	r := b.do(t, http.StatusOK, "GET", "/api/v2/reports/outcomes?from="+day+"&to="+day, tok, nil)
	if !strings.Contains(string(r.body), `"days"`) {
		t.Errorf("report: %s", r.body)
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/reports/outcomes?format=csv", tok, nil)
	b.do(t, http.StatusBadRequest, "GET", "/api/v2/reports/outcomes?from=tomorrow", tok, nil)
	b.do(t, http.StatusNotFound, "GET", "/api/v2/reports/outcomes?queue_id=nope", tok, nil)
}
