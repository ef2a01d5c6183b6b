package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/storage"
)

// maxClockSkew is the largest difference between Genesys' clock and this
// host's that doctor accepts: scheduled times, token expiries and the
// reconciliation windows all compare the two.
const maxClockSkew = 5 * time.Second

// nilUUID is the id doctor's permission probes ask for: no entity has it,
// so a held permission answers 404 and nothing is read or changed.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// checkResult is one line of doctor's report.
type checkResult struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

func (c checkResult) String() string {
	if c.OK {
		return "✓ " + c.Check + ": " + c.Detail
	}
	s := "✗ " + c.Check + ": " + c.Detail
	if c.Fix != "" {
		s += " — " + c.Fix
	}
	return s
}

// report collects the checks, printing each as it is made unless the
// report is JSON.
type report struct {
	checks []checkResult
	w      io.Writer // nil: print nothing until the end
}

func (r *report) add(c checkResult) {
	r.checks = append(r.checks, c)
	if r.w != nil {
		fmt.Fprintln(r.w, c.String())
	}
}

func (r *report) pass(check, detail string) {
	r.add(checkResult{Check: check, OK: true, Detail: detail})
}

func (r *report) fail(check, detail, fix string) {
	r.add(checkResult{Check: check, Detail: detail, Fix: fix})
}

func (r *report) failed() int {
	n := 0
	for _, c := range r.checks {
		if !c.OK {
			n++
		}
	}
	return n
}

// doctorCmd runs "slotline doctor --config FILE [--json]": the preflight
// checks of a deployment, one line each, exit status 1 when any fails.
// It reads and probes; it never migrates, and its only writes are a lease
// taken and released in the database and an empty notification channel in
// Genesys.
func doctorCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	var st settings
	st.register(fs, false)
	asJSON := fs.Bool("json", false, "print the checks as a JSON array of {check, ok, detail, fix}")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long all the checks may take")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: slotline doctor --config FILE [--json]\n\n"+
			"Checks a deployment before it goes live: the configuration, the database (reachable,\n"+
			"migrations, a write) and, with a live genesys block, the OAuth client, its permissions,\n"+
			"the queues, schedule groups, SMS numbers, notification topics and the clock against\n"+
			"Genesys Cloud (in sandbox mode, against the built-in simulator). One line per check,\n"+
			"✓ or ✗ with the fix; exit status 1 when any check fails.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	path := first(st.config, getenv("SLOTLINE_CONFIG"))
	if path == "" {
		return &usageError{"doctor needs --config FILE (or SLOTLINE_CONFIG)"}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	r := &report{}
	if !*asJSON {
		r.w = stdout
	}
	runDoctor(ctx, &st, path, getenv, r)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r.checks); err != nil {
			return err
		}
	}
	if n := r.failed(); n > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", n, len(r.checks))
	}
	return nil
}

// runDoctor makes the checks in order: a configuration that does not
// load stops them; the Genesys checks stop at a token that is refused.
func runDoctor(ctx context.Context, st *settings, path string, getenv func(string) string, r *report) {
	cfg, _, err := st.load(getenv, false)
	if err != nil {
		r.fail("config", err.Error(), "fix what the message names (the file at that line, or the environment variable or file it reads), then run slotline doctor again")
		return
	}
	detail := fmt.Sprintf("%s loads: %s, genesys mode %s", path, count(len(cfg.Queues), "queue"), cfg.Genesys.Mode)
	if len(cfg.Warnings) > 0 {
		detail += fmt.Sprintf(" (%s: %s)", count(len(cfg.Warnings), "warning"), strings.Join(cfg.Warnings, "; "))
	}
	r.pass("config", detail)
	checkDatabase(ctx, cfg.Database, r)
	checkGenesys(ctx, cfg, r)
}

