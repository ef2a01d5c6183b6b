package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSandboxMoveOverCapacity: through serve in sandbox mode, a capacity
// override lowers a bucket holding three synced reservations to one; the
// two booked last are over capacity, and the move reschedules them to the
// nearest free slot, syncs them to the simulator and texts their
// customers the moved message.
func TestSandboxMoveOverCapacity(t *testing.T) {
	t.Parallel()
	srv, token := serveConfig(t, "clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write, capacity:write]\n"+
		"genesys:\n  sandbox: {}\n"+
		"queues:\n  - id: q1\n    timezone: America/New_York\n    hours: 24/7\n    capacity: 3\n")
	start := time.Now().Truncate(15 * time.Minute).Add(48 * time.Hour).UTC()
	var ids []string
	for i := range 3 {
		var created struct {
			ID string `json:"id"`
		}
		req := fmt.Sprintf(`{"callback_number":"+1415555012%d","queue_id":"q1","time_slot_matrix":[{"start":%q,"end":%q}],
		  "channel_preferences":{"primary":"voice","allow_sms":true}}`, i,
			start.Format(time.RFC3339), start.Add(15*time.Minute).Format(time.RFC3339))
		if st := srv.call("POST", "/api/v2/callbacks", token, req, &created); st != 201 {
			t.Fatalf("create: %d", st)
		}
		ids = append(ids, created.ID)
		time.Sleep(2 * time.Millisecond) // distinct created_at: the order "booked last" reads
	}
	for _, id := range ids {
		waitSynced(t, srv, token, id, start)
	}
	var put struct {
		OverCapacity []struct {
			ReservationID string `json:"reservation_id"`
		} `json:"over_capacity"`
	}
	req := fmt.Sprintf(`{"start":%q,"end":%q,"capacity":1,"reason":"three agents short"}`,
		start.Format(time.RFC3339), start.Add(15*time.Minute).Format(time.RFC3339))
	if st := srv.call("PUT", "/api/v2/queues/q1/overrides", token, req, &put); st != http.StatusCreated {
		t.Fatalf("PUT override: %d", st)
	}
	if len(put.OverCapacity) != 2 || put.OverCapacity[0].ReservationID != ids[1] || put.OverCapacity[1].ReservationID != ids[2] {
		t.Fatalf("over capacity: %+v, want %s and %s", put.OverCapacity, ids[1], ids[2])
	}
	var moved struct {
		Results []struct {
			Outcome     string `json:"outcome"`
			Reservation struct {
				CallbackTime string `json:"callback_time"`
			} `json:"reservation"`
		} `json:"results"`
	}
	if st := srv.call("POST", "/api/v2/queues/q1/over-capacity/move", token,
		fmt.Sprintf(`{"reservation_ids":[%q,%q]}`, ids[1], ids[2]), &moved); st != 200 {
		t.Fatalf("move: %d", st)
	}
	for i, m := range moved.Results {
		if m.Outcome != "moved" {
			t.Fatalf("move of %s: %+v", ids[i+1], m)
		}
	}
	// Both to the bucket before (as near as the one after, and earlier;
	// capacity 3).
	to := start.Add(-15 * time.Minute)
	for _, id := range ids[1:] {
		waitSynced(t, srv, token, id, to)
	}
	sms := waitMovedSMS(t, srv, "+14155550121", "+14155550122")
	if len(sms) != 2 {
		t.Errorf("SMS sent: %+v, want only the two moved messages", sms)
	}
}

// simSMS is an SMS the simulator has sent.
type simSMS struct {
	ToAddress string `json:"toAddress"`
	TextBody  string `json:"textBody"`
}

// waitMovedSMS waits until the simulator has sent the "moved" message to
// each of numbers, and returns every SMS it has sent.
func waitMovedSMS(t *testing.T, srv *sandboxServer, numbers ...string) []simSMS {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(srv.sim + "/sim/sms")
		if err != nil {
			t.Fatal(err)
		}
		var sms []simSMS
		err = json.NewDecoder(resp.Body).Decode(&sms)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		to := map[string]bool{}
		for _, m := range sms {
			if strings.Contains(m.TextBody, "had to move your callback") {
				to[m.ToAddress] = true
			}
		}
		all := true
		for _, n := range numbers {
			all = all && to[n]
		}
		if all {
			return sms
		}
		if time.Now().After(deadline) {
			t.Fatalf("SMS sent: %+v, want the moved message to %v", sms, numbers)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// waitSynced waits until reservation id is synced with Genesys at slot.
func waitSynced(t *testing.T, srv *sandboxServer, token, id string, slot time.Time) {
	t.Helper()
	var got struct {
		Sync struct {
			State       string `json:"state"`
			ScheduledAt string `json:"scheduled_at"`
		} `json:"sync"`
	}
	want := slot.UTC().Format("2006-01-02T15:04:05.000Z")
	deadline := time.Now().Add(30 * time.Second)
	for got.Sync.State != "synced" || got.Sync.ScheduledAt != want {
		if time.Now().After(deadline) {
			t.Fatalf("reservation %s: sync %+v after 30 s, want synced at %s", id, got.Sync, want)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
		srv.call("GET", "/api/v2/callbacks/"+id, token, "", &got)
	}
}
