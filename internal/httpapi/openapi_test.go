package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/netguard"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/selfservice"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/webhook"
)

// docBase is the URL the OpenAPI document is loaded under, so that its
// schemas can be compiled by JSON pointer and their local $refs resolve.
const docBase = "https://slotline.invalid/openapi.json"

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openapiDoc is the served OpenAPI document with its schemas compiled on
// demand. It records which (operation, status) pairs responses were checked
// against, so that a test can require every documented response to be seen.
type openapiDoc struct {
	raw    map[string]any
	routes []docRoute

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
	seen     map[string]bool // "METHOD /route STATUS"
	finished map[string]bool // subtests that ran to the end
}

type docRoute struct {
	template string
	re       *regexp.Regexp
}

var templateParam = regexp.MustCompile(`\\\{[^/]+?\\\}`)

// loadDoc parses httpapi.OpenAPI and prepares a draft 2020-12 compiler over
// it (formats asserted).
func loadDoc(t testing.TB) *openapiDoc {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(httpapi.OpenAPI(), &raw); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(httpapi.OpenAPI()))
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docBase, inst); err != nil {
		t.Fatalf("add openapi.json as a schema resource: %v", err)
	}
	d := &openapiDoc{raw: raw, compiler: c, schemas: map[string]*jsonschema.Schema{},
		seen: map[string]bool{}, finished: map[string]bool{}}
	paths, _ := raw["paths"].(map[string]any)
	for _, tmpl := range slices.Sorted(maps.Keys(paths)) {
		re := "^" + templateParam.ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		d.routes = append(d.routes, docRoute{tmpl, regexp.MustCompile(re)})
	}
	return d
}

// ptr builds a JSON pointer from unescaped reference tokens.
func ptr(tokens ...string) string {
	var b strings.Builder
	esc := strings.NewReplacer("~", "~0", "/", "~1")
	for _, tok := range tokens {
		b.WriteByte('/')
		b.WriteString(esc.Replace(tok))
	}
	return b.String()
}

// lookup returns the value at JSON pointer p.
func (d *openapiDoc) lookup(p string) (any, bool) {
	var v any = d.raw
	if p == "" {
		return v, true
	}
	unesc := strings.NewReplacer("~1", "/", "~0", "~")
	for _, tok := range strings.Split(p[1:], "/") {
		tok = unesc.Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// deref returns the object at p, following Reference Objects, and the
// pointer it was finally found at.
func (d *openapiDoc) deref(p string) (string, map[string]any, error) {
	for range 8 {
		v, ok := d.lookup(p)
		if !ok {
			return "", nil, fmt.Errorf("%s is not in openapi.json", p)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("%s is not an object", p)
		}
		r, ok := m["$ref"].(string)
		if !ok {
			return p, m, nil
		}
		if !strings.HasPrefix(r, "#/") {
			return "", nil, fmt.Errorf("%s: $ref %q is not local", p, r)
		}
		p = r[1:]
	}
	return "", nil, fmt.Errorf("%s: $ref chain too long", p)
}

// schema compiles the schema at JSON pointer p of the document.
func (d *openapiDoc) schema(p string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.schemas[p]; ok {
		return s, nil
	}
	var frag strings.Builder
	for _, tok := range strings.Split(p, "/")[1:] {
		frag.WriteByte('/')
		frag.WriteString(url.PathEscape(tok))
	}
	s, err := d.compiler.Compile(docBase + "#" + frag.String())
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", p, err)
	}
	d.schemas[p] = s
	return s, nil
}

// route returns the path template of openapi.json that matches a request
// path.
func (d *openapiDoc) route(path string) (string, bool) {
	for _, r := range d.routes {
		if r.template == path {
			return r.template, true
		}
	}
	for _, r := range d.routes {
		if r.re.MatchString(path) {
			return r.template, true
		}
	}
	return "", false
}

// operations lists every (METHOD, path template) of the document.
func (d *openapiDoc) operations() [][2]string {
	var out [][2]string
	paths, _ := d.raw["paths"].(map[string]any)
	for _, tmpl := range slices.Sorted(maps.Keys(paths)) {
		item, _ := paths[tmpl].(map[string]any)
		for _, m := range httpMethods {
			if _, ok := item[m]; ok {
				out = append(out, [2]string{strings.ToUpper(m), tmpl})
			}
		}
	}
	return out
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// checkResponse fails t unless openapi.json documents the response: the
// status for the operation, every required header (and every present
// documented header's value), the content type and the body's schema.
func (d *openapiDoc) checkResponse(t testing.TB, method, route string, status int, header http.Header, body []byte) {
	t.Helper()
	where := fmt.Sprintf("%s %s → %d", method, route, status)
	opPtr := ptr("paths", route, strings.ToLower(method))
	if _, ok := d.lookup(opPtr); !ok {
		t.Errorf("%s: openapi.json has no such operation", where)
		return
	}
	respPtr, resp, err := d.deref(opPtr + ptr("responses", strconv.Itoa(status)))
	if err != nil {
		t.Errorf("%s: the status is not documented (%v); body: %s", where, err, body)
		return
	}
	d.mu.Lock()
	d.seen[fmt.Sprintf("%s %s %d", method, route, status)] = true
	d.mu.Unlock()

	headers, _ := resp["headers"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		hPtr, h, err := d.deref(respPtr + ptr("headers", name))
		if err != nil {
			t.Errorf("%s: header %s: %v", where, name, err)
			continue
		}
		got := header.Get(name)
		if got == "" {
			if required, _ := h["required"].(bool); required {
				t.Errorf("%s: required header %s is missing", where, name)
			}
			continue
		}
		s, err := d.schema(hPtr + "/schema")
		if err != nil {
			t.Errorf("%s: header %s: %v", where, name, err)
			continue
		}
		if err := s.Validate(got); err != nil {
			t.Errorf("%s: header %s: %q does not match its schema: %v", where, name, got, err)
		}
	}

	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) != 0 {
			t.Errorf("%s: got body %q, want none", where, body)
		}
		return
	}
	ct := header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		t.Errorf("%s: Content-Type %q: %v", where, ct, err)
		return
	}
	if _, ok := content[mt]; !ok {
		t.Errorf("%s: Content-Type %q is not documented (documented: %v)", where, ct, slices.Sorted(maps.Keys(content)))
		return
	}
	s, err := d.schema(respPtr + ptr("content", mt, "schema"))
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	var v any
	switch {
	case isJSON(mt):
		if v, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
			t.Errorf("%s: the body is not JSON: %v\nbody: %s", where, err, body)
			return
		}
	case strings.HasPrefix(mt, "text/"):
		if mt == "text/calendar" {
			if err := checkICalendar(body); err != nil {
				t.Errorf("%s: the body is not an iCalendar object: %v\nbody: %q", where, err, body)
			}
		}
		v = string(body)
	default:
		return // binary; nothing more to check
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s: the body does not match openapi.json: %v\nbody: %s", where, err, body)
	}
}

// checkICalendar checks the RFC 5545 framing of a text/calendar body: one
// VCALENDAR, CRLF line ends, content lines of at most 75 octets (longer ones
// folded), BEGIN and END properly nested, VERSION 2.0 and a PRODID.
func checkICalendar(body []byte) error {
	s := string(body)
	if !strings.HasPrefix(s, "BEGIN:VCALENDAR\r\n") || !strings.HasSuffix(s, "\r\nEND:VCALENDAR\r\n") {
		return fmt.Errorf("it does not start with BEGIN:VCALENDAR and end with END:VCALENDAR and CRLF")
	}
	var open []string
	props := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		switch {
		case strings.ContainsAny(line, "\r\n"):
			return fmt.Errorf("line %d: a bare CR or LF", i+1)
		case len(line) > 75:
			return fmt.Errorf("line %d: %d octets, want at most 75 (fold longer lines)", i+1, len(line))
		case line == "":
			return fmt.Errorf("line %d: empty", i+1)
		case line[0] == ' ' || line[0] == '\t':
			continue // a folded continuation
		}
		if name, ok := strings.CutPrefix(line, "BEGIN:"); ok {
			open = append(open, name)
		} else if name, ok := strings.CutPrefix(line, "END:"); ok {
			if len(open) == 0 || open[len(open)-1] != name {
				return fmt.Errorf("line %d: END:%s does not close %v", i+1, name, open)
			}
			open = open[:len(open)-1]
			if len(open) == 0 && i != strings.Count(s, "\r\n")-1 {
				return fmt.Errorf("line %d: content after the VCALENDAR", i+1)
			}
		} else if len(open) == 1 {
			props[line] = true
			props[strings.SplitN(line, ":", 2)[0]] = true
		}
	}
	if len(open) != 0 {
		return fmt.Errorf("%v not closed", open)
	}
	if !props["VERSION:2.0"] || !props["PRODID"] {
		return fmt.Errorf("no VERSION:2.0 or no PRODID")
	}
	return nil
}

// checkRequestBody returns an error unless openapi.json accepts body as
// the request body of the operation.
func (d *openapiDoc) checkRequestBody(method, route, contentType string, body []byte) error {
	rbPtr, rb, err := d.deref(ptr("paths", route, strings.ToLower(method), "requestBody"))
	if err != nil {
		if len(body) == 0 {
			return nil
		}
		return fmt.Errorf("%s %s documents no request body", method, route)
	}
	if len(body) == 0 {
		if required, _ := rb["required"].(bool); required {
			return fmt.Errorf("%s %s: the request body is required", method, route)
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %w", contentType, err)
	}
	content, _ := rb["content"].(map[string]any)
	if _, ok := content[mt]; !ok && !isJSON(mt) {
		return fmt.Errorf("request Content-Type %q is not documented", contentType)
	}
	if isJSON(mt) {
		mt = "application/json"
	}
	s, err := d.schema(rbPtr + ptr("content", mt, "schema"))
	if err != nil {
		return err
	}
	var v any
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return err
		}
		m := map[string]any{}
		for k, vs := range form {
			m[k] = vs[0]
		}
		v = m
	} else if v, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
		return err
	}
	return s.Validate(v)
}

// finish records that a subtest ran to its end.
func (d *openapiDoc) finish(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.finished[name] = true
}

