package app

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackupRestore: a backup made while the server runs and takes
// creates holds every reservation committed before it began; restore is
// refused while the server runs, puts the backup back once it stopped
// (keeping the replaced file), and the server started again on it serves
// those reservations and not the ones made after the backup.
func TestBackupRestore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + db + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"queues:\n  - {id: q1, timezone: America/New_York, hours: 24/7, capacity: 1000, horizon: 30d}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sandboxServe(t, cfg)
	f := &flowServer{sandboxServer: s}
	tok := f.token()
	slots := f.freeSlots(tok)
	create := func(n int) int {
		slot := slots[n%len(slots)]
		return s.call("POST", "/api/v2/callbacks", tok, fmt.Sprintf(`{"callback_id":"b-%d","callback_number":"+1415555%04d","queue_id":"q1",`+
			`"time_slot_matrix":[{"start":%q,"end":%q}]}`, n, n, slot.Format(time.RFC3339), slot.Add(15*time.Minute).Format(time.RFC3339)), nil)
	}
	for i := range 20 {
		if st := create(i); st != 201 {
			t.Fatalf("create %d: %d", i, st)
		}
	}
	// Creates go on during the backup.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 100; i < 300; i++ { // at most 200, so that one page lists them all
			select {
			case <-stop:
				return
			default:
			}
			create(i)
		}
	})
	backup := filepath.Join(dir, "backup.db")
	var out, errOut bytes.Buffer
	err := Run(t.Context(), []string{"slotline", "backup", "--config", cfg, "--to", backup}, func(string) string { return "" }, nil, &out, &errOut)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v %s", err, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "backed up ") {
		t.Errorf("backup said %q", out.String())
	}
	if err := Run(t.Context(), []string{"slotline", "backup", "--config", cfg, "--to", backup}, func(string) string { return "" }, nil, &out, &errOut); err == nil {
		t.Error("a backup over an existing file was written")
	}
	// A create after the backup: not in it.
	if st := create(999); st != 201 {
		t.Fatalf("create after the backup: %d", st)
	}

	out.Reset()
	if err := Run(t.Context(), []string{"slotline", "restore", "--config", cfg, "--from", backup}, func(string) string { return "" }, nil, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "is using") {
		t.Fatalf("restore while the server runs: %v", err)
	}
	s.stop()
	if err := Run(t.Context(), []string{"slotline", "restore", "--config", cfg, "--from", backup}, func(string) string { return "" }, nil, &out, &errOut); err != nil {
		t.Fatalf("restore: %v %s", err, errOut.String())
	}
	if aside, _ := filepath.Glob(db + ".before-restore-*"); len(aside) == 0 {
		t.Errorf("restore kept no copy of the replaced database (%s)", out.String())
	}
	// A file that is not a backup is refused and changes nothing.
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Run(t.Context(), []string{"slotline", "restore", "--config", cfg, "--from", junk}, func(string) string { return "" }, nil, &out, &errOut); err == nil {
		t.Error("restore took a file that is not a database")
	}

	s2 := sandboxServe(t, cfg)
	f2 := &flowServer{sandboxServer: s2}
	tok2 := f2.token()
	var list struct {
		Items []struct {
			CallbackID string `json:"callback_id"`
		} `json:"items"`
	}
	s2.call("GET", "/api/v2/callbacks?limit=500", tok2, "", &list)
	have := map[string]bool{}
	for _, it := range list.Items {
		have[it.CallbackID] = true
	}
	for i := range 20 {
		if !have[fmt.Sprintf("b-%d", i)] {
			t.Errorf("reservation b-%d, made before the backup, is not in the restored database", i)
		}
	}
	if have["b-999"] {
		t.Error("the reservation made after the backup is in the restored database")
	}
}
