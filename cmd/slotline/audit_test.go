package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/storage/storagetest"
)

// runIn runs slotline to completion in dir and returns its output and exit
// code.
func runIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmdIn(t, dir, nil, args...)
}

// oneLine checks that a failed command said what is wrong in one line
// that holds every want, and nothing about tampering.
func oneLine(t *testing.T, what, stderr string, code int, want ...string) {
	t.Helper()
	if code == 0 {
		t.Errorf("%s: exit 0, want a failure", what)
	}
	msg := strings.TrimSpace(stderr)
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: the message takes more than one line:\n%s", what, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: message %q lacks %q", what, msg, w)
		}
	}
	if strings.Contains(msg, "NOT intact") {
		t.Errorf("%s: reported as tampering: %q", what, msg)
	}
}

// TestAuditVerifyMissingSQLite: audit verify on a SQLite file that is not
// there says so, naming it, and creates nothing (it used to create an
// empty file and report the audit log as broken).
func TestAuditVerifyMissingSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	_, stderr, code := runIn(t, dir, "audit", "verify", "--db", "sqlite:"+missing)
	oneLine(t, "missing file", stderr, code, missing, "does not exist")
	// In a directory that does not exist either; and the default database
	// (./slotline.db), as a new user runs it in the wrong directory.
	_, stderr, code = runIn(t, dir, "audit", "verify", "--db", "sqlite:nodir/x.db")
	oneLine(t, "missing directory", stderr, code, "nodir/x.db", "does not exist", filepath.Join(dir, "nodir", "x.db"))
	_, stderr, code = runIn(t, dir, "audit", "verify")
	oneLine(t, "default database", stderr, code, "slotline.db", "does not exist")
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("audit verify created %v", names)
	}
	// An empty file (what earlier versions left behind) is not Slotline's:
	// nothing to verify, not a broken chain.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runIn(t, dir, "audit", "verify", "--db", "sqlite:"+empty)
	oneLine(t, "empty file", stderr, code, empty, "no Slotline tables")
	// migrate still creates a new file, and verify then finds it intact.
	db := "sqlite:" + filepath.Join(dir, "new.db")
	if out, stderr, code := runIn(t, dir, "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate = %d %s %s", code, out, stderr)
	}
	if out, stderr, code := runIn(t, dir, "audit", "verify", "--db", db); code != 0 || !strings.Contains(out, "audit log intact: it is empty") {
		t.Errorf("verify after migrate = %d %s %s", code, out, stderr)
	}
}

// TestAuditVerifyPostgresUnreachable: a PostgreSQL that does not answer, a
// database that does not exist and one never migrated each get one clear
// line, never a tampering report.
func TestAuditVerifyPostgresUnreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Port 1 on loopback: nothing listens there, the connection is refused.
	_, stderr, code := runIn(t, dir, "audit", "verify", "--db", "postgres://slotline:pw@127.0.0.1:1/slotline")
	oneLine(t, "unreachable", stderr, code, "postgres://slotline:xxxxx@127.0.0.1:1/slotline", "unreachable", "127.0.0.1:1", "connection refused")
	if strings.Contains(stderr, ":pw@") {
		t.Errorf("the password is in the message: %s", stderr)
	}

	dsn := storagetest.PostgresDSN(t) // a fresh, empty schema
	_, stderr, code = runIn(t, dir, "audit", "verify", "--db", dsn)
	oneLine(t, "unmigrated", stderr, code, "no Slotline tables")
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.RawQuery = "/slotline_no_such_database", ""
	_, stderr, code = runIn(t, dir, "audit", "verify", "--db", u.String())
	oneLine(t, "no such database", stderr, code, "does not exist", `"slotline_no_such_database"`)
}
