package main

// Tests that hold README.md and docs/ to what the code does: its first session run
// with bash against the binary, its event table against the event types
// the code defines, and its JavaScript stream example run with node.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/webhook"
)

// readmeSection returns the text of the section "## title", up to the
// next section, from README.md or, for the reference, docs/*.md.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	for _, f := range append([]string{filepath.Join("..", "..", "README.md")}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i := strings.Index(s, "\n## "+title+"\n")
		if i < 0 {
			continue
		}
		s = s[i+1:]
		if j := strings.Index(s[3:], "\n## "); j >= 0 {
			s = s[:j+4]
		}
		return s
	}
	t.Fatalf("neither README.md nor docs/ has a section %q", title)
	return ""
}

// codeBlocks returns the contents of the section's fenced blocks of lang.
func codeBlocks(section, lang string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```"+lang+"\n(.*?)^```").FindAllStringSubmatch(section, -1) {
		out = append(out, m[1])
	}
	return out
}

// curlTrace is put before the README's commands: it records each curl
// call's arguments (NUL-separated), response headers and body in
// $CURL_LOG, numbered in order, and passes the body on.
const curlTrace = `set -eu -o pipefail
curl() {
  local n f
  n=$(ls "$CURL_LOG" | grep -c '\.args$' || true)
  f="$CURL_LOG/$(printf %03d "$n")"
  printf '%s\0' "$@" > "$f.args"
  command curl -D "$f.head" "$@" | tee "$f.body"
}
`

// curlCall is one curl command the README's session ran.
type curlCall struct {
	method string
	url    *url.URL
	status int
	body   []byte
}

