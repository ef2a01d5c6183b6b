package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// The Genesys org of the doctor tests: one queue with a schedule group and
// an SMS number.
const (
	doctorQueue = "0b5e2c1a-0000-4000-8000-0000000000d1"
	doctorGroup = "0b5e2c1a-0000-4000-8000-0000000000d2"
	doctorSMS   = "+18005550142"
)

// doctorFixture is a simulated org (gcsim over real HTTP) and a migrated
// SQLite database, for one test.
type doctorFixture struct {
	sim *gcsim.Sim
	url string
	dir string
	db  string // DSN
}

// migratedSQLite is a migrated SQLite database file made once per test
// binary, which each fixture copies.
func migratedSQLite(t *testing.T, dir string) string {
	t.Helper()
	file := filepath.Join(dir, "slotline.db")
	ctx := t.Context()
	st, err := storage.Open(ctx, "sqlite:"+filepath.Join(dir, "template.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.BackupTo(ctx, file); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + file
}

func newDoctorFixture(t *testing.T) *doctorFixture {
	t.Helper()
	sim := gcsim.New(gcsim.Options{
		Queues: []gcsim.Queue{{ID: doctorQueue, Name: "Support", SMSAddress: doctorSMS}},
		ScheduleGroups: []gcsim.ScheduleGroup{{ID: doctorGroup, Name: "Support hours", TimeZone: "America/New_York",
			Open: []gcsim.Schedule{{Name: "Weekdays", Start: "2024-01-01T08:00:00.000", End: "2024-01-01T18:00:00.000", RRule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}}}},
	})
	t.Cleanup(func() { sim.Close() })
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &doctorFixture{sim: sim, url: url, dir: dir, db: migratedSQLite(t, dir)}
}

// doctorConfig is what the fixture's configuration file may vary.
type doctorConfig struct {
	secret, queueID, groupID, smsFrom string
}

// config writes a live configuration against the fixture's simulator and
// returns its path; change alters the healthy values.
func (f *doctorFixture) config(t *testing.T, change func(*doctorConfig)) string {
	t.Helper()
	c := doctorConfig{secret: gcsim.DefaultClientSecret, queueID: doctorQueue, groupID: doctorGroup, smsFrom: doctorSMS}
	if change != nil {
		change(&c)
	}
	body := "database: " + f.db + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"genesys:\n  mode: live\n  api_url: " + f.url + "\n  login_url: " + f.url + "\n" +
		"  client_id: " + gcsim.DefaultClientID + "\n  client_secret: " + c.secret + "\n" +
		"queues:\n  - id: q1\n    genesys_queue_id: " + c.queueID + "\n    schedule_group_id: " + c.groupID + "\n" +
		"    sms_from: \"" + c.smsFrom + "\"\n    timezone: America/New_York\n    capacity: 10\n    horizon: 30d\n"
	path := filepath.Join(t.TempDir(), "slotline.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// doctorRun runs slotline doctor in-process and returns its output, its
// error output and its exit status.
func doctorRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := Run(ctx, append([]string{"slotline", "doctor"}, args...), func(string) string { return "" }, nil, &out, &errOut)
	code = 0
	if err != nil {
		code = ExitCode(err)
	}
	return out.String(), errOut.String(), code
}

// doctorJSON runs slotline doctor --json and decodes its checks.
func doctorJSON(t *testing.T, args ...string) ([]checkResult, int) {
	t.Helper()
	out, errOut, code := doctorRun(t, append(args, "--json")...)
	var checks []checkResult
	if err := json.Unmarshal([]byte(out), &checks); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s\nstderr: %s", err, out, errOut)
	}
	return checks, code
}

// failedChecks are the names of the checks that failed.
func failedChecks(checks []checkResult) []string {
	var out []string
	for _, c := range checks {
		if !c.OK {
			out = append(out, c.Check)
		}
	}
	return out
}

// wantChecks are the checks of a healthy run against the fixture, in order.
var wantChecks = []string{
	"config", "database", "migrations", "database write", "genesys token",
	"permission conversation:callback:create", "permission conversation:callback:edit",
	"permission conversation:communication:disconnect", "permission conversation:communication:view",
	"permission analytics:conversationDetail:view", "permission routing:queue:view",
	"permission routing:scheduleGroup:view", "permission routing:schedule:view", "permission conversation:message:create",
	"queue q1", "schedule group q1", "sms_from q1", "topic q1", "clock skew",
}

func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	f := newDoctorFixture(t)
	cfg := f.config(t, nil)

	out, errOut, code := doctorRun(t, "--config", cfg)
	if code != 0 {
		t.Fatalf("exit status %d\n%s\nstderr: %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var names []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "✓ ") {
			t.Errorf("not a ✓ line: %q", l)
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(l, "✓ "), ": ")
		names = append(names, name)
	}
	if !slices.Equal(names, wantChecks) {
		t.Errorf("checks:\n got %q\nwant %q", names, wantChecks)
	}

	checks, code := doctorJSON(t, "--config", cfg)
	if code != 0 || len(checks) != len(wantChecks) || len(failedChecks(checks)) != 0 {
		t.Errorf("--json: exit %d, checks %+v", code, checks)
	}
	for _, c := range checks {
		if c.Detail == "" || c.Fix != "" {
			t.Errorf("check %+v: a ✓ has a detail and no fix", c)
		}
	}
	// The probes were harmless: nothing was created in the org.
	if n, m := len(f.sim.Callbacks()), len(f.sim.SMS()); n != 0 || m != 0 {
		t.Errorf("the checks created %d callbacks and sent %d SMS", n, m)
	}
	// The doctor left the channel it made empty.
	if n := f.sim.Stats().Count("PUT /api/v2/notifications/channels/{channelId}/subscriptions", 200); n != 4 { // two runs, each subscribing and emptying
		t.Errorf("subscriptions were not emptied after the check (%d calls)", n)
	}
}

// TestDoctorBroken: a configuration broken in one way fails exactly the
// check of that way, naming the fix, and exits 1.
func TestDoctorBroken(t *testing.T) {
	t.Parallel()
	// Every permission the checks probe, for a client missing just one.
	all := []string{gcsim.QueueTopicPermission, "sms:phoneNumber:view"}
	for _, p := range permissions([]*booking.Queue{{ScheduleGroupID: "g", SMSFrom: "+1"}}) {
		all = append(all, p.name)
	}
	cases := []struct {
		name    string
		prepare func(t *testing.T, f *doctorFixture) []string // the doctor's arguments
		failed  string
		detail  string // in the failed check's detail
		fix     string // in its fix
	}{
		{"UnparseableConfig", func(t *testing.T, f *doctorFixture) []string {
			path := filepath.Join(t.TempDir(), "broken.yaml")
			if err := os.WriteFile(path, []byte("database: sqlite:x.db\nqueues: [\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--config", path}
		}, "config", "broken.yaml:2: invalid YAML", "the file at that line"},
		{"UnreachableDatabase", func(t *testing.T, f *doctorFixture) []string {
			return []string{"--config", f.config(t, nil), "--db", "postgres://postgres@127.0.0.1:1/slotline"}
		}, "database", "unreachable", "start PostgreSQL"},
		{"MissingSQLiteFile", func(t *testing.T, f *doctorFixture) []string {
			return []string{"--config", f.config(t, nil), "--db", "sqlite:" + filepath.Join(t.TempDir(), "none.db")}
		}, "database", "does not exist", "slotline migrate"},
		{"PendingMigrations", func(t *testing.T, f *doctorFixture) []string {
			unapplyLast(t, f.db)
			return []string{"--config", f.config(t, nil)}
		}, "migrations", "1 pending: ", "run slotline migrate"},
		{"WrongClientSecret", func(t *testing.T, f *doctorFixture) []string {
			return []string{"--config", f.config(t, func(c *doctorConfig) { c.secret = "not-the-secret" })}
		}, "genesys token", "invalid_client", "client_id and the client secret"},
		{"MissingPermission", func(t *testing.T, f *doctorFixture) []string {
			f.sim.SetPermissions(gcsim.DefaultClientID, slices.DeleteFunc(slices.Clone(all), func(p string) bool { return p == "conversation:callback:edit" }))
			return []string{"--config", f.config(t, nil)}
		}, "permission conversation:callback:edit", "[conversation:callback:edit]", "add conversation:callback:edit to a role of the OAuth client sim-client"},
		{"UnknownQueue", func(t *testing.T, f *doctorFixture) []string {
			return []string{"--config", f.config(t, func(c *doctorConfig) { c.queueID = "0b5e2c1a-0000-4000-8000-00000000dead" })}
		}, "queue q1", "is no queue of the org", "into genesys_queue_id"},
		{"UnknownScheduleGroup", func(t *testing.T, f *doctorFixture) []string {
			return []string{"--config", f.config(t, func(c *doctorConfig) { c.groupID = "0b5e2c1a-0000-4000-8000-00000000beef" })}
		}, "schedule group q1", "is no schedule group of the org", "into schedule_group_id"},
		{"SMSFromNotOwned", func(t *testing.T, f *doctorFixture) []string {
			return []string{"--config", f.config(t, func(c *doctorConfig) { c.smsFrom = "+18005550199" })}
		}, "sms_from q1", "+18005550199 is not an SMS number of the org", "SMS Number Inventory"},
		{"RejectedTopic", func(t *testing.T, f *doctorFixture) []string {
			f.sim.SetTopicRejection("v2.routing.queues."+doctorQueue+".conversations", "Missing permissions.", "analytics:queueObservation:view")
			return []string{"--config", f.config(t, nil)}
		}, "topic q1", "Rejected (Missing permissions.), missing permissions: analytics:queueObservation:view", "add analytics:queueObservation:view to a role"},
		{"ClockSkew", func(t *testing.T, f *doctorFixture) []string {
			f.sim.SetDateOffset(30 * time.Second)
			return []string{"--config", f.config(t, nil)}
		}, "clock skew", "ahead of this host's", "sync the clock (NTP)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newDoctorFixture(t)
			args := tc.prepare(t, f)
			checks, code := doctorJSON(t, args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if got := failedChecks(checks); !slices.Equal(got, []string{tc.failed}) {
				t.Fatalf("failed checks %q, want only %q: %+v", got, tc.failed, checks)
			}
			i := slices.IndexFunc(checks, func(c checkResult) bool { return !c.OK })
			if c := checks[i]; !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("check %q:\n detail %q, want it to contain %q\n fix %q, want it to contain %q", c.Check, c.Detail, tc.detail, c.Fix, tc.fix)
			}
			// The text form is the same check, on one ✗ line.
			out, _, _ := doctorRun(t, args...)
			if !strings.Contains(out, "✗ "+tc.failed+": ") || strings.Count(out, "✗ ") != 1 {
				t.Errorf("text output:\n%s", out)
			}
		})
	}
}

// unapplyLast forgets the last migration applied to a database, as if it
// were made by an older slotline.
func unapplyLast(t *testing.T, dsn string) {
	t.Helper()
	ctx := t.Context()
	st, err := storage.Connect(ctx, dsn, storage.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const q = "DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)"
	if st.Pool() != nil {
		_, err = st.Pool().Exec(ctx, q)
	} else {
		_, err = st.DB().ExecContext(ctx, q)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestDoctorPostgres: the database checks on PostgreSQL, healthy and with
// a pending migration, which doctor names and does not apply.
func TestDoctorPostgres(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	st, err := storage.Open(t.Context(), dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	f := newDoctorFixture(t)
	cfg := f.config(t, nil)
	checks, code := doctorJSON(t, "--config", cfg, "--db", dsn)
	if code != 0 || len(failedChecks(checks)) != 0 || checks[1].Detail == "" || !strings.Contains(checks[1].Detail, "postgres") {
		t.Fatalf("healthy: exit %d, %+v", code, checks)
	}
	unapplyLast(t, dsn)
	for range 2 { // doctor does not migrate: the second run finds it pending still
		checks, code = doctorJSON(t, "--config", cfg, "--db", dsn)
		if got := failedChecks(checks); code != 1 || !slices.Equal(got, []string{"migrations"}) {
			t.Fatalf("pending: exit %d, failed %q: %+v", code, got, checks)
		}
	}
}

// TestDoctorSandbox: on the sandbox configuration (no genesys block) the
// Genesys checks run against the built-in simulator and pass.
func TestDoctorSandbox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := migratedSQLite(t, dir)
	path := filepath.Join(dir, "sandbox.yaml")
	body := "database: " + db + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"queues:\n  - {id: q1, timezone: America/New_York, hours: 24/7, capacity: 10, horizon: 30d, sms_from: \"+18005550100\"}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	checks, code := doctorJSON(t, "--config", path)
	if code != 0 || len(failedChecks(checks)) != 0 {
		t.Fatalf("exit %d: %+v", code, checks)
	}
	if checks[4].Check != "genesys" || !strings.Contains(checks[4].Detail, "sandbox mode") {
		t.Errorf("the sandbox is not named: %+v", checks[4])
	}
	if !slices.ContainsFunc(checks, func(c checkResult) bool { return c.Check == "topic q1" }) {
		t.Errorf("no topic check: %+v", checks)
	}
}

func TestDoctorUsage(t *testing.T) {
	t.Parallel()
	if _, _, code := doctorRun(t); code != 2 {
		t.Errorf("without --config: exit %d, want 2", code)
	}
	if _, _, code := doctorRun(t, "--config", "x.yaml", "extra"); code != 2 {
		t.Errorf("with an argument: exit %d, want 2", code)
	}
	_, errOut, code := doctorRun(t, "-h")
	if code != 0 || !strings.Contains(errOut, "Usage: slotline doctor --config FILE [--json]") {
		t.Errorf("-h: exit %d, %q", code, errOut)
	}
}
