package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/app"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/password"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
)

// The heatmap benchmark: the console's Capacity page (GET
// /console/queues/{id}/capacity?days=N, over HTTP on loopback with a
// signed-in operator's session) for every queue, each open all day in
// 15-minute buckets (96 a day) with bookings spread over the window,
// against a floor measured in the same run: booking.Availability of the
// same windows called directly (the data the page lays out). The target
// is the whole set under one second.

const benchHeatmapTarget = time.Second

type heatmapOptions struct {
	queues, days, bookings, rounds int
	json                           bool
}

type heatmapReport struct {
	Queues        int     `json:"queues"`
	Days          int     `json:"days"`
	BucketsPerDay int     `json:"buckets_per_day"`
	Cells         int     `json:"cells"`
	Bookings      int     `json:"bookings"`
	Rounds        int     `json:"rounds"`
	PageMs        float64 `json:"pages_ms"` // median over rounds: every queue's page, one after another
	PageBytes     int     `json:"page_bytes"`
	FloorMs       float64 `json:"floor_ms"` // median over rounds: every queue's Availability
	Ratio         float64 `json:"ratio"`
	TargetMs      float64 `json:"target_ms"`
	Pass          bool    `json:"pass"`
}

func benchHeatmapCmd(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("heatmap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o heatmapOptions
	fs.IntVar(&o.queues, "queues", 10, "`queues`, each 24/7 in 15-minute buckets")
	fs.IntVar(&o.days, "days", 30, "`days` of each queue's heatmap (at most 31)")
	fs.IntVar(&o.bookings, "bookings", 200, "reservations booked per queue, in random buckets of the window")
	fs.IntVar(&o.rounds, "rounds", 5, "measured `rounds` (the median is reported), after one warm-up")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return app.ErrHelp
		}
		return app.UsageError(err.Error())
	}
	if o.queues < 1 || o.days < 1 || o.days > console.MaxHeatmapDays || o.rounds < 1 || o.bookings < 0 || o.bookings > 10000 {
		return app.UsageError("--queues and --rounds must be positive, --days from 1 to 31, --bookings from 0 to 10000")
	}
	rep, err := runHeatmap(ctx, o, stderr)
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "heatmap: %d queues × %d days × %d buckets (%d cells, %d bookings), median of %d rounds\n",
		rep.Queues, rep.Days, rep.BucketsPerDay, rep.Cells, rep.Bookings, rep.Rounds)
	fmt.Fprintf(stdout, "  pages   %8.1f ms  (%d bytes each)\n", rep.PageMs, rep.PageBytes)
	fmt.Fprintf(stdout, "  floor   %8.1f ms  (booking.Availability of the same windows)\n", rep.FloorMs)
	fmt.Fprintf(stdout, "  ratio   %8.2f  ×floor\n", rep.Ratio)
	verdict := "PASS"
	if !rep.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(stdout, "  target  < %.0f ms: %s\n", rep.TargetMs, verdict)
	return nil
}

var benchTicketRE = regexp.MustCompile(`name="ticket" value="([^"]+)"`)