func readCurlLog(t *testing.T, dir string) []curlCall {
	t.Helper()
	var calls []curlCall
	for i := 0; ; i++ {
		f := filepath.Join(dir, fmt.Sprintf("%03d", i))
		args, err := os.ReadFile(f + ".args")
		if err != nil {
			return calls
		}
		c := curlCall{method: "GET"}
		fields := strings.Split(strings.TrimSuffix(string(args), "\x00"), "\x00")
		for j, a := range fields {
			switch {
			case a == "-X" && j+1 < len(fields):
				c.method = fields[j+1]
			case (a == "-d" || a == "--data") && c.method == "GET":
				c.method = "POST"
			case strings.HasPrefix(a, "http://"):
				if c.url, err = url.Parse(a); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
		}
		head, _ := os.ReadFile(f + ".head")
		if m := regexp.MustCompile(`^HTTP/\S+ (\d+)`).FindSubmatch(head); m != nil {
			c.status, _ = strconv.Atoi(string(m[1]))
		}
		c.body, _ = os.ReadFile(f + ".body")
		if c.url == nil {
			t.Fatalf("call %d has no URL: %q", i, fields)
		}
		calls = append(calls, c)
	}
}

// TestReadmeFirstSession runs the shell commands of README.md's "A first
// session" with bash against slotline serve started with no configuration,
// as the README says (on a free port rather than 8080, which may be taken:
// the commands' http://127.0.0.1:8080 is rewritten), with SECRET set to the
// secret serve printed. Each call must answer as the README says: a token,
// tomorrow's availability, a 201 for 09:00 New York time tomorrow, then
// the same reservation, by the id from that answer, read, listed,
// rescheduled to 11:00 and canceled.
func TestReadmeFirstSession(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		skipOutsideCI(t, "no bash")
	}
	section := readmeSection(t, "A first session")
	if !strings.Contains(section, "listens on\n`127.0.0.1:8080`") && !strings.Contains(section, "listens on `127.0.0.1:8080`") {
		t.Error("the section no longer says serve listens on 127.0.0.1:8080: check the rewrite below")
	}
	script := strings.Join(codeBlocks(section, "sh"), "\n")

	s := start(t, nil, "serve", "--addr", "127.0.0.1:0")
	secret := demoSecret(t, s)
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", s.url)
	secretLine := regexp.MustCompile(`(?m)^SECRET=.*$`)
	if secretLine.MatchString(script) {
		script = secretLine.ReplaceAllLiteralString(script, "SECRET="+secret)
	} else {
		t.Error("the session does not set SECRET")
		script = strings.ReplaceAll(script, "demo:SECRET", "demo:"+secret)
	}

	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tomorrow := func() string { return time.Now().In(ny).AddDate(0, 0, 1).Format(time.DateOnly) }
	days := []string{tomorrow()}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "curl")
	if err := os.Mkdir(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "session.sh")
	if err := os.WriteFile(file, []byte(curlTrace+script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", file)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CURL_LOG="+logDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	days = append(days, tomorrow()) // past midnight in New York meanwhile
	calls := readCurlLog(t, logDir)
	if runErr != nil {
		t.Errorf("the session failed (%v) after %d curl calls; stderr:\n%s", runErr, len(calls), stderr.String())
	}

	// What each step must answer; "{id}" is the id from the create's answer.
	want := []struct {
		method, path string
		status       int
	}{
		{"POST", "/oauth/token", 200},
		{"GET", "/api/v2/queues/queue_12345/availability", 200},
		{"POST", "/api/v2/callbacks", 201},
		{"GET", "/api/v2/callbacks/{id}", 200},
		{"GET", "/api/v2/callbacks", 200},
		{"PATCH", "/api/v2/callbacks/{id}", 200},
		{"DELETE", "/api/v2/callbacks/{id}", 200},
		{"GET", "/api/v2/queues", 200},
		{"GET", "/api/v2/queues/queue_12345", 200},
		{"GET", "/healthz", 200},
		{"GET", "/readyz", 200},
		{"GET", "/metrics", 200},
		{"GET", "/api/v2/openapi.json", 200},
	}
	if len(calls) != len(want) {
		t.Errorf("the session made %d curl calls, want %d", len(calls), len(want))
	}
	type resv struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		TimeSlot struct {
			Start time.Time `json:"start"`
		} `json:"time_slot"`
	}
	var id string
	var day string
	for i := range min(len(calls), len(want)) {
		c, w := calls[i], want[i]
		path := strings.ReplaceAll(w.path, "{id}", id)
		if c.method != w.method || c.url.Path != path || c.status != w.status {
			t.Errorf("step %d: %s %s answered %d; want %s %s → %d\n%.600s", i+1, c.method, c.url.Path, c.status, w.method, path, w.status, c.body)
			continue
		}
		var r resv
		_ = json.Unmarshal(c.body, &r)
		at := func(hour int) string { return day + fmt.Sprintf("T%02d:00 New York", hour) }
		switch i {
		case 1: // availability of tomorrow, New York time
			day = c.url.Query().Get("from")
			if !slices.Contains(days, day) {
				t.Errorf("availability from=%q, want tomorrow in New York (%s)", day, days[0])
			}
			if !bytes.Contains(c.body, []byte(`{"start":"`+day+`T09:00:00`)) {
				t.Errorf("availability has no 09:00 slot on %s:\n%.600s", day, c.body)
			}
		case 2: // the create
			id = r.ID
			if id == "" || r.Status != "scheduled" || r.TimeSlot.Start.In(ny).Format("2006-01-02T15:04")+" New York" != at(9) {
				t.Errorf("create answered %+v, want a scheduled reservation at %s", r, at(9))
			}
		case 3:
			if r.ID != id {
				t.Errorf("read answered %q, want %q", r.ID, id)
			}
		case 4:
			if !bytes.Contains(c.body, []byte(`"id":"`+id+`"`)) {
				t.Errorf("the list lacks %s:\n%.600s", id, c.body)
			}
		case 5:
			if r.ID != id || r.Reason != "Moved by the customer" || r.TimeSlot.Start.In(ny).Format("2006-01-02T15:04")+" New York" != at(11) {
				t.Errorf("reschedule answered %+v, want %s at %s", r, id, at(11))
			}
		case 6:
			if r.ID != id || r.Status != "canceled" {
				t.Errorf("cancel answered %+v, want %s canceled", r, id)
			}
		}
	}
	// serve, with no configuration, stored it all in ./slotline.db.
	if _, err := os.Stat(filepath.Join(s.cmd.Dir, "slotline.db")); err != nil {
		t.Errorf("serve without --db: %v", err)
	}
	if t.Failed() {
		t.Logf("the commands run:\n%s", script)
	}
}

