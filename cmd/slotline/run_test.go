package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// binary is the slotline binary built once for the tests that run it the
// way a user does.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slotline-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "slotline")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build slotline:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running slotline process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed at the next Write (see await)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

// await waits, woken by each write, until cond holds for what has been
// written or timeout passes; it returns what has been written.
func (s *syncBuffer) await(timeout time.Duration, cond func(string) bool) string {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		out := s.b.String()
		if cond(out) {
			s.mu.Unlock()
			return out
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return s.String()
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs slotline with args and env and waits until it listens.
func start(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	s := launch(t, env, args...)
	s.awaitStarted(t)
	return s
}

// launch runs slotline with args and env without waiting for it; the
// process is killed when the test ends.
func launch(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	s := &server{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("slotline stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

// awaitStarted waits until the process logs that it listens, and sets
// s.url; the test fails if it exits first or takes over 20 s.
func (s *server) awaitStarted(t *testing.T) {
	t.Helper()
	urlRe := regexp.MustCompile(`"msg":"slotline started".*?"url":"([^"]+)"`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlRe.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			return
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("slotline exited early (%v):\n%s", err, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("slotline did not start:\n%s", s.stderr.String())
}

// running reports whether the process has not exited.
func (s *server) running() bool {
	select {
	case err := <-s.done:
		s.done <- err
		return false
	default:
		return true
	}
}

// stop sends SIGINT and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.interrupt(t, 15*time.Second); err != nil {
		t.Errorf("slotline exited with %v after SIGINT:\n%s", err, s.stderr.String())
	}
}

// interrupt sends SIGINT and returns how the process exited. A process
// that has not exited within wait gets SIGQUIT, which makes the Go runtime
// print every goroutine's stack before it exits, and the test fails with
// that dump: it names who did not return.
func (s *server) interrupt(t *testing.T, wait time.Duration) error {
	t.Helper()
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(wait):
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case err := <-s.done:
			s.done <- err
		case <-time.After(10 * time.Second):
		}
		// launch's cleanup logs the stderr, the dump at its end.
		t.Fatalf("slotline did not stop within %s of SIGINT (its goroutines at SIGQUIT end its stderr, below)", wait)
		return nil
	}
}

// runCmd runs slotline to completion and returns its output and exit code.
func runCmd(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmdIn(t, "", env, args...)
}

// runCmdIn is runCmd in directory dir ("": the test's own).
func runCmdIn(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// --- the seed's client, as its "Complete Working Example" writes it
// (with its compile errors fixed and the host made a URL) ---

type seedTokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

type seedTimeSlot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type seedChannelPreference struct {
	Primary  string `json:"primary"`
	Fallback string `json:"fallback"`
	AllowSMS bool   `json:"allow_sms"`
}

type seedReservationPayload struct {
	CallbackID         string                `json:"callback_id"`
	CallbackNumber     string                `json:"callback_number"`
	TimeSlotMatrix     []seedTimeSlot        `json:"time_slot_matrix"`
	ChannelPreferences seedChannelPreference `json:"channel_preferences"`
	QueueID            string                `json:"queue_id"`
	Reason             string                `json:"reason"`
	ConcurrencyLimit   int                   `json:"concurrency_limit"`
}

// seedFetchToken is the seed's FetchToken: Basic auth without URL-encoding,
// and (a bug in the seed) no request body at all.
func seedFetchToken(base, clientID, clientSecret string) (seedTokenResponse, error) {
	auth := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%s", clientID, clientSecret)))
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", nil)
	req.Header.Set("Authorization", fmt.Sprintf("Basic %s", auth))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return seedTokenResponse{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return seedTokenResponse{}, fmt.Errorf("oauth error %d: %s", resp.StatusCode, string(body))
	}
	var token seedTokenResponse
	json.NewDecoder(resp.Body).Decode(&token)
	return token, nil
}

// seedSubmit is the seed's SubmitReservation (without its own validation).
func seedSubmit(client *http.Client, base, token string, payload seedReservationPayload) (int, []byte, error) {
	jsonData, _ := json.Marshal(payload)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v2/callbacks", bytes.NewReader(jsonData))
	req.Header.Set("Authorization", fmt.Sprintf("Bearer %s", token))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, nil
}

func demoSecret(t *testing.T, s *server) string {
	t.Helper()
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(demoBanner(t, s))
	if m == nil {
		t.Fatalf("no demo secret printed:\n%s", s.stdout.String())
	}
	return m[1]
}

// demoBanner returns standard output once the demo banner has come through
// (serve prints it before its "started" log line, but the two pipes are
// copied by separate goroutines), or what is there after 20 s.
func demoBanner(t *testing.T, s *server) string {
	t.Helper()
	return s.stdout.await(20*time.Second, func(out string) bool { return strings.Contains(out, "curl -s -u demo:") })
}

// TestSeedClientAgainstDemo starts slotline as a user would, with no
// config, and replays the seed's example: token, then its reservation.
func TestSeedClientAgainstDemo(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "demo.db")
	s := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+dbPath)
	if log := s.stderr.String(); !strings.Contains(log, `"msg":"database migrated"`) || !strings.Contains(log, "0005_compact.sqlite.sql") {
		t.Errorf("a start on a new database does not log the migrations it applied:\n%s", log)
	}
	out := demoBanner(t, s)
	for _, want := range []string{"for trying it out", "queue_12345", "curl -s -u demo:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo banner lacks %q:\n%s", want, out)
		}
	}
	secret := demoSecret(t, s)
	if strings.Contains(s.stderr.String(), secret) {
		t.Error("the demo secret appears in the log")
	}
	token, err := seedFetchToken(s.url, "demo", secret)
	if err != nil {
		t.Fatalf("seed FetchToken: %v", err)
	}
	if token.ExpiresIn != 3600 || !strings.HasPrefix(token.AccessToken, "slt_") {
		t.Errorf("token = %+v", token)
	}
	if _, err := seedFetchToken(s.url, "demo", "wrong"); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("wrong secret: err = %v", err)
	}
	// The seed's payload, a slot one hour from now.
	now := time.Now()
	payload := seedReservationPayload{
		CallbackID:         "cb_9f8e7d6c",
		CallbackNumber:     "+14155550199",
		TimeSlotMatrix:     []seedTimeSlot{{Start: now.Add(1 * time.Hour), End: now.Add(1 * time.Hour).Add(15 * time.Minute)}},
		ChannelPreferences: seedChannelPreference{Primary: "voice", Fallback: "sms", AllowSMS: true},
		QueueID:            "queue_12345",
		Reason:             "Automated reservation test",
		ConcurrencyLimit:   10,
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	status, body, err := seedSubmit(hc, s.url, token.AccessToken, payload)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("seed submit = %d %s, %v", status, body, err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	wantTime := payload.TimeSlotMatrix[0].Start.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	for k, want := range map[string]any{
		"callback_number": "+14155550199", "queue_id": "queue_12345", "reason": "Automated reservation test",
		"status": "scheduled", "callback_time": wantTime, "callback_id": "cb_9f8e7d6c",
	} {
		if got[k] != want {
			t.Errorf("response %s = %v, want %v", k, got[k], want)
		}
	}
	if id, _ := got["id"].(string); id == "" {
		t.Error("response has no id")
	}
	// The seed retries the same payload: same response, nothing booked twice.
	status, body2, _ := seedSubmit(hc, s.url, token.AccessToken, payload)
	var again map[string]any
	_ = json.Unmarshal(body2, &again)
	if status != http.StatusCreated || again["id"] != got["id"] {
		t.Errorf("replay = %d %s", status, body2)
	}
	// Its error cases: a slot in the past, a bad limit.
	bad := payload
	bad.CallbackID = "cb_past"
	bad.TimeSlotMatrix = []seedTimeSlot{{Start: now.Add(-time.Hour), End: now.Add(-45 * time.Minute)}}
	if status, body, _ := seedSubmit(hc, s.url, token.AccessToken, bad); status != http.StatusBadRequest || !bytes.Contains(body, []byte(`"past"`)) {
		t.Errorf("past slot = %d %s", status, body)
	}
	bad = payload
	bad.CallbackID = "cb_limit"
	bad.ConcurrencyLimit = 51
	if status, body, _ := seedSubmit(hc, s.url, token.AccessToken, bad); status != http.StatusBadRequest || !bytes.Contains(body, []byte("concurrency_limit")) {
		t.Errorf("bad limit = %d %s", status, body)
	}
	if status, _, _ := seedSubmit(hc, s.url, "slt_not-a-token", payload); status != http.StatusUnauthorized {
		t.Errorf("bad token = %d, want 401", status)
	}
	// The log never carries the full number or the token.
	logs := s.stderr.String()
	for _, secretText := range []string{"+14155550199", token.AccessToken} {
		if strings.Contains(logs, secretText) {
			t.Errorf("log contains %q", secretText)
		}
	}
	s.stop(t)
	// audit verify reads the same database.
	outAudit, errAudit, code := runCmd(t, nil, "audit", "verify", "--db", "sqlite:"+dbPath)
	if code != 0 || !strings.Contains(outAudit, "audit log intact") {
		t.Errorf("audit verify = %d %s %s", code, outAudit, errAudit)
	}
}

const configYAML = `
listen: 127.0.0.1:0
database: %s
log: {level: info, format: json}
clients:
  - id: website
    secret: website-secret-0123456789
    scopes: [callback:read, callback:write]
  - id: reader
    secret: reader-secret-0123456789
    scopes: [callback:read]
queues:
  - id: support
    name: Support
    timezone: Europe/London
    slot_minutes: 15
    capacity: %d
    hours: 24/7
    horizon: 30d
`

func writeConfig(t *testing.T, db string, capacity int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "slotline.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(configYAML, db, capacity)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func token(t *testing.T, base, id, secret string) string {
	t.Helper()
	tok, err := seedFetchToken(base, id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "c.db")
	cfg := writeConfig(t, db, 5)
	s := start(t, nil, "serve", "--config", cfg)
	if strings.Contains(s.stdout.String(), "client_secret") {
		t.Error("a secret was printed although a config file was given")
	}
	tok := token(t, s.url, "website", "website-secret-0123456789")
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v2/queues/support", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET queue = %v, %v", resp, err)
	}
	resp.Body.Close()
	// The reader may not write.
	rtok := token(t, s.url, "reader", "reader-secret-0123456789")
	status, body, _ := seedSubmit(http.DefaultClient, s.url, rtok, seedReservationPayload{QueueID: "support"})
	if status != http.StatusForbidden {
		t.Errorf("reader POST = %d %s", status, body)
	}
}

