package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/app"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
)

// The list benchmark: GET /api/v2/callbacks (unfiltered, a page in the
// middle by its cursor, by queue, by status, a client's own, a client's by
// queue and status) and a queue's availability, over loopback HTTP against
// the API in this process, on a database filled directly through the store
// (storage.LoadReservations) with each of --sizes reservations. The floor,
// measured in the same run on the same database, is GET
// /api/v2/callbacks/{id}: the same stack (token, JSON, one reservation)
// over a primary-key lookup. Lists that read their page through an index
// answer as fast at 1,000,000 reservations as at 100,000: the ratio of the
// largest size to the smallest is the figure (about 1 when nothing scans).

const (
	benchListAdmin = "bench-admin" // holds callback:admin: sees every client's
	benchListWeb   = "bench-web"   // a client without it: sees its own (half)
	benchListOther = "bench-ivr"   // the other half's owner
	benchListChunk = 4096          // reservations per load transaction
	benchListPast  = 365 * 24 * time.Hour
	benchListAhead = 30 * 24 * time.Hour
)

type listOptions struct {
	sizes    []int
	queues   int
	clients  int
	limit    int
	duration time.Duration
	rounds   int
	db       string
	json     bool
}

type listReport struct {
	benchEnv
	Queues      int              `json:"queues"`
	Clients     int              `json:"clients"`
	Limit       int              `json:"limit"`
	DurationSec float64          `json:"duration_s"` // each request, each round
	Rounds      int              `json:"rounds"`
	Sizes       []listSizeReport `json:"sizes"`
	// Growth is, per request, the largest size's figures ÷ the smallest's.
	Growth []listGrowth `json:"growth,omitempty"`
}

type listSizeReport struct {
	Reservations int            `json:"reservations"`
	FillSec      float64        `json:"fill_s"`
	FillPerSec   float64        `json:"fill_per_s"`
	Requests     []listEndpoint `json:"requests"`
}