// codeEventTypes returns every event type the code defines: the string
// constants Event* of package reservation (read from its source, so that a
// new one is seen), and those webhook endpoints may ask for.
func codeEventTypes(t *testing.T) []string {
	t.Helper()
	fset := gotoken.NewFileSet()
	dir := filepath.Join("..", "..", "internal", "reservation")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != gotoken.CONST {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
						v, _ := strconv.Unquote(lit.Value)
						types = append(types, v)
					}
				}
			}
		}
	}
	for _, v := range webhook.EventTypes {
		if !slices.Contains(types, v) {
			types = append(types, v)
		}
	}
	slices.Sort(types)
	return types
}

// TestReadmeEventTypes: the README's table of event types lists exactly
// the types the code defines, each once.
func TestReadmeEventTypes(t *testing.T) {
	t.Parallel()
	section := readmeSection(t, "The event stream")
	i := strings.Index(section, "\n| Event type |")
	if i < 0 {
		t.Fatal(`the section "The event stream" has no table headed "| Event type |"`)
	}
	var listed []string
	for _, line := range strings.Split(section[i+1:], "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		m := regexp.MustCompile("^\\| `([a-z_.]+)` \\|").FindStringSubmatch(line)
		if m == nil {
			t.Errorf("row %q does not start with an event type", line)
			continue
		}
		if slices.Contains(listed, m[1]) {
			t.Errorf("%s is listed twice", m[1])
		}
		listed = append(listed, m[1])
	}
	code := codeEventTypes(t)
	if len(code) < 14 {
		t.Fatalf("found only %d event types in the code: %v", len(code), code)
	}
	for _, c := range code {
		if !slices.Contains(listed, c) {
			t.Errorf("the README's event table lacks %s", c)
		}
	}
	for _, l := range listed {
		if !slices.Contains(code, l) {
			t.Errorf("the README's event table lists %s, which the code does not define", l)
		}
	}
}

// msgpackStub stands in for @msgpack/msgpack (npm is not available to the
// tests): decode and encode for what the stream's frames hold.
const msgpackStub = `
const decode = (b) => {
  let i = 0;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const str = (n) => { const s = new TextDecoder().decode(b.subarray(i, i + n)); i += n; return s; };
  const bin = (n) => { const v = b.subarray(i, i + n); i += n; return v; };
  const num = (get, n) => { const v = dv[get](i); i += n; return Number(v); };
  const map = (n) => { const o = {}; for (let k = 0; k < n; k++) { const key = val(); o[key] = val(); } return o; };
  const val = () => {
    const t = b[i++];
    if (t < 0x80) return t;
    if (t <= 0x8f) return map(t & 0x0f);
    if (t >= 0xa0 && t <= 0xbf) return str(t & 0x1f);
    if (t >= 0xe0) return t - 0x100;
    switch (t) {
      case 0xc4: return bin(num("getUint8", 1));
      case 0xc5: return bin(num("getUint16", 2));
      case 0xc6: return bin(num("getUint32", 4));
      case 0xcc: return num("getUint8", 1);
      case 0xcd: return num("getUint16", 2);
      case 0xce: return num("getUint32", 4);
      case 0xcf: return num("getBigUint64", 8);
      case 0xd0: return num("getInt8", 1);
      case 0xd1: return num("getInt16", 2);
      case 0xd2: return num("getInt32", 4);
      case 0xd3: return num("getBigInt64", 8);
      case 0xd9: return str(num("getUint8", 1));
      case 0xda: return str(num("getUint16", 2));
      case 0xde: return map(num("getUint16", 2));
    }
    throw new Error("msgpack stub: type 0x" + t.toString(16));
  };
  return val();
};
const encode = (o) => {
  const out = [];
  const be = (v, n) => { for (let s = n - 1; s >= 0; s--) out.push(Number((BigInt(v) >> BigInt(8 * s)) & 0xffn)); };
  const keys = Object.keys(o);
  out.push(0x80 | keys.length);
  for (const k of keys) {
    const kb = new TextEncoder().encode(k);
    out.push(0xa0 | kb.length, ...kb);
    const v = o[k];
    if (v instanceof Uint8Array) { out.push(0xc6); be(v.length, 4); out.push(...v); }
    else if (v >= 0 && v < 128) out.push(v);
    else { out.push(0xcf); be(v, 8); }
  }
  return Uint8Array.from(out);
};
`

