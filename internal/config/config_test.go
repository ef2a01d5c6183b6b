package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// compareLocations lets cmp compare schedules, whose *time.Location has
// unexported fields.
var compareLocations = cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })

func env(vars ...string) func(string) string {
	return func(key string) string {
		for i := 0; i+1 < len(vars); i += 2 {
			if vars[i] == key {
				return vars[i+1]
			}
		}
		return ""
	}
}

func mustParse(t testing.TB, lines ...string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.yaml", []byte(strings.Join(lines, "\n")), "", env())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadFullExample(t *testing.T) {
	t.Parallel()
	got, err := config.Load("testdata/full.yaml", env("SLOTLINE_WEBSITE_SECRET", "website-secret-0123456789",
		"GENESYS_CLIENT_ID", "0c8f7e1a-genesys-client", "GENESYS_CLIENT_SECRET", "genesys-secret-0123456789",
		"SLOTLINE_WIDGET_KEY", "pk_live_0123456789abcdefghij", "SLOTLINE_SELF_SECRET", "self-service-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	work := []schedule.Interval{{Start: 8 * 60, End: 12 * 60}, {Start: 13 * 60, End: 18 * 60}}
	want := &config.Config{
		Listen:   "127.0.0.1:8080",
		ListenAt: filepath.Join("testdata", "full.yaml") + ":1: listen",
		Database: "sqlite:./slotline.db",
		TLS: &config.TLS{Cert: filepath.Join("testdata", "server.crt"), Key: filepath.Join("testdata", "server.key"),
			At: filepath.Join("testdata", "full.yaml") + ":3: tls"},
		PublicURL: "https://callbacks.example.com",
		HTTP:      config.HTTP{WriteTimeout: 20 * time.Second, MaxConnections: 2000, MaxConnectionsPerAddress: 50},
		Log:       config.Log{Level: "info", Format: "json"},
		Clients: []config.Client{{
			ID:        "website",
			Secret:    "website-secret-0123456789",
			Scopes:    []string{"callback:read", "callback:write", "webhook:read", "webhook:write"},
			RateLimit: 50,
			RateBurst: 50,
		}},
		TokenTTL:      time.Hour,
		LoginThrottle: config.LoginThrottle{PerClient: 20.0 / 60, PerClientBurst: 10, PerAddressBurst: 40},
		Retention:     config.Retention{EraseNumbersAfter: 90 * 24 * time.Hour, Events: 30 * 24 * time.Hour, Audit: 400 * 24 * time.Hour},
		Stream:        config.Stream{MaxSubscriptionsPerClient: 5},
		Genesys: config.Genesys{
			Mode:               "live",
			Region:             "mypurecloud.com",
			APIURL:             "https://api.mypurecloud.com",
			LoginURL:           "https://login.mypurecloud.com",
			ClientID:           "0c8f7e1a-genesys-client",
			ClientSecret:       "genesys-secret-0123456789",
			RateLimit:          5,
			Budget:             "process",
			MaxRetryAfter:      2 * time.Minute,
			CallTimeout:        10 * time.Second,
			ReconcileEvery:     10 * time.Minute,
			OutcomeWait:        90 * time.Second,
			Workers:            8,
			LostCreateWindow:   3 * time.Minute,
			CancelVerifyWindow: 20 * time.Second,
			Sandbox:            config.Default().Genesys.Sandbox,
		},
		SMS: config.SMS{Text: "We tried to call you back about {reason}. Reply or book a new time.",
			Templates: map[string]map[string]string{"fr-CA": {"remind": "Rappel : {queue} vous appelle le {time}. Modifier : {manage_url}"}}},
		Queues: []config.Queue{{
			ID:                "queue_12345",
			GenesysQueueID:    "7f1c9a2e-0000-4000-8000-000000000001",
			Name:              "Support",
			TimeZone:          "America/New_York",
			SMSFrom:           "+18005550100",
			CallerID:          "+18005550101",
			CallerIDName:      "Acme Support",
			ScriptID:          "3b0c7c4e-0000-4000-8000-000000000002",
			NotReachedWrapups: []string{"6a1e0000-0000-4000-8000-00000000000a", "Voicemail"},
			Locale:            "fr-CA",
			// cancel_if_reached_within: 2h
			CancelIfReachedWithin: 2 * time.Hour,
			SelfService:           reservation.SelfPolicy{MaxReschedules: 2, Cutoff: 30 * time.Minute},
			Notify: notify.Policy{Confirm: true, RemindBefore: 30 * time.Minute, OnCancel: true, OnMissed: true,
				Quiet: notify.QuietHours{Start: 21 * 60, End: 8 * 60}},
			NumberRules: reservation.NumberRules{Countries: []string{"US", "CA"}, Block: []string{"+1900", "+1976"},
				RefuseTypes: []string{"premium_rate", "shared_cost", "pager"}},
			Admission: reservation.Admission{Duplicates: "strict", Scope: "all",
				PerNumber: reservation.Limit{N: 6, Window: 24 * time.Hour}, PerQueue: reservation.Limit{N: 500, Window: time.Hour}},
			Calendar: &schedule.Calendar{
				Location:    ny,
				SlotMinutes: 15,
				Capacity:    10,
				Overrides: []schedule.CapacityOverride{
					{Days: []time.Weekday{time.Saturday, time.Sunday}, Hours: &schedule.Interval{Start: 9 * 60, End: 12 * 60}, Capacity: 4},
					{Date: &schedule.Date{Year: 2026, Month: time.December, Day: 24}, Capacity: 2},
				},
				Hours: [7][]schedule.Interval{
					time.Monday: work, time.Tuesday: work, time.Wednesday: work, time.Thursday: work, time.Friday: work,
					time.Saturday: {{Start: 9 * 60, End: 12 * 60}},
				},
				Closed: map[schedule.Date]bool{
					{Year: 2026, Month: time.December, Day: 25}: true,
					{Year: 2027, Month: time.January, Day: 1}:   true,
				},
				LeadTime: 15 * time.Minute,
				Horizon:  30 * 24 * time.Hour,
			},
		}, {
			ID:              "queue_sales",
			Name:            "queue_sales",
			TimeZone:        "Europe/Paris",
			ScheduleGroupID: "5d2e8f10-0000-4000-8000-000000000003",
			Locale:          "en",
			// the default
			CancelIfReachedWithin: 4 * time.Hour,
			SelfService:           config.DefaultSelfPolicy,
			Notify:                notify.DefaultPolicy,
			NumberRules:           defaultNumberRules,
			Admission:             defaultAdmission,
			Calendar: &schedule.Calendar{
				Location:    paris,
				SlotMinutes: 15,
				Capacity:    10,
				AlwaysOpen:  true,
				Closed:      map[schedule.Date]bool{},
				Horizon:     30 * 24 * time.Hour,
			},
		}},
		SelfService: config.SelfService{Secret: "self-service-secret-0123456789", LinkTTL: 48 * time.Hour,
			PerToken: 10.0 / 60, PerTokenBurst: 5, PerAddress: 1, PerAddressBurst: 30},
		PublishableKeys: []config.PublishableKey{{
			ID:      "website-widget",
			Key:     "pk_live_0123456789abcdefghij",
			Queues:  []string{"queue_12345"},
			Origins: []string{"https://www.example.com", "http://localhost:8080", "https://shop.example.com"},
			Rate:    20, Burst: 40, PerAddress: 2, PerAddressBurst: 10,
		}},
		ProofOfWork: config.ProofOfWork{MaxNumber: 100_000, TTL: 2 * time.Minute, PerAddress: 10, PerAddressBurst: 30},
		Console:     config.Console{SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour},
	}
	if diff := cmp.Diff(want, got, compareLocations); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
}

// A queue's admission when its file says nothing.
var (
	defaultNumberRules = reservation.NumberRules{RefuseTypes: []string{"premium_rate", "shared_cost"}}
	defaultAdmission   = reservation.Admission{Duplicates: "lenient", Scope: "queue"}
)

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	got := mustParse(t, "queues:", "  - id: q1", "    timezone: UTC")
	want := config.Default()
	want.Queues = []config.Queue{{
		ID:                    "q1",
		Name:                  "q1",
		TimeZone:              "UTC",
		Locale:                "en",
		CancelIfReachedWithin: 4 * time.Hour, // the default
		NumberRules:           defaultNumberRules,
		Admission:             defaultAdmission,
		Calendar: &schedule.Calendar{
			Location:    time.UTC,
			SlotMinutes: 15,
			Capacity:    10,
			AlwaysOpen:  true,
			Closed:      map[schedule.Date]bool{},
			Horizon:     30 * 24 * time.Hour,
		},
		SelfService: config.DefaultSelfPolicy,
		Notify:      notify.DefaultPolicy,
	}}
	if diff := cmp.Diff(want, got, compareLocations); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}
}