func TestBadConfigStops(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:0\nqueues:\n  - id: q\n    timezone: Mars/Olympus\n"), 0o600)
	_, stderr, code := runCmd(t, nil, "serve", "--config", path)
	if code == 0 || !strings.Contains(stderr, path+":4: queues[0].timezone") {
		t.Errorf("exit %d, stderr %q; want the file, line 4 and the field", code, stderr)
	}
	_, stderr, code = runCmd(t, nil, "serve", "--bogus")
	if code != 2 {
		t.Errorf("unknown flag: exit %d (%s), want 2", code, stderr)
	}
	_, stderr, code = runCmd(t, nil, "frobnicate")
	if code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: exit %d %s", code, stderr)
	}
	stdout, _, code := runCmd(t, nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "slotline ") {
		t.Errorf("version = %d %q", code, stdout)
	}
}

// TestPrecedence: flags beat the environment, which beats the file.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fileDB := "sqlite:" + filepath.Join(dir, "file.db")
	envDB := "sqlite:" + filepath.Join(dir, "env.db")
	flagDB := "sqlite:" + filepath.Join(dir, "flag.db")
	cfg := writeConfig(t, fileDB, 5)
	// env beats file
	s := start(t, []string{"SLOTLINE_CONFIG=" + cfg, "SLOTLINE_DB=" + envDB}, "serve")
	s.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "env.db")); err != nil {
		t.Errorf("SLOTLINE_DB not used: %v", err)
	}
	// flag beats env
	s = start(t, []string{"SLOTLINE_CONFIG=" + cfg, "SLOTLINE_DB=" + envDB, "SLOTLINE_ADDR=127.0.0.1:1"}, "serve", "--db", flagDB, "--addr", "127.0.0.1:0")
	s.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "flag.db")); err != nil {
		t.Errorf("--db not used: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "file.db")); err == nil {
		t.Error("the file's database was opened although env and flag override it")
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestTLSAndHTTP2(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t)
	s := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+filepath.Join(t.TempDir(), "t.db"), "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("url = %s", s.url)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		resp, err := (&http.Client{Transport: tr}).Get(s.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "HTTP/1.1"
		if h2 {
			want = "HTTP/2.0"
		}
		if resp.StatusCode != 200 || resp.Proto != want {
			t.Errorf("h2=%v: %d %s, want 200 %s", h2, resp.StatusCode, resp.Proto, want)
		}
	}
}

