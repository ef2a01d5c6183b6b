package app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/storage"
)

// TestRetentionPrunesAndVerifies: reservations made through serve, then
// the retention of a day later prunes the event and audit logs as the
// configuration says; `slotline audit verify` with the same configuration
// finds the chain intact from its checkpoint (the key is the deployment's,
// derived the same way), and broken once the checkpoint is edited.
func TestRetentionPrunesAndVerifies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	cfgFile := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + db + "\n" +
		"retention: {events: 1h, audit: 1h}\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"queues:\n  - {id: q1, timezone: America/New_York, hours: 24/7, capacity: 100}\n"
	if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sandboxServe(t, cfgFile)
	f := &flowServer{sandboxServer: s}
	tok := f.token()
	slots := f.freeSlots(tok)
	for i := range 5 {
		slot := slots[i]
		if st := s.call("POST", "/api/v2/callbacks", tok, fmt.Sprintf(`{"callback_number":"+1415555%04d","queue_id":"q1",`+
			`"time_slot_matrix":[{"start":%q,"end":%q}]}`, i, slot.Format(time.RFC3339), slot.Add(15*time.Minute).Format(time.RFC3339)), nil); st != 201 {
			t.Fatalf("create: %d", st)
		}
	}
	s.stop()

	ctx := context.Background()
	cfg, err := config.Load(cfgFile, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Connect(ctx, cfg.Database, storage.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	links, err := selfLinks(ctx, cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	store.SetAuditKey(links.Derive(auditKeyLabel))
	before, err := store.FindStoredEvents(ctx, 0, 1000)
	if err != nil || len(before) < 5 {
		t.Fatalf("%d events before retention (%v)", len(before), err)
	}
	var last time.Time
	retention(ctx, store, cfg, slog.New(slog.DiscardHandler), time.Now().Add(2*time.Hour), &last)
	if evs, err := store.FindStoredEvents(ctx, 0, 1000); err != nil || len(evs) != 0 {
		t.Errorf("%d events after retention (%v), want none", len(evs), err)
	}
	cp, err := store.AuditCheckpoint(ctx)
	if err != nil || cp == nil || cp.Pruned < 5 {
		t.Fatalf("checkpoint %+v (%v)", cp, err)
	}
	store.Close()

	var out, errOut bytes.Buffer
	if err := Run(ctx, []string{"slotline", "audit", "verify", "--config", cfgFile}, func(string) string { return "" }, nil, &out, &errOut); err != nil {
		t.Fatalf("audit verify after pruning: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "audit log intact") {
		t.Errorf("audit verify said %q", out.String())
	}
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("UPDATE audit_checkpoints SET hash = 'forged'"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if err := Run(ctx, []string{"slotline", "audit", "verify", "--config", cfgFile}, func(string) string { return "" }, nil, &out, &errOut); err == nil {
		t.Error("audit verify passed an edited checkpoint")
	}
}
