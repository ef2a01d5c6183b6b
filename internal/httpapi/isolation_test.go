package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
)

// testIsolation: one API client cannot see or touch another's
// reservations, webhook endpoints, feeds or events; it gets the 404 of
// something that does not exist. Only the admin scopes reach across, and
// the audit log then names both the client that acted and the owner.
func testIsolation(t *testing.T, b *specBundle) {
	partner := b.token(t, "partner", partnerSecret, "")
	ops := b.token(t, "ops", opsSecret, "")
	opsPlain := b.token(t, "ops", opsSecret, "callback:read callback:write webhook:read webhook:write")

	// The website's reservation and endpoint.
	mine := b.create(t, 0, "callback_number", "+14155550142")
	var ep endpointView
	b.do(t, http.StatusCreated, "POST", "/api/v2/webhooks", b.website,
		map[string]any{"name": "CRM", "url": "https://hooks.example.com/website"}).decode(t, &ep)

	notFound := func(method, path string, body any) {
		t.Helper()
		p := b.do(t, http.StatusNotFound, method, path, partner, body).problem(t)
		if p.Code != "not_found" {
			t.Errorf("%s %s by another client: code %q, want not_found", method, path, p.Code)
		}
	}
	// The same answer as for ids that do not exist.
	missing := b.do(t, http.StatusNotFound, "GET", "/api/v2/callbacks/cb_00000000000000000000", partner, nil).body
	got := b.do(t, http.StatusNotFound, "GET", "/api/v2/callbacks/"+mine.ID, partner, nil).body
	var pm, pg map[string]any
	_ = json.Unmarshal(missing, &pm)
	_ = json.Unmarshal(got, &pg)
	if pm["detail"] != pg["detail"] || pm["title"] != pg["title"] {
		t.Errorf("another client's reservation answers %s; one that does not exist %s: they must not differ", got, missing)
	}
	notFound("GET", "/api/v2/callbacks/"+mine.ID+".ics", nil)
	notFound("PATCH", "/api/v2/callbacks/"+mine.ID, map[string]any{"reason": "hijacked"})
	notFound("DELETE", "/api/v2/callbacks/"+mine.ID, nil)
	if r := b.do(t, http.StatusOK, "GET", "/api/v2/callbacks/"+mine.ID, b.website, nil).reservation(t); r.Version != 1 || r.Status != "scheduled" || r.Reason != "Billing question" {
		t.Errorf("after another client's PATCH and DELETE the reservation is %+v, want it untouched", r)
	}

	// Lists and filters.
	theirs := b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", partner, b.createBody(1)).reservation(t)
	var page struct {
		Items []struct {
			ID       string `json:"id"`
			ClientID string `json:"client_id"`
		} `json:"items"`
	}
	ids := func(token, query string) []string {
		t.Helper()
		b.do(t, http.StatusOK, "GET", "/api/v2/callbacks?"+query, token, nil).decode(t, &page)
		var out []string
		for _, it := range page.Items {
			out = append(out, it.ID)
		}
		return out
	}
	for _, q := range []string{"queue_id=queue_12345", "callback_number=%2B14155550199", "", "client_id=partner"} {
		if got := ids(partner, q); len(got) != 1 || got[0] != theirs.ID {
			t.Errorf("partner's list ?%s = %v, want only its own %s", q, got, theirs.ID)
		}
	}
	if got := ids(partner, "callback_number=%2B14155550142"); len(got) != 0 {
		t.Errorf("partner finds %v by the website's customer's number, want nothing", got)
	}
	if got := ids(ops, "callback_number=%2B14155550142"); len(got) != 1 || got[0] != mine.ID {
		t.Errorf("callback:admin finds %v by the number, want %s", got, mine.ID)
	}
	b.do(t, http.StatusForbidden, "GET", "/api/v2/callbacks?client_id=website", partner, nil)
	if got := ids(ops, "queue_id=queue_12345"); len(got) != 2 {
		t.Errorf("callback:admin list = %v, want both clients' reservations", got)
	}
	if got := ids(ops, "client_id=website"); len(got) != 1 || got[0] != mine.ID {
		t.Errorf("callback:admin list ?client_id=website = %v, want %s", got, mine.ID)
	}
	if got := ids(opsPlain, ""); len(got) != 0 {
		t.Errorf("a token of the admin client without callback:admin lists %v, want only its own (none)", got)
	}

	// Calendar feeds: with a Bearer token and with each client's feed token.
	feed := "/api/v2/queues/queue_12345/calendar.ics"
	uid := func(id string) []byte { return []byte("UID:" + id + "@slotline") }
	cal := b.do(t, http.StatusOK, "GET", feed, partner, nil).body
	if bytes.Contains(cal, uid(mine.ID)) || !bytes.Contains(cal, uid(theirs.ID)) {
		t.Errorf("partner's feed must hold its reservation and not the website's:\n%s", cal)
	}
	feedToken := func(token string) string {
		var out struct {
			Token string `json:"token"`
		}
		b.do(t, http.StatusOK, "POST", "/api/v2/queues/queue_12345/calendar-token", token, nil).decode(t, &out)
		return out.Token
	}
	websiteFeed, partnerFeed, opsFeed := feedToken(b.website), feedToken(partner), feedToken(ops)
	for _, tt := range []struct {
		name, token string
		mine, their bool
	}{{"website", websiteFeed, true, false}, {"partner", partnerFeed, false, true}, {"ops", opsFeed, true, true}} {
		cal := b.do(t, http.StatusOK, "GET", feed+"?token="+url.QueryEscape(tt.token), "", nil).body
		if bytes.Contains(cal, uid(mine.ID)) != tt.mine || bytes.Contains(cal, uid(theirs.ID)) != tt.their {
			t.Errorf("%s's feed token: website's %v (want %v), partner's %v (want %v)", tt.name,
				bytes.Contains(cal, uid(mine.ID)), tt.mine, bytes.Contains(cal, uid(theirs.ID)), tt.their)
		}
	}
	// A client's new feed token leaves the others' working.
	feedToken(partner)
	b.do(t, http.StatusOK, "GET", feed+"?token="+url.QueryEscape(websiteFeed), "", nil)
	b.do(t, http.StatusUnauthorized, "GET", feed+"?token="+url.QueryEscape(partnerFeed), "", nil)

	// Webhook endpoints.
	epPath := "/api/v2/webhooks/" + ep.ID
	notFound("GET", epPath, nil)
	notFound("PATCH", epPath, map[string]any{"url": "https://evil.example.com/", "include_numbers": true})
	notFound("POST", epPath+"/rotate-secret", nil)
	notFound("GET", epPath+"/deliveries", nil)
	notFound("POST", epPath+"/deliveries/msg_00000000000000000000000000/retry", nil)
	notFound("POST", epPath+"/test", nil)
	notFound("DELETE", epPath, nil)
	var still endpointView
	b.do(t, http.StatusOK, "GET", epPath, b.website, nil).decode(t, &still)
	if still.URL != "https://hooks.example.com/website" || still.IncludeNumbers {
		t.Errorf("after another client's PATCH the endpoint is %+v, want it untouched", still)
	}
	var theirEP endpointView
	b.do(t, http.StatusCreated, "POST", "/api/v2/webhooks", partner,
		map[string]any{"name": "Partner CRM", "url": "https://hooks.example.com/partner"}).decode(t, &theirEP)
	var opsEP endpointView
	b.do(t, http.StatusCreated, "POST", "/api/v2/webhooks", ops,
		map[string]any{"name": "Operations", "url": "https://hooks.example.com/ops"}).decode(t, &opsEP)
	var list struct {
		Items []endpointView `json:"items"`
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/webhooks", partner, nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != theirEP.ID {
		t.Errorf("partner's webhooks = %+v, want only its own", list.Items)
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/webhooks", ops, nil).decode(t, &list)
	if len(list.Items) != 3 {
		t.Errorf("webhook:admin lists %d endpoints, want all 3", len(list.Items))
	}

	// Deliveries: each endpoint gets its own client's events; the admin's,
	// everyone's.
	second := b.create(t, 2)
	theirSecond := b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", partner, b.createBody(3)).reservation(t)
	deliveries := func(token, id string) int {
		var out struct {
			Items []struct {
				EventType string `json:"event_type"`
			} `json:"items"`
		}
		b.do(t, http.StatusOK, "GET", "/api/v2/webhooks/"+id+"/deliveries", token, nil).decode(t, &out)
		return len(out.Items)
	}
	if n := deliveries(b.website, ep.ID); n != 1 {
		t.Errorf("the website's endpoint has %d deliveries, want 1 (its second reservation, not the partner's)", n)
	}
	if n := deliveries(partner, theirEP.ID); n != 1 {
		t.Errorf("the partner's endpoint has %d deliveries, want 1", n)
	}
	if n := deliveries(ops, opsEP.ID); n != 2 {
		t.Errorf("the admin client's endpoint has %d deliveries, want both clients' 2", n)
	}

	// The stream, from the start of the log.
	dial := func(token string) *websocket.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.srv.URL, "http")+"/api/v2/callbacks/websocket?after=0",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		if err != nil {
			t.Fatal(err)
		}
		ws.SetReadLimit(1 << 20)
		t.Cleanup(func() { ws.CloseNow() })
		return ws
	}
	ws := dial(partner)
	for _, want := range []string{theirs.ID, theirSecond.ID} {
		if ev := readEvent(t, ws); ev.ReservationID != want || ev.Reservation == nil || ev.Reservation.ClientID != "partner" {
			t.Fatalf("partner's stream sent %s of %s, want the event of its own %s", ev.Type, ev.ReservationID, want)
		}
	}
	// Its webhook endpoint's ping is its own; the website's next change is not.
	if _, err := b.book.Cancel(context.Background(), booking.Caller{ClientID: "website"}, second.ID, nil); err != nil {
		t.Fatal(err)
	}
	b.do(t, http.StatusAccepted, "POST", "/api/v2/webhooks/"+theirEP.ID+"/test", partner, nil)
	if ev := readEvent(t, ws); ev.Type != reservation.EventWebhookPing || ev.Webhook == nil || ev.Webhook.EndpointID != theirEP.ID {
		t.Fatalf("partner's stream sent %s (%s), want the ping of its endpoint", ev.Type, ev.ReservationID)
	}
	admin := dial(ops)
	if ev := readEvent(t, admin); ev.ReservationID != mine.ID {
		t.Fatalf("callback:admin stream starts with %s, want the website's %s", ev.ReservationID, mine.ID)
	}

	// The admin's change of another client's reservation is audited with
	// both names.
	b.do(t, http.StatusOK, "PATCH", "/api/v2/callbacks/"+mine.ID, ops, map[string]any{"reason": "Supervisor follow-up"})
	entries, err := b.store.FindAuditEntries(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Target == mine.ID && e.Action == "reservation.update" && e.Outcome == audit.OutcomeOK {
			found = true
			if e.Actor != "ops" || !strings.Contains(e.Detail, `"owner":"website"`) {
				t.Errorf("audit of the admin's update: actor %q, detail %s; want ops and owner website", e.Actor, e.Detail)
			}
		}
	}
	if !found {
		t.Error("the admin's update is not in the audit log")
	}
	b.do(t, http.StatusNoContent, "DELETE", "/api/v2/webhooks/"+ep.ID, ops, nil)
	b.do(t, http.StatusNotFound, "GET", "/api/v2/webhooks/"+ep.ID, b.website, nil)
}