// TestAuditTamperDetected edits the SQLite file behind slotline's back.
func TestAuditTamperDetected(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	db := "sqlite:" + path
	s := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", db)
	tok := token(t, s.url, "demo", demoSecret(t, s))
	for i := range 3 {
		start := time.Now().Add(time.Duration(i+2) * time.Hour)
		status, body, _ := seedSubmit(http.DefaultClient, s.url, tok, seedReservationPayload{
			CallbackID: fmt.Sprintf("a%d", i), CallbackNumber: fmt.Sprintf("+1415555%04d", 100+i), QueueID: "queue_12345", ConcurrencyLimit: 5,
			TimeSlotMatrix: []seedTimeSlot{{start, start.Add(15 * time.Minute)}},
		})
		if status != 201 {
			t.Fatalf("create = %d %s", status, body)
		}
	}
	s.stop(t)
	if out, errOut, code := runCmd(t, nil, "audit", "verify", "--db", db); code != 0 {
		t.Fatalf("untouched log: exit %d %s %s", code, out, errOut)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("UPDATE audit_log SET target = 'someone-else' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, errOut, code := runCmd(t, nil, "audit", "verify", "--db", db)
	if code == 0 || !strings.Contains(errOut, "entry 2") {
		t.Errorf("tampered log: exit %d, %q; want a failure naming entry 2", code, errOut)
	}
}

// TestTwoProcessesOnPostgres runs two serve processes on one PostgreSQL
// schema and hammers one slot through both: exactly the capacity is
// admitted, and a token from one process works on the other.
func TestTwoProcessesOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	const capacity = 9
	cfg := writeConfig(t, dsn, capacity)
	a := start(t, nil, "serve", "--config", cfg)
	b := start(t, nil, "serve", "--config", cfg)
	tokA := token(t, a.url, "website", "website-secret-0123456789")
	// The token from A works on B.
	req, _ := http.NewRequest(http.MethodGet, b.url+"/api/v2/queues", nil)
	req.Header.Set("Authorization", "Bearer "+tokA)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("A's token on B: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	slot := time.Now().Add(3 * time.Hour).Truncate(15 * time.Minute)
	var admitted, full atomic.Int64
	var wg sync.WaitGroup
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}, Timeout: 30 * time.Second}
	for i := range 40 {
		base := a.url
		if i%2 == 1 {
			base = b.url
		}
		wg.Go(func() {
			status, body, err := seedSubmit(hc, base, tokA, seedReservationPayload{
				CallbackID: fmt.Sprintf("race-%d", i), CallbackNumber: fmt.Sprintf("+44207183%04d", i), QueueID: "support", ConcurrencyLimit: 50,
				TimeSlotMatrix: []seedTimeSlot{{slot, slot.Add(15 * time.Minute)}},
			})
			switch {
			case err != nil:
				t.Errorf("submit: %v", err)
			case status == 201:
				admitted.Add(1)
			case status == 409:
				full.Add(1)
			default:
				t.Errorf("submit = %d %s", status, body)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != capacity || full.Load() != 40-capacity {
		t.Fatalf("admitted %d, refused %d; want exactly %d admitted", admitted.Load(), full.Load(), capacity)
	}
	// Both processes report the same availability.
	for _, s := range []*server{a, b} {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v2/queues/support/availability?from="+slot.UTC().Format(time.RFC3339)+"&to="+slot.Add(15*time.Minute).UTC().Format(time.RFC3339), nil)
		req.Header.Set("Authorization", "Bearer "+tokA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var av struct {
			Slots []struct {
				Used   int    `json:"used"`
				Reason string `json:"reason"`
			} `json:"slots"`
		}
		json.NewDecoder(resp.Body).Decode(&av)
		resp.Body.Close()
		if len(av.Slots) != 1 || av.Slots[0].Used != capacity || av.Slots[0].Reason != "full" {
			t.Errorf("%s availability = %+v", s.url, av)
		}
	}
}

// TestProcessesStartTogetherOnPostgres starts three serve processes at
// once on a fresh, empty PostgreSQL schema, as a deployment that scales
// out does, in a few rounds: every one must come up healthy and ready
// (their migrations, Slotline's and River's, take turns under one lock),
// none may exit, and a reservation made through one is read through the
// others.
func TestProcessesStartTogetherOnPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts nine processes")
	}
	const processes, rounds = 3, 3
	hc := &http.Client{Timeout: 10 * time.Second}
	for round := range rounds {
		t.Run(fmt.Sprintf("round %d", round+1), func(t *testing.T) {
			cfg := writeConfig(t, storagetest.PostgresDSN(t), 5)
			var ss []*server
			for range processes {
				ss = append(ss, launch(t, nil, "serve", "--config", cfg))
			}
			for _, s := range ss {
				s.awaitStarted(t)
			}
			for i, s := range ss {
				for _, path := range []string{"/healthz", "/readyz"} {
					resp, err := hc.Get(s.url + path)
					if err != nil {
						t.Fatalf("process %d: GET %s: %v", i, path, err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("process %d: GET %s = %d, want 200", i, path, resp.StatusCode)
					}
				}
			}
			tok := token(t, ss[0].url, "website", "website-secret-0123456789")
			slot := time.Now().Add(3 * time.Hour).Truncate(15 * time.Minute)
			status, body, err := seedSubmit(hc, ss[0].url, tok, seedReservationPayload{
				CallbackID: "together", CallbackNumber: "+442071838750", QueueID: "support", ConcurrencyLimit: 5,
				TimeSlotMatrix: []seedTimeSlot{{slot, slot.Add(15 * time.Minute)}},
			})
			if err != nil || status != http.StatusCreated {
				t.Fatalf("create through process 0 = %d %s %v", status, body, err)
			}
			var created struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
				t.Fatalf("create answered %s (%v), want an id", body, err)
			}
			for i, s := range ss[1:] {
				req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v2/callbacks/"+created.ID, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("process %d: GET the reservation: %v", i+1, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("process %d: GET the reservation made through process 0 = %d, want 200", i+1, resp.StatusCode)
				}
			}
			for i, s := range ss {
				if !s.running() {
					t.Errorf("process %d exited:\n%s", i, s.stderr.String())
				}
			}
			for _, s := range ss {
				s.stop(t)
			}
		})
	}
}

// TestStopsWhilePostgresDoesNotAnswer stops serve while its PostgreSQL
// server answers nothing (every connection stays open and nothing goes
// through, as when commits wait on a saturated disk or the server hangs):
// the process still exits, within a bound, rather than when the database
// answers again. Its last writes (the listener's lease, River's
// leadership) cannot commit: the stop gives them a grace, then gives up on
// them. Before, the lease's release waited on the writer, the writer on
// the database and the hub on an UNLISTEN, each for as long as the
// database did not answer.
func TestStopsWhilePostgresDoesNotAnswer(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storagetest.PostgresDSN(t))
	if err != nil || u.Host == "" {
		t.Skipf("TEST_DATABASE_URL names no host:port to put a proxy in front of (%v)", err)
	}
	proxy := newStallProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	s := start(t, nil, "serve", "--config", writeConfig(t, u.String(), 5))
	// The only process holds the listener lease: giving it up is one of
	// the stop's writes.
	if out := s.stderr.await(20*time.Second, func(out string) bool { return strings.Contains(out, "listener lease taken") }); !strings.Contains(out, "listener lease taken") {
		t.Fatalf("the process did not take the listener lease:\n%s", out)
	}
	proxy.stall()
	// The bound is far above the stop's own (about 12 s at worst: River's
	// 10 s for its jobs, overlapping the parts' grace and the writer's,
	// then 2 s for the connections): the process must exit, whatever its
	// exit status says about the writes it gave up.
	err = s.interrupt(t, 40*time.Second)
	t.Logf("exited with %v once the database stopped answering", err)
}

// stallProxy forwards TCP connections to a server until stall is called;
// from then on nothing goes through either way and every connection stays
// open, new ones too: a server that has stopped answering.
type stallProxy struct {
	ln      net.Listener
	stalled chan struct{}
	closed  chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, stalled: make(chan struct{}), closed: make(chan struct{})}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.keep(c)
			select {
			case <-p.stalled:
				continue // held open, never answered
			default:
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.keep(up)
			p.wg.Go(func() { p.pipe(up, c) })
			p.wg.Go(func() { p.pipe(c, up) })
		}
	})
	t.Cleanup(func() {
		close(p.closed)
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallProxy) keep(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

// stall stops forwarding.
func (p *stallProxy) stall() { p.once.Do(func() { close(p.stalled) }) }

// pipe copies src to dst until either ends or the proxy stalls; a stalled
// pipe forwards nothing more and waits for the test's end, its connections
// open.
func (p *stallProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.stalled:
			<-p.closed
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			src.Close()
			dst.Close()
			return
		}
	}
}