func TestDefaultGenesys(t *testing.T) {
	t.Parallel()
	want := config.Genesys{
		Mode:               "sandbox",
		RateLimit:          300.0 / 60,
		Budget:             "shared",
		MaxRetryAfter:      180 * time.Second,
		CallTimeout:        15 * time.Second,
		ReconcileEvery:     5 * time.Minute,
		OutcomeWait:        2 * time.Minute,
		Workers:            16,
		LostCreateWindow:   2 * time.Minute,
		CancelVerifyWindow: 30 * time.Second,
		Sandbox: config.Sandbox{
			Speed:      1,
			AnswerRate: 0.8,
			RingTime:   10 * time.Second,
			TalkTime:   30 * time.Second,
			Addr:       "127.0.0.1:0",
		},
	}
	if diff := cmp.Diff(want, config.Default().Genesys); diff != "" {
		t.Errorf("Default().Genesys mismatch (-want +got):\n%s", diff)
	}
	for name, lines := range map[string][]string{
		"absent":         {"queues: [{id: q1, timezone: UTC}]"},
		"empty":          {"genesys:", "queues: [{id: q1, timezone: UTC}]"},
		"no credentials": {"genesys: {region: mypurecloud.ie, workers: 16}", "queues: [{id: q1, timezone: UTC}]"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, lines...)
			got := c.Genesys
			if name == "no credentials" {
				// The region is checked and resolved even though sandbox mode ignores it.
				got.Region, got.APIURL, got.LoginURL = "", "", ""
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Genesys mismatch (-want +got):\n%s", diff)
			}
			if c.SMS.Text != "" || c.SMS.Templates != nil {
				t.Errorf("SMS = %+v, want the zero value", c.SMS)
			}
		})
	}
}

