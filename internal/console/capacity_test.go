package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

type capBundle struct {
	*bundle
	book *booking.Service
}

// setupCapacity is the console with the booking service over two queues
// in New York: q1 open 09:00–17:00 on weekdays (15-minute buckets of
// capacity 2), q2 24/7. The clock is Monday 2030-06-03 05:00 in New York.
func setupCapacity(t *testing.T) *capBundle {
	t.Helper()
	store := migratedStore(t)
	b := &bundle{t: t, store: store}
	b.clock.Store(start.UnixMicro())
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	day, _ := schedule.ParseInterval("09:00-17:00")
	var hours [7][]schedule.Interval
	for d := time.Monday; d <= time.Friday; d++ {
		hours[d] = []schedule.Interval{day}
	}
	queues := []*booking.Queue{
		{ID: "q1", Name: "Support", TimeZone: loc.String(), Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 2,
			Hours: hours, Horizon: 30 * 24 * time.Hour}},
		{ID: "q2", Name: "Sales", TimeZone: loc.String(), Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 5,
			AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}},
	}
	book := booking.New(store, queues, booking.Options{Now: b.now})
	c, err := console.New(console.Deps{
		Store: store,
		Operators: []config.Operator{
			{Username: "ada", PasswordHash: hash("ada-pw"), Role: "supervisor", Queues: []string{"q1"}},
			{Username: "vic", PasswordHash: hash("vic-pw"), Role: "viewer"},
		},
		Queues:   []console.Queue{{ID: "q1", Name: "Support"}, {ID: "q2", Name: "Sales"}},
		Booking:  book,
		Capacity: store,
		Now:      b.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(c)
	t.Cleanup(b.srv.Close)
	return &capBundle{bundle: b, book: book}
}

// bookAt books a reservation of q1 in the 15-minute slot starting at the
// New York wall time (2030-06-DD HH:MM).
func (b *capBundle) bookAt(wall, number string) *reservation.Reservation {
	b.t.Helper()
	loc, _ := time.LoadLocation("America/New_York")
	st, err := time.ParseInLocation("2006-01-02 15:04", wall, loc)
	if err != nil {
		b.t.Fatal(err)
	}
	req, err := reservation.DecodeCreate([]byte(fmt.Sprintf(`{"callback_number":%q,"queue_id":"q1",
		"time_slot_matrix":[{"start":%q,"end":%q}],"channel_preferences":{"primary":"voice","allow_sms":true}}`,
		number, st.UTC().Format(time.RFC3339), st.Add(15*time.Minute).UTC().Format(time.RFC3339))))
	if err != nil {
		b.t.Fatal(err)
	}
	res, err := b.book.Create(context.Background(), booking.Caller{ClientID: "web"}, req)
	if err != nil {
		b.t.Fatalf("book %s: %v", wall, err)
	}
	b.advance(time.Millisecond) // distinct created_at: "booked last" is read by it
	return res.Reservation
}

func (b *capBundle) post(c *http.Client, path string, form url.Values) response {
	b.t.Helper()
	return b.do(c, "POST", path, form, "Sec-Fetch-Site", "same-origin", "Origin", b.srv.URL)
}

func (b *capBundle) auditsOf(action string) []string {
	b.t.Helper()
	var out []string
	for _, e := range b.audits() {
		if e.Action == action {
			out = append(out, e.Actor+" "+e.Target)
		}
	}
	return out
}

var ariaRE = regexp.MustCompile(`aria-label="([^"]*)"`)

func labels(body string) map[string]bool {
	out := map[string]bool{}
	for _, m := range ariaRE.FindAllStringSubmatch(body, -1) {
		out[strings.ReplaceAll(m[1], "&#39;", "'")] = true
	}
	return out
}

func TestCapacityHeatmap(t *testing.T) {
	t.Parallel()
	b := setupCapacity(t)
	b.bookAt("2030-06-04 10:00", "+14155550101")
	b.bookAt("2030-06-04 10:00", "+14155550102")
	b.bookAt("2030-06-04 10:15", "+14155550103")
	c := b.client()
	b.mustSignIn(c, "ada", "ada-pw")

	t.Run("OK", func(t *testing.T) {
		r := b.do(c, "GET", "/console/queues/q1/capacity", nil)
		if r.StatusCode != 200 {
			t.Fatalf("GET capacity: %d\n%s", r.StatusCode, r.body)
		}
		got := labels(r.body)
		for _, want := range []string{
			"Tue 4 Jun, 10:00–10:15: 2 of 2 booked",
			"Tue 4 Jun, 10:15–10:30: 1 of 2 booked",
			"Mon 3 Jun, 09:00–09:15: 0 of 2 booked",
			"Sat 8 Jun, 09:00–09:15: closed",
			"Sun 9 Jun, 16:45–17:00: closed",
		} {
			if !got[want] {
				t.Errorf("no cell named %q", want)
			}
		}
		// The columns are the open times only; the week is seven days.
		if got["Mon 3 Jun, 08:45–09:00: closed"] || got["Mon 3 Jun, 17:00–17:15: closed"] || got["Mon 10 Jun, 09:00–09:15: 0 of 2 booked"] {
			t.Error("the heatmap shows times outside 09:00–17:00 or an eighth day")
		}
		for _, want := range []string{`<th scope="row">Tue 4 Jun</th>`, `<th scope="col">09:00</th>`, `>2/2</td>`, `class="full"`,
			`href="?from=2030-06-10&amp;days=7&amp;lang=en"`, `href="?from=2030-05-27&amp;days=7&amp;lang=en"`,
			`src="/console/assets/js/capacity.js"`, `href="/console/assets/capacity.css"`, `role="region"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		if !strings.Contains(r.body, `action="/console/queues/q1/capacity/overrides"`) {
			t.Error("a supervisor of q1 has no change form")
		}
	})
	t.Run("From", func(t *testing.T) {
		r := b.do(c, "GET", "/console/queues/q1/capacity?from=2030-06-04&days=1", nil)
		got := labels(r.body)
		if !got["Tue 4 Jun, 10:00–10:15: 2 of 2 booked"] || got["Wed 5 Jun, 09:00–09:15: 0 of 2 booked"] || got["Mon 3 Jun, 09:00–09:15: 0 of 2 booked"] {
			t.Errorf("?from=2030-06-04&days=1 shows other days")
		}
	})
	t.Run("Languages", func(t *testing.T) {
		for lang, want := range map[string]string{
			"de": "Di., 4. Juni, 10:15–10:30: 1 von 2 gebucht",
			"fr": "mar. 4 juin, 10:15 – 10:30 : 1 sur 2 réservés",
			"es": "mar, 4 jun, 10:15–10:30: 1 de 2 reservadas",
		} {
			r := b.do(c, "GET", "/console/queues/q1/capacity?lang="+lang, nil)
			if !labels(r.body)[want] {
				t.Errorf("%s: no cell named %q", lang, want)
			}
		}
		r := b.do(c, "GET", "/console/queues/q1/capacity?lang=de", nil)
		if !labels(r.body)["Sa., 8. Juni, 09:00–09:15: geschlossen"] {
			t.Error("de: no closed cell")
		}
	})
	t.Run("JSON", func(t *testing.T) {
		r := b.do(c, "GET", "/console/queues/q1/capacity.json?from=2030-06-04&days=1", nil)
		var got struct {
			From  string
			Cells []struct{ ID, Label, Text, Class string }
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.StatusCode != 200 {
			t.Fatalf("capacity.json: %d %v\n%s", r.StatusCode, err, r.body)
		}
		if got.From != "2030-06-04" || len(got.Cells) != 32 {
			t.Fatalf("capacity.json: from %s, %d cells, want 2030-06-04 and 32", got.From, len(got.Cells))
		}
		cell := got.Cells[4] // 10:00
		if cell.Label != "Tue 4 Jun, 10:00–10:15: 2 of 2 booked" || cell.Text != "2/2" || cell.Class != "full" || !strings.HasPrefix(cell.ID, "b") {
			t.Errorf("cell 10:00: %+v", cell)
		}
		// One more booked: the JSON follows.
		b.bookAt("2030-06-04 10:15", "+14155550104")
		r = b.do(c, "GET", "/console/queues/q1/capacity.json?from=2030-06-04&days=1", nil)
		_ = json.Unmarshal([]byte(r.body), &got)
		if got.Cells[5].Label != "Tue 4 Jun, 10:15–10:30: 2 of 2 booked" {
			t.Errorf("after one more booking: %+v", got.Cells[5])
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"/console/queues/q2/capacity", "/console/queues/q2/capacity.json", "/console/queues/nope/capacity"} {
			if r := b.do(c, "GET", p, nil); r.StatusCode != 404 {
				t.Errorf("ada: GET %s = %d, want 404", p, r.StatusCode)
			}
		}
	})
}

func TestCapacityViewer(t *testing.T) {
	t.Parallel()
	b := setupCapacity(t)
	vic := b.client()
	b.mustSignIn(vic, "vic", "vic-pw")
	r := b.do(vic, "GET", "/console/queues/q1/capacity", nil)
	if r.StatusCode != 200 || !labels(r.body)["Mon 3 Jun, 09:00–09:15: 0 of 2 booked"] {
		t.Fatalf("viewer: %d", r.StatusCode)
	}
	for _, no := range []string{"capacity/overrides", "Move to nearest free slot", ">Keep<", ">Remove<", "Set capacity"} {
		if strings.Contains(r.body, no) {
			t.Errorf("the viewer's page has %q", no)
		}
	}
	// A forged change with the viewer's own valid token: 403, nothing changed.
	token := b.csrf(vic)
	form := url.Values{"csrf": {token}, "date": {"2030-06-04"}, "from": {"10:00"}, "to": {"11:00"}, "capacity": {"0"}, "reason": {"forged"}}
	if r := b.post(vic, "/console/queues/q1/capacity/overrides", form); r.StatusCode != 403 {
		t.Errorf("viewer's forged override: %d, want 403", r.StatusCode)
	}
	if r := b.post(vic, "/console/queues/q1/capacity/over-capacity", url.Values{"csrf": {token}, "id": {"x"}, "action": {"keep"}}); r.StatusCode != 403 {
		t.Errorf("viewer's forged keep: %d, want 403", r.StatusCode)
	}
	if ovs, _ := b.book.Overrides(context.Background(), "q1"); len(ovs) != 0 {
		t.Errorf("the forged override was stored: %+v", ovs)
	}
	// A supervisor's post without the token: 403.
	ada := b.client()
	b.mustSignIn(ada, "ada", "ada-pw")
	delete(form, "csrf")
	if r := b.post(ada, "/console/queues/q1/capacity/overrides", form); r.StatusCode != 403 {
		t.Errorf("override without csrf: %d, want 403", r.StatusCode)
	}
	// A supervisor of q1 changes nothing of q2: 404 (not hers to see).
	form.Set("csrf", b.csrf(ada))
	if r := b.post(ada, "/console/queues/q2/capacity/overrides", form); r.StatusCode != 404 {
		t.Errorf("ada's override of q2: %d, want 404", r.StatusCode)
	}
}

func TestCapacityOverrideForm(t *testing.T) {
	t.Parallel()
	b := setupCapacity(t)
	ada := b.client()
	b.mustSignIn(ada, "ada", "ada-pw")
	token := b.csrf(ada)
	for _, tt := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"NoReason", url.Values{"date": {"2030-06-04"}, "from": {"10:00"}, "to": {"11:00"}, "capacity": {"1"}}, "reason"},
		{"BadDate", url.Values{"date": {"4.6.2030"}, "from": {"10:00"}, "to": {"11:00"}, "capacity": {"1"}, "reason": {"x"}}, "date"},
		{"EndBeforeStart", url.Values{"date": {"2030-06-04"}, "from": {"11:00"}, "to": {"10:00"}, "capacity": {"1"}, "reason": {"x"}}, "to"},
		{"NoCapacity", url.Values{"date": {"2030-06-04"}, "from": {"10:00"}, "to": {"11:00"}, "reason": {"x"}}, "capacity"},
		{"Past", url.Values{"date": {"2030-06-02"}, "from": {"10:00"}, "to": {"11:00"}, "capacity": {"1"}, "reason": {"x"}}, "to"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("csrf", token)
			r := b.post(ada, "/console/queues/q1/capacity/overrides", tt.form)
			if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `role="alert"`) ||
				!strings.Contains(r.body, `id="f-`+tt.field+`" name="`+tt.field+`"`) ||
				!regexp.MustCompile(`name="`+tt.field+`"[^>]*aria-invalid="true" aria-describedby="f-`+tt.field+`-error"`).MatchString(r.body) {
				t.Errorf("%d; want 422 with %s marked\n%s", r.StatusCode, tt.field, r.body)
			}
		})
	}
	if ovs, _ := b.book.Overrides(context.Background(), "q1"); len(ovs) != 0 {
		t.Errorf("a refused form stored %+v", ovs)
	}
}

// TestCapacityChanges: a supervisor closes a range through the form (the
// availability shows it, audited with her name), the reservations it
// leaves over capacity are listed, Keep takes one off the list until a
// later override, Move moves the rest, Remove brings the configured
// capacity back.
func TestCapacityChanges(t *testing.T) {
	t.Parallel()
	b := setupCapacity(t)
	r1 := b.bookAt("2030-06-04 10:00", "+14155550101")
	r2 := b.bookAt("2030-06-04 10:00", "+14155550102")
	r3 := b.bookAt("2030-06-04 10:15", "+14155550103")
	ada := b.client()
	b.mustSignIn(ada, "ada", "ada-pw")
	token := b.csrf(ada)
	ctx := context.Background()

	r := b.post(ada, "/console/queues/q1/capacity/overrides", url.Values{"csrf": {token}, "date": {"2030-06-04"},
		"from": {"10:00"}, "to": {"10:30"}, "capacity": {"1"}, "reason": {"three agents short"}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/console/queues/q1/capacity?") {
		t.Fatalf("put: %d %s\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	loc, _ := time.LoadLocation("America/New_York")
	ten := time.Date(2030, 6, 4, 10, 0, 0, 0, loc)
	slots, err := b.book.Availability(ctx, "q1", ten, ten.Add(30*time.Minute), 0)
	if err != nil || len(slots) != 2 || slots[0].Capacity != 1 || slots[1].Capacity != 1 {
		t.Fatalf("availability after the override: %+v %v", slots, err)
	}
	if got := b.auditsOf("capacity.override_put"); len(got) != 1 || !strings.HasPrefix(got[0], "operator:ada ") {
		t.Errorf("override audit: %v", got)
	}
	page := b.do(ada, "GET", r.Header.Get("Location"), nil)
	for _, want := range []string{`role="status"`, "The capacity was changed.", "three agents short", ">1</td>", ">Remove</button>",
		`value="` + r2.ID + `" checked`, "Tue 4 Jun, 10:00–10:15, &#43;1********02 (2 booked, capacity 1)", "Move to nearest free slot", ">Keep</button>",
		`aria-label="Tue 4 Jun, 10:00–10:15: 2 of 1 booked"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("after the put, the page lacks %q\n%s", want, regexp.MustCompile(`(?s)<section aria-labelledby="over-heading">.*?</section>`).FindString(page.body))
		}
	}
	if strings.Contains(page.body, `value="`+r1.ID+`"`) || strings.Contains(page.body, `value="`+r3.ID+`"`) {
		t.Error("the over-capacity list has a reservation within capacity")
	}

	// Keep: off the list, audited.
	r = b.post(ada, "/console/queues/q1/capacity/over-capacity", url.Values{"csrf": {token}, "id": {r2.ID}, "action": {"keep"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("keep: %d\n%s", r.StatusCode, r.body)
	}
	page = b.do(ada, "GET", r.Header.Get("Location"), nil)
	if strings.Contains(page.body, `value="`+r2.ID+`"`) || !strings.Contains(page.body, "Reservations kept in their slot: 1.") ||
		!strings.Contains(page.body, "No reservation is above capacity.") {
		t.Errorf("after keep the reservation is still listed\n%s", page.body)
	}
	if got := b.auditsOf("capacity.over_capacity_keep"); len(got) != 1 || got[0] != "operator:ada "+r2.ID {
		t.Errorf("keep audit: %v", got)
	}
	// A later override of its bucket lists it again.
	b.advance(time.Second)
	r = b.post(ada, "/console/queues/q1/capacity/overrides", url.Values{"csrf": {token}, "date": {"2030-06-04"},
		"from": {"10:00"}, "to": {"10:15"}, "capacity": {"1"}, "reason": {"still short"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("second put: %d", r.StatusCode)
	}
	page = b.do(ada, "GET", "/console/queues/q1/capacity", nil)
	if !strings.Contains(page.body, `value="`+r2.ID+`" checked`) {
		t.Error("after a later override the kept reservation is not listed again")
	}

	// Move: to the nearest free slot (09:45, as near as 10:30 and earlier).
	r = b.post(ada, "/console/queues/q1/capacity/over-capacity", url.Values{"csrf": {token}, "id": {r2.ID}, "action": {"move"}})
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=moved") {
		t.Fatalf("move: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	moved, err := b.book.Find(ctx, booking.Caller{All: true}, r2.ID)
	if err != nil || !moved.Slot.Start.Equal(ten.Add(-15*time.Minute)) {
		t.Fatalf("after the move %s is at %v (%v), want 09:45", r2.ID, moved.Slot.Start.In(loc), err)
	}
	page = b.do(ada, "GET", r.Header.Get("Location"), nil)
	if !strings.Contains(page.body, "Reservations moved: 1.") || strings.Contains(page.body, `value="`+r2.ID+`"`) ||
		!strings.Contains(page.body, `aria-label="Tue 4 Jun, 09:45–10:00: 1 of 2 booked"`) {
		t.Errorf("after the move the page says otherwise\n%s", page.body)
	}
	var movedBy bool
	for _, e := range b.audits() {
		movedBy = movedBy || e.Target == r2.ID && e.Actor == "operator:ada" && e.Action == "reservation.reschedule"
	}
	if !movedBy {
		t.Errorf("no audit entry of the move by operator:ada: %+v", b.audits())
	}

	// Remove: both overrides, each audited.
	ovs, _ := b.book.Overrides(ctx, "q1")
	for _, o := range ovs {
		r = b.post(ada, "/console/queues/q1/capacity/overrides/"+o.ID+"/delete", url.Values{"csrf": {token}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove %s: %d", o.ID, r.StatusCode)
		}
	}
	if ovs, _ := b.book.Overrides(ctx, "q1"); len(ovs) != 0 {
		t.Errorf("after remove: %+v", ovs)
	}
	if got := b.auditsOf("capacity.override_delete"); len(got) != 2 || !strings.HasPrefix(got[0], "operator:ada ") {
		t.Errorf("remove audit: %v", got)
	}
	if r = b.post(ada, "/console/queues/q1/capacity/overrides/ov_nope/delete", url.Values{"csrf": {token}}); r.StatusCode != 404 {
		t.Errorf("remove of an unknown override: %d", r.StatusCode)
	}
	page = b.do(ada, "GET", "/console/queues/q1/capacity", nil)
	if !strings.Contains(page.body, "No capacity changes") {
		t.Error("the overrides are still listed")
	}
}
