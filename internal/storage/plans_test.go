package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// The query plans of every read on a request path: each is explained on
// both backends, as the store builds it (storage.CaptureReads), and fails on
// a plan that reads a table that grows from its start (SQLite: SCAN t
// without an index; PostgreSQL: a Seq Scan, with sequential scans disabled
// so that only one no index can spare is left) or sorts what it reads
// (SQLite: USE TEMP B-TREE; PostgreSQL: a Sort, with sorts disabled). A
// page of a list reads its LIMIT in index order; a later page starts where
// the cursor points (a range bound on slot_start), not at the index's
// start.

func TestQueryPlans(t *testing.T) {
	t.Parallel()
	eachBackend(t, testQueryPlans)
}

// planCase is one call on a request path and what its plans may do.
type planCase struct {
	name string
	call func(ctx context.Context, s *storage.Store) error
	// sorts is why a sort is bounded (it sorts a set the LIMIT or the
	// filter keeps small): "" allows none.
	sorts string
	// scans is why reading a table in its primary key's order is a page's
	// read (SQLite's SCAN t of a rowid table, ORDER BY that key with a
	// LIMIT): "" allows none.
	scans string
	// seek is a column whose range must bound the index read (a later
	// page's cursor).
	seek string
}

func testQueryPlans(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	base := time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)
	// Every combination of client, queue and status, four times (the bulk
	// load: the statuses as they are), and one booking through the write path.
	statuses := []reservation.Status{reservation.StatusScheduled, reservation.StatusInProgress, reservation.StatusCompleted,
		reservation.StatusCanceled, reservation.StatusFailed}
	var rs []*reservation.Reservation
	for i := range 120 {
		start := base.Add(time.Duration(i) * 15 * time.Minute)
		slot := reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}
		rs = append(rs, &reservation.Reservation{
			ClientID: []string{"web", "ivr"}[i/3%2], QueueID: []string{"qa", "qb", "qc"}[i%3], TimeZone: "UTC",
			CallbackNumber: fmt.Sprintf("+1415555%04d", i), Candidates: []reservation.Slot{slot}, Slot: slot,
			Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10, Status: statuses[i/6%5],
			Sync: reservation.Sync{State: reservation.SyncSynced},
		})
	}
	if err := s.LoadReservations(ctx, rs); err != nil {
		t.Fatal(err)
	}
	booked := &reservation.Reservation{ClientID: "web", QueueID: "qa", TimeZone: "UTC", CallbackNumber: "+14155550000",
		Candidates: []reservation.Slot{rs[0].Slot}, Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10}
	if _, err := s.CreateReservation(ctx, booked, []reservation.Candidate{{Slot: rs[0].Slot, Bucket: rs[0].Slot.Start, Cap: 10}},
		reservation.Write{Actor: "web", Origin: reservation.OriginAPI}); err != nil {
		t.Fatal(err)
	}
	ids := []string{booked.ID, rs[1].ID, rs[2].ID, rs[3].ID}
	// A cursor of each list's first page, so that later pages are
	// explained too.
	cursor := func(f reservation.Filter) string {
		f.Limit = 1
		_, next, err := s.FindReservations(ctx, f)
		if err != nil || next == "" {
			t.Fatalf("FindReservations(%+v) = next %q, %v; want a next page", f, next, err)
		}
		return next
	}
	page, err := s.FindReservationPage(ctx, storage.ReservationQuery{Limit: 1})
	if err != nil || page.Next == "" {
		t.Fatalf("FindReservationPage = %+v, %v", page, err)
	}
	consoleNext := page.Next

	sched := reservation.StatusScheduled
	from, to := base, base.Add(24*time.Hour)
	var cases []planCase
	// GET /api/v2/callbacks: every filter alone and with the client id of a
	// caller without callback:admin, each first page and a later one.
	for _, f := range []reservation.Filter{
		{},
		{QueueID: "qa"},
		{Status: sched},
		{QueueID: "qa", Status: sched},
		{From: from, To: to},
		{QueueID: "qa", From: from, To: to},
		{Status: sched, From: from},
		{Status: reservation.StatusInProgress},
		// Completed, missed and canceled are found by the slot order's
		// walk (the past holds them densely: no index of their own,
		// migration 0023); failed ones, few, have theirs.
		{Status: reservation.StatusCompleted},
		{QueueID: "qa", Status: reservation.StatusCanceled},
		{QueueID: "qa", Status: reservation.StatusFailed},
	} {
		for _, client := range []string{"", "web"} {
			first := f
			first.ClientID = client
			first.Limit = 100
			name := fmt.Sprintf("FindReservations %+v", first)
			cases = append(cases, planCase{name: name, call: func(ctx context.Context, s *storage.Store) error {
				_, _, err := s.FindReservations(ctx, first)
				return err
			}})
			later := first
			later.Cursor = cursor(first)
			cases = append(cases, planCase{name: name + " after a cursor", seek: "slot_start", call: func(ctx context.Context, s *storage.Store) error {
				_, _, err := s.FindReservations(ctx, later)
				return err
			}})
		}
	}
	cases = append(cases,
		planCase{name: "FindReservations by number", sorts: "one number's reservations", call: func(ctx context.Context, s *storage.Store) error {
			_, _, err := s.FindReservations(ctx, reservation.Filter{ClientID: "web", CallbackNumber: "+14155550000"})
			return err
		}},
		planCase{name: "FindReservationByID", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindReservationByID(ctx, ids[3])
			return err
		}},
		// The calendar feed: a queue's window, a client's or every one's.
		planCase{name: "feed", call: func(ctx context.Context, s *storage.Store) error {
			if _, err := s.FeedTokenOwner(ctx, "qa", "digest"); err != nil {
				return err
			}
			_, _, err := s.FindReservations(ctx, reservation.Filter{ClientID: "web", QueueID: "qa", From: from, To: to, Limit: 500})
			return err
		}},
		// Availability and its overrides; the over-capacity list.
		planCase{name: "SlotUsage", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.SlotUsage(ctx, "qa", from, to)
			return err
		}},
		planCase{name: "FindOverrides", sorts: "the overrides of one queue that meet the window", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindOverrides(ctx, "qa", from, to)
			return err
		}},
		planCase{name: "FindBucketReservations", sorts: "the reservations of one bucket", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindBucketReservations(ctx, "qa", base)
			return err
		}},
		// The report.
		planCase{name: "OutcomeFacts", sorts: "the events of the window's reservations", call: func(ctx context.Context, s *storage.Store) error {
			if _, err := s.OutcomeFacts(ctx, "qa", "", from, to); err != nil {
				return err
			}
			_, err := s.OutcomeFacts(ctx, "qa", "web", from, to)
			return err
		}},
		// Events since a sequence number (the stream, its catch-up).
		planCase{name: "FindStoredEvents", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindStoredEvents(ctx, 3, 100)
			return err
		}},
		planCase{name: "FindEvents", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindEvents(ctx, 3, 100)
			return err
		}},
		// Webhook deliveries of an endpoint, newest first, with and without
		// a status, first page and later.
		planCase{name: "FindDeliveries", call: func(ctx context.Context, s *storage.Store) error {
			for _, status := range []string{"", storage.DeliveryPending} {
				for _, c := range []string{"", "40"} {
					if _, _, err := s.FindDeliveries(ctx, "ep_1", status, c, 50); err != nil {
						return err
					}
				}
			}
			_, err := s.FindDelivery(ctx, "ep_1", "dl_1")
			if reservation.ErrorCode(err) == reservation.ENOTFOUND {
				err = nil
			}
			return err
		}},
		planCase{name: "DueDeliveries", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.DueDeliveries(ctx, "ep_1", base, 50)
			return err
		}},
		// The console's reservations page: every queue, the operator's
		// queues, filters, a page forwards and back.
		planCase{name: "FindReservationPage", seek: "", call: func(ctx context.Context, s *storage.Store) error {
			for _, q := range []storage.ReservationQuery{
				{}, {Queues: []string{"qa"}}, {Queues: []string{"qa", "qb"}}, {Status: sched}, {Queues: []string{"qa"}, Status: sched},
				{Status: reservation.StatusCompleted}, {From: from, To: to},
			} {
				if _, err := s.FindReservationPage(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}},
		planCase{name: "FindReservationPage after and before a cursor", seek: "slot_start", call: func(ctx context.Context, s *storage.Store) error {
			for _, q := range []storage.ReservationQuery{
				{After: consoleNext}, {Before: consoleNext}, {Queues: []string{"qa"}, After: consoleNext}, {Status: sched, Before: consoleNext},
			} {
				if _, err := s.FindReservationPage(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}},
		planCase{name: "FindReservationEvents", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindReservationEvents(ctx, ids[0])
			return err
		}},
		planCase{name: "FindEventDeliveries", sorts: "the deliveries of one reservation's events", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindEventDeliveries(ctx, []int64{1, 2})
			return err
		}},
		planCase{name: "FindRecentEvents", scans: "the log from its newest event back, LIMIT", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindRecentEvents(ctx, []string{"qa"}, nil, 20)
			return err
		}},
		// The write path's reads.
		planCase{name: "FindIdempotency", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindIdempotency(ctx, "web", "k1")
			return err
		}},
		planCase{name: "FindToken", call: func(ctx context.Context, s *storage.Store) error {
			_, err := s.FindToken(ctx, "digest")
			return err
		}},
	)
	for _, c := range cases {
		reads, err := storage.CaptureReads(s, func() error { return c.call(ctx, s) })
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(reads) == 0 {
			t.Errorf("%s: no reads captured", c.name)
		}
		for _, r := range reads {
			plan, err := storage.ExplainRead(ctx, s, r)
			if err != nil {
				t.Errorf("%s: explain %s: %v", c.name, r.SQL, err)
				continue
			}
			if testing.Verbose() {
				t.Logf("%s: %s\n  %s", c.name, oneLine(r.SQL), strings.Join(plan, "\n  "))
			}
			if why := badPlan(s.Backend(), r.SQL, plan, c); why != "" {
				t.Errorf("%s: %s\n%s\nplan:\n  %s", c.name, why, oneLine(r.SQL), strings.Join(plan, "\n  "))
			}
		}
	}
}