// TestReadmeStreamExampleJS runs the README's JavaScript stream example
// with node against the binary: it must print the reservation events and
// the webhook.ping between them, acknowledge them all, and never throw.
func TestReadmeStreamExampleJS(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOutsideCI(t, "no node")
	}
	var example string
	for _, b := range codeBlocks(readmeSection(t, "The event stream"), "js") {
		if strings.Contains(b, "@msgpack/msgpack") {
			example = b
		}
	}
	const importLine = `import { decode, encode } from "@msgpack/msgpack";`
	const origin = `"wss://callbacks.example.com/`
	if !strings.Contains(example, importLine) || !strings.Contains(example, origin) {
		t.Fatalf("the README's stream example changed shape (import line, URL); adapt this test:\n%s", example)
	}
	s := startHooksServer(t)
	host := strings.TrimPrefix(s.url, "http://")
	program := "const token = process.env.SLOTLINE_TOKEN;\n" +
		`process.on("uncaughtException", (e) => { console.log("THREW", e && e.stack); process.exit(3); });` + "\n" +
		strings.Replace(strings.Replace(example, importLine, msgpackStub, 1), origin, `"ws://`+host+`/`, 1)
	file := filepath.Join(t.TempDir(), "example.mjs")
	if err := os.WriteFile(file, []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{file}
	if exec.Command(node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)").Run() != nil {
		args = append([]string{"--experimental-websocket"}, args...) // Node.js 20 and 21
	}
	js := exec.Command(node, args...)
	js.Env = append(os.Environ(), "SLOTLINE_TOKEN="+s.token)
	p := &process{cmd: js, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	js.Stdout, js.Stderr = p.stdout, p.stderr
	if err := js.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- js.Wait() }()
	t.Cleanup(func() { _ = js.Process.Kill(); <-p.done })
	p.waitFor(t, "the subscribed notice", func(out string) bool { return strings.Contains(out, "notice subscribed") })

	r1 := s.reserve(t, "js-1", 2)
	s.ping(t)
	r2 := s.reserve(t, "js-2", 3)
	line := func(typ, subject string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^(\d+) ` + regexp.QuoteMeta(typ) + ` ` + regexp.QuoteMeta(subject) + `\b`)
	}
	out := p.waitFor(t, "the second reservation", func(out string) bool {
		return line("reservation.created", r2).MatchString(out)
	})
	seqOf := func(re *regexp.Regexp) int {
		m := re.FindStringSubmatch(out)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	c1, ping, c2 := seqOf(line("reservation.created", r1)), seqOf(line("webhook.ping", s.endpoint)), seqOf(line("reservation.created", r2))
	if c1 < 0 || ping < 0 || !(c1 < ping && ping < c2) {
		t.Errorf("want the first reservation, the ping and the second, in order:\n%s", out)
	}
	// Every event printed was acknowledged.
	events := len(regexp.MustCompile(`(?m)^\d+ (reservation|webhook|delivery)\.`).FindAllString(out, -1))
	deadline := time.Now().Add(20 * time.Second)
	acks := 0
	for acks < events && time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := regexp.MustCompile(`(?m)^slotline_stream_acks_total\{known="true"\} (\d+)`).FindSubmatch(b); m != nil {
			acks, _ = strconv.Atoi(string(m[1]))
		}
		if acks < events {
			time.Sleep(20 * time.Millisecond) // poll interval (a wait on a condition, with a deadline)
		}
	}
	if acks < events {
		t.Errorf("the server counted %d acks for the %d events printed", acks, events)
	}
	select {
	case err := <-p.done:
		p.done <- err
		t.Errorf("the example exited (%v):\n%s\n%s", err, p.stdout.String(), p.stderr.String())
	default:
	}
}

// skipOutsideCI skips the test for a missing tool, except under CI=true,
// where a missing dependency is a failure.
func skipOutsideCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: the tests' dependencies must be installed)", why)
	}
	t.Skip(why)
}
