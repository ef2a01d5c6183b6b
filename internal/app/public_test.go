package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/pow"
)

// TestServePublishableKey: serve with a publishable key and the proof of
// work books a reservation from the key's origin with a solved challenge,
// signed with the key derived from the deployment's secret, refuses the
// proof the second time, and never logs the key.
func TestServePublishableKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const key = "pk_test_widget_0123456789abcdef"
	if err := os.WriteFile(filepath.Join(dir, "widget.key"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + filepath.Join(dir, "s.db") + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"self_service: {secret: the-deployment-secret-0123}\n" +
		"proof_of_work: {max_number: 1000, ttl: 1m}\n" +
		"queues:\n  - id: q1\n    timezone: America/New_York\n    hours: 24/7\n" +
		"publishable_keys:\n  - {id: widget, key_file: widget.key, queues: [q1], origins: ['https://shop.example']}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := sandboxServe(t, cfg)
	do := func(method, path, body string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, b
	}
	res, raw := do("GET", "/api/v2/challenge", "", "Origin", "https://shop.example")
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("challenge: %d %v %s", res.StatusCode, res.Header, raw)
	}
	var c pow.Challenge
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	// Signed with HMAC-SHA-256(secret, "slotline pow v1"), as pages do
	// with theirs: every process of the deployment agrees.
	m := hmac.New(sha256.New, []byte("the-deployment-secret-0123"))
	m.Write([]byte("slotline pow v1"))
	sig := hmac.New(sha256.New, m.Sum(nil))
	sig.Write([]byte(c.Challenge))
	if c.Signature != hex.EncodeToString(sig.Sum(nil)) || c.MaxNumber != 1000 {
		t.Errorf("challenge %+v is not signed with the derived key", c)
	}
	n, ok := pow.Solve(c)
	if !ok {
		t.Fatal("unsolvable challenge")
	}
	proof := pow.Encode(pow.Solution{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: n, Salt: c.Salt, Signature: c.Signature})
	start := time.Now().Truncate(15 * time.Minute).Add(time.Hour).UTC()
	create := fmt.Sprintf(`{"callback_number":"+14155550123","queue_id":"q1","time_slot_matrix":[{"start":%q,"end":%q}]}`,
		start.Format(time.RFC3339), start.Add(15*time.Minute).Format(time.RFC3339))
	hdr := []string{"Authorization", "Bearer " + key, "Origin", "https://shop.example", "Content-Type", "application/json", "Slotline-Proof", proof}
	res, raw = do("POST", "/api/v2/callbacks", create, hdr...)
	var got struct {
		ClientID  string `json:"client_id"`
		ManageURL string `json:"manage_url"`
	}
	_ = json.Unmarshal(raw, &got)
	if res.StatusCode != 201 || got.ClientID != "widget" || got.ManageURL == "" {
		t.Fatalf("create: %d %s", res.StatusCode, raw)
	}
	if res, raw = do("POST", "/api/v2/callbacks", create, hdr...); res.StatusCode != 403 || !strings.Contains(string(raw), "proof_required") {
		t.Errorf("the proof again: %d %s", res.StatusCode, raw)
	}
	if logs := srv.stop(); strings.Contains(logs, key) {
		t.Error("serve logged the publishable key")
	}
}