// checkCoverage fails t for every documented response no test produced.
func (d *openapiDoc) checkCoverage(t testing.TB) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, op := range d.operations() {
		responses, _ := d.lookup(ptr("paths", op[1], strings.ToLower(op[0]), "responses"))
		for _, status := range slices.Sorted(maps.Keys(responses.(map[string]any))) {
			if !d.seen[op[0]+" "+op[1]+" "+status] {
				t.Errorf("%s %s → %s is documented but no test produced it", op[0], op[1], status)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// A real server over a real socket.

const (
	websiteSecret = "a-long-enough-secret"
	readerSecret  = "another-long-secret"
	slowSecret    = "a-slow-client-secret"
	partnerSecret = "a-partner-site-secret"
	opsSecret     = "the-operations-secret"
)

// specBundle is one server with its own database, queues and clients.
type specBundle struct {
	doc     *openapiDoc
	srv     *httptest.Server
	store   *storage.Store
	book    *booking.Service
	clients []*auth.Client
	now     time.Time
	ny      *time.Location // queue_12345
	berlin  *time.Location // queue_hours
	closed  schedule.Date  // queue_hours is closed on this date
	website string         // token with every scope
	reader  string         // token with callback:read only
	jobs    *deliveryJobs  // the webhook dispatcher's job queue, never started
	// selfShift moves the self-service routes' clock (nanoseconds).
	selfShift *atomic.Int64
}

// deliveryJobs counts the delivery jobs queued in the bundle's database:
// its job queue is open but never started, so deliveries are recorded and
// their jobs queued, never run.
type deliveryJobs struct{ db *sql.DB }

// inserted returns how many delivery jobs have been queued.
func (j *deliveryJobs) inserted() int64 {
	var n int64
	if err := j.db.QueryRow("SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver'").Scan(&n); err != nil {
		panic(err) // a test helper: the database is the test's own
	}
	return n
}

// hoursQueue is a queue with opening hours, a closed date three days from
// now, a lead time of one hour and a horizon of 14 days, so that every
// calendar reason can happen.
func hoursQueue(t testing.TB, now time.Time) (*booking.Queue, schedule.Date) {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	iv := func(s string) schedule.Interval {
		v, err := schedule.ParseInterval(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	closed := schedule.DateOf(now.In(loc).AddDate(0, 0, 3))
	after := closed.AddDays(1)
	morning := iv("09:00-12:00")
	sc := &schedule.Calendar{
		Location: loc, SlotMinutes: 30, Capacity: 2,
		Overrides: []schedule.CapacityOverride{
			{Date: &after, Capacity: 4},
			{Days: []time.Weekday{time.Saturday}, Hours: &morning, Capacity: 1},
		},
		Closed:   map[schedule.Date]bool{closed: true},
		LeadTime: time.Hour, Horizon: 14 * 24 * time.Hour,
	}
	for d := time.Monday; d <= time.Friday; d++ {
		sc.Hours[d] = []schedule.Interval{iv("09:00-12:00"), iv("13:00-17:00")}
	}
	sc.Hours[time.Saturday] = []schedule.Interval{morning}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	return &booking.Queue{ID: "queue_hours", GenesysQueueID: "7f1c9a2e-0000-4000-8000-000000000002",
		Name: "Office hours", TimeZone: "Europe/Berlin", Calendar: sc}, closed
}

// setupSpec starts a server on a fresh SQLite database with two queues and three
// clients: website (every scope), reader (callback:read) and slow (every
// scope, one request per 1000 s).
func setupSpec(t *testing.T, doc *openapiDoc) *specBundle {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "slotline.db")
	store, err := storage.Open(ctx, "sqlite:"+path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	now := time.Now()
	def := config.DefaultQueue()
	hours, closed := hoursQueue(t, now)
	queues := []*booking.Queue{
		{ID: def.ID, GenesysQueueID: def.GenesysQueueID, Name: def.Name, TimeZone: def.TimeZone, Calendar: def.Calendar,
			SelfService: def.SelfService},
		hours,
	}
	clients := []*auth.Client{
		auth.NewClient("website", websiteSecret, config.Scopes[:4], 0, 0),
		auth.NewClient("reader", readerSecret, []string{"callback:read", auth.ScopeCallbackAdmin}, 0, 0), // a reporting tool: reads every client's
		auth.NewClient("slow", slowSecret, append(slices.Clone(config.Scopes[:4]), auth.ScopeCapacityWrite), 0.001, 1),
		auth.NewClient("partner", partnerSecret, config.Scopes[:4], 0, 0), // a second website, isolated from the first
		auth.NewClient("ops", opsSecret, config.Scopes, 0, 0),             // every scope, the admin ones too
	}
	links := selfservice.NewLinks("a-self-service-secret", "", time.Hour)
	book := booking.New(store, queues, booking.Options{Seal: links.Seal})
	selfShift := &atomic.Int64{}
	self := selfservice.New(selfservice.Config{Links: links, Booking: book, Store: store,
		Now:    func() time.Time { return time.Now().Add(time.Duration(selfShift.Load())) },
		Limits: selfservice.Limits{PerToken: 1.0 / 60, PerTokenBurst: 20}})
	js := jobs.New(store.JobDriver(), jobs.Config{})
	authn := auth.NewService(store, clients, time.Hour)
	disp := webhook.New(webhook.Config{Store: store, Jobs: js,
		SeesAll: func(c string) bool { return authn.ClientHas(c, auth.ScopeCallbackAdmin) }})
	store.OnEvents(disp.OnEvents)
	if err := js.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var queueIDs []string
	for _, q := range queues {
		queueIDs = append(queueIDs, q.ID)
	}
	endpoints := webhook.NewEndpoints(store, func(u string) string { return netguard.Policy{}.CheckURL(u, false) }, queueIDs)
	hub := stream.NewHub(store, nil, 0)
	hctx, hcancel := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(hctx) }()
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{
		Booking: book, Auth: authn, Store: store, Version: "test",
		Stream: stream.NewServer(hub, store, nil), Webhooks: endpoints, Dispatcher: disp, Self: self,
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		hcancel()
		<-hubDone
	})
	b := &specBundle{doc: doc, srv: srv, store: store, book: book, clients: clients, now: now,
		ny: def.Calendar.Location, berlin: hours.Calendar.Location, closed: closed, jobs: &deliveryJobs{db},
		selfShift: selfShift}
	b.website = b.token(t, "website", websiteSecret, "")
	b.reader = b.token(t, "reader", readerSecret, "")
	return b
}

// specResponse is a server's answer.
type specResponse struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v.
func (r *specResponse) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request and checks the answer against openapi.json. body is
// nil, a string or []byte sent as is, or a value sent as JSON; a body is
// sent as application/json unless header (name, value pairs; an empty value
// removes the header) says otherwise. A 2xx answer also requires openapi.json
// to accept the request body. do fails t unless the status is want.
func (b *specBundle) do(t testing.TB, want int, method, path, token string, body any, header ...string) *specResponse {
	t.Helper()
	var raw []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(context.Background(), method, b.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	route, ok := b.doc.route(req.URL.Path)
	if !ok {
		t.Fatalf("%s %s: no path of openapi.json matches", method, req.URL.Path)
	}
	b.doc.checkResponse(t, method, route, res.StatusCode, res.Header, data)
	if res.StatusCode/100 == 2 {
		if err := b.doc.checkRequestBody(method, route, req.Header.Get("Content-Type"), raw); err != nil {
			t.Errorf("%s %s: the server accepted a request body openapi.json refuses: %v\nbody: %s", method, path, err, raw)
		}
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s: got status %d, want %d; body: %s", method, path, res.StatusCode, want, data)
	}
	return &specResponse{status: res.StatusCode, header: res.Header, body: data}
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// token gets an access token for a client with HTTP Basic; scope "" asks
// for all of the client's scopes.
func (b *specBundle) token(t testing.TB, id, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := b.do(t, http.StatusOK, "POST", "/oauth/token", "", form.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", basicAuth(id, secret))
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	r.decode(t, &tok)
	return tok.AccessToken
}

// slotAt is a candidate [start, start+d) written in loc.
func slotAt(start time.Time, d time.Duration, loc *time.Location) map[string]any {
	return map[string]any{"start": start.In(loc).Format(time.RFC3339), "end": start.Add(d).In(loc).Format(time.RFC3339)}
}

// bucket returns the start of the i-th 15-minute bucket two days from now
// (queue_12345 is open 24/7).
func (b *specBundle) bucket(i int) time.Time {
	return b.now.UTC().Truncate(time.Hour).Add(49*time.Hour + time.Duration(i)*15*time.Minute)
}

// createBody is a create request for queue_12345 with one candidate.
func (b *specBundle) createBody(i int, extra ...any) map[string]any {
	body := map[string]any{
		"callback_number":  "+14155550199",
		"time_slot_matrix": []any{slotAt(b.bucket(i), 15*time.Minute, b.ny)},
		"queue_id":         "queue_12345",
		"reason":           "Billing question",
	}
	for j := 0; j+1 < len(extra); j += 2 {
		body[extra[j].(string)] = extra[j+1]
	}
	return body
}

// reservationView is the part of a reservation the tests look at.
type reservationView struct {
	ID           string `json:"id"`
	CallbackID   string `json:"callback_id"`
	Status       string `json:"status"`
	CallbackTime string `json:"callback_time"`
	Reason       string `json:"reason"`
	Version      int    `json:"version"`
	TimeSlot     struct {
		Start string `json:"start"`
	} `json:"time_slot"`
}

// problemView is the part of a problem document the tests look at.
type problemView struct {
	Code       string            `json:"code"`
	Instance   string            `json:"instance"`
	Errors     map[string]string `json:"errors"`
	Candidates []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"candidates"`
	NearestFreeSlots []struct {
		Start string `json:"start"`
	} `json:"nearest_free_slots"`
	ReservationID string `json:"reservation_id"`
}

func (r *specResponse) reservation(t testing.TB) reservationView {
	t.Helper()
	var v reservationView
	r.decode(t, &v)
	return v
}

func (r *specResponse) problem(t testing.TB) problemView {
	t.Helper()
	var v problemView
	r.decode(t, &v)
	return v
}

// create books bucket i of queue_12345 and returns the reservation.
func (b *specBundle) create(t testing.TB, i int, extra ...any) reservationView {
	t.Helper()
	return b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, b.createBody(i, extra...)).reservation(t)
}

// wantField fails t unless the problem names field in errors.
func wantField(t testing.TB, p problemView, field string) {
	t.Helper()
	if _, ok := p.Errors[field]; !ok {
		t.Errorf("problem errors = %v, want a member %q", p.Errors, field)
	}
}

func wantReasons(t testing.TB, p problemView, want ...string) {
	t.Helper()
	var got []string
	for i, c := range p.Candidates {
		if c.Index != i {
			t.Errorf("candidates[%d].index = %d, want %d", i, c.Index, i)
		}
		got = append(got, c.Reason)
	}
	if !slices.Equal(got, want) {
		t.Errorf("candidate reasons = %v, want %v", got, want)
	}
}

// securedOps lists every operation of the document that takes a Bearer
// token: its method, a request path for it (every path parameter
// queue_12345) and the scope it needs.
func securedOps(d *openapiDoc) [][3]string {
	var out [][3]string
	for _, op := range d.operations() {
		o, _ := d.lookup(ptr("paths", op[1], strings.ToLower(op[0])))
		sec, _ := o.(map[string]any)["security"].([]any)
		bearer, scope := false, ""
		for _, req := range sec {
			for scheme, scopes := range req.(map[string]any) {
				bearer = bearer || scheme == "bearer"
				if s, _ := scopes.([]any); len(s) > 0 && scope == "" {
					scope = s[0].(string)
				}
			}
		}
		if bearer {
			out = append(out, [3]string{op[0], pathParam.ReplaceAllString(op[1], "queue_12345"), scope})
		}
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

func opBody(method string) any {
	if method == "POST" || method == "PATCH" {
		return map[string]any{}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Tests.

// TestOpenAPIDocument checks the document itself: version, references,
// schemas that compile under draft 2020-12, operation ids, path parameters,
// security schemes and scopes, and response descriptions. The OpenAPI 3.1
// meta-schema is not checked here: it would have to be fetched or vendored.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	d := loadDoc(t)
	if got := d.raw["openapi"]; got != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got)
	}
	info, _ := d.raw["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info = %v, want a title and a version", info)
	}

	// Every $ref resolves.
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				if !strings.HasPrefix(r, "#/") {
					t.Errorf("%s: $ref %q is not local", p, r)
				} else if _, ok := d.lookup(r[1:]); !ok {
					t.Errorf("%s: $ref %q does not resolve", p, r)
				}
			}
			for k, e := range x {
				walk(p+ptr(k), e)
			}
		case []any:
			for i, e := range x {
				walk(p+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("", d.raw)

	// Every component schema compiles.
	comps, _ := d.lookup("/components/schemas")
	for _, name := range slices.Sorted(maps.Keys(comps.(map[string]any))) {
		if _, err := d.schema(ptr("components", "schemas", name)); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}

	schemes, _ := d.lookup("/components/securitySchemes")
	oauthScopes, _ := d.lookup("/components/securitySchemes/oauth2/flows/clientCredentials/scopes")
	if got, want := slices.Sorted(maps.Keys(oauthScopes.(map[string]any))), slices.Sorted(slices.Values(config.Scopes)); !slices.Equal(got, want) {
		t.Errorf("oauth2 scopes = %v, want %v", got, want)
	}
	if tu, _ := d.lookup("/components/securitySchemes/oauth2/flows/clientCredentials/tokenUrl"); tu != "/oauth/token" {
		t.Errorf("tokenUrl = %v, want /oauth/token", tu)
	}

	ids := map[string]string{}
	for _, op := range d.operations() {
		method, tmpl := op[0], op[1]
		where := method + " " + tmpl
		opPtr := ptr("paths", tmpl, strings.ToLower(method))
		_, o, err := d.deref(opPtr)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := o["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", where)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("%s: operationId %s is also used by %s", where, id, prev)
		}
		ids[id] = where
		if _, ok := o["description"].(string); !ok {
			if _, ok := o["summary"].(string); !ok {
				t.Errorf("%s: neither summary nor description", where)
			}
		}

		// Path parameters match the template.
		declared := map[string]bool{}
		for _, level := range []string{ptr("paths", tmpl, "parameters"), opPtr + "/parameters"} {
			params, _ := d.lookup(level)
			ps, _ := params.([]any)
			for i := range ps {
				_, p, err := d.deref(level + "/" + strconv.Itoa(i))
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if p["in"] == "path" {
					declared[p["name"].(string)] = true
					if p["required"] != true {
						t.Errorf("%s: path parameter %v is not required", where, p["name"])
					}
				}
			}
		}
		var inTemplate []string
		for _, m := range pathParam.FindAllString(tmpl, -1) {
			inTemplate = append(inTemplate, m[1:len(m)-1])
		}
		if got, want := slices.Sorted(maps.Keys(declared)), slices.Sorted(slices.Values(inTemplate)); !slices.Equal(got, want) {
			t.Errorf("%s: path parameters %v, want %v", where, got, want)
		}

		// Security names known schemes and scopes.
		sec, ok := o["security"].([]any)
		if !ok {
			t.Errorf("%s: no security (use [] for an open route)", where)
		}
		for _, req := range sec {
			for scheme, scopes := range req.(map[string]any) {
				if _, ok := schemes.(map[string]any)[scheme]; !ok {
					t.Errorf("%s: unknown security scheme %s", where, scheme)
				}
				for _, sc := range scopes.([]any) {
					if _, ok := oauthScopes.(map[string]any)[sc.(string)]; !ok {
						t.Errorf("%s: unknown scope %v", where, sc)
					}
				}
			}
		}

		// Every response has a description and compilable schemas.
		responses, _ := o["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s: no responses", where)
		}
		for _, status := range slices.Sorted(maps.Keys(responses)) {
			rp, r, err := d.deref(opPtr + ptr("responses", status))
			if err != nil {
				t.Errorf("%s %s: %v", where, status, err)
				continue
			}
			if _, ok := r["description"].(string); !ok {
				t.Errorf("%s %s: no description", where, status)
			}
			content, _ := r["content"].(map[string]any)
			for mt := range content {
				if _, err := d.schema(rp + ptr("content", mt, "schema")); err != nil {
					t.Errorf("%s %s %s: %v", where, status, mt, err)
				}
			}
			if hs, _ := r["headers"].(map[string]any); hs["X-Request-Id"] == nil {
				t.Errorf("%s %s: X-Request-Id is not documented", where, status)
			}
		}
	}
}

// TestOpenAPICoversRoutes checks that the document describes exactly the
// routes server.go registers, but for the subtrees mounted for the pages
// and the widget's files (a pattern ending in "/" outside /api/), which
// are no API.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`m\.Handle(?:Func)?\("([A-Z]+) (/[^"]*)"`)
	code := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		if strings.HasSuffix(m[2], "/") && !strings.HasPrefix(m[2], "/api/") {
			continue
		}
		code[m[1]+" "+m[2]] = true
	}
	if len(code) < 10 {
		t.Fatalf("found only %d routes in server.go; has addRoutes changed shape?", len(code))
	}
	doc := map[string]bool{}
	for _, op := range loadDoc(t).operations() {
		doc[op[0]+" "+op[1]] = true
	}
	for _, r := range slices.Sorted(maps.Keys(code)) {
		if !doc[r] {
			t.Errorf("server.go routes %s; openapi.json does not describe it", r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(doc)) {
		if !code[r] {
			t.Errorf("openapi.json describes %s; server.go has no such route", r)
		}
	}
}

// TestOpenAPICoversProblemCodes checks that the document's problem codes are
// exactly those of problem.go's table.
func TestOpenAPICoversProblemCodes(t *testing.T) {
	t.Parallel()
	consts := map[string]string{}
	errs, err := os.ReadFile("../reservation/errors.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*(E[A-Z]+)\s*=\s*"([a-z_]+)"`).FindAllStringSubmatch(string(errs), -1) {
		consts[m[1]] = m[2]
	}
	src, err := os.ReadFile("problem.go")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range regexp.MustCompile(`reservation\.(E[A-Z]+):\s*\{`).FindAllStringSubmatch(string(src), -1) {
		code, ok := consts[m[1]]
		if !ok {
			t.Fatalf("problem.go uses %s, not found in errors.go", m[1])
		}
		want = append(want, code)
	}
	d := loadDoc(t)
	enum, _ := d.lookup("/components/schemas/ProblemCode/enum")
	var got []string
	for _, c := range enum.([]any) {
		got = append(got, c.(string))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ProblemCode enum = %v, want problem.go's codes %v", got, want)
	}
}

// TestOpenAPIConformance drives every operation through every response it
// documents over a real socket and checks each answer against openapi.json.
func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	subtests := []struct {
		name string
		fn   func(t *testing.T, b *specBundle)
	}{
		{"Token", testToken},
		{"Create", testCreate},
		{"Refusals", testRefusals},
		{"Get", testGet},
		{"List", testList},
		{"Update", testUpdate},
		{"Cancel", testCancel},
		{"Queues", testQueues},
		{"Availability", testAvailability},
		{"Auth", testAuth},
		{"Service", testService},
		{"Broken", testBroken},
		{"Stream", testStream},
		{"Webhooks", testWebhooks},
		{"WebhookRefusals", testWebhookRefusals},
		{"WebhookDeliveries", testWebhookDeliveries},
		{"Calendar", testCalendar},
		{"Isolation", testIsolation},
		{"Self", testSelf},
		{"Admission", testAdmissionConformance},
		{"Public", testPublicConformance},
		{"Reports", testReportsConformance},
		{"Overrides", testOverridesConformance},
	}
	t.Cleanup(func() {
		// Only a full, passing run can tell whether every documented
		// response was produced.
		if t.Failed() || len(doc.finished) != len(subtests) {
			return
		}
		doc.checkCoverage(t)
	})
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.fn(t, setupSpec(t, doc))
			doc.finish(st.name)
		})
	}
}

func testToken(t *testing.T, b *specBundle) {
	form := "application/x-www-form-urlencoded"
	// The seed's client: Basic credentials not form-encoded, no body.
	r := b.do(t, http.StatusOK, "POST", "/oauth/token", "", nil, "Authorization", basicAuth("website", websiteSecret))
	var tok struct {
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
		Scope     string `json:"scope"`
	}
	r.decode(t, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.Scope != strings.Join(config.Scopes[:4], " ") {
		t.Errorf("token = %+v, want Bearer, 3600 s, every scope", tok)
	}
	// Form credentials and a narrower scope.
	r = b.do(t, http.StatusOK, "POST", "/oauth/token", "",
		"grant_type=client_credentials&client_id=reader&client_secret="+readerSecret+"&scope=callback%3Aread", "Content-Type", form)
	r.decode(t, &tok)
	if tok.Scope != "callback:read" {
		t.Errorf("scope = %q, want callback:read", tok.Scope)
	}

	var oerr struct {
		Error string `json:"error"`
	}
	for _, c := range []struct {
		name, body, contentType, auth string
		status                        int
		want                          string
	}{
		{"scope not granted", "grant_type=client_credentials&scope=callback%3Awrite", form, basicAuth("reader", readerSecret), 400, "invalid_scope"},
		{"password grant", "grant_type=password", form, basicAuth("website", websiteSecret), 400, "unsupported_grant_type"},
		{"JSON body", `{"grant_type":"client_credentials"}`, "application/json", basicAuth("website", websiteSecret), 400, "invalid_request"},
		{"wrong secret", "grant_type=client_credentials", form, basicAuth("website", "wrong-secret"), 401, "invalid_client"},
		{"no credentials", "grant_type=client_credentials", form, "", 401, "invalid_client"},
	} {
		r := b.do(t, c.status, "POST", "/oauth/token", "", c.body, "Content-Type", c.contentType, "Authorization", c.auth)
		r.decode(t, &oerr)
		if oerr.Error != c.want {
			t.Errorf("%s: error = %q, want %q", c.name, oerr.Error, c.want)
		}
	}

	// The slow client's first token uses up its burst; the second is 429.
	b.token(t, "slow", slowSecret, "")
	r = b.do(t, http.StatusTooManyRequests, "POST", "/oauth/token", "", nil, "Authorization", basicAuth("slow", slowSecret))
	var slow struct {
		Error string `json:"error"`
	}
	r.decode(t, &slow)
	if slow.Error != "slow_down" || r.header.Get("Retry-After") == "" {
		t.Errorf("error = %q, Retry-After %q; want slow_down and a delay", slow.Error, r.header.Get("Retry-After"))
	}
}

func testCreate(t *testing.T, b *specBundle) {
	body := b.createBody(0, "callback_id", "web-000123", "customer_name", "Ada Lovelace", "concurrency_limit", 5,
		"channel_preferences", map[string]any{"primary": "voice", "fallback": "sms", "allow_sms": true})
	r := b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, body)
	res := r.reservation(t)
	if got, want := r.header.Get("Location"), "/api/v2/callbacks/"+res.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := r.header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag = %q, want \"1\"", got)
	}
	if got := r.header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("Idempotent-Replayed = %q on a new reservation, want none", got)
	}
	if want := b.bucket(0).UTC().Format("2006-01-02T15:04:05.000Z"); res.Status != "scheduled" || res.CallbackTime != want {
		t.Errorf("reservation = %+v, want scheduled at %s", res, want)
	}

	// The same request, its slot written with another offset: a replay.
	ist := time.FixedZone("IST", 5*3600+1800)
	body["time_slot_matrix"] = []any{slotAt(b.bucket(0), 15*time.Minute, ist)}
	r = b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, body)
	if got := r.reservation(t).ID; got != res.ID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: id %s, Idempotent-Replayed %q; want %s, true", got, r.header.Get("Idempotent-Replayed"), res.ID)
	}
	// The same callback_id for another request.
	body["reason"] = "Something else"
	p := b.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", b.website, body).problem(t)
	if p.Code != "conflict" || p.ReservationID != res.ID {
		t.Errorf("reused callback_id: %+v, want conflict naming %s", p, res.ID)
	}

	// Idempotency-Key without callback_id.
	body = b.createBody(1)
	first := b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, body, "Idempotency-Key", "key-1").reservation(t)
	r = b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, body, "Idempotency-Key", "key-1")
	if got := r.reservation(t).ID; got != first.ID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotency-Key replay: id %s, Idempotent-Replayed %q; want %s, true", got, r.header.Get("Idempotent-Replayed"), first.ID)
	}
	body["reason"] = "Another reason"
	if p := b.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", b.website, body, "Idempotency-Key", "key-1").problem(t); p.ReservationID != first.ID {
		t.Errorf("reused Idempotency-Key: reservation_id %q, want %s", p.ReservationID, first.ID)
	}
	p = b.do(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", b.website, b.createBody(2),
		"Idempotency-Key", strings.Repeat("k", 256)).problem(t)
	wantField(t, p, "Idempotency-Key")

	// Full: a concurrency_limit of 1 admits one reservation per bucket.
	b.create(t, 3, "concurrency_limit", 1)
	p = b.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", b.website, b.createBody(3, "concurrency_limit", 1)).problem(t)
	wantReasons(t, p, "full")
	if len(p.NearestFreeSlots) != 3 {
		t.Errorf("nearest_free_slots = %v, want 3", p.NearestFreeSlots)
	}

	// Transport-level refusals.
	big := b.createBody(4, "reason", strings.Repeat("x", httpapi.MaxBodyBytes))
	if p := b.do(t, http.StatusRequestEntityTooLarge, "POST", "/api/v2/callbacks", b.website, big).problem(t); p.Code != "too_large" {
		t.Errorf("code = %q, want too_large", p.Code)
	}
	b.do(t, http.StatusUnsupportedMediaType, "POST", "/api/v2/callbacks", b.website, b.createBody(4), "Content-Type", "text/plain")
	b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, b.createBody(4), "Content-Type", "application/merge-patch+json")
	b.do(t, http.StatusUnauthorized, "POST", "/api/v2/callbacks", "", b.createBody(5))
	b.do(t, http.StatusForbidden, "POST", "/api/v2/callbacks", b.reader, b.createBody(5))
	slow := b.token(t, "slow", slowSecret, "")
	r = b.do(t, http.StatusTooManyRequests, "POST", "/api/v2/callbacks", slow, b.createBody(5))
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", r.header.Get("Retry-After"))
	}
}

