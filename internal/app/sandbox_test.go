package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSandboxMissedCallback: serve without Genesys credentials plays the
// sandbox's first callback as one nobody answers, so a newcomer's first
// reservation ends missed (not_reached) and its SMS is sent. The sandbox
// clock runs at 600 times real speed here, so that the next slot comes
// within a second or two.
func TestSandboxMissedCallback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + filepath.Join(dir, "s.db") + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"genesys:\n  sandbox: {speed: 600}\n" +
		"queues:\n  - id: q1\n    timezone: America/New_York\n    hours: 24/7\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := sandboxServe(t, cfg)
	sim, call := srv.sim, srv.call
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st := call("POST", "/oauth/token", "basic", "grant_type=client_credentials", &tok); st != 200 {
		t.Fatalf("token: %d", st)
	}
	// The next slot (one already begun is refused as past).
	start := time.Now().Truncate(15 * time.Minute).Add(15 * time.Minute).UTC()
	var created struct {
		ID string `json:"id"`
	}
	req := fmt.Sprintf(`{"callback_number":"+14155550123","queue_id":"q1","reason":"billing",
	  "time_slot_matrix":[{"start":%q,"end":%q}],
	  "channel_preferences":{"primary":"voice","fallback":"sms","allow_sms":true}}`,
		start.Format(time.RFC3339), start.Add(15*time.Minute).Format(time.RFC3339))
	if st := call("POST", "/api/v2/callbacks", tok.AccessToken, req, &created); st != 201 {
		t.Fatalf("create: %d", st)
	}
	var got struct {
		Status       string `json:"status"`
		Outcome      string `json:"outcome"`
		DialAttempts int    `json:"dial_attempts"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for got.Status != "missed" {
		if time.Now().After(deadline) {
			t.Fatalf("the first sandbox callback is %+v, not missed, after 30 s", got)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
		call("GET", "/api/v2/callbacks/"+url.PathEscape(created.ID), tok.AccessToken, "", &got)
	}
	if got.Outcome != "not_reached" || got.DialAttempts != 1 {
		t.Errorf("missed reservation = %+v, want not_reached after one dial attempt", got)
	}
	for {
		resp, err := http.Get(sim + "/sim/sms")
		if err != nil {
			t.Fatal(err)
		}
		var sms []struct {
			ToAddress string `json:"toAddress"`
		}
		err = json.NewDecoder(resp.Body).Decode(&sms)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(sms) == 1 && sms[0].ToAddress == "+14155550123" {
			break
		}
		if len(sms) > 1 || time.Now().After(deadline) {
			t.Fatalf("SMS sent: %+v, want one to the customer", sms)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// sandboxServer is serve in sandbox mode, run by a test.
type sandboxServer struct {
	t         *testing.T
	base, sim string // the API's URL and the simulator's
	stopOnce  sync.Once
	cancel    context.CancelFunc
	done      chan error
	logc      chan string
	logs      string
}

// sandboxServe runs serve with the config file cfg (in sandbox mode, its
// client web with secret sandbox-secret-0123456789) until stop or the end
// of the test.
func sandboxServe(t *testing.T, cfg string) *sandboxServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &sandboxServer{t: t, cancel: cancel, done: make(chan error, 1), logc: make(chan string, 1)}
	pr, pw := io.Pipe()
	go func() {
		s.done <- Run(ctx, []string{"slotline", "serve", "--config", cfg, "--addr", "127.0.0.1:0"},
			func(string) string { return "" }, nil, io.Discard, pw)
		pw.Close()
	}()
	t.Cleanup(func() { s.stop() })
	sc := bufio.NewScanner(pr)
	var logs strings.Builder
	for (s.base == "" || s.sim == "") && sc.Scan() {
		logs.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`"simulator":"([^"]+)"`).FindStringSubmatch(sc.Text()); m != nil {
			s.sim = m[1]
		}
		if m := regexp.MustCompile(`"url":"([^"]+)"`).FindStringSubmatch(sc.Text()); m != nil {
			s.base = m[1]
		}
	}
	go func() {
		rest, _ := io.ReadAll(pr)
		s.logc <- logs.String() + string(rest)
	}()
	if s.base == "" || s.sim == "" {
		t.Fatalf("serve logged no url (%q) or simulator (%q)", s.base, s.sim)
	}
	return s
}

// stop stops serve and returns everything it logged.
func (s *sandboxServer) stop() string {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case <-s.done:
			s.logs = <-s.logc
		case <-time.After(15 * time.Second):
			s.t.Error("serve did not return after cancel")
		}
	})
	return s.logs
}

// call calls the API: token "basic" is the client's Basic auth (a form
// body), "" no authentication (a customer's link), else a Bearer token.
// out, when not nil, receives the JSON answer.
func (s *sandboxServer) call(method, path, token, body string, out any) int {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	switch {
	case token == "basic":
		req.SetBasicAuth("web", "sandbox-secret-0123456789")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
		fallthrough
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// TestSandboxReminderFollowsClock: in the sandbox, a reminder waits on the
// simulator's clock, so moving that clock (POST /sim/clock) sends it
// without waiting in real time; before, the job slept the real time
// computed when it was planned.
func TestSandboxReminderFollowsClock(t *testing.T) {
	old := sandboxRecheck
	sandboxRecheck = 200 * time.Millisecond
	t.Cleanup(func() { sandboxRecheck = old })
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + filepath.Join(dir, "s.db") + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"queues:\n  - id: q1\n    timezone: America/New_York\n    hours: 24/7\n    sms_from: \"+18005550100\"\n" +
		"    notify: {remind_before: 15m}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := sandboxServe(t, cfg)
	sim, call := srv.sim, srv.call
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st := call("POST", "/oauth/token", "basic", "grant_type=client_credentials", &tok); st != 200 {
		t.Fatalf("token: %d", st)
	}
	start := time.Now().Truncate(15 * time.Minute).Add(3 * time.Hour).UTC()
	req := fmt.Sprintf(`{"callback_number":"+14155550123","queue_id":"q1","reason":"billing",
	  "time_slot_matrix":[{"start":%q,"end":%q}],
	  "channel_preferences":{"primary":"voice","fallback":"sms","allow_sms":true}}`,
		start.Format(time.RFC3339), start.Add(15*time.Minute).Format(time.RFC3339))
	if st := call("POST", "/api/v2/callbacks", tok.AccessToken, req, nil); st != 201 {
		t.Fatalf("create: %d", st)
	}
	sms := func() int {
		resp, err := http.Get(sim + "/sim/sms")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got []json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if n := sms(); n != 0 {
		t.Fatalf("%d SMS before the reminder is due", n)
	}
	// To 10 minutes before the slot: the reminder is 5 minutes late.
	advance := time.Until(start.Add(-10 * time.Minute)).Round(time.Second)
	resp, err := http.Post(sim+"/sim/clock", "application/json", strings.NewReader(fmt.Sprintf(`{"advance":%q}`, advance.String())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for sms() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no reminder 30 s after the sandbox clock passed its time (%d SMS)", sms())
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// serveConfig runs serve in sandbox mode on a configuration of body (after
// a database line of its own) and returns it with an access token of its
// client web (secret sandbox-secret-0123456789).
func serveConfig(t *testing.T, body string) (*sandboxServer, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	if err := os.WriteFile(cfg, []byte("database: sqlite:"+filepath.Join(dir, "s.db")+"\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sandboxServe(t, cfg)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if st := s.call("POST", "/oauth/token", "basic", "grant_type=client_credentials", &tok); st != 200 {
		t.Fatalf("token: %d", st)
	}
	return s, tok.AccessToken
}
