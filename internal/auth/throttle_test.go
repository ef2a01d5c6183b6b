package auth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/auth"
)

func TestAddressKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7:51234":             "192.0.2.7",
		"192.0.2.7":                   "192.0.2.7",
		"[::ffff:192.0.2.7]:443":      "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443":  "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::9]:8080": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":           "fe80::/64",
		"@":                           "@",
	} {
		if got := auth.AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestThrottleMemoryBound: however many addresses fail, each table stays
// within its cap, and what is dropped first is what matters least (the
// buckets closest to full), so an address that used up its budget stays
// refused through the flood.
func TestThrottleMemoryBound(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const maxEntries = 100
	th := auth.NewThrottle(auth.ThrottleConfig{PerClient: 1.0 / 60, PerClientBurst: 3, PerAddress: 1.0 / 60, PerAddressBurst: 3,
		MaxEntries: maxEntries, Now: func() time.Time { return now }})
	for range 3 {
		if _, ref := th.Begin("website", "198.51.100.1:1"); ref != nil {
			t.Fatal("the burst was refused")
		}
	}
	if _, ref := th.Begin("website", "198.51.100.1:1"); ref == nil || ref.RetryAfter != time.Minute || !ref.First {
		t.Fatalf("past the burst: %+v, want a first refusal for a minute", ref)
	}
	if _, ref := th.Begin("website", "198.51.100.1:1"); ref == nil || ref.First {
		t.Fatalf("refused again: %+v, want a refusal that is not the first", ref)
	}
	for i := range 10_000 {
		if _, ref := th.Begin(fmt.Sprintf("id-%d", i%7), fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)); ref != nil {
			t.Fatalf("address %d refused on its first failure", i)
		}
		if c, a := th.Len(); c > maxEntries || a > maxEntries {
			t.Fatalf("after %d addresses the tables hold %d and %d entries, over %d", i+1, c, a, maxEntries)
		}
	}
	if _, ref := th.Begin("website", "198.51.100.1:1"); ref == nil {
		t.Error("the exhausted address was let through after the flood")
	}
	// Refilled buckets are forgotten: a success makes its bucket full.
	now = now.Add(time.Hour)
	a, ref := th.Begin("website", "198.51.100.1:1")
	if ref != nil {
		t.Fatalf("an hour later: refused %+v", ref)
	}
	a.Succeeded()
	for range 10 {
		a, ref := th.Begin("reader", "198.51.100.2:1")
		if ref != nil {
			t.Fatal("successes were throttled")
		}
		a.Succeeded()
	}
}

// TestThrottleOff: a zero rate turns a bucket off, and a nil Throttle
// lets everything through.
func TestThrottleOff(t *testing.T) {
	t.Parallel()
	th := auth.NewThrottle(auth.ThrottleConfig{PerClient: 1, PerClientBurst: 1})
	if _, ref := th.Begin("a", "192.0.2.1:1"); ref != nil {
		t.Fatal("first attempt refused")
	}
	if _, ref := th.Begin("b", "192.0.2.1:1"); ref != nil {
		t.Error("another id from the same address refused, with the address limit off")
	}
	if _, ref := th.Begin("a", "192.0.2.1:1"); ref == nil {
		t.Error("the client's limit did not hold")
	}
	var none *auth.Throttle
	a, ref := none.Begin("a", "192.0.2.1:1")
	if ref != nil {
		t.Error("a nil Throttle refused")
	}
	a.Succeeded()
}
