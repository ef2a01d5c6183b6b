package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/fakeclock"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

type overrideView struct {
	ID           string `json:"id"`
	Start        string `json:"start"`
	End          string `json:"end"`
	StartInput   string `json:"start_input"`
	Capacity     int    `json:"capacity"`
	Reason       string `json:"reason"`
	Actor        string `json:"actor"`
	OverCapacity []struct {
		ReservationID string `json:"reservation_id"`
		Capacity      int    `json:"capacity"`
		Booked        int    `json:"booked"`
	} `json:"over_capacity"`
}

type slotsView struct {
	Slots []struct {
		Start     string `json:"start"`
		Capacity  int    `json:"capacity"`
		Used      int    `json:"used"`
		Available bool   `json:"available"`
		Reason    string `json:"reason"`
	} `json:"slots"`
}

func TestOverridesOnSQLite(t *testing.T) {
	t.Parallel()
	testOverrides(t, nil, sqliteDSN)
}

func TestOverridesOnPostgres(t *testing.T) {
	t.Parallel()
	testOverrides(t, nil, func(t *testing.T) string { return storagetest.PostgresDSN(t) })
}

// testOverridesConformance (a TestOpenAPIConformance subtest) produces the
// answers of the override and over-capacity routes against the document.
func testOverridesConformance(t *testing.T, b *specBundle) {
	testOverrides(t, b.doc, sqliteDSN)
}

