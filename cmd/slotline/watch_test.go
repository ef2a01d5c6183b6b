package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hooksYAML is a server with one client allowed everything and webhooks
// allowed to reach a receiver on loopback over http.
const hooksYAML = `
listen: 127.0.0.1:0
database: %s
log: {level: info, format: json}
clients:
  - id: crm
    secret: crm-secret-0123456789abcdef
    scopes: [callback:read, callback:write, webhook:read, webhook:write]
webhooks: {allow_http: true, allow_private: true}
queues:
  - id: support
    timezone: Europe/London
    hours: 24/7
`

const (
	hooksClient = "crm"
	hooksSecret = "crm-secret-0123456789abcdef"
)

// hooksServer is a running slotline with a webhook endpoint registered on
// a local receiver.
type hooksServer struct {
	*server
	token    string
	endpoint string
	pings    func() int // webhook.ping deliveries the receiver got
}

func startHooksServer(t *testing.T) *hooksServer {
	t.Helper()
	var mu sync.Mutex
	pings := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Type string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Type == "webhook.ping" {
			mu.Lock()
			pings++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	cfg := filepath.Join(t.TempDir(), "slotline.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(hooksYAML, "sqlite:"+filepath.Join(t.TempDir(), "hooks.db"))), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &hooksServer{server: start(t, nil, "serve", "--config", cfg)}
	s.token = token(t, s.url, hooksClient, hooksSecret)
	status, body := s.call(t, "POST", "/api/v2/webhooks", map[string]any{
		"name": "CRM", "url": recv.URL + "/hook", "content_type": "application/json", "enabled": true,
	})
	var ep struct{ ID string }
	if err := json.Unmarshal(body, &ep); status != http.StatusCreated || err != nil || ep.ID == "" {
		t.Fatalf("register the endpoint = %d %s", status, body)
	}
	s.endpoint = ep.ID
	s.pings = func() int { mu.Lock(); defer mu.Unlock(); return pings }
	return s
}

// call makes an API request with the server's token.
func (s *hooksServer) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// reserveCount numbers the reservations reserve makes.
var reserveCount atomic.Int64

// reserve books a slot hours from now and returns the reservation's id.
func (s *hooksServer) reserve(t *testing.T, callbackID string, hours int) string {
	t.Helper()
	start := time.Now().Add(time.Duration(hours) * time.Hour).Truncate(15 * time.Minute)
	status, body := s.call(t, "POST", "/api/v2/callbacks", map[string]any{
		// Each reservation its own number: the queue answers a second
		// active one of a number with the first (duplicates: lenient).
		"callback_id": callbackID, "callback_number": fmt.Sprintf("+44207183%04d", reserveCount.Add(1)), "queue_id": "support", "concurrency_limit": 5,
		"time_slot_matrix": []map[string]string{{"start": start.Format(time.RFC3339), "end": start.Add(15 * time.Minute).Format(time.RFC3339)}},
	})
	var r struct{ ID string }
	if err := json.Unmarshal(body, &r); status != http.StatusCreated || err != nil || r.ID == "" {
		t.Fatalf("create = %d %s", status, body)
	}
	return r.ID
}

// ping asks for a webhook.ping of the endpoint: an event on the stream
// that carries no reservation.
func (s *hooksServer) ping(t *testing.T) {
	t.Helper()
	if status, body := s.call(t, "POST", "/api/v2/webhooks/"+s.endpoint+"/test", nil); status != http.StatusAccepted {
		t.Fatalf("ping = %d %s", status, body)
	}
}

// process is a running command whose output the test follows.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan error
}

func startProcess(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	p := &process{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-p.done
		p.done <- err
	})
	return p
}

// waitFor polls the process's standard output until ok says it holds what
// is awaited; it fails at once if the process exits first.
func (p *process) waitFor(t *testing.T, what string, ok func(stdout string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := p.stdout.String()
		if ok(out) {
			return out
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("waiting for %s, the process exited (%v).\nstdout:\n%s\nstderr:\n%s", what, err, p.stdout.String(), p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 30 s.\nstdout:\n%s\nstderr:\n%s", what, out, p.stderr.String())
		}
	}
}

// interrupt stops the process as Ctrl-C does and checks it exits cleanly.
func (p *process) interrupt(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("exit after SIGINT: %v\nstderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit 15 s after SIGINT")
	}
}