var (
	sqliteScan   = regexp.MustCompile(`^SCAN (\w+)( AS \w+)?$`)
	sqliteSearch = regexp.MustCompile(`^SEARCH \w+ USING .*INDEX \w+ \((.*)\)`)
	pgSeqScan    = regexp.MustCompile(`Seq Scan on (\w+)`)
	pgSort       = regexp.MustCompile(`(^|->  )(Incremental )?Sort(  \(|$)`) // a node, not a Merge Append's Sort Key
	pgIndexCond  = regexp.MustCompile(`Index Cond: (.*)`)
)

// badPlan says what is wrong with the plan of q ("" when nothing is). A
// read that is no page in slot order (PostgreSQL's probe for the queues
// holding a status, storage.statusQueues) has no cursor to seek to.
func badPlan(backend, q string, plan []string, c planCase) string {
	seekOK := c.seek == "" || !strings.Contains(q, "ORDER BY "+c.seek)
	for _, line := range plan {
		line = strings.TrimSpace(line)
		if backend == storage.SQLite {
			if m := sqliteScan.FindStringSubmatch(line); m != nil && c.scans == "" {
				return "reads " + m[1] + " from its start, through no index"
			}
			if strings.HasPrefix(line, "USE TEMP B-TREE") && c.sorts == "" {
				return "sorts what it reads: " + line
			}
			if m := sqliteSearch.FindStringSubmatch(line); m != nil && c.seek != "" && strings.Contains(m[1], c.seek+">") ||
				m != nil && c.seek != "" && strings.Contains(m[1], c.seek+"<") {
				seekOK = true
			}
			continue
		}
		if m := pgSeqScan.FindStringSubmatch(line); m != nil {
			return "reads " + m[1] + " through no index (Seq Scan with sequential scans disabled)"
		}
		if pgSort.MatchString(line) && c.sorts == "" {
			return "sorts what it reads (a Sort with sorts disabled)"
		}
		if m := pgIndexCond.FindStringSubmatch(line); m != nil && c.seek != "" &&
			(strings.Contains(m[1], c.seek+" >") || strings.Contains(m[1], c.seek+" <")) {
			seekOK = true
		}
	}
	if !seekOK {
		return "reads from the index's start, not from the cursor's " + c.seek
	}
	return ""
}