func TestParseGenesys(t *testing.T) {
	t.Parallel()
	getenv := env("GC_ID", "env-client", "GC_SECRET", "env-secret")
	parse := func(t *testing.T, lines ...string) *config.Config {
		t.Helper()
		lines = append(lines, "queues: [{id: q1, timezone: UTC}]")
		c, err := config.Parse("test.yaml", []byte(strings.Join(lines, "\n")), "", getenv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("credentials imply live", func(t *testing.T) {
		t.Parallel()
		g := parse(t, "genesys:", "  region: eu-west-1", "  client_id_env: GC_ID", "  client_secret_env: GC_SECRET").Genesys
		if g.Mode != "live" || g.ClientID != "env-client" || g.ClientSecret != "env-secret" ||
			g.APIURL != "https://api.mypurecloud.ie" || g.LoginURL != "https://login.mypurecloud.ie" || g.Region != "eu-west-1" {
			t.Errorf("Genesys = %#v", g)
		}
	})
	t.Run("api_url and login_url", func(t *testing.T) {
		t.Parallel()
		c := parse(t, "genesys:", "  api_url: http://127.0.0.1:9000/", "  login_url: http://127.0.0.1:9000",
			"  client_id: sim-client", "  client_secret: sim-secret", "  rate_limit: 10/s")
		g := c.Genesys
		if g.Mode != "live" || g.Region != "" || g.APIURL != "http://127.0.0.1:9000" || g.LoginURL != "http://127.0.0.1:9000" ||
			g.ClientID != "sim-client" || g.ClientSecret != "sim-secret" || g.RateLimit != 10 {
			t.Errorf("Genesys = %#v", g)
		}
		want := []string{"test.yaml:5: genesys.client_secret: a plain secret in the config file is meant for tests; use client_secret_env or client_secret_file"}
		if diff := cmp.Diff(want, c.Warnings); diff != "" {
			t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("secret file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "gc"), []byte("file-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		data := "genesys: {region: usw2.pure.cloud, client_id: abc, client_secret_file: gc}\nqueues: [{id: q1, timezone: UTC}]\n"
		c, err := config.Parse("test.yaml", []byte(data), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if g := c.Genesys; g.ClientSecret != "file-secret" || g.APIURL != "https://api.usw2.pure.cloud" {
			t.Errorf("Genesys = %#v", g)
		}
	})
	t.Run("sandbox ignores credentials", func(t *testing.T) {
		t.Parallel()
		c := parse(t, "genesys:", "  mode: sandbox", "  client_id_env: UNSET_ID", "  client_secret: x",
			"  sandbox: {speed: 60, answer_rate: 0, ring_time: 5s, talk_time: 1m, addr: ':7070'}")
		g := c.Genesys
		wantSandbox := config.Sandbox{Speed: 60, AnswerRate: 0, RingTime: 5 * time.Second, TalkTime: time.Minute, Addr: ":7070"}
		if g.Mode != "sandbox" || g.ClientID != "" || g.ClientSecret != "" || g.Sandbox != wantSandbox {
			t.Errorf("Genesys = %#v", g)
		}
		want := []string{
			"test.yaml:3: genesys.client_id_env: is ignored in sandbox mode, which runs the built-in simulator",
			"test.yaml:4: genesys.client_secret: is ignored in sandbox mode, which runs the built-in simulator",
		}
		if diff := cmp.Diff(want, c.Warnings); diff != "" {
			t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("sandbox block in live mode", func(t *testing.T) {
		t.Parallel()
		c := parse(t, "genesys:", "  region: mypurecloud.de", "  client_id: abc", "  client_secret_env: GC_SECRET", "  sandbox: {speed: 2}")
		want := []string{"test.yaml:5: genesys.sandbox: is ignored in live mode"}
		if diff := cmp.Diff(want, c.Warnings); diff != "" {
			t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  []string // line i+1 of the file
		line  int
		field string
		msg   string
	}{
		{
			name:  "unknown top-level key",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "colour: blue"},
			line:  4,
			field: "colour",
			msg:   "unknown field",
		},
		{
			name:  "unknown queue key",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    capcity: 5"},
			line:  4,
			field: "queues[0].capcity",
			msg:   "unknown field",
		},
		{
			name:  "unknown override key",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {day: [sat], capacity: 1}"},
			line:  5,
			field: "queues[0].capacity_overrides[0].day",
			msg:   "unknown field",
		},
		{
			name:  "key given twice",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    id: q2"},
			line:  4,
			field: "queues[0].id",
			msg:   "is given twice (first on line 2)",
		},
		{
			name:  "bad slot_minutes",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    slot_minutes: 7"},
			line:  4,
			field: "queues[0].slot_minutes",
			msg:   "7 is not one of 5, 10, 15, 20, 30, 60, 120",
		},
		{
			name:  "capacity is not a number",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity: ten"},
			line:  4,
			field: "queues[0].capacity",
			msg:   `"ten" is not an integer`,
		},
		{
			name:  "hours is a list",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours: [08:00-12:00]"},
			line:  4,
			field: "queues[0].hours",
			msg:   "must be 24/7 or a mapping from days to intervals, not a list",
		},
		{
			name:  "bad timezone",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: Mars/Olympus"},
			line:  3,
			field: "queues[0].timezone",
			msg:   `"Mars/Olympus" is not a known IANA time zone`,
		},
		{
			name:  "missing timezone",
			yaml:  []string{"queues:", "  - id: q1", "    name: Support"},
			line:  2,
			field: "queues[0].timezone",
			msg:   "is required",
		},
		{
			name:  "bad interval",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon: ["08:00-12:00", "18:00-17:00"]`},
			line:  5,
			field: "queues[0].hours.mon[1]",
			msg:   `"18:00-17:00" ends before it starts`,
		},
		{
			name:  "bad day",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon-fry: ["08:00-12:00"]`},
			line:  5,
			field: "queues[0].hours.mon-fry",
			msg:   `"fry" is not a day`,
		},
		{
			name:  "day named twice",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon-fri: ["08:00-12:00"]`, `      wed: ["13:00-14:00"]`},
			line:  6,
			field: "queues[0].hours.wed",
			msg:   `wed is already named by "mon-fri" on line 5`,
		},
		{
			name:  "bad date in closed",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    closed: [2026-12-25, 2026-13-01]"},
			line:  4,
			field: "queues[0].closed[1]",
			msg:   `"2026-13-01" is not a date`,
		},
		{
			name:  "override without capacity",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [sat]}"},
			line:  5,
			field: "queues[0].capacity_overrides[0].capacity",
			msg:   "is required",
		},
		{
			name:  "override matching everything",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {capacity: 3}"},
			line:  5,
			field: "queues[0].capacity_overrides[0]",
			msg:   "needs at least one of days, date and hours",
		},
		{
			name:  "duplicate queue id",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "  - timezone: UTC", "    id: q1"},
			line:  5,
			field: "queues[1].id",
			msg:   `"q1" is already used by queues[0]`,
		},
		{
			name:  "bad queue id",
			yaml:  []string{"queues:", "  - id: queue 1", "    timezone: UTC"},
			line:  2,
			field: "queues[0].id",
			msg:   `"queue 1" must be 1 to 64 letters`,
		},
		{
			name:  "negative lead_time",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    lead_time: -15m"},
			line:  4,
			field: "queues[0].lead_time",
			msg:   "-15m must not be negative",
		},
		{
			name:  "bad horizon",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 30"},
			line:  4,
			field: "queues[0].horizon",
			msg:   `"30" is not a duration`,
		},
		{
			name:  "no queues",
			yaml:  []string{"listen: :8080"},
			field: "queues",
			msg:   "at least one queue is required",
		},
		{
			name:  "unknown scope",
			yaml:  []string{"queues: [{id: q1, timezone: UTC}]", "clients:", "  - id: web", "    secret: 0123456789abcdef", "    scopes: [callback:read, callback:delete]"},
			line:  5,
			field: "clients[0].scopes[1]",
			msg:   `"callback:delete" is not one of callback:read, callback:write, webhook:read, webhook:write, callback:admin, webhook:admin, capacity:write`,
		},
		{
			name:  "no scopes",
			yaml:  []string{"queues: [{id: q1, timezone: UTC}]", "clients:", "  - id: web", "    secret: 0123456789abcdef", "    scopes: []"},
			line:  5,
			field: "clients[0].scopes",
			msg:   "at least one scope is required",
		},
		{
			name:  "secret_env names an empty variable",
			yaml:  []string{"queues: [{id: q1, timezone: UTC}]", "clients:", "  - id: web", "    secret_env: EMPTY_SECRET", "    scopes: [callback:read]"},
			line:  4,
			field: "clients[0].secret_env",
			msg:   "environment variable EMPTY_SECRET is unset or empty",
		},
		{
			name:  "two secret sources",
			yaml:  []string{"queues: [{id: q1, timezone: UTC}]", "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    secret: 0123456789abcdef", "    scopes: [callback:read]"},
			line:  5,
			field: "clients[0].secret",
			msg:   "give only one of secret_env, secret_file and secret",
		},
		{
			name:  "short secret",
			yaml:  []string{"queues: [{id: q1, timezone: UTC}]", "clients:", "  - id: web", "    secret: hunter2", "    scopes: [callback:read]"},
			line:  4,
			field: "clients[0].secret",
			msg:   "the secret must be at least 16 characters",
		},
		{
			name:  "zero rate limit",
			yaml:  []string{"queues: [{id: q1, timezone: UTC}]", "clients:", "  - id: web", "    secret: 0123456789abcdef", "    scopes: [callback:read]", "    rate_limit: 0/s"},
			line:  6,
			field: "clients[0].rate_limit",
			msg:   `"0/s" must be positive`,
		},
		{
			name:  "tls with only cert",
			yaml:  []string{"tls:", "  cert: server.crt", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "tls.key",
			msg:   "is required",
		},
		{
			name:  "bad public_url",
			yaml:  []string{"public_url: callbacks.example.com", "queues: [{id: q1, timezone: UTC}]"},
			line:  1,
			field: "public_url",
			msg:   `"callbacks.example.com" is not an absolute http or https URL`,
		},
		{
			name:  "bad database scheme",
			yaml:  []string{"database: mysql://app:hunter2@db/slotline", "queues: [{id: q1, timezone: UTC}]"},
			line:  1,
			field: "database",
			msg:   "must start with sqlite:, postgres:// or postgresql://",
		},
		{
			name:  "bad log level",
			yaml:  []string{"log: {level: verbose}", "queues: [{id: q1, timezone: UTC}]"},
			line:  1,
			field: "log.level",
			msg:   `"verbose" is not one of debug, info, warn, error`,
		},
		{
			name:  "unknown genesys key",
			yaml:  []string{"genesys:", "  region: mypurecloud.com", "  regoin: us-east-1", "queues: [{id: q1, timezone: UTC}]"},
			line:  3,
			field: "genesys.regoin",
			msg:   "unknown field",
		},
		{
			name:  "unknown genesys.sandbox key",
			yaml:  []string{"genesys:", "  sandbox:", "    sped: 2", "queues: [{id: q1, timezone: UTC}]"},
			line:  3,
			field: "genesys.sandbox.sped",
			msg:   "unknown field",
		},
		{
			name:  "bad genesys mode",
			yaml:  []string{"genesys: {mode: production}", "queues: [{id: q1, timezone: UTC}]"},
			line:  1,
			field: "genesys.mode",
			msg:   `"production" is not one of live, sandbox`,
		},
		{
			name:  "region and api_url",
			yaml:  []string{"genesys:", "  region: mypurecloud.com", "  api_url: https://api.mypurecloud.com", "  login_url: https://login.mypurecloud.com", "queues: [{id: q1, timezone: UTC}]"},
			line:  3,
			field: "genesys.api_url",
			msg:   "give region, or api_url and login_url, not both",
		},
		{
			name:  "api_url without login_url",
			yaml:  []string{"genesys:", "  api_url: https://api.mypurecloud.com", "  client_id: abc", "  client_secret_env: WEB_SECRET", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.login_url",
			msg:   "is required when api_url is given",
		},
		{
			name:  "relative api_url",
			yaml:  []string{"genesys:", "  api_url: api.mypurecloud.com", "  login_url: https://login.mypurecloud.com", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.api_url",
			msg:   `"api.mypurecloud.com" is not an absolute http or https URL`,
		},
		{
			name:  "live without credentials",
			yaml:  []string{"genesys:", "  mode: live", "  region: mypurecloud.com", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.client_id",
			msg:   "mode live needs client_id_env or client_id",
		},
		{
			name:  "live without secret",
			yaml:  []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.client_secret",
			msg:   "mode live needs client_secret_env, client_secret_file or client_secret",
		},
		{
			name:  "live without region",
			yaml:  []string{"genesys: {client_id: abc, client_secret_env: WEB_SECRET}", "queues: [{id: q1, timezone: UTC}]"},
			line:  1,
			field: "genesys.region",
			msg:   "mode live needs region, or api_url and login_url",
		},
		{
			name:  "client_secret_env names an unset variable",
			yaml:  []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", "  client_secret_env: GENESYS_CLIENT_SECRET", "queues: [{id: q1, timezone: UTC}]"},
			line:  4,
			field: "genesys.client_secret_env",
			msg:   "environment variable GENESYS_CLIENT_SECRET is unset or empty",
		},
		{
			name:  "client_id_env names an unset variable",
			yaml:  []string{"genesys:", "  region: mypurecloud.com", "  client_id_env: GENESYS_CLIENT_ID", "  client_secret_env: WEB_SECRET", "queues: [{id: q1, timezone: UTC}]"},
			line:  3,
			field: "genesys.client_id_env",
			msg:   "environment variable GENESYS_CLIENT_ID is unset or empty",
		},
		{
			name:  "two client secret sources",
			yaml:  []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", "  client_secret_env: WEB_SECRET", "  client_secret: hunter2", "queues: [{id: q1, timezone: UTC}]"},
			line:  5,
			field: "genesys.client_secret",
			msg:   "give only one of client_secret_env, client_secret_file and client_secret",
		},
		{
			name:  "bad region",
			yaml:  []string{"genesys:", "  region: mypurecloud.mars", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.region",
			msg:   `"mypurecloud.mars" is not a Genesys Cloud region`,
		},
		{
			name:  "bad genesys rate_limit",
			yaml:  []string{"genesys:", "  rate_limit: 250 per minute", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.rate_limit",
			msg:   `"250 per minute" is not a rate like 50/s, 100/min or 1000/h`,
		},
		{
			name:  "zero call_timeout",
			yaml:  []string{"genesys:", "  call_timeout: 0s", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.call_timeout",
			msg:   "must be positive",
		},
		{
			name:  "workers 0",
			yaml:  []string{"genesys:", "  workers: 0", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.workers",
			msg:   "0 is not between 1 and 256",
		},
		{
			name:  "answer_rate 1.5",
			yaml:  []string{"genesys:", "  sandbox:", "    answer_rate: 1.5", "queues: [{id: q1, timezone: UTC}]"},
			line:  3,
			field: "genesys.sandbox.answer_rate",
			msg:   "1.5 is not between 0 and 1",
		},
		{
			name:  "zero sandbox speed",
			yaml:  []string{"genesys:", "  sandbox: {speed: 0}", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.sandbox.speed",
			msg:   "0 is not more than 0",
		},
		{
			name:  "bad sandbox addr",
			yaml:  []string{"genesys:", "  sandbox: {addr: localhost}", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "genesys.sandbox.addr",
			msg:   `"localhost" is not a host:port address`,
		},
		{
			name:  "unknown sms key",
			yaml:  []string{"sms:", "  txt: hello", "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "sms.txt",
			msg:   "unknown field",
		},
		{
			name:  "sms text too long",
			yaml:  []string{"sms:", "  text: " + strings.Repeat("é", 766), "queues: [{id: q1, timezone: UTC}]"},
			line:  2,
			field: "sms.text",
			msg:   "is 766 characters long; at most 765 are allowed",
		},
		{
			name:  "bad sms_from",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", `    sms_from: "800-555-0100"`},
			line:  4,
			field: "queues[0].sms_from",
			msg:   `"800-555-0100" is not an E.164 phone number`,
		},
		{
			name:  "bad caller_id",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    caller_id: +0123456789"},
			line:  4,
			field: "queues[0].caller_id",
			msg:   `"+0123456789" is not an E.164 phone number`,
		},
		{
			name:  "caller_id_name too long",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    caller_id_name: " + strings.Repeat("x", 101)},
			line:  4,
			field: "queues[0].caller_id_name",
			msg:   "is 101 characters long; at most 100 are allowed",
		},
		{
			name:  "schedule_group_id with hours",
			yaml:  []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours: {mon: [\"08:00-12:00\"]}", "    schedule_group_id: sg-1"},
			line:  5,
			field: "queues[0].schedule_group_id",
			msg:   "cannot be given with hours (line 4): the opening hours come from the schedule group",
		},
		{
			name:  "schedule_group_id with hours and closed",
			yaml:  []string{"queues:", "  - id: q1", "    schedule_group_id: sg-1", "    timezone: UTC", "    closed: [2026-12-25]", "    hours: 24/7"},
			line:  3,
			field: "queues[0].schedule_group_id",
			msg:   "cannot be given with hours (line 6) or closed (line 5)",
		},
		{
			name: "yaml syntax error",
			yaml: []string{"queues:", "  - id: q1", "    name: a: b"},
			line: 3,
			msg:  "invalid YAML: mapping values are not allowed in this context",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("bad.yaml", []byte(strings.Join(tt.yaml, "\n")), "", env("WEB_SECRET", "0123456789abcdef"))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse() error = %v, want a *config.Error", err)
			}
			if ce.File != "bad.yaml" || ce.Line != tt.line || ce.Field != tt.field {
				t.Errorf("Parse() error at %s:%d %q, want bad.yaml:%d %q", ce.File, ce.Line, ce.Field, tt.line, tt.field)
			}
			if !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("Parse() message %q does not contain %q", ce.Msg, tt.msg)
			}
			want := "bad.yaml:" + fmt.Sprint(tt.line) + ": "
			if tt.line == 0 {
				want = "bad.yaml: "
			}
			if tt.field != "" {
				want += tt.field + ": "
			}
			if got := err.Error(); !strings.HasPrefix(got, want) || strings.Contains(got, "\n") || strings.Contains(got, "hunter2") {
				t.Errorf("Parse() error = %q, want one line starting %q and no secrets", got, want)
			}
		})
	}
}

func TestParseHours(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		hours      string
		alwaysOpen bool
		open       []time.Weekday
	}{
		{name: "24/7", hours: "hours: 24/7", alwaysOpen: true},
		{name: "absent", hours: "", alwaysOpen: true},
		{name: "empty", hours: "hours:", alwaysOpen: true},
		{name: "one day", hours: `hours: {tue: ["08:00-12:00"]}`, open: []time.Weekday{time.Tuesday}},
		{name: "wrapping range", hours: `hours: {fri-mon: ["08:00-12:00"]}`, open: []time.Weekday{time.Sunday, time.Monday, time.Friday, time.Saturday}},
		{name: "comma list", hours: `hours: {"sat,sun": ["08:00-12:00"]}`, open: []time.Weekday{time.Sunday, time.Saturday}},
		{name: "full names", hours: `hours: {Monday-WEDNESDAY: ["08:00-12:00"]}`, open: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, "queues:", "  - id: q1", "    timezone: UTC", "    "+tt.hours).Queues[0].Calendar
			if s.AlwaysOpen != tt.alwaysOpen {
				t.Errorf("AlwaysOpen = %v, want %v", s.AlwaysOpen, tt.alwaysOpen)
			}
			var open []time.Weekday
			for wd, ivs := range s.Hours {
				if len(ivs) > 0 {
					open = append(open, time.Weekday(wd))
				}
			}
			if diff := cmp.Diff(tt.open, open); diff != "" {
				t.Errorf("open days mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limit string
		rate  float64
		burst int
	}{
		{"50/s", 50, 50},
		{"1.5/s", 1.5, 2},
		{"10/m", 10.0 / 60, 1},
		{"7200/h", 2, 2},
		{"120/min", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.limit, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, "queues: [{id: q1, timezone: UTC}]", "clients:", "  - id: web",
				"    secret: 0123456789abcdef", "    scopes: [callback:read]", "    rate_limit: "+tt.limit).Clients[0]
			if c.RateLimit != tt.rate || c.RateBurst != tt.burst {
				t.Errorf("rate, burst = %g, %d, want %g, %d", c.RateLimit, c.RateBurst, tt.rate, tt.burst)
			}
		})
	}
}

func TestLoadSecretFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "web"), []byte("0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, secretFile string) string {
		path := filepath.Join(dir, name)
		data := "queues: [{id: q1, timezone: UTC}]\nclients:\n  - id: web\n    secret_file: " + secretFile + "\n    scopes: [callback:read]\n"
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c, err := config.Load(write("ok.yaml", "secrets/web"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Clients[0].Secret; got != "0123456789abcdef" {
			t.Errorf("Secret = %q, want the file's content without the newline", got)
		}
	})
	t.Run("ErrNotExist", func(t *testing.T) {
		t.Parallel()
		path := write("missing.yaml", "secrets/nope")
		_, err := config.Load(path, nil)
		var ce *config.Error
		if !errors.As(err, &ce) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Load() error = %v, want a *config.Error wrapping fs.ErrNotExist", err)
		}
		if ce.File != path || ce.Line != 4 || ce.Field != "clients[0].secret_file" {
			t.Errorf("Load() error = %v, want it at %s:4 clients[0].secret_file", err, path)
		}
	})
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "slotline.yaml")
	_, err := config.Load(path, nil)
	var ce *config.Error
	if !errors.As(err, &ce) || !errors.Is(err, fs.ErrNotExist) || ce.File != path {
		t.Fatalf("Load() error = %v, want a *config.Error for %s wrapping fs.ErrNotExist", err, path)
	}
}

func TestParseWarnings(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "queues:", "  - id: q1", "    timezone: UTC", "    horizon: 60d",
		"clients:", "  - id: web", "    secret: 0123456789abcdef", "    scopes: [callback:read]")
	want := []string{
		"test.yaml:7: clients[0].secret: a plain secret in the config file is meant for tests; use secret_env or secret_file",
		"test.yaml:4: queues[0].horizon: 60d is more than 30 days; Genesys schedules callbacks at most 30 days ahead",
	}
	if diff := cmp.Diff(want, c.Warnings); diff != "" {
		t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
	}
	if got := c.Queues[0].Calendar.Horizon; got != 60*24*time.Hour {
		t.Errorf("Horizon = %v, want 60 days", got)
	}
}

func TestClientHidesSecret(t *testing.T) {
	t.Parallel()
	c := config.Client{ID: "web", Secret: "0123456789abcdef", Scopes: []string{"callback:read"}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, c); strings.Contains(got, c.Secret) {
			t.Errorf("Sprintf(%q) = %q, shows the secret", verb, got)
		}
	}
}

func TestGenesysHidesSecret(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Genesys.Mode, c.Genesys.Region, c.Genesys.ClientID, c.Genesys.ClientSecret = "live", "mypurecloud.com", "gc-client", "genesys-secret-0123456789"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{c.Genesys, &c.Genesys, c, *c} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, c.Genesys.ClientSecret) {
				t.Errorf("Sprintf(%q, %T) = %q, shows the secret", verb, v, got)
			}
		}
	}
	if got := fmt.Sprintf("%#v", c.Genesys); !strings.Contains(got, `ClientSecret:"<redacted>"`) || !strings.Contains(got, `ClientID:"gc-client"`) {
		t.Errorf(`Sprintf("%%#v") = %q, want the client id and a redacted secret`, got)
	}
}

func TestDefaultQueue(t *testing.T) {
	t.Parallel()
	q := config.DefaultQueue()
	if q.ID != "queue_12345" || q.Name != "Default" || q.TimeZone != "America/New_York" || q.GenesysQueueID != "" {
		t.Errorf("DefaultQueue() = %+v", q)
	}
	s := q.Calendar
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Location.String() != "America/New_York" || s.SlotMinutes != 15 || s.Capacity != 10 ||
		!s.AlwaysOpen || s.LeadTime != 0 || s.Horizon != 30*24*time.Hour {
		t.Errorf("DefaultQueue().Schedule = %+v", s)
	}
}

func TestStreamBlock(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("s.yaml", []byte("queues: [{id: q, timezone: UTC}]\nstream:\n  allowed_origins: [\"*.example.com\", \"https://app.example.org\"]\n  window: 20\n  slow_consumer_timeout: 5s\n  max_frame_bytes: 4096\n  ring: 500\n  max_subscriptions_per_client: 3\n"), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := cfg.Stream
	if len(st.AllowedOrigins) != 2 || st.Window != 20 || st.SlowConsumerTimeout != 5*time.Second || st.MaxFrameBytes != 4096 || st.Ring != 500 ||
		st.MaxSubscriptionsPerClient != 3 {
		t.Errorf("stream = %+v", st)
	}
	for body, want := range map[string]string{
		"stream:\n  window: 0\n":                        "s.yaml:3: stream.window",
		"stream:\n  allowed_origins: [\"[\"]\n":         "s.yaml:3: stream.allowed_origins[0]",
		"stream:\n  wndow: 3\n":                         "s.yaml:3: stream.wndow",
		"stream:\n  max_frame_bytes: 10\n":              "s.yaml:3: stream.max_frame_bytes",
		"stream:\n  ring: 10\n":                         "s.yaml:3: stream.ring",
		"stream:\n  max_subscriptions_per_client: -1\n": "s.yaml:3: stream.max_subscriptions_per_client",
	} {
		_, err := config.Parse("s.yaml", []byte("queues: [{id: q, timezone: UTC}]\n"+body), t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %s", body, err, want)
		}
	}
}

func TestHTTPBlock(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("h.yaml", []byte("queues: [{id: q, timezone: UTC}]\nhttp: {write_timeout: 5s, max_connections: 0, max_connections_per_address: 8}\n"), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(config.HTTP{WriteTimeout: 5 * time.Second, MaxConnectionsPerAddress: 8}, cfg.HTTP); diff != "" {
		t.Errorf("http mismatch (-want +got):\n%s", diff)
	}
	cfg, err = config.Parse("h.yaml", []byte("queues: [{id: q, timezone: UTC}]\nstream: {max_subscriptions_per_client: 0}\n"), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Stream.MaxSubscriptionsPerClient != 0 || cfg.HTTP != config.Default().HTTP {
		t.Errorf("stream = %+v, http = %+v; want no stream cap and the default http block", cfg.Stream, cfg.HTTP)
	}
}

func TestWebhooksBlock(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse("w.yaml", []byte("queues: [{id: q, timezone: UTC}]\nwebhooks: {allow_http: true, allow_private: true, timeout: 5s, disable_after: 2d, rotation_grace: 1h}\n"), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wh := cfg.Webhooks
	if !wh.AllowHTTP || !wh.AllowPrivate || wh.Timeout != 5*time.Second || wh.DisableAfter != 48*time.Hour || wh.RotationGrace != time.Hour {
		t.Errorf("webhooks = %+v", wh)
	}
	if len(cfg.Warnings) == 0 || !strings.Contains(strings.Join(cfg.Warnings, "\n"), "webhooks.allow_private") {
		t.Errorf("no warning for allow_private: %v", cfg.Warnings)
	}
	for body, want := range map[string]string{
		"webhooks: {allow_http: yes please}\n": "w.yaml:2: webhooks.allow_http",
		"webhooks: {timeout: 0s}\n":            "w.yaml:2: webhooks.timeout",
		"webhooks: {retries: 3}\n":             "w.yaml:2: webhooks.retries",
	} {
		_, err := config.Parse("w.yaml", []byte("queues: [{id: q, timezone: UTC}]\n"+body), t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %s", body, err, want)
		}
	}
}

// TestLoginThrottle pins the defaults of login_throttle and reads off.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	want := config.LoginThrottle{PerClient: 10.0 / 60, PerClientBurst: 5, PerAddress: 30.0 / 60, PerAddressBurst: 20}
	if got := config.Default().LoginThrottle; got != want {
		t.Errorf("Default().LoginThrottle = %+v, want %+v", got, want)
	}
	for name, c := range map[string]struct {
		lines []string
		want  config.LoginThrottle
	}{
		"absent": {[]string{q1}, want},
		"empty":  {[]string{"login_throttle:", q1}, want},
		"off":    {[]string{"login_throttle: {per_client: off, per_address: off}", q1}, config.LoginThrottle{PerClientBurst: 5, PerAddressBurst: 20}},
		"some":   {[]string{"login_throttle:", "  per_client: 1/s", "  per_address_burst: 100", q1}, config.LoginThrottle{PerClient: 1, PerClientBurst: 5, PerAddress: 30.0 / 60, PerAddressBurst: 100}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := mustParse(t, c.lines...).LoginThrottle; got != c.want {
				t.Errorf("LoginThrottle = %+v, want %+v", got, c.want)
			}
		})
	}
}
