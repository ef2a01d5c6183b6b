package syncer_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/syncer"
)

// officeGroup is weekdays 08:00-17:00 New York time, closed for lunch
// 12:00-13:00 every day, and a holiday on Friday 13 March 2026.
func officeGroup() (gcsim.ScheduleGroup, *syncer.GroupImport) {
	open := gcsim.Schedule{ID: "open", Name: "Weekdays", Start: "2026-03-02T08:00:00.000", End: "2026-03-02T17:00:00.000",
		RRule: "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR"}
	lunch := gcsim.Schedule{ID: "lunch", Name: "Lunch", Start: "2026-03-02T12:00:00.000", End: "2026-03-02T13:00:00.000",
		RRule: "FREQ=DAILY;INTERVAL=1"}
	holiday := gcsim.Schedule{ID: "hol", Name: "Holiday", Start: "2026-03-13T00:00:00.000", End: "2026-03-14T00:00:00.000"}
	g := gcsim.ScheduleGroup{ID: "sg-1", Name: "Office", TimeZone: "America/New_York",
		Open: []gcsim.Schedule{open}, Closed: []gcsim.Schedule{lunch}, Holiday: []gcsim.Schedule{holiday}}
	imp := &syncer.GroupImport{
		Group: genesys.ScheduleGroup{ID: "sg-1", TimeZone: "America/New_York",
			OpenSchedules: []genesys.Ref{{ID: "open"}}, ClosedSchedules: []genesys.Ref{{ID: "lunch"}}, HolidaySchedules: []genesys.Ref{{ID: "hol"}}},
		Schedules: map[string]genesys.Schedule{
			"open":  {ID: "open", Start: open.Start, End: open.End, RRule: open.RRule},
			"lunch": {ID: "lunch", Start: lunch.Start, End: lunch.End, RRule: lunch.RRule},
			"hol":   {ID: "hol", Start: holiday.Start, End: holiday.End},
		},
	}
	return g, imp
}

func nyQueue(t *testing.T) *schedule.Calendar {
	t.Helper()
	loc, _ := time.LoadLocation("America/New_York")
	return &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 5, Horizon: 30 * 24 * time.Hour, Imported: &schedule.Imported{}}
}

// TestExpandGroupAcrossDST: New York springs forward on 8 March 2026; the
// weekday hours stay 08:00-17:00 local on both sides of it.
func TestExpandGroupAcrossDST(t *testing.T) {
	t.Parallel()
	_, imp := officeGroup()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	spans, err := syncer.ExpandGroup(imp, from, from.Add(20*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	q := nyQueue(t)
	q.Imported.Set(spans)
	now := time.Date(2026, 2, 20, 12, 0, 0, 0, time.UTC)
	ny := q.Location
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, ny) }
	for _, tc := range []struct {
		name string
		at   time.Time
		want schedule.Reason
	}{
		{"Friday before DST, 08:00 EST", at(6, 8, 0), schedule.OK},
		{"Friday before DST, 07:45", at(6, 7, 45), schedule.ReasonClosed},
		{"Monday after DST, 08:00 EDT", at(9, 8, 0), schedule.OK},
		{"Monday after DST, 16:45 EDT", at(9, 16, 45), schedule.OK},
		{"Monday after DST, 17:00", at(9, 17, 0), schedule.ReasonClosed},
		{"lunch", at(10, 12, 15), schedule.ReasonClosed},
		{"just before lunch", at(10, 11, 45), schedule.OK},
		{"holiday", at(13, 10, 0), schedule.ReasonHoliday},
		{"Sunday", at(8, 10, 0), schedule.ReasonClosed},
	} {
		if got := q.Check(tc.at, tc.at.Add(15*time.Minute), now); got != tc.want {
			t.Errorf("%s (%v): %q, want %q", tc.name, tc.at, got, tc.want)
		}
	}
	// 08:00 EDT on Monday is 12:00 UTC; 08:00 EST on Friday was 13:00 UTC.
	if !spans.Open[0].Start.Equal(time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("first opening = %v", spans.Open[0].Start)
	}
}

// TestHoursImporter imports a group from the simulator, serves bookings
// from it, and keeps working from the stored copy when Genesys is gone.
func TestHoursImporter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, _ := officeGroup()
	sim := gcsim.New(gcsim.Options{ScheduleGroups: []gcsim.ScheduleGroup{g}})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gc, err := genesys.New(genesys.Config{APIURL: url, LoginURL: url, ClientID: gcsim.DefaultClientID, ClientSecret: gcsim.DefaultClientSecret,
		BackoffBase: time.Millisecond, MaxAttempts: 2, CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "h.db")
	store, err := storage.Open(ctx, "sqlite:"+dbPath, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := func() time.Time { return time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC) }
	newQueue := func() *booking.Queue {
		return &booking.Queue{ID: "office", Name: "Office", TimeZone: "America/New_York", Calendar: nyQueue(t),
			ScheduleGroupID: "sg-1"}
	}
	q := newQueue()
	runner := syncer.New(syncer.Config{Store: store, Jobs: jobs.New(store.JobDriver(), jobs.Config{}), Genesys: gc,
		Queues: []*booking.Queue{q}, Now: clock})
	imp := runner.NewHoursImporter(gc, time.Hour)
	if err := imp.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ny := q.Calendar.Location
	monday := time.Date(2026, 3, 9, 9, 0, 0, 0, ny)
	if got := q.Calendar.Check(monday, monday.Add(15*time.Minute), clock()); got != schedule.OK {
		t.Fatalf("Monday 09:00 after the import: %q", got)
	}
	// Genesys goes away; a fresh process computes the same hours from storage.
	sim.Close()
	q2 := newQueue()
	runner2 := syncer.New(syncer.Config{Store: store, Jobs: jobs.New(store.JobDriver(), jobs.Config{}), Genesys: gc,
		Queues: []*booking.Queue{q2}, Now: clock})
	err = runner2.NewHoursImporter(gc, time.Hour).Refresh(ctx)
	if err == nil {
		t.Error("a refresh with Genesys down reported no error")
	}
	if got := q2.Calendar.Check(monday, monday.Add(15*time.Minute), clock()); got != schedule.OK {
		t.Errorf("Monday 09:00 from the stored copy: %q", got)
	}
	if got := q2.Calendar.Check(monday.Add(3*time.Hour), monday.Add(3*time.Hour+15*time.Minute), clock()); got != schedule.ReasonClosed {
		t.Errorf("Monday lunch from the stored copy: %q", got)
	}
}
