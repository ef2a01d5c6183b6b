package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// TestDoctor runs the binary as a user would: slotline migrate, then
// slotline doctor on a live configuration against a simulated org, which
// passes; then the org's OAuth client loses a permission, and doctor names
// it, with the fix, and exits 1.
func TestDoctor(t *testing.T) {
	t.Parallel()
	const queue = "0b5e2c1a-0000-4000-8000-0000000000e1"
	sim := gcsim.New(gcsim.Options{Queues: []gcsim.Queue{{ID: queue, Name: "Support", SMSAddress: "+18005550100"}}})
	t.Cleanup(func() { sim.Close() })
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "slotline.db")
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: " + db + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"genesys:\n  mode: live\n  api_url: " + url + "\n  login_url: " + url + "\n" +
		"  client_id: " + gcsim.DefaultClientID + "\n  client_secret_env: GENESYS_CLIENT_SECRET\n" +
		"queues:\n  - {id: support, genesys_queue_id: " + queue + ", sms_from: \"+18005550100\", timezone: America/New_York, hours: 24/7, capacity: 10, horizon: 30d}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"GENESYS_CLIENT_SECRET=" + gcsim.DefaultClientSecret}
	if out, errOut, code := runCmdIn(t, dir, env, "migrate", "--config", cfg); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}

	out, errOut, code := runCmdIn(t, dir, env, "doctor", "--config", cfg)
	if code != 0 || strings.Contains(out, "✗") || !strings.Contains(out, "✓ genesys token: ") || !strings.Contains(out, "✓ topic support: ") {
		t.Fatalf("healthy doctor: exit %d\n%s\nstderr: %s", code, out, errOut)
	}
	t.Logf("slotline doctor --config %s:\n%s", cfg, out)

	sim.SetPermissions(gcsim.DefaultClientID, []string{"conversation:callback:create", "conversation:callback:edit",
		"conversation:communication:disconnect", "conversation:communication:view", "analytics:conversationDetail:view",
		"routing:queue:view", "sms:phoneNumber:view"}) // not conversation:message:create
	out, errOut, code = runCmdIn(t, dir, env, "doctor", "--config", cfg)
	want := "✗ permission conversation:message:create: missing: Unable to perform the requested action. You are missing the following permission(s): " +
		"[conversation:message:create] — add conversation:message:create to a role of the OAuth client sim-client"
	if code != 1 || !strings.Contains(out, want) || strings.Count(out, "✗") != 1 || !strings.Contains(errOut, "slotline: doctor: 1 of ") {
		t.Errorf("doctor without a permission: exit %d\n%s\nstderr: %s", code, out, errOut)
	}
	t.Logf("without conversation:message:create:\n%s", out)
}