// TestMigrate: migrate applies the schema once, then reports nothing to do.
func TestMigrate(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	out, errOut, code := runCmd(t, nil, "migrate", "--db", db)
	if code != 0 || !strings.Contains(out, "0001_init.sql") {
		t.Fatalf("migrate = %d %s %s", code, out, errOut)
	}
	out, _, code = runCmd(t, nil, "migrate", "--db", db)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("second migrate = %d %s", code, out)
	}
}

// TestKillMidBurstSyncsEverythingOnce kills the server with SIGKILL while
// reservations are being carried to Genesys (the simulator, in this test
// process, answers slowly), starts it again, and checks that every
// reservation ends synced, each with exactly one callback in Genesys.
func TestKillMidBurstSyncsEverythingOnce(t *testing.T) {
	t.Parallel()
	// The clock runs at real speed: a create lost at the kill shows in
	// analytics AnalyticsDelay (clock time, 5 s) after it, and the restarted
	// process must find it there, not create it again. A create the kill
	// stopped before it reached Genesys is searched for during the whole
	// lost-create window before it is made again: 15 s here (the default,
	// 2 min, is longer than this test waits), still past the index delay.
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(time.Now(), 1)})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", Latency: 150 * time.Millisecond, Count: 1000})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
listen: 127.0.0.1:0
database: sqlite:%s
clients:
  - {id: website, secret: website-secret-0123456789, scopes: [callback:read, callback:write]}