// testRefusals checks that the request schema refuses what the server
// refuses as malformed, and that calendar refusals carry candidates.
func testRefusals(t *testing.T, b *specBundle) {
	slots := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = slotAt(b.bucket(i), 15*time.Minute, b.ny)
		}
		return out
	}
	start := b.bucket(0)
	for _, c := range []struct {
		name  string
		set   []any // member, value pairs; a nil value deletes the member
		field string
	}{
		{"bad number", []any{"callback_number", "12345"}, "callback_number"},
		{"no number", []any{"callback_number", nil}, "callback_number"},
		{"no queue", []any{"queue_id", nil}, "queue_id"},
		{"limit 0", []any{"concurrency_limit", 0}, "concurrency_limit"},
		{"limit 51", []any{"concurrency_limit", 51}, "concurrency_limit"},
		{"long reason", []any{"reason", strings.Repeat("r", 501)}, "reason"},
		{"control character", []any{"reason", "line\nbreak"}, "reason"},
		{"long name", []any{"customer_name", strings.Repeat("n", 201)}, "customer_name"},
		{"bad callback_id", []any{"callback_id", "has space"}, "callback_id"},
		{"no slots", []any{"time_slot_matrix", []any{}}, "time_slot_matrix"},
		{"21 slots", []any{"time_slot_matrix", slots(21)}, "time_slot_matrix"},
		{"no matrix", []any{"time_slot_matrix", nil}, "time_slot_matrix"},
		{"no offset", []any{"time_slot_matrix", []any{map[string]any{
			"start": start.Format("2006-01-02T15:04:05"), "end": start.Add(time.Hour).Format(time.RFC3339)}}}, "time_slot_matrix[0].start"},
		{"no end", []any{"time_slot_matrix", []any{map[string]any{"start": start.Format(time.RFC3339)}}}, "time_slot_matrix[0].end"},
		{"slot member", []any{"time_slot_matrix", []any{map[string]any{
			"start": start.Format(time.RFC3339), "end": start.Add(time.Hour).Format(time.RFC3339), "tz": "UTC"}}}, "time_slot_matrix[0].tz"},
		{"sms without consent", []any{"channel_preferences", map[string]any{"fallback": "sms"}}, "channel_preferences.fallback"},
		{"video", []any{"channel_preferences", map[string]any{"primary": "video"}}, "channel_preferences.primary"},
		{"unknown member", []any{"priority", "high"}, "priority"},
		{"string limit", []any{"concurrency_limit", "5"}, "concurrency_limit"},
	} {
		body := b.createBody(0)
		for i := 0; i+1 < len(c.set); i += 2 {
			if c.set[i+1] == nil {
				delete(body, c.set[i].(string))
			} else {
				body[c.set[i].(string)] = c.set[i+1]
			}
		}
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		p := b.do(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", b.website, raw).problem(t)
		wantField(t, p, c.field)
		if err := b.doc.checkRequestBody("POST", "/api/v2/callbacks", "application/json", raw); err == nil {
			t.Errorf("%s: the server refuses %s but CreateRequest accepts it", c.name, raw)
		}
	}
	p := b.do(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", b.website, "{not json").problem(t)
	wantField(t, p, "body")
	p = b.do(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", b.website, b.createBody(0, "queue_id", "queue_nope")).problem(t)
	wantField(t, p, "queue_id")

	// Every calendar reason, on the queue with opening hours. The body is
	// well formed: the schema accepts it and the server refuses it.
	at := func(d schedule.Date, hour int) time.Time {
		return time.Date(d.Year, d.Month, d.Day, hour, 0, 0, 0, b.berlin)
	}
	today := schedule.DateOf(b.now.In(b.berlin))
	body := map[string]any{
		"callback_number": "+4930901820",
		"queue_id":        "queue_hours",
		"time_slot_matrix": []any{
			slotAt(b.now.Add(-2*time.Hour), 30*time.Minute, b.berlin),
			// A bucket that begins 5 to 35 minutes from now: inside the
			// hour of lead time, and not begun even if this request is
			// minutes late (a slot 30 minutes on, unaligned, fell in a bucket
			// that had begun when the request came a moment after a
			// bucket's edge).
			slotAt(b.now.Add(5*time.Minute).Truncate(30*time.Minute).Add(30*time.Minute), 30*time.Minute, b.berlin),
			slotAt(b.now.Add(20*24*time.Hour), 30*time.Minute, b.berlin),
			slotAt(at(b.closed, 10), 30*time.Minute, b.berlin),
			slotAt(at(today.AddDays(2), 3), 30*time.Minute, time.UTC),
		},
	}
	raw, _ := json.Marshal(body)
	if err := b.doc.checkRequestBody("POST", "/api/v2/callbacks", "application/json", raw); err != nil {
		t.Errorf("CreateRequest refuses a well-formed request: %v", err)
	}
	p = b.do(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", b.website, raw).problem(t)
	wantReasons(t, p, "past", "lead_time", "horizon", "holiday", "closed")
	wantField(t, p, "time_slot_matrix[4]")
	if len(p.NearestFreeSlots) != 3 {
		t.Errorf("nearest_free_slots = %v, want 3", p.NearestFreeSlots)
	}
}

func testGet(t *testing.T, b *specBundle) {
	res := b.create(t, 0)
	path := "/api/v2/callbacks/" + res.ID
	r := b.do(t, http.StatusOK, "GET", path, b.reader, nil)
	if got := r.reservation(t); got.ID != res.ID || r.header.Get("ETag") != `"1"` {
		t.Errorf("GET: %+v, ETag %q; want %s, \"1\"", got, r.header.Get("ETag"), res.ID)
	}
	b.do(t, http.StatusNotModified, "GET", path, b.reader, nil, "If-None-Match", `"1"`)
	b.do(t, http.StatusNotModified, "GET", path, b.reader, nil, "If-None-Match", `W/"1"`)
	b.do(t, http.StatusOK, "GET", path, b.reader, nil, "If-None-Match", `"2"`)
	wantField(t, b.do(t, http.StatusBadRequest, "GET", path, b.reader, nil, "If-None-Match", `"v1"`).problem(t), "If-None-Match")
	// An id that cannot exist is not found, without a query.
	b.do(t, http.StatusNotFound, "GET", "/api/v2/callbacks/cb_%00", b.reader, nil)
	if p := b.do(t, http.StatusNotFound, "GET", "/api/v2/callbacks/cb_00000000000000000000", b.reader, nil).problem(t); p.Code != "not_found" {
		t.Errorf("code = %q, want not_found", p.Code)
	}
}

func testList(t *testing.T, b *specBundle) {
	for i, number := range []string{"+14155550199", "+14155550123", "+12025550143"} {
		b.create(t, i, "callback_number", number)
	}

	var page struct {
		Items      []reservationView `json:"items"`
		NextCursor string            `json:"next_cursor"`
	}
	r := b.do(t, http.StatusOK, "GET", "/api/v2/callbacks?queue_id=queue_12345&limit=2", b.reader, nil)
	r.decode(t, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %d items, next_cursor %q; want 2 and a cursor", len(page.Items), page.NextCursor)
	}
	link := r.header.Get("Link")
	m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("Link = %q, want <…>; rel=\"next\"", link)
	}
	r = b.do(t, http.StatusOK, "GET", m[1], b.reader, nil)
	page.NextCursor = ""
	r.decode(t, &page)
	if len(page.Items) != 1 || page.NextCursor != "" || r.header.Get("Link") != "" {
		t.Errorf("last page: %d items, next_cursor %q, Link %q; want 1 and no more", len(page.Items), page.NextCursor, r.header.Get("Link"))
	}

	from := url.QueryEscape(b.bucket(1).Format(time.RFC3339))
	to := url.QueryEscape(b.bucket(2).In(b.ny).Format(time.RFC3339))
	for _, c := range []struct {
		query string
		want  int
	}{
		{"queue=queue_12345", 3},
		{"queue_id=queue_12345&status=scheduled", 3},
		{"status=canceled", 0},
		{"queue_id=queue_12345&from=" + from + "&to=" + to, 1},
		{"callback_number=%2B12025550143", 1},
		{"callback_number=+12025550143", 1},
		{"queue_id=queue_12345&from=" + b.bucket(0).In(b.ny).Format(time.DateOnly), 3},
	} {
		var page struct {
			Items []reservationView `json:"items"`
		}
		b.do(t, http.StatusOK, "GET", "/api/v2/callbacks?"+c.query, b.reader, nil).decode(t, &page)
		if len(page.Items) != c.want {
			t.Errorf("?%s: %d items, want %d", c.query, len(page.Items), c.want)
		}
	}
	for _, c := range []struct{ query, field string }{
		{"status=lost", "status"},
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"cursor=garbage", "cursor"},
		{"from=yesterday", "from"},
		{"to=2026-01-01", "to"}, // a date needs a queue's time zone
	} {
		wantField(t, b.do(t, http.StatusBadRequest, "GET", "/api/v2/callbacks?"+c.query, b.reader, nil).problem(t), c.field)
	}
}

func testUpdate(t *testing.T, b *specBundle) {
	res := b.create(t, 0, "concurrency_limit", 1)
	path := "/api/v2/callbacks/" + res.ID
	r := b.do(t, http.StatusOK, "PATCH", path, b.website, map[string]any{"reason": "New reason", "customer_name": "Ada"}, "If-Match", `"1"`)
	if got := r.reservation(t); got.Version != 2 || got.Reason != "New reason" || r.header.Get("ETag") != `"2"` {
		t.Errorf("PATCH: %+v, ETag %q; want version 2 and the new reason", got, r.header.Get("ETag"))
	}
	if p := b.do(t, http.StatusPreconditionFailed, "PATCH", path, b.website, map[string]any{"reason": "x"}, "If-Match", `"1"`).problem(t); p.Code != "precondition" {
		t.Errorf("code = %q, want precondition", p.Code)
	}
	wantField(t, b.do(t, http.StatusBadRequest, "PATCH", path, b.website, map[string]any{"reason": "x"}, "If-Match", "abc").problem(t), "If-Match")
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"callback_number": "+14155550123"}, "callback_number"},
		{map[string]any{}, "body"},
		{map[string]any{"reason": nil}, "body"},
		{map[string]any{"time_slot_matrix": []any{}}, "time_slot_matrix"},
		{map[string]any{"reason": strings.Repeat("r", 501)}, "reason"},
	} {
		raw, _ := json.Marshal(c.body)
		wantField(t, b.do(t, http.StatusBadRequest, "PATCH", path, b.website, raw).problem(t), c.field)
		if err := b.doc.checkRequestBody("PATCH", "/api/v2/callbacks/{id}", "application/json", raw); err == nil {
			t.Errorf("the server refuses %s but UpdateRequest accepts it", raw)
		}
	}
	// Reschedule into the past: refused by the calendar.
	p := b.do(t, http.StatusBadRequest, "PATCH", path, b.website,
		map[string]any{"time_slot_matrix": []any{slotAt(b.now.Add(-time.Hour), 15*time.Minute, b.ny)}}).problem(t)
	wantReasons(t, p, "past")
	// Reschedule into a bucket that already holds one: full for a
	// reservation with concurrency_limit 1.
	b.create(t, 1)
	p = b.do(t, http.StatusConflict, "PATCH", path, b.website,
		map[string]any{"time_slot_matrix": []any{slotAt(b.bucket(1), 15*time.Minute, b.ny)}}).problem(t)
	wantReasons(t, p, "full")
	// Reschedule with an Idempotency-Key, then replay it.
	change := map[string]any{"time_slot_matrix": []any{slotAt(b.bucket(1), 15*time.Minute, b.ny), slotAt(b.bucket(2), 15*time.Minute, b.ny)}}
	moved := b.do(t, http.StatusOK, "PATCH", path, b.website, change, "Idempotency-Key", "move-1").reservation(t)
	if want := b.bucket(2).In(b.ny).Format(time.RFC3339); moved.TimeSlot.Start != want {
		t.Errorf("rescheduled to %s, want %s", moved.TimeSlot.Start, want)
	}
	r = b.do(t, http.StatusOK, "PATCH", path, b.website, change, "Idempotency-Key", "move-1")
	if r.header.Get("Idempotent-Replayed") != "true" || r.reservation(t).Version != moved.Version {
		t.Errorf("PATCH replay: Idempotent-Replayed %q, want true and the same version", r.header.Get("Idempotent-Replayed"))
	}
	b.do(t, http.StatusConflict, "PATCH", path, b.website, map[string]any{"reason": "other"}, "Idempotency-Key", "move-1")

	b.do(t, http.StatusNotFound, "PATCH", "/api/v2/callbacks/cb_00000000000000000000", b.website, map[string]any{"reason": "x"})
	b.do(t, http.StatusRequestEntityTooLarge, "PATCH", path, b.website, map[string]any{"reason": strings.Repeat("x", httpapi.MaxBodyBytes)})
	b.do(t, http.StatusUnsupportedMediaType, "PATCH", path, b.website, "reason=x", "Content-Type", "application/x-www-form-urlencoded")
	b.do(t, http.StatusOK, "DELETE", path, b.website, nil)
	if p := b.do(t, http.StatusConflict, "PATCH", path, b.website, map[string]any{"reason": "too late"}).problem(t); p.Code != "conflict" {
		t.Errorf("PATCH of a canceled reservation: code %q, want conflict", p.Code)
	}
}

