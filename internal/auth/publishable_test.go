package auth_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/auth"
)

func TestPublishableKeys(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ks := auth.NewPublishableKeys([]auth.KeyConfig{
		{ID: "shop", Key: "pk_shop_0123456789abcdefghij", Queues: []string{"q1", "q2"}, Origins: []string{"https://shop.example", "https://www.example"},
			PerAddress: 1, PerAddressBurst: 2},
		{ID: "blog", Key: "pk_blog_0123456789abcdefghij", Queues: []string{"q2"}, Origins: []string{"https://blog.example", "https://www.example"}},
	}, clock)
	if k := ks.Lookup("pk_shop_0123456789abcdefghij"); k == nil || k.ID != "shop" {
		t.Fatalf("Lookup(shop) = %v", k)
	}
	for _, bad := range []string{"", "pk_shop_0123456789abcdefghi", "pk_shop_0123456789abcdefghijk", "slt_x"} {
		if k := ks.Lookup(bad); k != nil {
			t.Errorf("Lookup(%q) = %s, want none", bad, k.ID)
		}
	}
	if got := ks.Origins("q1"); !slices.Equal(got, []string{"https://shop.example", "https://www.example"}) {
		t.Errorf("Origins(q1) = %v", got)
	}
	if got := ks.Origins("q2"); !slices.Equal(got, []string{"https://shop.example", "https://www.example", "https://blog.example"}) {
		t.Errorf("Origins(q2) = %v", got)
	}
	if got := ks.Origins("q3"); got != nil {
		t.Errorf("Origins(q3) = %v, want none", got)
	}
	if got := ks.AllOrigins(); len(got) != 3 {
		t.Errorf("AllOrigins() = %v", got)
	}
	shop := ks.Lookup("pk_shop_0123456789abcdefghij")
	if !shop.AllowsOrigin("https://shop.example") || shop.AllowsOrigin("https://blog.example") || shop.AllowsOrigin("") {
		t.Error("AllowsOrigin")
	}
	if !shop.HasQueue("q2") || shop.HasQueue("q3") {
		t.Error("HasQueue")
	}
	// Per address: a burst of 2, then 1/s; other addresses are not held up.
	for i := range 2 {
		if wait, _ := shop.Allow("192.0.2.1:1234"); wait != 0 {
			t.Fatalf("request %d: wait %v", i, wait)
		}
	}
	if wait, first := shop.Allow("192.0.2.1:999"); wait <= 0 || wait > time.Second || !first {
		t.Errorf("third request: wait %v, first %v", wait, first)
	}
	if wait, first := shop.Allow("192.0.2.1:999"); wait <= 0 || first {
		t.Errorf("fourth request: wait %v, first %v", wait, first)
	}
	if wait, _ := shop.Allow("198.51.100.7:1"); wait != 0 {
		t.Errorf("another address: wait %v", wait)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if wait, _ := shop.Allow("192.0.2.1:1"); wait != 0 {
		t.Errorf("after a second: wait %v", wait)
	}
	var none *auth.PublishableKeys
	if none.Lookup("pk_shop_0123456789abcdefghij") != nil || none.AllOrigins() != nil || none.Origins("q1") != nil || none.Len() != 0 {
		t.Error("a nil set has keys")
	}
}

func TestPublishableKeyRate(t *testing.T) {
	t.Parallel()
	ks := auth.NewPublishableKeys([]auth.KeyConfig{{ID: "k", Key: "pk_k_0123456789abcdefghijkl", Queues: []string{"q"},
		Origins: []string{"https://a.example"}, Rate: 0.001, Burst: 3}}, nil)
	k := ks.Lookup("pk_k_0123456789abcdefghijkl")
	for i := range 3 {
		if wait, _ := k.Allow("192.0.2.1:1"); wait != 0 {
			t.Fatalf("request %d: wait %v", i, wait)
		}
	}
	// Over the key's limit from any address.
	if wait, _ := k.Allow("198.51.100.1:1"); wait < 100*time.Second {
		t.Errorf("over the key's rate: wait %v, want about 1000 s", wait)
	}
}
