package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestKillBetweenSendAndRecordSendsOnce kills the server with SIGKILL
// after its confirmation SMS reached Genesys (the simulator, in this test
// process, holds its answer back) but before the send was recorded,
// starts it again, and checks that the customer got exactly one message:
// the restarted process sends it again under the same idempotency key,
// which the simulator answers from the first send, and records it once.
// On SQLite and on PostgreSQL.
func TestKillBetweenSendAndRecordSendsOnce(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		killBetweenSendAndRecord(t, "sqlite:"+filepath.Join(t.TempDir(), "n.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		killBetweenSendAndRecord(t, storagetest.PostgresDSN(t))
	})
}

func killBetweenSendAndRecord(t *testing.T, db string) {
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(time.Now(), 1)})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	release := sim.HoldSMS()
	defer release()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
listen: 127.0.0.1:0
database: "%s"
clients:
  - {id: website, secret: website-secret-0123456789, scopes: [callback:read, callback:write]}
genesys:
  mode: live
  api_url: %s
  login_url: %s
  client_id: %s
  client_secret: %s
queues:
  - id: support
    genesys_queue_id: %s
    timezone: UTC
    hours: 24/7
    sms_from: "+18005550100"
    notify: {confirm: true}
`, db, simURL, simURL, gcsim.DefaultClientID, gcsim.DefaultClientSecret, gcsim.DefaultQueueID)), 0o600)

	s := start(t, nil, "serve", "--config", cfg)
	tok := token(t, s.url, "website", "website-secret-0123456789")
	at := time.Now().Add(3 * time.Hour).Truncate(15 * time.Minute)
	status, body, err := seedSubmit(&http.Client{Timeout: 10 * time.Second}, s.url, tok, seedReservationPayload{
		CallbackID: "kill-sms", CallbackNumber: "+14155550123", QueueID: "support", ConcurrencyLimit: 1,
		TimeSlotMatrix:     []seedTimeSlot{{at, at.Add(15 * time.Minute)}},
		ChannelPreferences: seedChannelPreference{Primary: "voice", AllowSMS: true},
	})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create: %d %s %v", status, body, err)
	}
	var created struct{ ID string }
	json.Unmarshal(body, &created)

	// The send reached the simulator, whose answer is held back: kill.
	deadline := time.Now().Add(30 * time.Second)
	for len(sim.SMS()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no SMS reached the simulator:\n%s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // poll interval (another process)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	s.done <- nil
	release()
	key := sim.SMS()[0].IdempotencyKey
	if key == "" {
		t.Fatal("the send carried no Idempotency-Key")
	}

	// The restarted process sends it again (once the dead process's lease
	// on the message lapses); the record of the send commits just after
	// the answer, so the database is read while it runs, until the record
	// shows (a loaded machine can take seconds), and a process that did
	// not record it is one more restart (the same send again).
	var notified []reservation.Event
	for seen := 0; ; {
		s2 := start(t, nil, "serve", "--config", cfg)
		deadline = time.Now().Add(60 * time.Second)
		for sim.SMSReplays() == seen {
			if time.Now().After(deadline) {
				t.Fatalf("the restarted process never sent the message again:\n%s", s2.stderr.String())
			}
			time.Sleep(20 * time.Millisecond) // poll interval (another process)
		}
		seen = sim.SMSReplays()
		notified = notifiedEvents(t, db, created.ID, s2, 15*time.Second)
		if len(notified) > 0 || seen >= 5 {
			break
		}
	}
	n := 0
	for _, m := range sim.SMS() {
		if m.IdempotencyKey == key {
			n++
		}
	}
	if n != 1 || len(sim.SMS()) != 1 {
		t.Errorf("the simulator holds %d messages (%d with the key), want exactly one", len(sim.SMS()), n)
	}
	if len(notified) != 1 || notified[0].Kind != "confirm" {
		t.Errorf("notified events %+v, want one, kind confirm", notified)
	}
	t.Logf("%d sends answered from the key after restarts", sim.SMSReplays())
}

// notifiedEvents waits until reservation id has a reservation.notified
// event in the database db (a DSN), or for wait, then stops s and returns
// the reservation's notified events as the stopped process left them.
func notifiedEvents(t *testing.T, db, id string, s *server, wait time.Duration) []reservation.Event {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Connect(ctx, db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	read := func() []reservation.Event {
		evs, err := store.FindEvents(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []reservation.Event
		for _, ev := range evs {
			if ev.ReservationID == id && ev.Type == reservation.EventNotified {
				out = append(out, ev)
			}
		}
		return out
	}
	for deadline := time.Now().Add(wait); len(read()) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // poll interval (another process)
	}
	s.cmd.Process.Kill()
	<-s.done
	s.done <- nil
	return read()
}