func testCancel(t *testing.T, b *specBundle) {
	body := b.createBody(0)
	res := b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, body, "Idempotency-Key", "create-1").reservation(t)
	path := "/api/v2/callbacks/" + res.ID
	b.do(t, http.StatusPreconditionFailed, "DELETE", path, b.website, nil, "If-Match", `"9"`)
	wantField(t, b.do(t, http.StatusBadRequest, "DELETE", path, b.website, nil, "If-Match", `"x"`).problem(t), "If-Match")
	wantField(t, b.do(t, http.StatusBadRequest, "DELETE", path, b.website, nil, "Idempotency-Key", strings.Repeat("k", 256)).problem(t), "Idempotency-Key")
	p := b.do(t, http.StatusConflict, "DELETE", path, b.website, nil, "Idempotency-Key", "create-1").problem(t)
	if p.ReservationID != res.ID {
		t.Errorf("DELETE with a create's Idempotency-Key: reservation_id %q, want %s", p.ReservationID, res.ID)
	}
	r := b.do(t, http.StatusOK, "DELETE", path, b.website, nil, "If-Match", `"1"`)
	if got := r.reservation(t); got.Status != "canceled" || r.header.Get("ETag") != `"2"` || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("DELETE: %+v, ETag %q, Idempotent-Replayed %q; want canceled, \"2\", none", got, r.header.Get("ETag"), r.header.Get("Idempotent-Replayed"))
	}
	r = b.do(t, http.StatusOK, "DELETE", path, b.website, nil)
	if got := r.reservation(t); got.Status != "canceled" || got.Version != 2 || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("DELETE again: %+v, Idempotent-Replayed %q; want canceled at version 2, no replay header", got, r.header.Get("Idempotent-Replayed"))
	}
	b.do(t, http.StatusNotFound, "DELETE", "/api/v2/callbacks/cb_00000000000000000000", b.website, nil)
}

