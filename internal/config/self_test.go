package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/reservation"
)

// TestParseSelfService: the self_service block (its secret from the
// environment, the link's lifetime, the rate limits) and each queue's
// policy, with their defaults.
func TestParseSelfService(t *testing.T) {
	t.Parallel()
	queues := "queues:\n  - {id: q1, timezone: UTC}\n  - {id: q2, timezone: UTC, self_service: {max_reschedules: 0, cutoff: 2h}}\n"
	c, err := config.Parse("t.yaml", []byte(queues), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SelfService.Secret != "" || c.SelfService.LinkTTL != 24*time.Hour || c.SelfService.PerTokenBurst != 10 || c.SelfService.PerAddress != 2 {
		t.Errorf("defaults: %+v", c.SelfService)
	}
	want := []reservation.SelfPolicy{{MaxReschedules: 3, Cutoff: 15 * time.Minute}, {MaxReschedules: 0, Cutoff: 2 * time.Hour}}
	for i, q := range c.Queues {
		if q.SelfService != want[i] {
			t.Errorf("queue %s: policy %+v, want %+v", q.ID, q.SelfService, want[i])
		}
	}
	data := "self_service: {secret_env: SELF, link_ttl: 2h, per_token: off, per_address: 10/s, per_address_burst: 5}\n" + queues
	c, err = config.Parse("t.yaml", []byte(data), "", func(k string) string {
		if k == "SELF" {
			return "from-the-environment"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	got := c.SelfService
	if got.Secret != "from-the-environment" || got.LinkTTL != 2*time.Hour || got.PerToken != 0 || got.PerAddress != 10 || got.PerAddressBurst != 5 {
		t.Errorf("self_service = %+v", got)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"self_service: {secret: a, secret_env: B}\n", "give only one of"},
		{"self_service: {secret_env: UNSET}\n", "UNSET is unset"},
		{"self_service: {link_ttl: 0s}\n", "self_service.link_ttl"},
		{"self_service: {tokens: 3}\n", "self_service.tokens"},
	} {
		_, err := config.Parse("t.yaml", []byte(bad.yaml+queues), "", nil)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one containing %q", bad.yaml, err, bad.want)
		}
	}
	_, err = config.Parse("t.yaml", []byte("queues:\n  - {id: q1, timezone: UTC, self_service: {max_reschedules: -1}}\n"), "", nil)
	if err == nil || !strings.Contains(err.Error(), "queues[0].self_service.max_reschedules") {
		t.Errorf("negative max_reschedules: %v", err)
	}
}