// startWatch runs slotline watch as the crm client and waits until it is
// subscribed.
func startWatch(t *testing.T, s *hooksServer, args ...string) *process {
	t.Helper()
	w := startProcess(t, []string{"SLOTLINE_CLIENT_ID=" + hooksClient, "SLOTLINE_CLIENT_SECRET=" + hooksSecret},
		append([]string{"watch", "--url", s.url}, args...)...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(w.stderr.String(), "-- subscribed") {
		select {
		case err := <-w.done:
			w.done <- err
			t.Fatalf("watch exited (%v) before it subscribed:\n%s", err, w.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch did not subscribe:\n%s", w.stderr.String())
		}
	}
	return w
}

// watchLine is one event line of watch's text output.
type watchLine struct {
	seq       int64
	typ, rest string
}

var watchLineRe = regexp.MustCompile(`(?m)^#(\d+) \d\d:\d\d:\d\d (\S+) (.*)$`)

func watchLines(out string) []watchLine {
	var ls []watchLine
	for _, m := range watchLineRe.FindAllStringSubmatch(out, -1) {
		seq, _ := strconv.ParseInt(m[1], 10, 64)
		ls = append(ls, watchLine{seq: seq, typ: m[2], rest: m[3]})
	}
	return ls
}

// find returns the first line of type typ whose text contains part.
func find(ls []watchLine, typ, part string) (watchLine, bool) {
	for _, l := range ls {
		if l.typ == typ && strings.Contains(l.rest, part) {
			return l, true
		}
	}
	return watchLine{}, false
}

// TestWatchPrintsWebhookEvents: slotline watch prints a webhook.ping (an
// event with no reservation) between reservation events and keeps going,
// in text and JSON; a durable subscription resumed later gets past it.
// watch used to panic on it, and a subscription stayed stuck on it.
func TestWatchPrintsWebhookEvents(t *testing.T) {
	t.Parallel()
	s := startHooksServer(t)

	w := startWatch(t, s, "--subscription", "crm-log")
	r1 := s.reserve(t, "watch-1", 2)
	s.ping(t)
	r2 := s.reserve(t, "watch-2", 3)
	out := w.waitFor(t, "the second reservation's event", func(out string) bool {
		_, ok := find(watchLines(out), "reservation.created", r2)
		return ok
	})
	ls := watchLines(out)
	c1, ok1 := find(ls, "reservation.created", r1)
	p1, okp := find(ls, "webhook.ping", "endpoint="+s.endpoint)
	c2, _ := find(ls, "reservation.created", r2)
	if !ok1 || !okp || !(c1.seq < p1.seq && p1.seq < c2.seq) {
		t.Fatalf("want the first reservation, the ping, then the second, in order:\n%s", out)
	}
	if want := " (api)"; !strings.HasSuffix(p1.rest, want) || strings.Contains(p1.rest, "<nil>") {
		t.Errorf("ping line %q: want the endpoint and the origin, nothing missing", p1.rest)
	}
	w.interrupt(t)
	if e := w.stderr.String(); strings.Contains(e, "panic") {
		t.Fatalf("watch panicked:\n%s", e)
	}

	// While nobody watches: another ping and another reservation. The
	// subscription resumes after what the first run acknowledged, in JSON.
	s.ping(t)
	r3 := s.reserve(t, "watch-3", 4)
	type jsonEvent struct {
		Seq         int64  `json:"seq"`
		Type        string `json:"type"`
		ReservedID  string `json:"reservation_id"`
		Reservation *struct {
			ID string `json:"id"`
		} `json:"reservation"`
		Webhook *struct {
			EndpointID string `json:"endpoint_id"`
		} `json:"webhook"`
	}
	parse := func(out string) (evs []jsonEvent) {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var ev jsonEvent
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Type != "" {
				evs = append(evs, ev)
			}
		}
		return evs
	}
	w2 := startWatch(t, s, "--subscription", "crm-log", "--json")
	out = w2.waitFor(t, "the third reservation's event", func(out string) bool {
		for _, ev := range parse(out) {
			if ev.Type == "reservation.created" && ev.ReservedID == r3 {
				return true
			}
		}
		return false
	})
	var pings int
	for _, ev := range parse(out) {
		if ev.Seq <= p1.seq {
			t.Errorf("the resumed subscription sent #%d %s again, which the first run acknowledged", ev.Seq, ev.Type)
		}
		if ev.Type == "webhook.ping" {
			pings++
			if ev.Webhook == nil || ev.Webhook.EndpointID != s.endpoint || ev.Reservation != nil {
				t.Errorf("JSON ping = %+v, want its endpoint and no reservation", ev)
			}
		}
	}
	if pings != 1 {
		t.Errorf("the resumed subscription printed %d pings, want the second one:\n%s", pings, out)
	}
	w2.interrupt(t)

	// Both pings reached the receiver too.
	deadline := time.Now().Add(20 * time.Second)
	for s.pings() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // poll interval (a wait on a condition, with a deadline)
	}
	if n := s.pings(); n != 2 {
		t.Errorf("the receiver got %d pings, want 2", n)
	}
}

// TestWatchStopsWhenRefused: wrong credentials, or a subscription the
// server refuses (a subscription name it does not take), end watch with an error
// naming the refusal instead of reconnecting for ever.
func TestWatchStopsWhenRefused(t *testing.T) {
	t.Parallel()
	s := startHooksServer(t)
	for _, tt := range []struct {
		name   string
		secret string
		args   []string
		want   string
	}{
		{"wrong secret", "not-the-secret", nil, "invalid_client"},
		{"refused subscription", hooksSecret, []string{"--subscription", "no spaces allowed"}, "400"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var stderr string
			var code int
			go func() {
				defer close(done)
				_, stderr, code = runCmd(t, []string{"SLOTLINE_CLIENT_ID=" + hooksClient, "SLOTLINE_CLIENT_SECRET=" + tt.secret},
					append([]string{"watch", "--url", s.url}, tt.args...)...)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("watch kept reconnecting after it was refused")
			}
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("watch = exit %d, stderr %q; want a failure naming %q", code, stderr, tt.want)
			}
		})
	}
}