func testOverrides(t *testing.T, doc *openapiDoc, dsn func(t *testing.T) string) {
	start := time.Now().UTC().Truncate(time.Minute)
	setup := func(t *testing.T) *admissionServer {
		return newAdmissionServer(t, doc, dsn(t), fakeclock.New(start), reservation.Admission{}, nil)
	}
	t.Run("Availability", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		base := s.bucketStart(0)
		put := map[string]any{"start": base.Format(time.RFC3339), "end": base.Add(time.Hour).Format(time.RFC3339), "capacity": 0,
			"reason": "three agents short"}
		var o overrideView
		r := s.do(t, http.StatusCreated, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, put)
		r.decode(t, &o)
		if o.Capacity != 0 || o.Reason != "three agents short" || o.Actor != "ops" || !strings.HasPrefix(o.ID, "ov_") ||
			r.header.Get("Location") != "/api/v2/queues/queue_a/overrides/"+o.ID {
			t.Errorf("PUT answer %+v (Location %q), want capacity 0 by ops", o, r.header.Get("Location"))
		}
		avail := s.availability(t, base, base.Add(75*time.Minute))
		for i, sl := range avail.Slots {
			if want := i < 4; (sl.Capacity == 0) != want || sl.Available == want {
				t.Errorf("slot %s: capacity %d available %v, want closed = %v", sl.Start, sl.Capacity, sl.Available, want)
			}
		}
		s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
		// The same range again replaces it (same id), here with room for one.
		put["capacity"], put["reason"] = 1, "one agent back"
		var again overrideView
		s.do(t, http.StatusOK, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, put).decode(t, &again)
		if again.ID != o.ID || again.Capacity != 1 {
			t.Errorf("PUT of the same range: %+v, want override %s with capacity 1", again, o.ID)
		}
		var list struct {
			Items []overrideView `json:"items"`
		}
		s.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_a/overrides", s.website, nil).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].Capacity != 1 || list.Items[0].Reason != "one agent back" {
			t.Errorf("overrides = %+v, want the one, capacity 1", list.Items)
		}
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550101", "queue_a", 0))
		s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.website, s.body("+14155550102", "queue_a", 0))
		// A local date and time is read in the queue's zone (UTC here).
		local := map[string]any{"start": base.Add(2 * time.Hour).Format("2006-01-02T15:04"), "end": base.Add(3 * time.Hour).Format("2006-01-02T15:04"),
			"capacity": 7, "reason": "extra staff"}
		var lo overrideView
		s.do(t, http.StatusCreated, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, local).decode(t, &lo)
		if lo.Start != base.Add(2*time.Hour).Format(time.RFC3339) || lo.StartInput != local["start"] {
			t.Errorf("local override: start %s (input %s), want %s", lo.Start, lo.StartInput, base.Add(2*time.Hour).Format(time.RFC3339))
		}
		if a := s.availability(t, base.Add(2*time.Hour), base.Add(2*time.Hour+15*time.Minute)); len(a.Slots) != 1 || a.Slots[0].Capacity != 7 {
			t.Errorf("availability in the raised range: %+v, want capacity 7", a.Slots)
		}
		s.do(t, http.StatusOK, "DELETE", "/api/v2/queues/queue_a/overrides/"+o.ID+"?reason=all+back", s.ops, nil)
		s.do(t, http.StatusNotFound, "DELETE", "/api/v2/queues/queue_a/overrides/"+o.ID, s.ops, nil)
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550102", "queue_a", 0))
		entries, err := s.store.FindAuditEntries(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var audited []string
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "capacity.") && e.Outcome == "ok" {
				audited = append(audited, e.Action+" "+e.Actor+" "+e.Detail)
			}
		}
		if len(audited) != 4 || !strings.Contains(audited[0], `"reason":"three agents short"`) || !strings.Contains(audited[3], "capacity.override_delete ops") ||
			!strings.Contains(audited[3], `"reason":"all back"`) {
			t.Errorf("audit entries of the changes:\n%s\nwant put, put, put, delete by ops with their reasons", strings.Join(audited, "\n"))
		}
	})
	t.Run("Race", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		servers := []*admissionServer{s}
		if strings.HasPrefix(s.dsn, "postgres") {
			// Two processes on one database.
			servers = append(servers, newAdmissionServer(t, doc, s.dsn, s.clock, reservation.Admission{}, nil))
		}
		raceOverride(t, s, servers)
	})
	t.Run("SecondStore", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		if !strings.HasPrefix(s.dsn, "postgres") {
			t.Skip("one process holds a SQLite database")
		}
		other := newAdmissionServer(t, doc, s.dsn, s.clock, reservation.Admission{}, nil)
		base := s.bucketStart(0)
		other.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", other.website, other.body("+14155550100", "queue_a", 0))
		s.do(t, http.StatusCreated, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, map[string]any{
			"start": base.Format(time.RFC3339), "end": base.Add(15 * time.Minute).Format(time.RFC3339), "capacity": 1, "reason": "short"})
		if a := other.availability(t, base, base.Add(15*time.Minute)); len(a.Slots) != 1 || a.Slots[0].Capacity != 1 || a.Slots[0].Available {
			t.Errorf("the other process's availability: %+v, want capacity 1, full", a.Slots)
		}
		other.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", other.website, other.body("+14155550101", "queue_a", 0))
	})
	t.Run("OverCapacity", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		base := s.bucketStart(0)
		var ids []string
		for i := range 3 {
			var res struct {
				ID string `json:"id"`
			}
			s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body(fmt.Sprintf("+1415555010%d", i), "queue_a", 0)).decode(t, &res)
			ids = append(ids, res.ID)
			s.clock.Advance(time.Second) // created_at orders them
		}
		var o overrideView
		s.do(t, http.StatusCreated, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, map[string]any{
			"start": base.Format(time.RFC3339), "end": base.Add(15 * time.Minute).Format(time.RFC3339), "capacity": 1, "reason": "short"}).decode(t, &o)
		if len(o.OverCapacity) != 2 || o.OverCapacity[0].ReservationID != ids[1] || o.OverCapacity[1].ReservationID != ids[2] ||
			o.OverCapacity[0].Booked != 3 || o.OverCapacity[0].Capacity != 1 {
			t.Errorf("over capacity after the PUT: %+v, want %s and %s (the last booked), 3 booked of 1", o.OverCapacity, ids[1], ids[2])
		}
		var over struct {
			Items []struct {
				ReservationID string `json:"reservation_id"`
				Reservation   struct {
					CallbackNumber string `json:"callback_number"`
				} `json:"reservation"`
			} `json:"items"`
		}
		s.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_a/over-capacity", s.ops, nil).decode(t, &over)
		if len(over.Items) != 2 || over.Items[0].ReservationID != ids[1] || strings.Contains(over.Items[0].Reservation.CallbackNumber, "55501") {
			t.Errorf("over-capacity list: %+v, want %s, %s with masked numbers", over.Items, ids[1], ids[2])
		}
		var moved struct {
			Results []struct {
				ReservationID string `json:"reservation_id"`
				Outcome       string `json:"outcome"`
				Reason        string `json:"reason"`
				Reservation   struct {
					CallbackTime string `json:"callback_time"`
				} `json:"reservation"`
			} `json:"results"`
		}
		s.do(t, http.StatusOK, "POST", "/api/v2/queues/queue_a/over-capacity/move", s.ops,
			map[string]any{"reservation_ids": []string{ids[1], ids[2], ids[0], "cb_00000000000000000000"}}).decode(t, &moved)
		got := []string{}
		for _, m := range moved.Results {
			got = append(got, m.Outcome+" "+m.Reason)
		}
		if want := "moved ,moved ,failed not_over_capacity,failed not_found"; strings.Join(got, ",") != want {
			t.Errorf("move outcomes %q, want %q", strings.Join(got, ","), want)
		}
		// The nearest free bucket: the one before (as near as the one after,
		// and earlier).
		for i := range 2 {
			want := base.Add(-15 * time.Minute)
			if m := moved.Results[i]; m.Reservation.CallbackTime != want.Format("2006-01-02T15:04:05.000Z") {
				t.Errorf("%s moved to %s, want %s", m.ReservationID, m.Reservation.CallbackTime, want)
			}
		}
		s.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_a/over-capacity", s.ops, nil).decode(t, &over)
		if len(over.Items) != 0 {
			t.Errorf("over-capacity after the move: %+v, want none", over.Items)
		}
		events, err := s.store.FindEvents(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Type == reservation.EventRescheduled && e.Origin == reservation.OriginOperator && e.Actor == "ops" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d reservation.rescheduled events of origin operator by ops, want 2", n)
		}
	})
	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		base := s.bucketStart(0)
		rng := func(extra ...any) map[string]any {
			b := map[string]any{"start": base.Format(time.RFC3339), "end": base.Add(time.Hour).Format(time.RFC3339), "capacity": 2, "reason": "why"}
			for i := 0; i+1 < len(extra); i += 2 {
				if extra[i+1] == nil {
					delete(b, extra[i].(string))
				} else {
					b[extra[i].(string)] = extra[i+1]
				}
			}
			return b
		}
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{rng("end", base.Add(-time.Hour).Format(time.RFC3339)), "end"},
			{rng("end", base.Add(400*24*time.Hour).Format(time.RFC3339)), "end"},
			{rng("start", "tomorrow"), "start"},
			{rng("capacity", -1), "capacity"},
			{rng("capacity", "2"), "capacity"},
			{rng("reason", nil), "reason"},
			{rng("reason", "  "), "reason"},
			{rng("start", nil), "start"},
			{rng("extra", true), "extra"},
		} {
			p := s.do(t, http.StatusBadRequest, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, c.body).problem(t)
			if p.Code != "invalid" {
				t.Errorf("PUT %v: code %q, want invalid", c.body, p.Code)
			}
			wantField(t, p, c.field)
		}
		s.do(t, http.StatusNotFound, "PUT", "/api/v2/queues/queue_nope/overrides", s.ops, rng())
		s.do(t, http.StatusNotFound, "GET", "/api/v2/queues/queue_nope/overrides", s.ops, nil)
		s.do(t, http.StatusNotFound, "GET", "/api/v2/queues/queue_nope/over-capacity", s.ops, nil)
		s.do(t, http.StatusNotFound, "POST", "/api/v2/queues/queue_nope/over-capacity/move", s.ops, map[string]any{"reservation_ids": []string{"cb_1"}})
		s.do(t, http.StatusNotFound, "DELETE", "/api/v2/queues/queue_nope/overrides/ov_0000000000", s.ops, nil)
		if p := s.do(t, http.StatusForbidden, "PUT", "/api/v2/queues/queue_a/overrides", s.website, rng()).problem(t); p.Code != "forbidden" {
			t.Errorf("PUT without capacity:write: code %q, want forbidden", p.Code)
		}
		s.do(t, http.StatusForbidden, "POST", "/api/v2/queues/queue_a/over-capacity/move", s.website, map[string]any{"reservation_ids": []string{"cb_1"}})
		s.do(t, http.StatusUnsupportedMediaType, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, "{}", "Content-Type", "text/plain")
		s.do(t, http.StatusUnsupportedMediaType, "POST", "/api/v2/queues/queue_a/over-capacity/move", s.ops, "{}", "Content-Type", "text/plain")
		huge := `{"reason": "` + strings.Repeat("x", 70<<10) + `"}`
		s.do(t, http.StatusRequestEntityTooLarge, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, huge)
		s.do(t, http.StatusRequestEntityTooLarge, "POST", "/api/v2/queues/queue_a/over-capacity/move", s.ops, huge)
		for _, body := range []any{map[string]any{}, map[string]any{"reservation_ids": []string{}}, map[string]any{"reservation_ids": "cb_1"}} {
			wantField(t, s.do(t, http.StatusBadRequest, "POST", "/api/v2/queues/queue_a/over-capacity/move", s.ops, body).problem(t), "reservation_ids")
		}
		wantField(t, s.do(t, http.StatusBadRequest, "DELETE", "/api/v2/queues/queue_a/overrides/ov_0000000000?reason="+strings.Repeat("x", 501), s.ops, nil).problem(t), "reason")
	})
}