genesys:
  mode: live
  api_url: %s
  login_url: %s
  client_id: %s
  client_secret: %s
  workers: 4
  lost_create_window: 15s
queues:
  - {id: support, genesys_queue_id: %s, timezone: UTC, capacity: 50, hours: 24/7}
`, filepath.Join(dir, "k.db"), simURL, simURL, gcsim.DefaultClientID, gcsim.DefaultClientSecret, gcsim.DefaultQueueID)), 0o600)

	s := start(t, nil, "serve", "--config", cfg)
	tok := token(t, s.url, "website", "website-secret-0123456789")
	var admitted sync.Map
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := range 40 {
		wg.Go(func() {
			at := time.Now().Add(time.Duration(2+i%20) * time.Hour).Truncate(15 * time.Minute)
			status, body, err := seedSubmit(hc, s.url, tok, seedReservationPayload{
				CallbackID: fmt.Sprintf("k%d", i), CallbackNumber: fmt.Sprintf("+1415555%04d", 100+i), QueueID: "support", ConcurrencyLimit: 50,
				TimeSlotMatrix: []seedTimeSlot{{at, at.Add(15 * time.Minute)}},
			})
			if err == nil && status == 201 {
				var r struct{ ID string }
				json.Unmarshal(body, &r)
				admitted.Store(r.ID, true)
			}
		})
	}
	wg.Wait()
	// Kill it while the slow creates are under way.
	deadline := time.Now().Add(10 * time.Second)
	for len(sim.Callbacks()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	s.done <- nil
	before := len(sim.Callbacks())

	s2 := start(t, nil, "serve", "--config", cfg)
	tok = token(t, s2.url, "website", "website-secret-0123456789")
	var ids []string
	admitted.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	if len(ids) != 40 {
		t.Fatalf("%d of 40 reservations admitted before the kill", len(ids))
	}
	deadline = time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			req, _ := http.NewRequest(http.MethodGet, s2.url+"/api/v2/callbacks/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			json.NewDecoder(resp.Body).Decode(&raw)
			resp.Body.Close()
			syncObj, _ := raw["sync"].(map[string]any)
			if syncObj["state"] == "synced" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never synced after the restart: %v", id, raw)
			}
			time.Sleep(50 * time.Millisecond) // poll interval (another process)
		}
	}
	counts := map[string]int{}
	for _, c := range sim.Callbacks() {
		counts[c.Data["slotline_reservation_id"]]++
	}
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("%s has %d callbacks in Genesys, want exactly 1", id, counts[id])
		}
	}
	if len(sim.Callbacks()) != len(ids) {
		t.Errorf("Genesys holds %d callbacks for %d reservations", len(sim.Callbacks()), len(ids))
	}
	t.Logf("%d callbacks existed at the kill, %d after the restart", before, len(sim.Callbacks()))
}

// TestKillMidDeliveriesLosesNothing kills the server while webhook
// deliveries are in flight (the receiver holds every delivery after the
// first two until the kill); after a restart every event is delivered (at
// least once, with the same webhook-id on a repeat).
func TestKillMidDeliveriesLosesNothing(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	byEvent := map[string]map[string]bool{} // reservation id → webhook-ids
	var requests atomic.Int64
	delivered := make(chan struct{}, 1) // a tick per delivery recorded
	held := make(chan struct{}, 1)      // a tick per delivery held
	release := make(chan struct{})      // closed after the kill
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct {
				ReservationID string `json:"reservation_id"`
			} `json:"data"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		if requests.Add(1) > 2 {
			select {
			case held <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
				return // its sender died: lost in flight
			}
		}
		mu.Lock()
		if byEvent[body.Data.ReservationID] == nil {
			byEvent[body.Data.ReservationID] = map[string]bool{}
		}
		byEvent[body.Data.ReservationID][r.Header.Get("webhook-id")] = true
		mu.Unlock()
		select {
		case delivered <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	defer letGo() // before recv.Close, which waits for the handlers
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
listen: 127.0.0.1:0
database: sqlite:%s
clients:
  - {id: website, secret: website-secret-0123456789, scopes: [callback:read, callback:write, webhook:read, webhook:write]}
webhooks: {allow_http: true, allow_private: true}
queues:
  - {id: support, timezone: UTC, capacity: 50, hours: 24/7}
`, filepath.Join(dir, "w.db"))), 0o600)
	s := start(t, nil, "serve", "--config", cfg)
	tok := token(t, s.url, "website", "website-secret-0123456789")
	reg, _ := json.Marshal(map[string]any{"name": "crm", "url": recv.URL + "/hook", "events": []string{"reservation.created"}})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v2/webhooks", bytes.NewReader(reg))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("register endpoint: %v %v", resp, err)
	}
	var ids []string
	for i := range 30 {
		at := time.Now().Add(time.Duration(2+i%20) * time.Hour).Truncate(15 * time.Minute)
		status, body, err := seedSubmit(http.DefaultClient, s.url, tok, seedReservationPayload{
			CallbackID: fmt.Sprintf("d%d", i), CallbackNumber: fmt.Sprintf("+1415555%04d", 100+i), QueueID: "support", ConcurrencyLimit: 50,
			TimeSlotMatrix: []seedTimeSlot{{at, at.Add(15 * time.Minute)}},
		})
		if err != nil || status != 201 {
			t.Fatalf("create: %d %v", status, err)
		}
		var r struct{ ID string }
		json.Unmarshal(body, &r)
		ids = append(ids, r.ID)
	}
	// Two deliveries are done and the next is in flight, the rest
	// pending: kill it.
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatalf("no delivery in flight after 20 s (%d requests)", requests.Load())
	}
	s.cmd.Process.Kill()
	<-s.done
	s.done <- nil
	letGo()
	mu.Lock()
	before := len(byEvent)
	mu.Unlock()
	start(t, nil, "serve", "--config", cfg)
	timeout := time.After(90 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, id := range ids {
			if len(byEvent[id]) > 0 {
				n++
			}
		}
		mu.Unlock()
		if n == len(ids) {
			break
		}
		select {
		case <-delivered:
		case <-timeout:
			t.Fatalf("%d of %d reservations delivered after the restart", n, len(ids))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if len(byEvent[id]) != 1 {
			t.Errorf("%s was delivered under %d webhook-ids; a repeat must keep its id", id, len(byEvent[id]))
		}
	}
	t.Logf("%d reservations delivered before the kill, all %d after the restart", before, len(ids))
}