func testQueues(t *testing.T, b *specBundle) {
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/queues", b.reader, nil).decode(t, &list)
	if len(list.Items) != 2 || list.Items[0].ID != "queue_12345" || list.Items[1].ID != "queue_hours" {
		t.Errorf("queues = %+v, want queue_12345 and queue_hours", list.Items)
	}
	var def, hours map[string]any
	b.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_12345", b.reader, nil).decode(t, &def)
	if def["hours"] != "24/7" || def["timezone"] != "America/New_York" {
		t.Errorf("queue_12345 = %v, want 24/7 in America/New_York", def)
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_hours", b.reader, nil).decode(t, &hours)
	if closed, _ := hours["closed"].([]any); len(closed) != 1 || closed[0] != b.closed.String() {
		t.Errorf("queue_hours closed = %v, want [%s]", hours["closed"], b.closed)
	}
	b.do(t, http.StatusNotFound, "GET", "/api/v2/queues/queue_nope", b.reader, nil)
}

func testAvailability(t *testing.T, b *specBundle) {
	b.create(t, 0, "concurrency_limit", 1)
	var av struct {
		Slots []struct {
			Start     string `json:"start"`
			Available bool   `json:"available"`
			Reason    string `json:"reason"`
		} `json:"slots"`
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_12345/availability", b.reader, nil).decode(t, &av)
	if len(av.Slots) != 96 {
		t.Errorf("default window: %d slots, want 96 (24 h of 15 min)", len(av.Slots))
	}
	from := url.QueryEscape(b.bucket(0).In(b.ny).Format(time.RFC3339))
	b.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_12345/availability?concurrency_limit=1&from="+from, b.reader, nil).decode(t, &av)
	if len(av.Slots) == 0 || av.Slots[0].Reason != "full" {
		t.Errorf("bucket 0 with concurrency_limit 1: %+v, want full", av.Slots[:min(1, len(av.Slots))])
	}

	today := schedule.DateOf(b.now.In(b.berlin))
	q := "from=" + today.String() + "&to=" + today.AddDays(5).String()
	b.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_hours/availability?"+q, b.reader, nil).decode(t, &av)
	reasons := map[string]bool{}
	for _, s := range av.Slots {
		reasons[s.Reason] = true
	}
	for _, want := range []string{"past", "lead_time", "holiday", "closed"} {
		if !reasons[want] {
			t.Errorf("queue_hours over 5 days: reasons %v, want %s among them", slices.Sorted(maps.Keys(reasons)), want)
		}
	}

	for _, c := range []struct{ query, field string }{
		{"from=soon", "from"},
		{"to=later", "to"},
		{"from=2026-01-02&to=2026-01-01", "to"},
		{"from=2026-01-01&to=2026-03-01", "to"},
		{"concurrency_limit=0", "concurrency_limit"},
		{"concurrency_limit=51", "concurrency_limit"},
	} {
		wantField(t, b.do(t, http.StatusBadRequest, "GET", "/api/v2/queues/queue_12345/availability?"+c.query, b.reader, nil).problem(t), c.field)
	}
	b.do(t, http.StatusNotFound, "GET", "/api/v2/queues/queue_nope/availability", b.reader, nil)
}

// testAuth sends every secured operation without a token, with a bad one,
// with one that lacks the scope, and as a client over its rate limit.
func testAuth(t *testing.T, b *specBundle) {
	webhooks := b.token(t, "website", websiteSecret, "webhook:read")
	slow := b.token(t, "slow", slowSecret, "")
	for _, op := range securedOps(b.doc) {
		method, path := op[0], op[1]
		// A token without the route's scope: callback:read for the
		// webhook:* routes, webhook:read for the others.
		lacking := webhooks
		if strings.HasPrefix(op[2], "webhook:") {
			lacking = b.reader
		}
		r := b.do(t, http.StatusUnauthorized, method, path, "", opBody(method))
		if got := r.problem(t).Code; got != "unauthorized" {
			t.Errorf("%s %s: code %q, want unauthorized", method, path, got)
		}
		r = b.do(t, http.StatusUnauthorized, method, path, "slt_not-a-real-token", opBody(method))
		if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("%s %s: WWW-Authenticate %q, want invalid_token", method, path, got)
		}
		if p := b.do(t, http.StatusForbidden, method, path, lacking, opBody(method)).problem(t); p.Code != "forbidden" {
			t.Errorf("%s %s: code %q, want forbidden", method, path, p.Code)
		}
		b.do(t, http.StatusTooManyRequests, method, path, slow, opBody(method))
	}
	// A write needs callback:write even from a client that may read.
	b.do(t, http.StatusForbidden, "DELETE", "/api/v2/callbacks/cb_00000000000000000000", b.reader, nil)
}

func testService(t *testing.T, b *specBundle) {
	var health map[string]string
	b.do(t, http.StatusOK, "GET", "/healthz", "", nil).decode(t, &health)
	if health["version"] != "test" {
		t.Errorf("healthz = %v, want version test", health)
	}
	b.do(t, http.StatusOK, "GET", "/readyz", "", nil)
	r := b.do(t, http.StatusOK, "GET", "/metrics", "", nil)
	if !bytes.Contains(r.body, []byte("# TYPE")) {
		t.Errorf("metrics: %.200s…, want the Prometheus text format", r.body)
	}
	b.do(t, http.StatusOK, "GET", "/metrics", "", nil,
		"Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	r = b.do(t, http.StatusOK, "GET", "/api/v2/openapi.json", "", nil)
	if !bytes.Equal(r.body, httpapi.OpenAPI()) {
		t.Errorf("GET /api/v2/openapi.json differs from httpapi.OpenAPI()")
	}
	// The reference page lists every operation of the document, without
	// script, its stylesheet allowed by hash.
	r = b.do(t, http.StatusOK, "GET", "/api/v2/docs", "", nil)
	for _, want := range []string{"<h1>Slotline API", `id="createCallback"`, "<code>POST /api/v2/callbacks</code>", "Apache 2.0", "callback:write"} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("/api/v2/docs lacks %q", want)
		}
	}
	if bytes.Contains(r.body, []byte("<script")) || !strings.Contains(r.header.Get("Content-Security-Policy"), "style-src 'sha256-") {
		t.Errorf("/api/v2/docs: a script, or CSP %q", r.header.Get("Content-Security-Policy"))
	}
	paths, _ := b.doc.lookup("/paths")
	for p, ops := range paths.(map[string]any) {
		for m := range ops.(map[string]any) {
			if m != "parameters" && !bytes.Contains(r.body, []byte("<code>"+strings.ToUpper(m)+" "+template.HTMLEscapeString(p)+"</code>")) {
				t.Errorf("/api/v2/docs does not list %s %s", strings.ToUpper(m), p)
			}
		}
	}
	codes, _ := b.doc.lookup("/components/schemas/ProblemCode/enum")
	for _, c := range codes.([]any) {
		r := b.do(t, http.StatusOK, "GET", "/problems/"+c.(string), "", nil)
		if len(r.body) < 10 {
			t.Errorf("/problems/%s: %q, want a description", c, r.body)
		}
	}
	// A client's request id is echoed and names the problem's instance.
	r = b.do(t, http.StatusNotFound, "GET", "/problems/nope", "", nil, "X-Request-Id", "req-42")
	if got := r.header.Get("X-Request-Id"); got != "req-42" {
		t.Errorf("X-Request-Id = %q, want req-42", got)
	}
	if got := r.problem(t).Instance; got != "urn:slotline:request:req-42" {
		t.Errorf("instance = %q, want urn:slotline:request:req-42", got)
	}
}