type listEndpoint struct {
	Name   string  `json:"name"`
	Path   string  `json:"path"`
	Count  int     `json:"count"`
	PerSec float64 `json:"per_s"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	// FloorRatio is the median over the rounds of the request's rate ÷
	// the floor's (GET /api/v2/callbacks/{id}) in the same round.
	FloorRatio       float64   `json:"floor_ratio"`
	FloorRatioRounds []float64 `json:"floor_ratio_rounds"`
	Failures         int       `json:"failures,omitempty"`
}

type listGrowth struct {
	Name       string  `json:"name"`
	PerSec     float64 `json:"per_s_ratio"`       // largest ÷ smallest size
	P99        float64 `json:"p99_ratio"`         // largest ÷ smallest size
	FloorRatio float64 `json:"floor_ratio_ratio"` // of the ratios to each size's floor
}

func benchListCmd(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o listOptions
	sizes := fs.String("sizes", "100000,1000000", "comma-separated `counts` of reservations, each measured on a database of its own")
	fs.IntVar(&o.queues, "queues", 10, "`queues` the reservations are spread over")
	fs.IntVar(&o.clients, "clients", 4, "concurrent HTTP `clients`")
	fs.IntVar(&o.limit, "limit", 100, "the lists' page `size` (limit=)")
	fs.DurationVar(&o.duration, "duration", time.Second, "how long each request is measured in each round")
	fs.IntVar(&o.rounds, "rounds", 3, "`rounds` of every request in turn (the ratios to the floor are the median round's)")
	fs.StringVar(&o.db, "db", "", "`database`: postgres://… benches PostgreSQL in fresh schemas; sqlite:PATH puts the SQLite files beside PATH (default: SQLite in a temporary directory)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return app.ErrHelp
		}
		return app.UsageError(err.Error())
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(s, "_", "")))
		if err != nil || n < 4*o.limit {
			return app.UsageError(fmt.Sprintf("--sizes: %q is not a count of at least 4 × --limit", s))
		}
		o.sizes = append(o.sizes, n)
	}
	if o.queues < 1 || o.clients < 1 || o.limit < 1 || o.limit > 500 || o.duration <= 0 || o.rounds < 1 {
		return app.UsageError("--queues, --clients, --duration and --rounds must be positive, --limit from 1 to 500")
	}
	if o.db != "" && !strings.HasPrefix(o.db, "sqlite:") && !isPostgresDSN(o.db) {
		return app.UsageError("--db must be sqlite:PATH or postgres://…")
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	dbs, err := openBenchDBs(ctx, o.db, "")
	if err != nil {
		return err
	}
	defer dbs.close(ctx)
	rep := &listReport{benchEnv: newBenchEnv(dbs), Queues: o.queues, Clients: o.clients, Limit: o.limit, DurationSec: o.duration.Seconds(),
		Rounds: o.rounds}
	for _, n := range o.sizes {
		sr, err := runListSize(ctx, o, dbs, n, stderr)
		if err != nil {
			return fmt.Errorf("%s reservations: %w", benchCommas(int64(n)), err)
		}
		rep.Sizes = append(rep.Sizes, *sr)
	}
	if len(rep.Sizes) > 1 {
		first, last := rep.Sizes[0], rep.Sizes[len(rep.Sizes)-1]
		for i, e := range last.Requests {
			f := first.Requests[i]
			g := listGrowth{Name: e.Name}
			if f.PerSec > 0 {
				g.PerSec = e.PerSec / f.PerSec
			}
			if f.P99Ms > 0 {
				g.P99 = e.P99Ms / f.P99Ms
			}
			if f.FloorRatio > 0 {
				g.FloorRatio = e.FloorRatio / f.FloorRatio
			}
			rep.Growth = append(rep.Growth, g)
		}
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	printListReport(stdout, rep)
	return nil
}

func printListReport(w io.Writer, rep *listReport) {
	fmt.Fprintf(w, "list: %s, %d queues, %d clients, limit=%d, %d rounds of %.1fs a request\n", rep.Database, rep.Queues, rep.Clients,
		rep.Limit, rep.Rounds, rep.DurationSec)
	for _, s := range rep.Sizes {
		fmt.Fprintf(w, "\n%s reservations (filled in %.1fs, %s/s)\n", benchCommas(int64(s.Reservations)), s.FillSec, benchCommas(int64(s.FillPerSec)))
		fmt.Fprintf(w, "  %-44s %9s %8s %8s %8s  %s\n", "request", "req/s", "p50 ms", "p99 ms", "×floor", "(rounds)")
		for _, e := range s.Requests {
			fail := ""
			if e.Failures > 0 {
				fail = fmt.Sprintf("  (%d failed)", e.Failures)
			}
			var rounds []string
			for _, v := range e.FloorRatioRounds {
				rounds = append(rounds, fmt.Sprintf("%.3f", v))
			}
			fmt.Fprintf(w, "  %-44s %9.0f %8.2f %8.2f %8.3f  (%s)%s\n", e.Name, e.PerSec, e.P50Ms, e.P99Ms, e.FloorRatio,
				strings.Join(rounds, " "), fail)
		}
	}
	if len(rep.Growth) > 0 {
		first, last := rep.Sizes[0].Reservations, rep.Sizes[len(rep.Sizes)-1].Reservations
		fmt.Fprintf(w, "\n%s ÷ %s reservations (about 1 when nothing scans)\n", benchCommas(int64(last)), benchCommas(int64(first)))
		fmt.Fprintf(w, "  %-44s %9s %8s %10s\n", "request", "req/s", "p99", "×floor")
		for _, g := range rep.Growth {
			fmt.Fprintf(w, "  %-44s %9.2f %8.2f %10.2f\n", g.Name, g.PerSec, g.P99, g.FloorRatio)
		}
	}
}

// benchListReservations returns reservations first … first+n-1 of a fill
// of total: in slot order over the year before now and the 30 days after
// it, spread over the queues and two clients; past ones completed (70%),
// missed or canceled, future ones scheduled (90%) or canceled.
func benchListReservations(first, n, total, queues int, now time.Time) []*reservation.Reservation {
	span := benchListPast + benchListAhead
	start0 := now.Add(-benchListPast).Truncate(benchSlot)
	out := make([]*reservation.Reservation, 0, n)
	for i := first; i < first+n; i++ {
		start := start0.Add(time.Duration(int64(span) / int64(total) * int64(i))).Truncate(benchSlot)
		slot := reservation.Slot{Start: start, End: start.Add(benchSlot)}
		// Status and client from a hash of i, independent of the queue
		// (i mod queues).
		h := uint32(i) * 2654435761
		st := reservation.StatusScheduled
		switch past := start.Before(now); {
		case past && h%10 < 7:
			st = reservation.StatusCompleted
		case past && h%10 < 9:
			st = reservation.StatusMissed
		case past, h%10 == 9:
			st = reservation.StatusCanceled
		}
		client := benchListWeb
		if h>>16&1 == 1 {
			client = benchListOther
		}
		out = append(out, &reservation.Reservation{
			ID: fmt.Sprintf("cb_bench%08d", i), ClientID: client, QueueID: fmt.Sprintf("q%02d", i%queues+1), TimeZone: benchTimeZone,
			CallbackNumber: benchPhone(int64(i)), CustomerName: "Bench Customer", Candidates: []reservation.Slot{slot}, Slot: slot,
			Bucket: start, Channel: reservation.ChannelPreferences{Primary: "voice"}, Reason: "Bench", ConcurrencyLimit: 10,
			Status: st, Sync: reservation.Sync{State: reservation.SyncSynced}, CreatedAt: start.Add(-24 * time.Hour),
			UpdatedAt: start.Add(-24 * time.Hour),
		})
	}
	return out
}

func runListSize(ctx context.Context, o listOptions, dbs *benchDBs, n int, progress io.Writer) (*listSizeReport, error) {
	dsn, err := dbs.fresh(ctx, fmt.Sprintf("list-%d", n))
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	now := time.Now().UTC()
	fmt.Fprintf(progress, "list: loading %s reservations…\n", benchCommas(int64(n)))
	t0 := time.Now()
	for first := 0; first < n; first += benchListChunk {
		if err := store.LoadReservations(ctx, benchListReservations(first, min(benchListChunk, n-first), n, o.queues, now)); err != nil {
			return nil, err
		}
	}
	if store.Backend() == storage.Postgres {
		// As autovacuum would have by the time a table is this large.
		if err := store.Analyze(ctx); err != nil {
			return nil, err
		}
	}
	fill := time.Since(t0)
	sr := &listSizeReport{Reservations: n, FillSec: fill.Seconds(), FillPerSec: float64(n) / fill.Seconds()}

	loc, err := time.LoadLocation(benchTimeZone)
	if err != nil {
		return nil, err
	}
	var queues []*booking.Queue
	for i := range o.queues {
		id := fmt.Sprintf("q%02d", i+1)
		queues = append(queues, &booking.Queue{ID: id, Name: "Queue " + id, TimeZone: benchTimeZone, Calendar: &schedule.Calendar{
			Location: loc, SlotMinutes: int(benchSlot / time.Minute), Capacity: 50, AlwaysOpen: true, Horizon: benchListAhead}})
	}
	read := []string{"callback:read"}
	authSvc := auth.NewService(store, []*auth.Client{
		auth.NewClient(benchListAdmin, "admin-secret", append(read, auth.ScopeCallbackAdmin), 0, 0),
		auth.NewClient(benchListWeb, "web-secret", read, 0, 0),
	}, time.Hour)
	token := func(id, secret string) (string, error) {
		c, ok := authSvc.Authenticate(id, secret)
		if !ok {
			return "", fmt.Errorf("client %s does not authenticate", id)
		}
		t, _, err := authSvc.Issue(ctx, c, nil)
		return t, err
	}
	admin, err := token(benchListAdmin, "admin-secret")
	if err != nil {
		return nil, err
	}
	web, err := token(benchListWeb, "web-secret")
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{Booking: booking.New(store, queues, booking.Options{}), Auth: authSvc, Store: store}))
	defer srv.Close()
	hc := newBenchHTTPClient(2 * o.clients)
	defer hc.CloseIdleConnections()

	// The cursor of a page in the middle of the unfiltered list.
	mid := now.Add(-benchListPast / 2).Format(time.RFC3339)
	var page struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := benchListGet(ctx, hc, srv.URL+"/api/v2/callbacks?limit=1&from="+url.QueryEscape(mid), admin, &page); err != nil {
		return nil, err
	}
	if page.NextCursor == "" {
		return nil, errors.New("no cursor in the middle of the list")
	}
	lim := "limit=" + strconv.Itoa(o.limit)
	q := fmt.Sprintf("q%02d", min(3, o.queues))
	day := now.Add(24 * time.Hour).Truncate(24 * time.Hour)
	avail := "/api/v2/queues/" + q + "/availability?" + url.Values{"from": {day.Format(time.RFC3339)},
		"to": {day.Add(7 * 24 * time.Hour).Format(time.RFC3339)}}.Encode()
	reqs := []struct{ name, token, path string }{
		{"floor: GET /api/v2/callbacks/{id}", admin, "/api/v2/callbacks/" + fmt.Sprintf("cb_bench%08d", n/2)},
		{"unfiltered (admin)", admin, "/api/v2/callbacks?" + lim},
		{"unfiltered, a page in the middle (cursor)", admin, "/api/v2/callbacks?" + lim + "&cursor=" + page.NextCursor},
		{"by queue", admin, "/api/v2/callbacks?" + lim + "&queue_id=" + q},
		{"by status (scheduled: the newest tenth)", admin, "/api/v2/callbacks?" + lim + "&status=scheduled"},
		{"client-scoped (no callback:admin)", web, "/api/v2/callbacks?" + lim},
		{"client-scoped, by queue and status", web, "/api/v2/callbacks?" + lim + "&queue_id=" + q + "&status=scheduled"},
		{"availability, 7 days of one queue", admin, avail},
	}
	for _, r := range reqs {
		// Once, checked: a full page (a list) or an answer.
		var body struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := benchListGet(ctx, hc, srv.URL+r.path, r.token, &body); err != nil {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
		if strings.Contains(r.path, "callbacks?") && len(body.Items) != o.limit {
			return nil, fmt.Errorf("%s: %d items, want %d", r.name, len(body.Items), o.limit)
		}
	}
	// Rounds of every request in turn, so that a change in the machine's
	// load meets the floor and the lists alike; each ratio to the floor is
	// taken within its round.
	type tally struct {
		lat      []time.Duration
		elapsed  time.Duration
		failures int
		perSec   []float64
	}
	tallies := make([]tally, len(reqs))
	for round := range o.rounds {
		fmt.Fprintf(progress, "list: %s reservations, round %d of %d: %d requests, %d clients, %s each…\n",
			benchCommas(int64(n)), round+1, o.rounds, len(reqs), o.clients, o.duration)
		for i, r := range reqs {
			u, tok := srv.URL+r.path, r.token
			res, err := benchLoad(ctx, o.clients, benchDuring(o.duration), func(ctx context.Context) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				return benchDo(ctx, hc, req, http.StatusOK)
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.name, err)
			}
			t := &tallies[i]
			t.lat, t.elapsed = append(t.lat, res.lat...), t.elapsed+res.elapsed
			for _, v := range res.failures {
				t.failures += v
			}
			t.perSec = append(t.perSec, float64(res.ok)/res.elapsed.Seconds())
		}
	}
	for i, r := range reqs {
		t := tallies[i]
		slices.Sort(t.lat)
		e := listEndpoint{Name: r.name, Path: r.path, Count: len(t.lat), PerSec: float64(len(t.lat)) / t.elapsed.Seconds(),
			P50Ms: ms(benchPercentile(t.lat, 0.50)), P99Ms: ms(benchPercentile(t.lat, 0.99)), Failures: t.failures}
		var ratios []float64
		for round, v := range t.perSec {
			if floor := tallies[0].perSec[round]; floor > 0 {
				ratios = append(ratios, v/floor)
			}
		}
		if len(ratios) > 0 {
			e.FloorRatioRounds = slices.Clone(ratios)
			slices.Sort(ratios)
			e.FloorRatio = ratios[len(ratios)/2]
		}
		sr.Requests = append(sr.Requests, e)
	}
	return sr, nil
}

// benchListGet GETs u with a token and decodes the JSON answer into v.
func benchListGet(ctx context.Context, hc *http.Client, u, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}