// count is "1 queue", "2 queues".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// checkDatabase checks that the database is reachable, that no migration
// is pending (without applying any) and that a write commits: a lease of
// its own, taken and released.
func checkDatabase(ctx context.Context, dsn string, r *report) {
	where := storage.RedactDSN(dsn)
	_, isSQLite := sqliteFile(dsn)
	fix := "start PostgreSQL, or correct database (or --db, SLOTLINE_DB): host, port, user, password and database name"
	if isSQLite {
		fix = "correct database (or --db, SLOTLINE_DB) to the server's SQLite file; a new database is made by slotline migrate --config FILE"
	}
	store, err := storage.Connect(ctx, dsn, storage.Options{MustExist: true, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		if err = store.Ping(ctx); err != nil {
			store.Close()
		}
	}
	if err != nil {
		r.fail("database", err.Error(), fix)
		return
	}
	defer store.Close()
	r.pass("database", where+" is reachable ("+store.Backend()+")")

	pending, err := store.PendingMigrations(ctx)
	switch {
	case err != nil:
		r.fail("migrations", "the schema cannot be read: "+err.Error(), "run slotline migrate --config FILE")
	case len(pending) > 0:
		r.fail("migrations", fmt.Sprintf("%d pending: %s", len(pending), strings.Join(pending, ", ")), "run slotline migrate --config FILE")
	default:
		r.pass("migrations", "none pending")
	}

	var b [8]byte
	_, _ = rand.Read(b[:])
	name, holder := "doctor:"+hex.EncodeToString(b[:]), "slotline doctor"
	wfix := "the database refuses writes: check that this user may write the SQLite file and its directory " +
		"(or the PostgreSQL role's INSERT and DELETE grants), and that the disk is not full"
	ok, err := store.AcquireLease(ctx, name, holder, time.Minute)
	if err == nil && !ok {
		err = errors.New("a new lease was not granted")
	}
	if err == nil {
		err = store.ReleaseLease(ctx, name, holder)
	}
	if err != nil {
		r.fail("database write", err.Error(), wfix)
		return
	}
	r.pass("database write", "a lease was written and deleted")
}

// permission is one permission Slotline's OAuth client needs, with the
// harmless call that tells whether it is held: 403 missing.permissions
// says it is missing; any other answer (2xx, 400, 404) that it is held.
type permission struct {
	name, use    string
	method, path string
	body         any
}

// permissions lists the permissions the queues of cfg need (the table of
// internal/genesys/doc.go).
func permissions(queues []*booking.Queue) []permission {
	ps := []permission{
		{"conversation:callback:create", "Slotline creates the callbacks with it", http.MethodPost, "/api/v2/conversations/callbacks", struct{}{}},
		{"conversation:callback:edit", "Slotline reschedules them with it", http.MethodPatch, "/api/v2/conversations/callbacks", struct{}{}},
		{"conversation:communication:disconnect", "Slotline cancels them with it", http.MethodPost, "/api/v2/conversations/callbacks/bulk/disconnect",
			map[string]any{"callbackDisconnectIdentifiers": []any{}}},
		{"conversation:communication:view", "Slotline reads their calls and outcomes with it", http.MethodGet, "/api/v2/conversations/" + nilUUID, nil},
		{"analytics:conversationDetail:view", "Slotline finds a callback whose create was lost with it", http.MethodPost, "/api/v2/analytics/conversations/details/query", struct{}{}},
		{"routing:queue:view", "Slotline reads the queues with it", http.MethodGet, "/api/v2/routing/queues/" + nilUUID, nil},
	}
	if slices.ContainsFunc(queues, func(q *booking.Queue) bool { return q.ScheduleGroupID != "" }) {
		ps = append(ps,
			permission{"routing:scheduleGroup:view", "Slotline imports the opening hours of schedule_group_id with it", http.MethodGet, "/api/v2/architect/schedulegroups/" + nilUUID, nil},
			permission{"routing:schedule:view", "Slotline imports the schedules of those groups with it", http.MethodGet, "/api/v2/architect/schedules/" + nilUUID, nil})
	}
	if slices.ContainsFunc(queues, func(q *booking.Queue) bool { return q.SMSFrom != "" }) {
		ps = append(ps, permission{"conversation:message:create", "Slotline sends the SMS of sms_from with it", http.MethodPost, "/api/v2/conversations/messages/agentless", struct{}{}})
	}
	return ps
}

// checkGenesys makes the Genesys checks: against the org of a live block,
// or against the built-in simulator in sandbox mode.
func checkGenesys(ctx context.Context, cfg *config.Config, r *report) {
	queues := queuesOf(cfg)
	gcfg := liveConfig(cfg.Genesys)
	if cfg.Genesys.Mode == "sandbox" {
		simQueues, groups := sandboxQueues(queues)
		sim := gcsim.New(gcsim.Options{Queues: simQueues, ScheduleGroups: groups})
		defer sim.Close()
		url, err := sim.Start("127.0.0.1:0")
		if err != nil {
			r.fail("genesys", "the sandbox's simulator does not start: "+err.Error(), "free a local port, or check the host's network settings")
			return
		}
		r.pass("genesys", "sandbox mode: the checks below run against the built-in simulator at "+url+", not a real org")
		gcfg = genesys.Config{APIURL: url, LoginURL: url, ClientID: gcsim.DefaultClientID, ClientSecret: gcsim.DefaultClientSecret}
	}
	// Each check makes one call, retried once at most, and waits out
	// no long Retry-After: doctor answers in seconds or says why not.
	gcfg.MaxAttempts, gcfg.MaxRetryAfter = 2, 5*time.Second
	// Its twenty-odd calls go out at once, well within Genesys' 300 per
	// minute of a token, rather than at the configured steady rate.
	gcfg.Burst = 40
	gcfg.CallTimeout = min(cmp.Or(gcfg.CallTimeout, 10*time.Second), 10*time.Second)
	client, err := genesys.New(gcfg)
	if err != nil {
		r.fail("genesys token", err.Error(), "correct the genesys block of the configuration")
		return
	}
	g := &genesysChecks{client: client, r: r, clientID: gcfg.ClientID, noQueue: map[string]bool{}}
	if !g.token(ctx, gcfg) {
		return
	}
	g.permissions(ctx, permissions(queues))
	g.queues(ctx, queues)
	g.topics(ctx, queues)
	g.clock()
}

// genesysChecks are the checks made with one client.
type genesysChecks struct {
	client   *genesys.Client
	r        *report
	clientID string
	skews    []time.Duration // Genesys' clock minus this host's, per answer
	noQueue  map[string]bool // Genesys queue ids found missing: their topics are not checked
}

func (g *genesysChecks) roleFix(perm, use string) string {
	return fmt.Sprintf("add %s to a role of the OAuth client %s in Genesys Cloud (Admin > Roles / Permissions, then the client's Roles tab): %s",
		perm, g.clientID, use)
}

func (g *genesysChecks) token(ctx context.Context, gcfg genesys.Config) bool {
	login := gcfg.LoginURL
	if login == "" {
		_, login, _ = genesys.RegionURLs(gcfg.Region)
	}
	err := g.client.CheckToken(ctx)
	var ae *genesys.APIError
	switch {
	case err == nil:
		g.r.pass("genesys token", fmt.Sprintf("the client credentials grant of OAuth client %s at %s works", g.clientID, login))
		return true
	case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusTooManyRequests:
		g.r.fail("genesys token", fmt.Sprintf("%s refused OAuth client %s: %v", login, g.clientID, err),
			"check genesys client_id and the client secret (its env variable or file) against the OAuth client in Genesys Cloud "+
				"(Admin > Integrations > OAuth; grant type Client Credentials), and the region")
	default:
		g.r.fail("genesys token", fmt.Sprintf("no token from %s: %v", login, err),
			"check genesys region (or login_url) and that this host reaches "+login+" over HTTPS")
	}
	return false
}

// probe makes one harmless call and keeps the skew of its answer's clock.
func (g *genesysChecks) probe(ctx context.Context, method, path string, body any) error {
	a, err := g.client.Probe(ctx, method, path, body)
	if !a.Date.IsZero() {
		// Date is truncated to the second: its middle is the best guess.
		g.skews = append(g.skews, a.Date.Add(500*time.Millisecond).Sub(a.Received))
	}
	return err
}

func (g *genesysChecks) permissions(ctx context.Context, ps []permission) {
	for _, p := range ps {
		check := "permission " + p.name
		err := g.probe(ctx, p.method, p.path, p.body)
		var ae *genesys.APIError
		switch {
		case genesys.MissingPermissions(err):
			g.r.fail(check, "missing: "+apiError(err).Message, g.roleFix(p.name, p.use))
		case err == nil:
			g.r.pass(check, "held")
		case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusForbidden &&
			ae.Status != http.StatusUnauthorized && ae.Status != http.StatusTooManyRequests:
			g.r.pass(check, fmt.Sprintf("held (the probe was answered %d, after the permission check)", ae.Status))
		default:
			g.r.fail(check, "cannot be checked: "+err.Error(), "run slotline doctor again; if it persists, check the Genesys Cloud status page")
		}
	}
}

// apiError is the *APIError in err (the caller knows there is one).
func apiError(err error) *genesys.APIError {
	var ae *genesys.APIError
	errors.As(err, &ae)
	return ae
}

// entityError is the ✗ of a queue, schedule group or number lookup.
func (g *genesysChecks) entityError(check string, err error, perm, use, notFound, notFoundFix string) {
	switch {
	case genesys.IsNotFound(err):
		g.r.fail(check, notFound, notFoundFix)
	case genesys.MissingPermissions(err):
		g.r.fail(check, "cannot be read: "+apiError(err).Message, g.roleFix(perm, use))
	default:
		g.r.fail(check, "cannot be read: "+err.Error(), "run slotline doctor again; if it persists, check the Genesys Cloud status page")
	}
}

func (g *genesysChecks) queues(ctx context.Context, queues []*booking.Queue) {
	for _, q := range queues {
		check := "queue " + q.ID
		if q.GenesysQueueID == "" {
			g.r.fail(check, "has no genesys_queue_id", "set genesys_queue_id to the queue's id in Genesys Cloud (Admin > Queues: the id ends the queue's URL)")
			continue
		}
		if gq, err := g.client.GetQueue(ctx, q.GenesysQueueID); err != nil {
			g.noQueue[q.GenesysQueueID] = genesys.IsNotFound(err)
			g.entityError(check, err, "routing:queue:view", "Slotline reads the queues with it",
				"genesys_queue_id "+q.GenesysQueueID+" is no queue of the org",
				"copy the queue's id from Genesys Cloud (Admin > Queues: the id ends the queue's URL) into genesys_queue_id")
		} else {
			g.r.pass(check, fmt.Sprintf("genesys_queue_id %s is the Genesys queue %q", q.GenesysQueueID, gq.Name))
		}
	}
	for _, q := range queues {
		if q.ScheduleGroupID == "" {
			continue
		}
		check := "schedule group " + q.ID
		if sg, err := g.client.GetScheduleGroup(ctx, q.ScheduleGroupID); err != nil {
			g.entityError(check, err, "routing:scheduleGroup:view", "Slotline imports the opening hours of schedule_group_id with it",
				"schedule_group_id "+q.ScheduleGroupID+" is no schedule group of the org",
				"copy the group's id from Genesys Cloud (Admin > Architect > Scheduling > Schedule Groups) into schedule_group_id, "+
					"or remove it to use the hours in the file")
		} else {
			g.r.pass(check, fmt.Sprintf("schedule_group_id %s is %q (%s, %d open schedules)", q.ScheduleGroupID, sg.Name, sg.TimeZone, len(sg.OpenSchedules)))
		}
	}
	for _, q := range queues {
		if q.SMSFrom == "" {
			continue
		}
		check := "sms_from " + q.ID
		n, err := g.client.FindSMSPhoneNumber(ctx, q.SMSFrom)
		switch {
		case err != nil:
			g.entityError(check, err, "sms:phoneNumber:view", "slotline doctor reads the org's SMS numbers with it (Slotline itself only sends from sms_from)",
				"the SMS number list was not found", "check genesys api_url")
		case n == nil:
			g.r.fail(check, q.SMSFrom+" is not an SMS number of the org",
				"buy or port it in Genesys Cloud (Admin > Message > SMS Number Inventory), or set sms_from to one of the org's SMS numbers")
		default:
			g.r.pass(check, q.SMSFrom+" is an SMS number of the org")
		}
	}
}

// topics subscribes a new channel to every queue's conversations topic,
// as the listener does, reads back each topic's state, then empties the
// channel (Genesys evicts it when it needs the room).
func (g *genesysChecks) topics(ctx context.Context, queues []*booking.Queue) {
	var topics []string
	owner := map[string]string{}
	for _, q := range queues {
		if q.GenesysQueueID == "" || g.noQueue[q.GenesysQueueID] {
			continue // reported by the queue's check
		}
		t := genesys.QueueConversationsTopic(q.GenesysQueueID)
		if _, ok := owner[t]; !ok {
			topics = append(topics, t)
			owner[t] = q.ID
		}
	}
	if len(topics) == 0 {
		return
	}
	fixRetry := "run slotline doctor again; if it persists, check the Genesys Cloud status page"
	ch, err := g.client.CreateChannel(ctx)
	if err != nil {
		g.r.fail("notification channel", "cannot be created: "+err.Error(), fixRetry)
		return
	}
	got, err := g.client.Subscribe(ctx, ch.ID, topics, true)
	var rejected *genesys.TopicRejectedError
	if err != nil && !errors.As(err, &rejected) {
		g.r.fail("notification topics", "cannot subscribe: "+err.Error(), fixRetry)
		return
	}
	defer func() { _, _ = g.client.Subscribe(context.WithoutCancel(ctx), ch.ID, nil, true) }()
	for _, t := range topics {
		check := "topic " + owner[t]
		i := slices.IndexFunc(got, func(c genesys.ChannelTopic) bool { return c.ID == t })
		switch {
		case i < 0:
			g.r.fail(check, t+" is not among the channel's subscriptions", "check the queue's genesys_queue_id and the OAuth client's roles")
		case got[i].Rejected() && len(got[i].MissingPermissions) > 0:
			missing := strings.Join(got[i].MissingPermissions, ", ")
			g.r.fail(check, fmt.Sprintf("%s Rejected (%s), missing permissions: %s", t, got[i].RejectionReason, missing),
				g.roleFix(missing, "Slotline receives the queue's conversation events with them"))
		case got[i].Rejected():
			g.r.fail(check, fmt.Sprintf("%s Rejected: %s", t, got[i].RejectionReason), "check the queue's genesys_queue_id and the OAuth client's roles and divisions")
		default:
			g.r.pass(check, t+" "+got[i].State)
		}
	}
}

// clock compares Genesys' Date headers with this host's clock: the median
// of the answers' skews.
func (g *genesysChecks) clock() {
	if len(g.skews) == 0 {
		g.r.fail("clock skew", "Genesys' answers carried no Date header to compare with", "make sure this host's clock is synced (NTP)")
		return
	}
	s := slices.Clone(g.skews)
	slices.Sort(s)
	skew := s[len(s)/2].Round(100 * time.Millisecond)
	how := fmt.Sprintf("Genesys' clock is %s %s this host's", skew.Abs(), map[bool]string{true: "ahead of", false: "behind"}[skew >= 0])
	if skew.Abs() > maxClockSkew {
		g.r.fail("clock skew", fmt.Sprintf("%s (more than %s)", how, maxClockSkew), "sync the clock (NTP): e.g. timedatectl set-ntp true, or chrony")
		return
	}
	if skew.Abs() <= time.Second {
		how = "Genesys' clock agrees with this host's to the second (the Date header's precision)"
	}
	g.r.pass("clock skew", how+fmt.Sprintf(", within %s", maxClockSkew))
}