func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }

// TestListRowsReadPostgres: on a table shaped as a deployment's (a year of
// history, the next weeks booked: 10% of it, over ten queues and two
// clients), analyzed, each list of the bookings ahead reads about its page
// of rows with the plan PostgreSQL chooses itself (no setting disabled),
// however many the status holds: by queue and status, a client's too, and
// over every queue (each queue's page merged). Its statistics chose wrong
// before: a client's list by queue and status, estimated at a row or two,
// read every scheduled reservation through a bitmap and sorted the
// client's and queue's (migration 0025).
func TestListRowsReadPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.PostgresDSN(t))
	const n, ahead, limit = 30000, 3000, 50
	now := time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)
	var rs []*reservation.Reservation
	for i := range n {
		// Slot order is creation order: the history first, then the
		// bookings ahead, every queue and client in each.
		start := now.Add(time.Duration(i-(n-ahead)) * 10 * time.Minute)
		slot := reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}
		st := reservation.StatusCompleted
		switch {
		case i >= n-ahead:
			st = reservation.StatusScheduled
		case i%10 == 7:
			st = reservation.StatusCanceled
		}
		rs = append(rs, &reservation.Reservation{
			ClientID: []string{"web", "ivr"}[i/10%2], QueueID: fmt.Sprintf("q%02d", i%10), TimeZone: "UTC",
			CallbackNumber: fmt.Sprintf("+1415555%04d", i%10000), Candidates: []reservation.Slot{slot}, Slot: slot,
			Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10, Status: st,
			Sync: reservation.Sync{State: reservation.SyncSynced},
		})
		if len(rs) == 4096 || i == n-1 {
			if err := s.LoadReservations(ctx, rs); err != nil {
				t.Fatal(err)
			}
			rs = rs[:0]
		}
	}
	if err := s.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	sched := reservation.StatusScheduled
	for _, f := range []reservation.Filter{
		{QueueID: "q03", Status: sched},
		{ClientID: "web", QueueID: "q03", Status: sched},
		{Status: sched},
		{ClientID: "web", Status: sched},
	} {
		f.Limit = limit
		_, next, err := s.FindReservations(ctx, f)
		if err != nil || next == "" {
			t.Fatalf("FindReservations(%+v) = next %q, %v; want a next page", f, next, err)
		}
		later := f
		later.Cursor = next
		for _, f := range []reservation.Filter{f, later} {
			reads, err := storage.CaptureReads(s, func() error {
				_, _, err := s.FindReservations(ctx, f)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reads {
				js, err := storage.ExplainAnalyzeRead(ctx, s, r)
				if err != nil {
					t.Fatalf("explain %s: %v", oneLine(r.SQL), err)
				}
				var plans []struct{ Plan planNode }
				if err := json.Unmarshal(js, &plans); err != nil || len(plans) != 1 {
					t.Fatalf("explain %s: %d plans, %v", oneLine(r.SQL), len(plans), err)
				}
				// A page's rows and what its filters skip, twice over (the
				// client's share is half), and a probe for each queue.
				read, bound := plans[0].Plan.rowsRead(), 4*limit+2*10
				if testing.Verbose() {
					t.Logf("%+v: %d rows read: %s", f, read, oneLine(r.SQL))
				}
				if read > bound {
					t.Errorf("FindReservations(%+v) read %d rows of %d scheduled, want at most %d:\n%s\nplan:\n%s",
						f, read, ahead, bound, oneLine(r.SQL), js)
				}
			}
		}
	}
}

// planNode is a node of EXPLAIN (ANALYZE, FORMAT JSON).
type planNode struct {
	NodeType       string     `json:"Node Type"`
	Relation       string     `json:"Relation Name"`
	Index          string     `json:"Index Name"`
	ActualRows     float64    `json:"Actual Rows"`
	ActualLoops    float64    `json:"Actual Loops"`
	RemovedFilter  float64    `json:"Rows Removed by Filter"`
	RemovedRecheck float64    `json:"Rows Removed by Index Recheck"`
	Plans          []planNode `json:"Plans"`
}

// rowsRead is the rows the plan's scans read: each one's rows out and the
// rows its filter dropped, over its loops (a bitmap's index entries and
// then its heap rows, both).
func (p planNode) rowsRead() int {
	n := 0.0
	if strings.Contains(p.NodeType, "Scan") && (p.Relation != "" || p.Index != "") {
		n = (p.ActualRows + p.RemovedFilter + p.RemovedRecheck) * max(p.ActualLoops, 1)
	}
	for _, c := range p.Plans {
		n += float64(c.rowsRead())
	}
	return int(n)
}
