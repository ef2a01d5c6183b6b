package schedule

import (
	"fmt"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		zone   string
		date   Date
		minute int
		want   []string
	}{
		{"America/New_York", Date{2026, 6, 15}, 14 * 60, []string{"2026-06-15T18:00:00Z"}},
		// Spring forward: 02:30 does not exist; it resolves to 03:00 EDT.
		{"America/New_York", Date{2026, 3, 8}, 2*60 + 30, []string{"2026-03-08T07:00:00Z"}},
		{"America/New_York", Date{2026, 3, 8}, 2 * 60, []string{"2026-03-08T07:00:00Z"}},
		{"America/New_York", Date{2026, 3, 8}, 3 * 60, []string{"2026-03-08T07:00:00Z"}},
		// Fall back: 01:30 happens twice.
		{"America/New_York", Date{2026, 11, 1}, 90, []string{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"}},
		{"Europe/London", Date{2026, 3, 29}, 60 + 15, []string{"2026-03-29T01:00:00Z"}},
		{"Europe/London", Date{2026, 10, 25}, 60 + 15, []string{"2026-10-25T00:15:00Z", "2026-10-25T01:15:00Z"}},
		// Lord Howe shifts by 30 minutes at 02:00 standard time.
		{"Australia/Lord_Howe", Date{2026, 10, 4}, 2*60 + 15, []string{"2026-10-03T15:30:00Z"}},
		{"Australia/Lord_Howe", Date{2026, 4, 5}, 60 + 45, []string{"2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z"}},
		{"UTC", Date{2028, 2, 29}, 0, []string{"2028-02-29T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%d", tt.zone, tt.date, tt.minute), func(t *testing.T) {
			got := Resolve(mustLoc(t, tt.zone), tt.date, tt.minute)
			if len(got) != len(tt.want) {
				t.Fatalf("Resolve = %v, want %v", got, tt.want)
			}
			for i := range got {
				if w := mustTime(t, tt.want[i]); !got[i].Equal(w) {
					t.Errorf("Resolve[%d] = %v, want %v", i, got[i], w)
				}
			}
		})
	}
}

// TestGridProperties walks every instant (per minute) across DST changes and
// checks that each lies in exactly one bucket, that buckets tile time with no
// gap or overlap, that the fast and slow paths agree, and that an ordinary
// bucket lasts exactly the slot length.
func TestGridProperties(t *testing.T) {
	t.Parallel()
	cases := []struct {
		zone string
		day  Date
	}{
		{"America/New_York", Date{2026, 3, 8}},
		{"America/New_York", Date{2026, 11, 1}},
		{"Europe/London", Date{2026, 3, 29}},
		{"Europe/London", Date{2026, 10, 25}},
		{"Australia/Lord_Howe", Date{2026, 10, 4}},
		{"Australia/Lord_Howe", Date{2026, 4, 5}},
		{"Asia/Kolkata", Date{2028, 2, 29}},
		{"America/Santiago", Date{2026, 9, 6}}, // midnight does not exist
	}
	for _, c := range cases {
		for _, slot := range SlotMinutes {
			t.Run(fmt.Sprintf("%s/%s/%d", c.zone, c.day, slot), func(t *testing.T) {
				loc := mustLoc(t, c.zone)
				q := &Calendar{Location: loc, SlotMinutes: slot, Capacity: 1, AlwaysOpen: true, Horizon: time.Hour}
				from := time.Date(c.day.Year, c.day.Month, c.day.Day, 0, 0, 0, 0, loc).Add(-6 * time.Hour)
				to := from.Add(36 * time.Hour)
				buckets := q.Buckets(from, to)
				if len(buckets) == 0 {
					t.Fatal("no buckets")
				}
				for i, b := range buckets {
					if !b.End.After(b.Start) {
						t.Fatalf("bucket %d empty: %v", i, b)
					}
					if i > 0 && !buckets[i-1].End.Equal(b.Start) {
						t.Fatalf("bucket %d does not follow %d: %v then %v", i, i-1, buckets[i-1], b)
					}
					if d := b.End.Sub(b.Start); d > time.Duration(slot)*time.Minute+time.Hour {
						t.Fatalf("bucket %d too long: %v", i, d)
					}
					// Buckets start on the grid (or at a zone change).
					lt := b.Start.In(loc)
					zs, _ := lt.ZoneBounds()
					if (lt.Hour()*60+lt.Minute())%slot != 0 && !zs.Equal(b.Start) {
						t.Fatalf("bucket %d starts off the grid at %v", i, lt)
					}
				}
				for ts := buckets[0].Start; ts.Before(buckets[len(buckets)-1].End); ts = ts.Add(time.Minute) {
					got := q.BucketAt(ts)
					n := 0
					for _, b := range buckets {
						if !ts.Before(b.Start) && ts.Before(b.End) {
							n++
							if b != got {
								t.Fatalf("BucketAt(%v) = %v, want %v", ts, got, b)
							}
						}
					}
					if n != 1 {
						t.Fatalf("%v lies in %d buckets", ts, n)
					}
				}
			})
		}
	}
}

func TestBucketOnDSTDays(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	q := &Calendar{Location: ny, SlotMinutes: 15, Capacity: 1, AlwaysOpen: true, Horizon: time.Hour}
	// 96 buckets on an ordinary day, 92 on spring-forward, 100 on fall-back.
	for _, tc := range []struct {
		day  Date
		want int
	}{{Date{2026, 6, 1}, 96}, {Date{2026, 3, 8}, 92}, {Date{2026, 11, 1}, 100}} {
		from := time.Date(tc.day.Year, tc.day.Month, tc.day.Day, 0, 0, 0, 0, ny)
		next := tc.day.AddDays(1)
		to := time.Date(next.Year, next.Month, next.Day, 0, 0, 0, 0, ny)
		if got := len(q.Buckets(from, to)); got != tc.want {
			t.Errorf("%s: %d buckets, want %d", tc.day, got, tc.want)
		}
	}
}

func TestParseInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    Interval
		wantErr bool
	}{
		{"08:00-12:00", Interval{480, 720}, false},
		{"13:30-24:00", Interval{810, 1440}, false},
		{"12:00-08:00", Interval{}, true},
		{"08:00-08:00", Interval{}, true},
		{"8-12", Interval{}, true},
		{"25:00-26:00", Interval{}, true},
		{"08:61-09:00", Interval{}, true},
		{"00:00-24:30", Interval{}, true},
	} {
		got, err := ParseInterval(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func officeQueue(t testing.TB, zone string) *Calendar {
	t.Helper()
	q := &Calendar{
		Location:    mustLoc(t, zone),
		SlotMinutes: 15,
		Capacity:    10,
		LeadTime:    15 * time.Minute,
		Horizon:     30 * 24 * time.Hour,
		Closed:      map[Date]bool{{2026, 12, 25}: true},
	}
	weekday := []Interval{{8 * 60, 12 * 60}, {13 * 60, 18 * 60}}
	for d := time.Monday; d <= time.Friday; d++ {
		q.Hours[d] = weekday
	}
	q.Hours[time.Saturday] = []Interval{{9 * 60, 12 * 60}}
	sat := Interval{9 * 60, 12 * 60}
	xmasEve := Date{2026, 12, 24}
	q.Overrides = []CapacityOverride{
		{Days: []time.Weekday{time.Saturday, time.Sunday}, Hours: &sat, Capacity: 4},
		{Date: &xmasEve, Capacity: 2},
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	return q
}

func TestCheck(t *testing.T) {
	t.Parallel()
	q := officeQueue(t, "America/New_York")
	now := mustTime(t, "2026-12-01T12:00:00-05:00") // a Tuesday
	tests := []struct {
		name       string
		start, end string
		want       Reason
		now        string // if set, replaces now
	}{
		{"open", "2026-12-02T09:00:00-05:00", "2026-12-02T09:15:00-05:00", OK, ""},
		{"other offset same instant", "2026-12-02T14:00:00Z", "2026-12-02T14:15:00Z", OK, ""},
		{"past", "2026-12-01T11:00:00-05:00", "2026-12-01T11:15:00-05:00", ReasonPast, ""},
		{"now is past", "2026-12-01T12:00:00-05:00", "2026-12-01T12:15:00-05:00", ReasonPast, ""},
		// 11:40 is after now, but its bucket (11:30-11:45) has begun or begins now.
		{"in the bucket that begins now", "2026-12-01T11:40:00-05:00", "2026-12-01T11:55:00-05:00", ReasonPast, "2026-12-01T11:30:00-05:00"},
		{"in a bucket that has begun", "2026-12-01T11:40:00-05:00", "2026-12-01T11:55:00-05:00", ReasonPast, "2026-12-01T11:32:00-05:00"},
		// Lead time counts from the bucket's start (11:30), not the slot's.
		{"lead time", "2026-12-01T11:40:00-05:00", "2026-12-01T11:55:00-05:00", ReasonLeadTime, "2026-12-01T11:20:00-05:00"},
		{"lead time bucket start", "2026-12-01T11:30:00-05:00", "2026-12-01T11:45:00-05:00", ReasonLeadTime, "2026-12-01T11:20:00-05:00"},
		{"lead time edge ok", "2026-12-01T13:00:00-05:00", "2026-12-01T13:15:00-05:00", OK, ""},
		{"lead time exactly", "2026-12-01T13:00:00-05:00", "2026-12-01T13:15:00-05:00", OK, "2026-12-01T12:45:00-05:00"},
		{"horizon", "2027-01-01T09:00:00-05:00", "2027-01-01T09:15:00-05:00", ReasonHorizon, ""},
		// Horizon ends at 2026-12-31T10:07: the 09:45 bucket ends within it,
		// the 10:00 bucket after it (a slot in it could start after 10:07).
		{"horizon bucket ends within", "2026-12-31T09:50:00-05:00", "2026-12-31T10:05:00-05:00", OK, "2026-12-01T10:07:00-05:00"},
		{"horizon bucket ends after", "2026-12-31T10:01:00-05:00", "2026-12-31T10:16:00-05:00", ReasonHorizon, "2026-12-01T10:07:00-05:00"},
		{"horizon next bucket", "2026-12-31T10:15:00-05:00", "2026-12-31T10:30:00-05:00", ReasonHorizon, "2026-12-01T10:07:00-05:00"},
		{"holiday", "2026-12-25T09:00:00-05:00", "2026-12-25T09:15:00-05:00", ReasonHoliday, ""},
		{"lunch", "2026-12-02T12:00:00-05:00", "2026-12-02T12:15:00-05:00", ReasonClosed, ""},
		{"straddles lunch", "2026-12-02T11:50:00-05:00", "2026-12-02T12:05:00-05:00", ReasonClosed, ""},
		{"ends at closing", "2026-12-02T17:45:00-05:00", "2026-12-02T18:00:00-05:00", OK, ""},
		{"sunday", "2026-12-06T10:00:00-05:00", "2026-12-06T10:15:00-05:00", ReasonClosed, ""},
		{"saturday morning", "2026-12-05T10:00:00-05:00", "2026-12-05T10:15:00-05:00", OK, ""},
		{"saturday afternoon", "2026-12-05T13:00:00-05:00", "2026-12-05T13:15:00-05:00", ReasonClosed, ""},
		{"before opening in UTC terms", "2026-12-02T12:00:00Z", "2026-12-02T12:15:00Z", ReasonClosed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := now
			if tt.now != "" {
				now = mustTime(t, tt.now)
			}
			if got := q.Check(mustTime(t, tt.start), mustTime(t, tt.end), now); got != tt.want {
				t.Errorf("Check = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckAcrossDST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		zone       string
		hours      []Interval
		now        string
		start, end string
		want       Reason
	}{
		// New York springs forward at 02:00 on 8 March 2026. With hours
		// 01:00-04:00 the open span is 01:00 EST to 04:00 EDT (2 real hours).
		{"ny gap open", "America/New_York", []Interval{{60, 240}}, "2026-03-07T12:00:00Z", "2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", OK},
		{"ny after close", "America/New_York", []Interval{{60, 240}}, "2026-03-07T12:00:00Z", "2026-03-08T04:00:00-04:00", "2026-03-08T04:15:00-04:00", ReasonClosed},
		// Opening at 02:30 (missing) opens at 03:00 EDT.
		{"ny opens in gap", "America/New_York", []Interval{{150, 300}}, "2026-03-07T12:00:00Z", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00", OK},
		// Fall back: hours 01:00-02:00 cover both 01:xx hours.
		{"ny overlap first", "America/New_York", []Interval{{60, 120}}, "2026-10-31T12:00:00Z", "2026-11-01T01:30:00-04:00", "2026-11-01T01:45:00-04:00", OK},
		{"ny overlap second", "America/New_York", []Interval{{60, 120}}, "2026-10-31T12:00:00Z", "2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00", OK},
		{"london spring", "Europe/London", []Interval{{0, 180}}, "2026-03-28T12:00:00Z", "2026-03-29T02:00:00+01:00", "2026-03-29T02:15:00+01:00", OK},
		{"london autumn second 01:15", "Europe/London", []Interval{{60, 120}}, "2026-10-24T12:00:00Z", "2026-10-25T01:15:00Z", "2026-10-25T01:30:00Z", OK},
		{"lord howe gap", "Australia/Lord_Howe", []Interval{{150, 240}}, "2026-10-03T00:00:00Z", "2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00", OK},
		{"lord howe before open", "Australia/Lord_Howe", []Interval{{150, 240}}, "2026-10-03T00:00:00Z", "2026-10-04T01:45:00+10:30", "2026-10-04T02:00:00+10:30", ReasonClosed},
		{"leap day", "America/New_York", []Interval{{540, 1020}}, "2028-02-28T12:00:00Z", "2028-02-29T09:00:00-05:00", "2028-02-29T09:15:00-05:00", OK},
		{"overnight hours", "America/New_York", []Interval{{1320, 1440}, {0, 120}}, "2026-06-01T12:00:00Z", "2026-06-02T23:50:00-04:00", "2026-06-03T00:10:00-04:00", OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &Calendar{Location: mustLoc(t, tt.zone), SlotMinutes: 15, Capacity: 1, Horizon: 30 * 24 * time.Hour}
			for d := range q.Hours {
				q.Hours[d] = tt.hours
			}
			if got := q.Check(mustTime(t, tt.start), mustTime(t, tt.end), mustTime(t, tt.now)); got != tt.want {
				t.Errorf("Check = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCapacityAt(t *testing.T) {
	t.Parallel()
	q := officeQueue(t, "America/New_York")
	for _, tc := range []struct {
		at   string
		want int
	}{
		{"2026-12-02T09:00:00-05:00", 10},
		{"2026-12-05T09:00:00-05:00", 4},  // Saturday morning override
		{"2026-12-05T12:00:00-05:00", 10}, // Saturday, outside the override's hours
		{"2026-12-24T09:00:00-05:00", 2},  // date override
		{"2026-12-24T17:45:00-05:00", 2},
	} {
		if got := q.CapacityAt(mustTime(t, tc.at)); got != tc.want {
			t.Errorf("CapacityAt(%s) = %d, want %d", tc.at, got, tc.want)
		}
	}
}

func BenchmarkBucketAt(b *testing.B) {
	q := officeQueue(b, "America/New_York")
	ts := mustTime(b, "2026-12-02T09:07:00-05:00")
	for b.Loop() {
		_ = q.BucketAt(ts)
	}
}

// TestGridAgreesWithCheck: availability is computed in bulk; it must give
// exactly the reason a single Check gives for every bucket.
func TestGridAgreesWithCheck(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"America/New_York", "Europe/London", "Australia/Lord_Howe"} {
		q := officeQueue(t, zone)
		q.Hours[time.Sunday] = []Interval{{0, 150}, {1380, 1440}} // runs over DST changes at night
		q.Closed[Date{2026, 11, 3}] = true
		now := mustTime(t, "2026-10-20T10:07:00Z")
		from, to := now.Add(-2*time.Hour), now.Add(35*24*time.Hour)
		cells := q.Grid(from, to, now)
		counts := map[Reason]int{}
		for _, c := range cells {
			if got := q.Check(c.Start, c.End, now); got != c.Reason {
				t.Fatalf("%s: bucket %v: Grid says %q, Check says %q", zone, c.Bucket, c.Reason, got)
			}
			if c.Capacity != q.CapacityAt(c.Start) {
				t.Fatalf("%s: capacity mismatch at %v", zone, c.Start)
			}
			counts[c.Reason]++
		}
		for _, r := range []Reason{OK, ReasonPast, ReasonLeadTime, ReasonHorizon, ReasonHoliday, ReasonClosed} {
			if counts[r] == 0 {
				t.Errorf("%s: no bucket with reason %q: the test does not cover it", zone, r)
			}
		}
	}
}

// TestCheckAgreesWithBucketCell: a slot counts against the bucket that
// contains its start, so past, lead time and horizon are judged on that
// bucket's start. For a sweep of instants now (just before, at and just
// after bucket starts, and inside buckets, across both DST changes of New
// York and on an ordinary day) and slots starting anywhere inside a bucket,
// Check must give the Reason of that bucket's grid cell.
func TestCheckAgreesWithBucketCell(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	periods := []time.Time{
		time.Date(2026, 3, 8, 2, 0, 0, 0, ny),  // spring forward (03:00 EDT)
		time.Date(2026, 11, 1, 1, 0, 0, 0, ny), // fall back (the first 01:00, EDT)
		time.Date(2026, 11, 1, 1, 0, 0, 0, ny).Add(time.Hour),
		time.Date(2026, 12, 1, 10, 0, 0, 0, ny), // an ordinary Tuesday
	}
	type config struct {
		slot       int
		lead       time.Duration
		alwaysOpen bool
	}
	configs := []config{{15, 0, false}, {15, 15 * time.Minute, false}, {15, 40 * time.Minute, true}, {60, 25 * time.Minute, false}, {60, 0, true}}
	for _, cf := range configs {
		t.Run(fmt.Sprintf("slot%d/lead%s/open%v", cf.slot, cf.lead, cf.alwaysOpen), func(t *testing.T) {
			t.Parallel()
			q := officeQueue(t, "America/New_York")
			q.SlotMinutes, q.LeadTime, q.AlwaysOpen = cf.slot, cf.lead, cf.alwaysOpen
			q.Horizon = 26*time.Hour + 10*time.Minute // so the horizon's edge falls inside buckets too
			// Hours on the grid (night hours over the DST changes), so a slot
			// inside its bucket is open exactly when the bucket is.
			q.Hours[time.Sunday] = []Interval{{0, 180}, {1380, 1440}}
			q.Closed[Date{2026, 3, 9}] = true
			slot := time.Duration(cf.slot) * time.Minute
			var (
				seen                                     = map[Reason]int{}
				startedBucket, leadByBucket, horizonEdge int
			)
			for _, p := range periods {
				for _, b := range q.Buckets(p.Add(-2*time.Hour), p.Add(2*time.Hour)) {
					for _, d := range []time.Duration{-time.Nanosecond, 0, time.Nanosecond, 7 * time.Minute, b.End.Sub(b.Start) - time.Second} {
						now := b.Start.Add(d)
						var cells []Cell
						cells = append(cells, q.Grid(now.Add(-slot), now.Add(q.LeadTime+2*slot), now)...)
						cells = append(cells, q.Grid(now.Add(q.Horizon-2*slot), now.Add(q.Horizon+2*slot), now)...)
						for _, c := range cells {
							span := c.End.Sub(c.Start)
							for _, off := range []time.Duration{0, time.Nanosecond, time.Minute, span / 2, span - time.Nanosecond} {
								start := c.Start.Add(off)
								if got := q.BucketAt(start); got != c.Bucket {
									t.Fatalf("BucketAt(%v) = %v, want %v", start, got, c.Bucket)
								}
								// A slot inside its bucket: the same Reason, whatever it is.
								if got := q.Check(start, c.End, now); got != c.Reason {
									t.Fatalf("now %v: Check(%v, %v) = %q, the bucket %v is %q",
										now.In(ny), start.In(ny), c.End.In(ny), got, c.Bucket, c.Reason)
								}
								// A slot running into the next bucket: the same timing
								// Reason; holiday and closed look at the slot's span.
								got := q.Check(start, start.Add(slot), now)
								switch c.Reason {
								case ReasonPast, ReasonLeadTime, ReasonHorizon:
									if got != c.Reason {
										t.Fatalf("now %v: Check(%v, +%v) = %q, the bucket %v is %q",
											now.In(ny), start.In(ny), slot, got, c.Bucket, c.Reason)
									}
								default:
									if got == ReasonPast || got == ReasonLeadTime || got == ReasonHorizon {
										t.Fatalf("now %v: Check(%v, +%v) = %q, the bucket %v is %q",
											now.In(ny), start.In(ny), slot, got, c.Bucket, c.Reason)
									}
								}
								seen[c.Reason]++
								switch {
								case c.Reason == ReasonPast && start.After(now):
									startedBucket++ // the defect of issue 11: later than now, bucket begun
								case c.Reason == ReasonLeadTime && !start.Before(now.Add(q.LeadTime)):
									leadByBucket++
								case c.Reason == ReasonHorizon && start.Before(now.Add(q.Horizon)):
									horizonEdge++ // within the horizon, in a bucket that ends after it
								}
							}
						}
					}
				}
			}
			for _, r := range []Reason{OK, ReasonPast, ReasonHorizon} {
				if seen[r] == 0 {
					t.Errorf("no slot judged %q: the sweep does not cover it", r)
				}
			}
			if q.LeadTime > 0 && (seen[ReasonLeadTime] == 0 || leadByBucket == 0) {
				t.Errorf("lead time: %d slots, %d of them starting after now+lead time: the sweep does not cover it", seen[ReasonLeadTime], leadByBucket)
			}
			if startedBucket == 0 || horizonEdge == 0 {
				t.Errorf("%d slots after now in a begun bucket, %d within the horizon in a bucket that ends after it: the sweep does not cover them",
					startedBucket, horizonEdge)
			}
		})
	}
}