// testBroken closes the database under a server whose token cache is empty:
// every secured route, the token endpoint and readiness fail as documented.
func testBroken(t *testing.T, b *specBundle) {
	token := b.website // cached by b's auth service, not by the new one
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{
		Booking: b.book, Auth: auth.NewService(b.store, b.clients, time.Hour), Store: b.store,
	}))
	t.Cleanup(srv.Close)
	if err := b.store.Close(); err != nil {
		t.Fatal(err)
	}
	broken := &specBundle{doc: b.doc, srv: srv}
	for _, op := range securedOps(b.doc) {
		p := broken.do(t, http.StatusInternalServerError, op[0], op[1], token, opBody(op[0])).problem(t)
		if p.Code != "internal" {
			t.Errorf("%s %s: code %q, want internal", op[0], op[1], p.Code)
		}
	}
	broken.do(t, http.StatusInternalServerError, "POST", "/oauth/token", "", nil, "Authorization", basicAuth("website", websiteSecret))
	broken.do(t, http.StatusServiceUnavailable, "GET", "/readyz", "", nil)
}

// testStream checks the stream's upgrade and its refusals against the
// document; the stream's own protocol is tested in stream_test.go.
func testStream(t *testing.T, b *specBundle) {
	// 101: a real upgrade; the response is checked like any other.
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/api/v2/callbacks/websocket?after=0&format=json", nil)
	req.Header.Set("Authorization", "Bearer "+b.reader)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", res.StatusCode)
	}
	b.doc.checkResponse(t, "GET", "/api/v2/callbacks/websocket", res.StatusCode, res.Header, nil)
	b.do(t, http.StatusBadRequest, "GET", "/api/v2/callbacks/websocket?format=xml", b.reader, nil)
	b.do(t, http.StatusUnauthorized, "GET", "/api/v2/callbacks/websocket", "", nil)
	b.do(t, http.StatusForbidden, "GET", "/api/v2/callbacks/websocket", b.reader, nil, "Origin", "https://evil.invalid")
	// 503: a server without a stream.
	plain := httptest.NewServer(httpapi.NewServer(httpapi.Deps{Booking: b.book, Auth: auth.NewService(b.store, b.clients, time.Hour), Store: b.store}))
	defer plain.Close()
	(&specBundle{doc: b.doc, srv: plain}).do(t, http.StatusServiceUnavailable, "GET", "/api/v2/callbacks/websocket", b.reader, nil)

	// 429 too_many_streams: a server that lets a client hold one stream,
	// while the reader holds one.
	hub := stream.NewHub(b.store, nil, 0)
	hctx, hcancel := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(hctx) }()
	defer func() { hcancel(); <-hubDone }()
	capped := httptest.NewServer(httpapi.NewServer(httpapi.Deps{Booking: b.book, Auth: auth.NewService(b.store, b.clients, time.Hour),
		Store: b.store, Stream: stream.NewServer(hub, b.store, nil), StreamsPerClient: 1}))
	defer capped.Close()
	defer capped.CloseClientConnections()
	req.URL, _ = url.Parse(capped.URL + "/api/v2/callbacks/websocket?format=json")
	held, err := capped.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	if held.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", held.StatusCode)
	}
	p := (&specBundle{doc: b.doc, srv: capped}).do(t, http.StatusTooManyRequests, "GET", "/api/v2/callbacks/websocket", b.reader, nil).problem(t)
	if p.Code != "too_many_streams" {
		t.Errorf("second stream: code %q, want too_many_streams", p.Code)
	}
}

// ---------------------------------------------------------------------------
// Webhooks and calendars.

// endpointView is the part of a webhook endpoint the tests look at.
type endpointView struct {
	ID                      string   `json:"id"`
	Name                    string   `json:"name"`
	URL                     string   `json:"url"`
	ContentType             string   `json:"content_type"`
	Enabled                 bool     `json:"enabled"`
	Events                  []string `json:"events"`
	Queues                  []string `json:"queues"`
	IncludeNumbers          bool     `json:"include_numbers"`
	PreviousSecretExpiresAt string   `json:"previous_secret_expires_at"`
	Secret                  *string  `json:"secret"`
}

// deliveryView is the part of a delivery the tests look at.
type deliveryView struct {
	ID            string `json:"id"`
	EventSeq      int64  `json:"event_seq"`
	EventType     string `json:"event_type"`
	Status        string `json:"status"`
	NextAttemptAt string `json:"next_attempt_at"`
}

