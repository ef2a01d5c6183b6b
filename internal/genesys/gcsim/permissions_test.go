package gcsim_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

func TestPermissions(t *testing.T) {
	t.Parallel()

	t.Run("DefaultAll", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		// An empty create reaches the body's validation: 400, not 403.
		wantError(t, b.call(t, "POST", callbacksPath, map[string]any{}), 400, "bad.request")
	})

	t.Run("MissingBeforeBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{Permissions: map[string][]string{gcsim.DefaultClientID: {"routing:queue:view"}}})
		// The permission is checked before the body is read: an empty
		// (invalid) body is refused for the permission, not the body.
		res := b.call(t, "POST", callbacksPath, map[string]any{})
		eb := wantError(t, res, 403, "missing.permissions")
		if !strings.Contains(eb.Message, "[conversation:callback:create]") {
			t.Errorf("message %q does not name the permission", eb.Message)
		}
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
			t.Errorf("a held permission: %d %s", res.status, res.body)
		}
		// Analytics takes either of its two permissions.
		wantError(t, b.call(t, "POST", "/api/v2/analytics/conversations/details/query", map[string]any{}), 403, "missing.permissions")
		b.sim.SetPermissions(gcsim.DefaultClientID, []string{"analytics:agentConversationDetail:view"})
		wantError(t, b.call(t, "POST", "/api/v2/analytics/conversations/details/query", map[string]any{}), 400, "bad.request")
		// Routes without a permission stay open.
		if res := b.call(t, "POST", "/api/v2/notifications/channels", nil); res.status != 200 {
			t.Errorf("create channel: %d", res.status)
		}
		// nil gives every permission back.
		b.sim.SetPermissions(gcsim.DefaultClientID, nil)
		wantError(t, b.call(t, "POST", callbacksPath, map[string]any{}), 400, "bad.request")
	})

	t.Run("AdminAPI", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		res := b.callWith(t, "", "POST", "/sim/permissions", map[string]any{"clientId": gcsim.DefaultClientID, "permissions": []string{}})
		if res.status != 204 {
			t.Fatalf("POST /sim/permissions: %d %s", res.status, res.body)
		}
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 403, "missing.permissions")
	})

	t.Run("TopicRejected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{Permissions: map[string][]string{gcsim.DefaultClientID: {}}})
		id, _ := b.channel(t)
		res := b.call(t, "PUT", "/api/v2/notifications/channels/"+id+"/subscriptions", []map[string]string{{"id": conversationsTopic(queueID)}})
		var got struct {
			Entities []struct {
				ID                 string   `json:"id"`
				State              string   `json:"state"`
				MissingPermissions []string `json:"missingPermissions"`
			} `json:"entities"`
		}
		res.decode(t, &got)
		if len(got.Entities) != 1 || got.Entities[0].State != "Rejected" ||
			len(got.Entities[0].MissingPermissions) != 1 || got.Entities[0].MissingPermissions[0] != gcsim.QueueTopicPermission {
			t.Errorf("subscriptions = %s", res.body)
		}
	})

	t.Run("TopicRejectionRule", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		b.sim.SetTopicRejection(topic(queueID), "Not allowed.", "analytics:queueObservation:view")
		id, _ := b.channel(t)
		res := b.call(t, "POST", "/api/v2/notifications/channels/"+id+"/subscriptions", []map[string]string{{"id": topic(queueID)}})
		if !strings.Contains(string(res.body), `"missingPermissions":["analytics:queueObservation:view"]`) {
			t.Errorf("subscriptions = %s", res.body)
		}
	})
}

func TestSMSPhoneNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{
		Queues:     []gcsim.Queue{{ID: queueID, SMSAddress: "+18005550100"}},
		SMSNumbers: []string{"+18005550199"},
	})
	type list struct {
		Entities []struct {
			ID          string `json:"id"`
			PhoneNumber string `json:"phoneNumber"`
		} `json:"entities"`
		Total int `json:"total"`
	}
	var all list
	b.call(t, "GET", "/api/v2/routing/sms/phonenumbers", nil).decode(t, &all)
	if all.Total != 2 || len(all.Entities) != 2 || all.Entities[0].PhoneNumber != "+18005550100" || all.Entities[1].PhoneNumber != "+18005550199" {
		t.Errorf("list = %+v", all)
	}
	var one list
	b.call(t, "GET", "/api/v2/routing/sms/phonenumbers?phoneNumber=%2B18005550199", nil).decode(t, &one)
	if one.Total != 1 || one.Entities[0].PhoneNumber != "+18005550199" {
		t.Errorf("filtered = %+v", one)
	}
	// The entity of the list is the one its selfUri serves.
	if res := b.call(t, "GET", "/api/v2/routing/sms/phonenumbers/"+one.Entities[0].ID, nil); res.status != 200 {
		t.Errorf("entity: %d", res.status)
	}
	var none list
	b.call(t, "GET", "/api/v2/routing/sms/phonenumbers?phoneNumber=%2B15550000000", nil).decode(t, &none)
	if none.Total != 0 || len(none.Entities) != 0 {
		t.Errorf("unknown number = %+v", none)
	}
	wantError(t, b.call(t, "GET", "/api/v2/routing/sms/phonenumbers?pageSize=0", nil), 400, "bad.request")
}

func TestDateOffset(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	skew := func() time.Duration {
		res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil)
		d, err := http.ParseTime(res.header.Get("Date"))
		if err != nil {
			t.Fatalf("Date %q: %v", res.header.Get("Date"), err)
		}
		return time.Until(d)
	}
	if d := skew(); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("no offset: skew %s", d)
	}
	b.sim.SetDateOffset(-time.Minute)
	if d := skew(); d > -58*time.Second || d < -62*time.Second {
		t.Errorf("offset -1m: skew %s", d)
	}
	if res := b.callWith(t, "", "POST", "/sim/date-offset", map[string]any{"offset": "30s"}); res.status != 204 {
		t.Fatalf("POST /sim/date-offset: %d", res.status)
	}
	if d := skew(); d < 28*time.Second || d > 32*time.Second {
		t.Errorf("offset 30s: skew %s", d)
	}
}
