package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/browsertest"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/password"
)

// deployEnv is the environment the example configurations name their
// secrets in.
var deployEnv = map[string]string{
	"SLOTLINE_WEBSITE_SECRET":       "website-secret-0123456789",
	"SLOTLINE_WIDGET_KEY":           "pk_deploytest0123456789abcdef",
	"GENESYS_CLIENT_ID":             "client-id",
	"GENESYS_CLIENT_SECRET":         "client-secret",
	"GENESYS_CONSOLE_CLIENT_SECRET": "console-secret",
	"SLOTLINE_SELF_SECRET":          "0123456789abcdef0123456789abcdef",
}

// TestDeployConfigs: every example configuration in deploy/ loads, with
// the mode and database it says it is for.
func TestDeployConfigs(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]struct{ mode, db string }{
		"sandbox.yaml":     {"sandbox", "sqlite:"},
		"single-node.yaml": {"live", "sqlite:/var/lib/slotline/"},
		"cluster.yaml":     {"live", "postgres://"},
	} {
		cfg, err := config.Load(filepath.Join("..", "..", "deploy", name), func(k string) string { return deployEnv[k] })
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if cfg.Genesys.Mode != want.mode || !strings.HasPrefix(cfg.Database, want.db) {
			t.Errorf("%s: mode %q database %q, want %q and %s…", name, cfg.Genesys.Mode, cfg.Database, want.mode, want.db)
		}
	}
	// The sandbox's operator signs in with the password its comment gives.
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "sandbox.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`password_hash: '([^']+)'`).FindSubmatch(b)
	if m == nil {
		t.Fatal("sandbox.yaml has no operator hash")
	}
	if h, err := password.Parse(string(m[1])); err != nil || !h.Verify("sandbox-operator") {
		t.Errorf("the sandbox operator's hash does not verify sandbox-operator (%v)", err)
	}
}

// TestDeploySandboxServes runs serve on deploy/sandbox.yaml as its comment
// says (secrets from the environment) and asks it with `slotline
// healthcheck`, the container's HEALTHCHECK; the booking page of its queue
// answers.
func TestDeploySandboxServes(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		switch k {
		case "SLOTLINE_DB":
			return "sqlite:" + filepath.Join(t.TempDir(), "s.db")
		case "SLOTLINE_ADDR":
			return "127.0.0.1:0"
		}
		return deployEnv[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"slotline", "serve", "--config", filepath.Join("..", "..", "deploy", "sandbox.yaml")}, env, nil, io.Discard, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	base := ""
	buf := make([]byte, 64<<10)
	var logs bytes.Buffer
	for base == "" {
		n, err := pr.Read(buf)
		logs.Write(buf[:n])
		// sandbox.yaml logs as text: url=http://….
		if m := regexp.MustCompile(`\burl=(http://\S+)`).FindSubmatch(logs.Bytes()); m != nil {
			base = string(m[1])
		}
		if err != nil {
			t.Fatalf("serve stopped: %v\n%s", err, logs.String())
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var out, errOut bytes.Buffer
	if err := Run(ctx, []string{"slotline", "healthcheck", "--url", base + "/healthz"}, env, nil, &out, &errOut); err != nil {
		t.Fatalf("healthcheck: %v %s", err, errOut.String())
	}
	resp, err := http.Get(base + "/book/support")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/book/support: %s", resp.Status)
	}
	// A server that is not there fails the check.
	if err := Run(ctx, []string{"slotline", "healthcheck", "--url", "http://127.0.0.1:1/healthz", "--timeout", "2s"}, env, nil, &out, &errOut); err == nil {
		t.Error("healthcheck of nothing succeeded")
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit in
// deploy/systemd, in a root of its own holding the system's units and a
// stand-in binary at the unit's ExecStart path.
func TestSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing (Debian package systemd)")
		}
		t.Skip("no systemd-analyze")
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", "slotline.service"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for dir, files := range map[string]map[string][]byte{
		"etc/systemd/system": {"slotline.service": unit},
		"usr/local/bin":      {"slotline": []byte("#!/bin/sh\n")},
	} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			mode := os.FileMode(0o644)
			if dir == "usr/local/bin" {
				mode = 0o755
			}
			if err := os.WriteFile(filepath.Join(root, dir, name), b, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", "/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copy the system's units: %v %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "verify", "--root="+root, "slotline.service").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The check does catch a broken unit.
	bad := bytes.Replace(unit, []byte("DynamicUser=yes"), []byte("DynamicUser=perhaps"), 1)
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/broken.service"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, tool, "verify", "--root="+root, "broken.service").CombinedOutput(); err == nil {
		t.Errorf("systemd-analyze verify passed a broken unit:\n%s", out)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=slotline", "NoNewPrivileges=yes", "Restart=on-failure"} {
		if !bytes.Contains(unit, []byte("\n"+want+"\n")) {
			t.Errorf("the unit lacks %s", want)
		}
	}
}

// TestBrowserAPIDocs: the API reference page has no axe-core (WCAG 2.2 A
// and AA) violation, one h1, no console error, and lists the create.
func TestBrowserAPIDocs(t *testing.T) {
	t.Parallel()
	s, _ := serveConfig(t, "clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read]\n"+
		"queues:\n  - {id: q1, timezone: America/New_York, hours: 24/7}\n")
	b := browsertest.New(t, browsertest.Locale("en-US"))
	b.Go(s.base + "/api/v2/docs")
	b.WaitFor("heading", "Overview")
	if !b.Exists("heading", "POST /api/v2/callbacks") {
		t.Errorf("no heading for the create among %d headings", len(b.Names("heading")))
	}
	checkPage(t, b)
}