type deliveryPage struct {
	Items      []deliveryView `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// createWebhook registers an endpoint; extra are member, value pairs.
func (b *specBundle) createWebhook(t testing.TB, extra ...any) endpointView {
	t.Helper()
	body := map[string]any{"name": "Receiver", "url": "https://hooks.example.com/slotline"}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	var ep endpointView
	b.do(t, http.StatusCreated, "POST", "/api/v2/webhooks", b.website, body).decode(t, &ep)
	return ep
}

func (b *specBundle) deliveries(t testing.TB, endpointID, query string) deliveryPage {
	t.Helper()
	var page deliveryPage
	b.do(t, http.StatusOK, "GET", "/api/v2/webhooks/"+endpointID+"/deliveries"+query, b.website, nil).decode(t, &page)
	return page
}

func testWebhooks(t *testing.T, b *specBundle) {
	readOnly := b.token(t, "website", websiteSecret, "webhook:read")
	body := map[string]any{"name": "CRM", "url": "https://hooks.example.com/slotline",
		"events": []string{"reservation.created", "reservation.canceled"}, "queues": []string{"queue_12345"}}
	r := b.do(t, http.StatusCreated, "POST", "/api/v2/webhooks", b.website, body)
	var ep endpointView
	r.decode(t, &ep)
	path := "/api/v2/webhooks/" + ep.ID
	if got := r.header.Get("Location"); got != path {
		t.Errorf("Location = %q, want %q", got, path)
	}
	if ep.Secret == nil || !strings.HasPrefix(*ep.Secret, "whsec_") || !ep.Enabled || ep.ContentType != "application/json" ||
		!slices.Equal(ep.Events, []string{"reservation.created", "reservation.canceled"}) {
		t.Errorf("created %+v, want an enabled JSON endpoint with a whsec_ secret and the events asked for", ep)
	}
	cal := b.createWebhook(t, "name", "Team calendar", "url", "https://calendar.example.com/in",
		"content_type", "text/calendar", "enabled", false, "include_numbers", true)
	if cal.Enabled || cal.ContentType != "text/calendar" || !cal.IncludeNumbers || len(cal.Events) != 0 || len(cal.Queues) != 0 {
		t.Errorf("calendar endpoint %+v, want disabled, text/calendar, numbers, every event and queue", cal)
	}
	// application/merge-patch+json is JSON too.
	b.do(t, http.StatusCreated, "POST", "/api/v2/webhooks", b.website,
		map[string]any{"name": "Other", "url": "https://other.example.com/"}, "Content-Type", "application/merge-patch+json")

	// Reads never show the secret (the schema refuses it there too).
	var got endpointView
	b.do(t, http.StatusOK, "GET", path, readOnly, nil).decode(t, &got)
	if got.ID != ep.ID || got.Secret != nil {
		t.Errorf("GET: %+v, want %s without its secret", got, ep.ID)
	}
	var list struct {
		Items []endpointView `json:"items"`
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/webhooks", readOnly, nil).decode(t, &list)
	if len(list.Items) != 3 || list.Items[0].ID != ep.ID || list.Items[1].ID != cal.ID {
		t.Errorf("list = %+v, want 3 endpoints, oldest first", list.Items)
	}
	b.do(t, http.StatusNotFound, "GET", "/api/v2/webhooks/we_0000000000000000000000000000", readOnly, nil)

	// PATCH changes what it names and nothing else.
	b.do(t, http.StatusOK, "PATCH", path, b.website, map[string]any{"name": "CRM (prod)", "events": []string{}}).decode(t, &got)
	if got.Name != "CRM (prod)" || len(got.Events) != 0 || !slices.Equal(got.Queues, []string{"queue_12345"}) || got.Secret != nil {
		t.Errorf("PATCH: %+v, want the new name, every event, the same queues and no secret", got)
	}
	kicks := b.jobs.inserted()
	b.do(t, http.StatusOK, "PATCH", "/api/v2/webhooks/"+cal.ID, b.website, map[string]any{"enabled": true}).decode(t, &got)
	if !got.Enabled || b.jobs.inserted() == kicks {
		t.Errorf("re-enabled: %+v and %d jobs, want enabled and a delivery job started", got, b.jobs.inserted()-kicks)
	}
	b.do(t, http.StatusOK, "PATCH", path, b.website, map[string]any{})
	b.do(t, http.StatusNotFound, "PATCH", "/api/v2/webhooks/we_0000000000000000000000000000", b.website, map[string]any{"name": "x"})
	big := map[string]any{"name": strings.Repeat("x", httpapi.MaxBodyBytes)}
	for _, method := range []string{"POST", "PATCH"} {
		target := path
		if method == "POST" {
			target = "/api/v2/webhooks"
		}
		if p := b.do(t, http.StatusRequestEntityTooLarge, method, target, b.website, big).problem(t); p.Code != "too_large" {
			t.Errorf("%s: code %q, want too_large", method, p.Code)
		}
		if p := b.do(t, http.StatusUnsupportedMediaType, method, target, b.website, "name=x", "Content-Type", "application/x-www-form-urlencoded").problem(t); p.Code != "unsupported_type" {
			t.Errorf("%s: code %q, want unsupported_type", method, p.Code)
		}
	}

	// Rotation: a new secret, the old one still signing for a while.
	var rotated endpointView
	b.do(t, http.StatusOK, "POST", path+"/rotate-secret", b.website, nil).decode(t, &rotated)
	if rotated.Secret == nil || *rotated.Secret == *ep.Secret || rotated.PreviousSecretExpiresAt == "" {
		t.Errorf("rotated: %+v, want a new secret and previous_secret_expires_at", rotated)
	}
	b.do(t, http.StatusOK, "GET", path, readOnly, nil).decode(t, &got)
	if got.PreviousSecretExpiresAt != rotated.PreviousSecretExpiresAt || got.Secret != nil {
		t.Errorf("after rotation GET: %+v, want previous_secret_expires_at and no secret", got)
	}
	b.do(t, http.StatusNotFound, "POST", "/api/v2/webhooks/we_0000000000000000000000000000/rotate-secret", b.website, nil)

	// Test: a ping delivery to this endpoint only, started at once.
	kicks = b.jobs.inserted()
	var ping struct {
		DeliveryID string `json:"delivery_id"`
	}
	b.do(t, http.StatusAccepted, "POST", path+"/test", b.website, nil).decode(t, &ping)
	page := b.deliveries(t, ep.ID, "")
	if len(page.Items) != 1 || page.Items[0].ID != ping.DeliveryID || page.Items[0].EventType != "webhook.ping" ||
		page.Items[0].Status != "pending" || b.jobs.inserted() == kicks {
		t.Errorf("after a test: %+v, want the pending ping %s and a delivery job", page.Items, ping.DeliveryID)
	}
	if p := b.deliveries(t, cal.ID, ""); len(p.Items) != 0 {
		t.Errorf("another endpoint got %+v, want no ping", p.Items)
	}
	b.do(t, http.StatusNotFound, "POST", "/api/v2/webhooks/we_0000000000000000000000000000/test", b.website, nil)

	// Delete: gone, and its pending deliveries canceled.
	b.do(t, http.StatusNoContent, "DELETE", path, b.website, nil)
	b.do(t, http.StatusNotFound, "GET", path, readOnly, nil)
	b.do(t, http.StatusNotFound, "DELETE", path, b.website, nil)
	b.do(t, http.StatusNotFound, "GET", path+"/deliveries", readOnly, nil)
	if ds, _, err := b.store.FindDeliveries(context.Background(), ep.ID, "", "", 50); err != nil || len(ds) != 1 || ds[0].Status != "canceled" {
		t.Errorf("deliveries of the deleted endpoint: %d, %v; want the ping, canceled", len(ds), err)
	}

	// 503: a server without webhooks.
	plain := httptest.NewServer(httpapi.NewServer(httpapi.Deps{Booking: b.book, Auth: auth.NewService(b.store, b.clients, time.Hour), Store: b.store}))
	defer plain.Close()
	off := &specBundle{doc: b.doc, srv: plain}
	for _, op := range securedOps(b.doc) {
		if !strings.HasPrefix(op[1], "/api/v2/webhooks") {
			continue
		}
		if p := off.do(t, http.StatusServiceUnavailable, op[0], op[1], b.website, opBody(op[0])).problem(t); p.Code != "unavailable" {
			t.Errorf("%s %s without webhooks: code %q, want unavailable", op[0], op[1], p.Code)
		}
	}
}

// testWebhookRefusals checks that the request schemas refuse what the
// server refuses as malformed.
func testWebhookRefusals(t *testing.T, b *specBundle) {
	ep := b.createWebhook(t)
	for _, c := range []struct {
		name   string
		body   map[string]any
		field  string
		schema bool // the schema can tell (it cannot know queue ids or judge hosts)
	}{
		{"empty", map[string]any{}, "name", true},
		{"no name", map[string]any{"url": "https://hooks.example.com/"}, "name", true},
		{"no url", map[string]any{"name": "n"}, "url", true},
		{"empty name", map[string]any{"name": "", "url": "https://hooks.example.com/"}, "name", true},
		{"long name", map[string]any{"name": strings.Repeat("n", 101), "url": "https://hooks.example.com/"}, "name", true},
		{"http", map[string]any{"name": "n", "url": "http://hooks.example.com/"}, "url", false},
		{"ftp", map[string]any{"name": "n", "url": "ftp://hooks.example.com/"}, "url", true},
		{"relative", map[string]any{"name": "n", "url": "hooks.example.com/in"}, "url", true},
		{"long url", map[string]any{"name": "n", "url": "https://hooks.example.com/" + strings.Repeat("a", 2048)}, "url", true},
		{"loopback", map[string]any{"name": "n", "url": "https://127.0.0.1/in"}, "url", false},
		{"localhost", map[string]any{"name": "n", "url": "https://localhost:8443/in"}, "url", false},
		{"content type", map[string]any{"name": "n", "url": "https://hooks.example.com/", "content_type": "text/xml"}, "content_type", true},
		{"event type", map[string]any{"name": "n", "url": "https://hooks.example.com/", "events": []string{"reservation.exploded"}}, "events", true},
		{"ping", map[string]any{"name": "n", "url": "https://hooks.example.com/", "events": []string{"webhook.ping"}}, "events", true},
		{"events string", map[string]any{"name": "n", "url": "https://hooks.example.com/", "events": "reservation.created"}, "events", true},
		{"queue", map[string]any{"name": "n", "url": "https://hooks.example.com/", "queues": []string{"queue_nope"}}, "queues", false},
		{"enabled string", map[string]any{"name": "n", "url": "https://hooks.example.com/", "enabled": "yes"}, "enabled", true},
		{"numbers number", map[string]any{"name": "n", "url": "https://hooks.example.com/", "include_numbers": 1}, "include_numbers", true},
		{"secret", map[string]any{"name": "n", "url": "https://hooks.example.com/", "secret": "whsec_AAAA"}, "secret", true},
	} {
		raw, _ := json.Marshal(c.body)
		wantField(t, b.do(t, http.StatusBadRequest, "POST", "/api/v2/webhooks", b.website, raw).problem(t), c.field)
		if c.schema {
			if err := b.doc.checkRequestBody("POST", "/api/v2/webhooks", "application/json", raw); err == nil {
				t.Errorf("%s: the server refuses %s but WebhookEndpointCreate accepts it", c.name, raw)
			}
		}
		if c.name == "empty" || c.name == "no name" || c.name == "no url" {
			continue // a change may leave them out
		}
		// The same member alone is a refused change.
		raw, _ = json.Marshal(map[string]any{c.field: c.body[c.field]})
		wantField(t, b.do(t, http.StatusBadRequest, "PATCH", "/api/v2/webhooks/"+ep.ID, b.website, raw).problem(t), c.field)
		if c.schema {
			if err := b.doc.checkRequestBody("PATCH", "/api/v2/webhooks/{id}", "application/json", raw); err == nil {
				t.Errorf("%s: the server refuses the change %s but WebhookEndpointUpdate accepts it", c.name, raw)
			}
		}
	}
	for _, raw := range []string{"{not json", "[]", "null"} {
		wantField(t, b.do(t, http.StatusBadRequest, "POST", "/api/v2/webhooks", b.website, raw).problem(t), "body")
		wantField(t, b.do(t, http.StatusBadRequest, "PATCH", "/api/v2/webhooks/"+ep.ID, b.website, raw).problem(t), "body")
	}
	// A refused change changes nothing.
	var got endpointView
	b.do(t, http.StatusOK, "GET", "/api/v2/webhooks/"+ep.ID, b.website, nil).decode(t, &got)
	if got.Name != "Receiver" || got.URL != "https://hooks.example.com/slotline" || got.ContentType != "application/json" {
		t.Errorf("after refused changes: %+v, want it unchanged", got)
	}
}

// testWebhookDeliveries checks the deliveries list and retry, with
// deliveries made by the event hook and outcomes recorded in the store, and
// the events behind them against the Event schema.
func testWebhookDeliveries(t *testing.T, b *specBundle) {
	ctx := context.Background()
	ep := b.createWebhook(t, "events", []string{"reservation.created", "reservation.canceled"})
	other := b.createWebhook(t, "queues", []string{"queue_hours"})
	res := make([]reservationView, 4)
	for i := range res {
		res[i] = b.create(t, i)
	}
	b.do(t, http.StatusOK, "DELETE", "/api/v2/callbacks/"+res[0].ID, b.website, nil)
	b.do(t, http.StatusOK, "PATCH", "/api/v2/callbacks/"+res[1].ID, b.website, map[string]any{"reason": "not delivered"})

	// Four creates and a cancel; the update is filtered out, and queue_hours'
	// endpoint hears nothing of queue_12345.
	page := b.deliveries(t, ep.ID, "")
	if len(page.Items) != 5 || page.NextCursor != "" || page.Items[0].EventType != "reservation.canceled" {
		t.Fatalf("deliveries = %+v, want 5, the cancel first", page.Items)
	}
	if p := b.deliveries(t, other.ID, ""); len(p.Items) != 0 {
		t.Errorf("queue_hours endpoint: %+v, want none", p.Items)
	}
	for i := 1; i < len(page.Items); i++ {
		if page.Items[i].EventSeq >= page.Items[i-1].EventSeq {
			t.Errorf("deliveries not newest event first: %+v", page.Items)
		}
	}
	all := page.Items

	// Pages.
	first := b.deliveries(t, ep.ID, "?limit=2")
	second := b.deliveries(t, ep.ID, "?limit=2&cursor="+url.QueryEscape(first.NextCursor))
	last := b.deliveries(t, ep.ID, "?limit=2&cursor="+url.QueryEscape(second.NextCursor))
	var paged []deliveryView
	for _, p := range []deliveryPage{first, second, last} {
		paged = append(paged, p.Items...)
	}
	if first.NextCursor == "" || second.NextCursor == "" || last.NextCursor != "" || !slices.Equal(paged, all) {
		t.Errorf("pages of 2: %+v / %+v / %+v, want the 5 deliveries in order", first, second, last)
	}

	// Outcomes, recorded as the dispatcher would: a retry due after a 500,
	// a delivery, a timeout that exhausted the schedule.
	outcome := func(i int, set func(d *storage.Delivery)) {
		d, err := b.store.FindDelivery(ctx, ep.ID, all[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		d.Attempts++
		set(d)
		if err := b.store.RecordAttempt(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	outcome(1, func(d *storage.Delivery) {
		d.LastStatus, d.LastLatencyMS, d.NextAttemptAt = http.StatusInternalServerError, 37, now.Add(5*time.Second)
	})
	outcome(2, func(d *storage.Delivery) {
		d.Status, d.LastStatus, d.LastLatencyMS, d.DeliveredAt = storage.DeliveryDelivered, http.StatusNoContent, 12, now
	})
	outcome(3, func(d *storage.Delivery) {
		d.Status, d.Attempts, d.LastError, d.LastLatencyMS = storage.DeliveryFailed, 10, "timed out", 15000
	})
	for status, want := range map[string]int{"pending": 3, "delivered": 1, "failed": 1, "canceled": 0} {
		if p := b.deliveries(t, ep.ID, "?status="+status); len(p.Items) != want {
			t.Errorf("?status=%s: %d deliveries, want %d", status, len(p.Items), want)
		}
	}

	// Retry a failed delivery: pending and due now, and started.
	kicks := b.jobs.inserted()
	var d deliveryView
	b.do(t, http.StatusAccepted, "POST", "/api/v2/webhooks/"+ep.ID+"/deliveries/"+all[3].ID+"/retry", b.website, nil).decode(t, &d)
	if d.ID != all[3].ID || d.Status != "pending" || d.NextAttemptAt == "" || b.jobs.inserted() == kicks {
		t.Errorf("retried: %+v, want %s pending with next_attempt_at, and a delivery job", d, all[3].ID)
	}
	b.do(t, http.StatusNotFound, "POST", "/api/v2/webhooks/"+ep.ID+"/deliveries/msg_0000000000000000000000000000/retry", b.website, nil)
	b.do(t, http.StatusNotFound, "POST", "/api/v2/webhooks/"+other.ID+"/deliveries/"+all[3].ID+"/retry", b.website, nil)

	// Disabling cancels what is pending.
	b.do(t, http.StatusOK, "PATCH", "/api/v2/webhooks/"+ep.ID, b.website, map[string]any{"enabled": false})
	if p := b.deliveries(t, ep.ID, "?status=pending"); len(p.Items) != 0 {
		t.Errorf("disabled endpoint: %d pending, want 0", len(p.Items))
	}

	for _, c := range []struct{ query, field string }{
		{"?status=sent", "status"},
		{"?limit=0", "limit"},
		{"?limit=501", "limit"},
		{"?limit=ten", "limit"},
		{"?cursor=garbage", "cursor"},
	} {
		wantField(t, b.do(t, http.StatusBadRequest, "GET", "/api/v2/webhooks/"+ep.ID+"/deliveries"+c.query, b.website, nil).problem(t), c.field)
	}
	b.do(t, http.StatusNotFound, "GET", "/api/v2/webhooks/we_0000000000000000000000000000/deliveries", b.website, nil)

	// The events behind deliveries, and the webhooks' own events, match the
	// Event schema (the stream's events and the data of JSON webhooks).
	b.do(t, http.StatusAccepted, "POST", "/api/v2/webhooks/"+other.ID+"/test", b.website, nil)
	for _, ev := range []reservation.Event{
		{Type: reservation.EventDeliveryExhausted, Webhook: &reservation.WebhookNote{EndpointID: ep.ID, DeliveryID: all[3].ID,
			EventSeq: all[3].EventSeq, Reason: "10 attempts failed; the last: timed out"}},
		{Type: reservation.EventWebhookDisabled, Webhook: &reservation.WebhookNote{EndpointID: ep.ID, Reason: "the endpoint answered 410 Gone"}},
	} {
		ev.OccurredAt, ev.Origin, ev.Actor = time.Now(), reservation.OriginSystem, "system"
		if _, err := b.store.RecordSystemEvent(ctx, ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	events, err := b.store.FindEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.doc.schema("/components/schemas/Event")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, ev := range events {
		raw, _ := json.Marshal(ev)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("event %s does not match the Event schema: %v", raw, err)
		}
		types[ev.Type] = true
	}
	for _, want := range []string{"reservation.created", "reservation.canceled", "webhook.ping", "delivery.exhausted", "webhook.disabled"} {
		if !types[want] {
			t.Errorf("events %v, want a %s among them", slices.Sorted(maps.Keys(types)), want)
		}
	}
}

// testCalendar checks the calendar feed, its token and the .ics form of a
// reservation.
func testCalendar(t *testing.T, b *specBundle) {
	res := b.create(t, 0, "customer_name", "Ada Lovelace")
	uid := "UID:" + res.ID + "@slotline"
	wantCalendar := func(r *specResponse, want bool) {
		t.Helper()
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
			t.Errorf("Content-Type = %q, want text/calendar", ct)
		}
		if bytes.Contains(r.body, []byte(uid)) != want {
			t.Errorf("calendar has %s: %v, want %v\n%s", uid, !want, want, r.body)
		}
		if bytes.Contains(r.body, []byte("4155550199")) {
			t.Errorf("calendar shows the number in clear:\n%s", r.body)
		}
	}

	// One reservation.
	wantCalendar(b.do(t, http.StatusOK, "GET", "/api/v2/callbacks/"+res.ID+".ics", b.reader, nil), true)
	b.do(t, http.StatusNotFound, "GET", "/api/v2/callbacks/cb_00000000000000000000.ics", b.reader, nil)

	// The feed with a Bearer token.
	feed := "/api/v2/queues/queue_12345/calendar.ics"
	wantCalendar(b.do(t, http.StatusOK, "GET", feed, b.reader, nil), true)
	wantCalendar(b.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_hours/calendar.ics", b.website, nil), false)
	r := b.do(t, http.StatusUnauthorized, "GET", feed, "", nil)
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="slotline"` {
		t.Errorf("no credentials: WWW-Authenticate %q, want the Bearer challenge", got)
	}

	// Before a token is made, none works.
	unknown := "cal_" + strings.Repeat("A", 43)
	b.do(t, http.StatusUnauthorized, "GET", feed+"?token="+unknown, "", nil)
	// A token that cannot be decoded is refused as such.
	wantField(t, b.do(t, http.StatusBadRequest, "GET", feed+"?token=cal_%zz", "", nil).problem(t), "token")

	var tok struct {
		Token   string `json:"token"`
		FeedURL string `json:"feed_url"`
	}
	b.do(t, http.StatusOK, "POST", "/api/v2/queues/queue_12345/calendar-token", b.website, nil).decode(t, &tok)
	if tok.FeedURL != feed+"?token="+tok.Token {
		t.Errorf("feed_url = %q, want %s?token=%s", tok.FeedURL, feed, tok.Token)
	}
	wantCalendar(b.do(t, http.StatusOK, "GET", tok.FeedURL, "", nil), true)
	// The token alone is judged: a bad Bearer token beside it does not matter.
	wantCalendar(b.do(t, http.StatusOK, "GET", tok.FeedURL, "slt_not-a-real-token", nil), true)
	for _, bad := range []string{
		"/api/v2/queues/queue_hours/calendar.ics?token=" + tok.Token, // another queue's
		feed + "?token=" + unknown,
		feed + "?token=" + tok.Token + "x",
	} {
		r := b.do(t, http.StatusUnauthorized, "GET", bad, "", nil)
		if p := r.problem(t); p.Code != "unauthorized" || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: code %q, WWW-Authenticate %q; want unauthorized and no challenge", bad, p.Code, r.header.Get("WWW-Authenticate"))
		}
	}

	// A new token retires the old one.
	old := tok.FeedURL
	b.do(t, http.StatusOK, "POST", "/api/v2/queues/queue_12345/calendar-token", b.website, nil).decode(t, &tok)
	b.do(t, http.StatusUnauthorized, "GET", old, "", nil)
	wantCalendar(b.do(t, http.StatusOK, "GET", tok.FeedURL, "", nil), true)

	b.do(t, http.StatusNotFound, "GET", "/api/v2/queues/queue_nope/calendar.ics", b.reader, nil)
	b.do(t, http.StatusNotFound, "POST", "/api/v2/queues/queue_nope/calendar-token", b.website, nil)
}