func runHeatmap(ctx context.Context, o heatmapOptions, progress io.Writer) (*heatmapReport, error) {
	dir, err := os.MkdirTemp("", "slotline-bench-heatmap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := storage.Connect(ctx, "sqlite:"+filepath.Join(dir, "heatmap.db"), storage.Options{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return nil, err
	}
	var queues []*booking.Queue
	var cq []console.Queue
	for i := range o.queues {
		id := fmt.Sprintf("q%02d", i+1)
		queues = append(queues, &booking.Queue{ID: id, Name: "Queue " + id, TimeZone: loc.String(), Calendar: &schedule.Calendar{
			Location: loc, SlotMinutes: 15, Capacity: 10, AlwaysOpen: true, Horizon: 60 * 24 * time.Hour}})
		cq = append(cq, console.Queue{ID: id, Name: "Queue " + id})
	}
	book := booking.New(store, queues, booking.Options{})
	const pw = "bench-operator-pw"
	cons, err := console.New(console.Deps{Store: store, Booking: book, Capacity: store, Queues: cq,
		Operators: []config.Operator{{Username: "bench", PasswordHash: password.New(pw), Role: config.RoleSupervisor}}})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(cons)
	defer srv.Close()

	// Bookings: random buckets from tomorrow on, within the window.
	now := time.Now().In(loc)
	today := schedule.DateOf(now)
	from := time.Date(today.Year, today.Month, today.Day, 0, 0, 0, 0, loc)
	to := from.AddDate(0, 0, o.days)
	fmt.Fprintf(progress, "booking %d reservations in each of %d queues…\n", o.bookings, o.queues)
	rng := rand.New(rand.NewPCG(1, 2))
	first := from.AddDate(0, 0, 1)
	buckets := int(to.Sub(first) / (15 * time.Minute))
	for _, q := range queues {
		for n := range o.bookings {
			st := first.Add(time.Duration(rng.IntN(buckets)) * 15 * time.Minute)
			req, err := reservation.DecodeCreate(fmt.Appendf(nil, `{"callback_number":"+1415555%04d","queue_id":%q,
				"time_slot_matrix":[{"start":%q,"end":%q}]}`, n, q.ID, st.UTC().Format(time.RFC3339), st.Add(15*time.Minute).UTC().Format(time.RFC3339)))
			if err != nil {
				return nil, err
			}
			if _, err := book.Create(ctx, booking.Caller{ClientID: "bench"}, req); err != nil && !errors.Is(err, reservation.ErrFull) &&
				reservation.ErrorCode(err) != reservation.ECONFLICT {
				return nil, fmt.Errorf("book: %w", err)
			}
		}
	}

	// Sign in as the operator, as a browser does.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login, err := heatmapGet(ctx, client, srv.URL+"/console/login")
	if err != nil {
		return nil, err
	}
	m := benchTicketRE.FindStringSubmatch(login)
	if m == nil {
		return nil, errors.New("no ticket on the sign-in page")
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/console/login",
		strings.NewReader(url.Values{"ticket": {m[1]}, "username": {"bench"}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", srv.URL)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in: %d", resp.StatusCode)
	}

	rep := &heatmapReport{Queues: o.queues, Days: o.days, BucketsPerDay: 96, Cells: o.queues * o.days * 96,
		Bookings: o.queues * o.bookings, Rounds: o.rounds, TargetMs: float64(benchHeatmapTarget.Milliseconds())}
	query := "?" + url.Values{"from": {from.Format(time.DateOnly)}, "days": {fmt.Sprint(o.days)}}.Encode()
	pages := func() (time.Duration, error) {
		t0 := time.Now()
		for _, q := range queues {
			body, err := heatmapGet(ctx, client, srv.URL+"/console/queues/"+q.ID+"/capacity"+query)
			if err != nil {
				return 0, err
			}
			if n := strings.Count(body, "<td id="); n != o.days*96 {
				return 0, fmt.Errorf("queue %s: %d cells, want %d", q.ID, n, o.days*96)
			}
			rep.PageBytes = len(body)
		}
		return time.Since(t0), nil
	}
	floor := func() (time.Duration, error) {
		t0 := time.Now()
		for _, q := range queues {
			if _, err := book.Availability(ctx, q.ID, from, to, 0); err != nil {
				return 0, err
			}
		}
		return time.Since(t0), nil
	}
	fmt.Fprintf(progress, "measuring %d rounds…\n", o.rounds)
	if _, err := pages(); err != nil { // warm-up
		return nil, err
	}
	var pt, ft []time.Duration
	for range o.rounds {
		f, err := floor()
		if err != nil {
			return nil, err
		}
		p, err := pages()
		if err != nil {
			return nil, err
		}
		ft, pt = append(ft, f), append(pt, p)
	}
	median := func(ds []time.Duration) time.Duration {
		slices.SortFunc(ds, func(a, b time.Duration) int { return cmp.Compare(a, b) })
		return ds[len(ds)/2]
	}
	p, f := median(pt), median(ft)
	rep.PageMs, rep.FloorMs = float64(p.Microseconds())/1000, float64(f.Microseconds())/1000
	if f > 0 {
		rep.Ratio = float64(p) / float64(f)
	}
	rep.Pass = p < benchHeatmapTarget
	return rep, nil
}

func heatmapGet(ctx context.Context, c *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return string(b), nil
}