// raceOverride books one bucket from many goroutines (through each of
// servers in turn) while a PUT lowers its capacity from 100 to 5, sent
// once 8 creates have been answered and more are on their way: every
// create that commits after the PUT (in the audit log's order, which is
// commit order) must find room under the new cap (so none does). Without
// the creates' shared capacity lock, creates of the other process commit
// after the PUT at the old cap, and this fails.
func raceOverride(t *testing.T, s *admissionServer, servers []*admissionServer) {
	base := s.bucketStart(0)
	const n, newCap, putAfter = 60, 5, 8
	gate, half := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var created int
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			srv := servers[i%len(servers)]
			res, err := postJSON(srv.srv, srv.website, srv.body(fmt.Sprintf("+1415555%04d", 1000+i), "queue_a", 0))
			if err != nil {
				t.Error(err)
				return
			}
			if res.status == http.StatusCreated {
				mu.Lock()
				created++
				if created == putAfter {
					close(half)
				}
				mu.Unlock()
			} else if res.status != http.StatusConflict {
				t.Errorf("create: %d %s", res.status, res.body)
			}
		}()
	}
	wg.Add(1)
	var o overrideView
	go func() {
		defer wg.Done()
		<-half
		s.do(t, http.StatusCreated, "PUT", "/api/v2/queues/queue_a/overrides", s.ops, map[string]any{
			"start": base.Format(time.RFC3339), "end": base.Add(15 * time.Minute).Format(time.RFC3339), "capacity": newCap, "reason": "short"}).decode(t, &o)
	}()
	close(gate)
	wg.Wait()
	entries, err := s.store.FindAuditEntries(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	before, after, seen := 0, 0, false
	for _, e := range entries {
		switch {
		case e.Action == "capacity.override_put":
			seen = true
		case e.Action == "reservation.create" && e.Outcome == "ok" && !seen:
			before++
		case e.Action == "reservation.create" && e.Outcome == "ok":
			after++
		}
	}
	if !seen || before+after != created {
		t.Fatalf("audit log: put seen %v, %d + %d creates, want the put and %d creates", seen, before, after, created)
	}
	if before+after > max(before, newCap) {
		t.Errorf("%d creates committed before the PUT and %d after it: the bucket holds %d, over the new cap %d", before, after, before+after, newCap)
	}
	if want := max(before+after-newCap, 0); len(o.OverCapacity) != want {
		t.Errorf("the PUT lists %d over capacity, want %d (%d booked, cap %d)", len(o.OverCapacity), want, before+after, newCap)
	}
	t.Logf("%d creates before the PUT, %d after", before, after)
}

// bucketStart is the start of the i-th bucket of body's slots.
func (s *admissionServer) bucketStart(i int) time.Time {
	return s.now.UTC().Truncate(time.Hour).Add(49*time.Hour + time.Duration(i)*15*time.Minute)
}

func (s *admissionServer) availability(t *testing.T, from, to time.Time) slotsView {
	t.Helper()
	var v slotsView
	s.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_a/availability?from="+strings.ReplaceAll(from.Format(time.RFC3339), "+", "%2B")+
		"&to="+strings.ReplaceAll(to.Format(time.RFC3339), "+", "%2B"), s.website, nil).decode(t, &v)
	return v
}