// TestOpenAPIEventTypes checks the document's event type enums, and its
// event origins, against the code's.
func TestOpenAPIEventTypes(t *testing.T) {
	t.Parallel()
	d := loadDoc(t)
	enum := func(name string) []string {
		v, _ := d.lookup(ptr("components", "schemas", name, "enum"))
		var out []string
		for _, e := range v.([]any) {
			out = append(out, e.(string))
		}
		return out
	}
	if got := enum("WebhookEventType"); !slices.Equal(got, webhook.EventTypes) {
		t.Errorf("WebhookEventType = %v, want webhook.EventTypes %v", got, webhook.EventTypes)
	}
	if got, want := enum("EventType"), append(slices.Clone(webhook.EventTypes), reservation.EventWebhookPing); !slices.Equal(got, want) {
		t.Errorf("EventType = %v, want %v", got, want)
	}
	v, _ := d.lookup(ptr("components", "schemas", "Event", "properties", "origin", "enum"))
	var origins []string
	for _, e := range v.([]any) {
		origins = append(origins, e.(string))
	}
	want := []string{reservation.OriginAPI, reservation.OriginGenesys, reservation.OriginSystem, reservation.OriginCustomer,
		reservation.OriginWidget, reservation.OriginPage, reservation.OriginOperator}
	if !slices.Equal(origins, want) {
		t.Errorf("Event origin enum = %v, want the code's origins %v", origins, want)
	}
}
