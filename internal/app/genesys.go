package app

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/syncer"
)

// genesysSide is the Genesys half of serve: the client (of a real org, or
// of the simulator started in-process in sandbox mode), the sync and its
// listener.
type genesysSide struct {
	mode     string
	sim      *gcsim.Sim
	simURL   string // the sandbox's simulator, "" in live mode
	runner   *syncer.Runner
	client   *genesys.Client
	listener *syncer.Listener
	hours    *syncer.HoursImporter
}

// sandboxSMSFrom is the simulator's SMS number for queues that name none.
const sandboxSMSFrom = "+18005550100"

// sandboxQueueID makes a stable Genesys queue id for a queue that has none.
func sandboxQueueID(id string) string {
	h := sha256.Sum256([]byte("slotline-sandbox:" + id))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// startGenesys builds the Genesys side for the queues. In sandbox mode it
// starts the simulator and gives every queue without a Genesys queue id or
// an SMS number sandbox ones (the queues are changed in place).
// sandboxRecheck is the longest a job waiting for a time on the sandbox's
// clock sleeps before it looks at the clock again (tests shorten it).
var sandboxRecheck = time.Minute

func startGenesys(ctx context.Context, cfg *config.Config, store *storage.Store, js *jobs.Client, queues []*booking.Queue,
	manageURL func(reservation.Reservation) string, m *metrics.Metrics, logger *slog.Logger) (*genesysSide, error) {
	g := cfg.Genesys
	side := &genesysSide{mode: g.Mode}
	gcfg := liveConfig(g)
	gcfg.Logger, gcfg.Observer = logger.With("component", "genesys"), m
	now, until := time.Now, time.Until
	for _, q := range queues {
		if q.ScheduleGroupID != "" {
			// Hours come from Genesys; closed until the first import.
			q.Calendar.AlwaysOpen = false
			q.Calendar.Imported = &schedule.Imported{}
		}
	}
	if g.Mode == "sandbox" {
		simQueues, groups := sandboxQueues(queues)
		for _, q := range queues {
			// The simulator's agents wrap up a voicemail with its code.
			q.NotReachedWrapups = append(q.NotReachedWrapups, gcsim.WrapupVoicemail.ID)
		}
		answer := g.Sandbox.AnswerRate
		if answer == 0 {
			answer = -1 // gcsim reads 0 as its default; the config means never
		}
		clock := gcsim.NewClock(time.Now(), g.Sandbox.Speed)
		side.sim = gcsim.New(gcsim.Options{
			Clock: clock, AnswerRate: answer, RingTime: g.Sandbox.RingTime, TalkTime: g.Sandbox.TalkTime,
			AcceptDelay: 2 * time.Second, AutoDialDelay: 2 * time.Second, WrapupTime: 10 * time.Second,
			// The first callback of a run is one nobody answers, so that
			// a newcomer sees a missed callback and its SMS.
			FirstPlays: []gcsim.Play{{Customer: gcsim.CustomerNoAnswer}},
			Queues:     simQueues, ScheduleGroups: groups, Logger: logger.With("component", "sandbox"),
		})
		url, err := side.sim.Start(g.Sandbox.Addr)
		if err != nil {
			return nil, fmt.Errorf("start the Genesys sandbox: %w", err)
		}
		side.simURL = url
		gcfg = genesys.Config{APIURL: url, LoginURL: url, ClientID: gcsim.DefaultClientID, ClientSecret: gcsim.DefaultClientSecret,
			RateLimit: g.RateLimit, CallTimeout: g.CallTimeout, Logger: gcfg.Logger, Observer: m}
		now = clock.Now
		until = func(t time.Time) time.Duration {
			if d, ok := clock.RealDelay(t); ok {
				// The sandbox's clock can be moved (POST /sim/clock): a
				// job waiting for a time on it (a reminder) looks again at
				// least every sandboxRecheck.
				return min(d, sandboxRecheck)
			}
			return time.Minute // a stopped clock: look again later
		}
		logger.Warn("SANDBOX MODE: no Genesys Cloud credentials are configured, so reservations sync to a built-in "+
			"Genesys simulator, not to a real org. Configure genesys: {mode: live, …} to reach Genesys Cloud.",
			"simulator", url, "speed", g.Sandbox.Speed, "answer_rate", g.Sandbox.AnswerRate)
	}
	budget, kind, err := genesysBudget(store, g, gcfg.ClientID, m, gcfg.Logger)
	if err != nil {
		side.close()
		return nil, err
	}
	gcfg.Budget = budget
	// The budget keeps every 60 s at or under rate_limit, so it sustains
	// the limit less its burst; said next to Genesys' own figure, so that a
	// rate_limit below it is seen to cap the drain.
	perMinute := g.RateLimit * 60
	logger.Info("genesys rate budget", "budget", kind, "rate_limit_per_minute", perMinute,
		"sustained_per_minute", math.Round(genesys.BudgetRate(perMinute, genesys.DefaultBurst)*60),
		"genesys_documented_per_minute", genesys.DocumentedLimitPerMinute,
		"share_of_genesys", math.Round(100*perMinute/genesys.DocumentedLimitPerMinute)/100)
	client, err := genesys.New(gcfg)
	if err != nil {
		side.close()
		return nil, err
	}
	side.runner = syncer.New(syncer.Config{
		Store: store, Jobs: js, Genesys: client, Queues: queues, Logger: logger.With("component", "sync"), Observer: m, Now: now,
		Workers: g.Workers, ReconcileEvery: g.ReconcileEvery, SMSText: cfg.SMS.Text, SMSTemplates: cfg.SMS.Templates,
		ManageURL: manageURL, OutcomeWait: g.OutcomeWait, Until: until,
		LostCreateWindow: g.LostCreateWindow, CancelVerifyWindow: g.CancelVerifyWindow,
	})
	side.client = client
	side.listener = side.runner.NewListener(syncer.ListenerOptions{})
	side.hours = side.runner.NewHoursImporter(client, 15*time.Minute)
	ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := side.hours.Refresh(ictx); err != nil {
		logger.Warn("opening hours from Genesys schedule groups are not all available; affected queues use their stored copy or stay closed",
			"err", err)
	}
	return side, nil
}

// liveConfig is the client configuration of a live genesys block (the
// caller sets the logger and observer).
func liveConfig(g config.Genesys) genesys.Config {
	gcfg := genesys.Config{
		Region: g.Region, APIURL: g.APIURL, LoginURL: g.LoginURL, ClientID: g.ClientID, ClientSecret: g.ClientSecret,
		RateLimit: g.RateLimit, MaxRetryAfter: g.MaxRetryAfter, CallTimeout: g.CallTimeout,
	}
	if gcfg.APIURL != "" {
		gcfg.Region = "" // resolved already
	}
	return gcfg
}

// sandboxQueues gives every queue without a Genesys queue id or an SMS
// number sandbox ones (the queues are changed in place) and returns the
// simulator's queues and schedule groups for them.
func sandboxQueues(queues []*booking.Queue) ([]gcsim.Queue, []gcsim.ScheduleGroup) {
	var groups []gcsim.ScheduleGroup
	simQueues := make([]gcsim.Queue, len(queues))
	for i, q := range queues {
		if q.ScheduleGroupID != "" {
			groups = append(groups, sandboxGroup(q.ScheduleGroupID, q.TimeZone))
		}
		if q.GenesysQueueID == "" {
			q.GenesysQueueID = sandboxQueueID(q.ID)
		}
		if q.SMSFrom == "" {
			q.SMSFrom = sandboxSMSFrom
		}
		simQueues[i] = gcsim.Queue{ID: q.GenesysQueueID, Name: q.Name, SMSAddress: q.SMSFrom}
	}
	return simQueues, groups
}

// sandboxGroup is the simulator's schedule group for a queue that names
// one: weekdays 08:00-18:00 in the queue's zone.
func sandboxGroup(id, tz string) gcsim.ScheduleGroup {
	return gcsim.ScheduleGroup{ID: id, Name: "Sandbox hours", TimeZone: tz, Open: []gcsim.Schedule{{
		ID: id + "-weekdays", Name: "Weekdays", Start: "2024-01-01T08:00:00.000", End: "2024-01-01T18:00:00.000",
		RRule: "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR",
	}}}
}

func (g *genesysSide) close() {
	if g.sim != nil {
		g.sim.Close()
	}
}
