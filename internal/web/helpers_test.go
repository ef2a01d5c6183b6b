package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/selfservice"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/web"
)

// start is the bundle's clock at first: Tuesday, December 1, 2026, 9:00 in
// New York.
var start = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

// holiday is the queue's closed date (a Friday).
var holiday = schedule.Date{Year: 2026, Month: time.December, Day: 4}

// bundle is the pages over the API's handler on a real socket, with their
// own SQLite database, one queue ("support": New York, 15-minute slots of
// capacity 1, Monday to Friday 9:00–17:00, closed on the holiday) and a
// clock the test moves.
type bundle struct {
	srv   *httptest.Server
	store *storage.Store
	book  *booking.Service
	self  *selfservice.Service
	queue *booking.Queue
	loc   *time.Location
	clock atomic.Int64
}

func (b *bundle) now() time.Time { return time.UnixMicro(b.clock.Load()).UTC() }

func (b *bundle) advance(d time.Duration) { b.clock.Add(d.Microseconds()) }

type options struct {
	queue func(*booking.Queue)
	deps  func(*web.Deps)
}

func setup(t *testing.T, o options) *bundle {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Connect(ctx, "sqlite:"+filepath.Join(t.TempDir(), "web.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := &bundle{store: store}
	b.clock.Store(start.UnixMicro())
	b.loc, _ = time.LoadLocation("America/New_York")
	cal := &schedule.Calendar{Location: b.loc, SlotMinutes: 15, Capacity: 1, Horizon: 14 * 24 * time.Hour,
		Closed: map[schedule.Date]bool{holiday: true}}
	for d := time.Monday; d <= time.Friday; d++ {
		cal.Hours[d] = []schedule.Interval{{Start: 9 * 60, End: 17 * 60}}
	}
	b.queue = &booking.Queue{ID: "support", Name: "Acme Support", TimeZone: b.loc.String(), Calendar: cal,
		SelfService: reservation.SelfPolicy{MaxReschedules: 2, Cutoff: time.Hour}}
	if o.queue != nil {
		o.queue(b.queue)
	}
	sec, err := store.SelfServiceSecret(ctx, selfservice.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	links := selfservice.NewLinks(sec, "", time.Hour)
	b.book = booking.New(store, []*booking.Queue{b.queue}, booking.Options{Now: b.now, Seal: links.Seal})
	b.self = selfservice.New(selfservice.Config{Links: links, Booking: b.book, Store: store})
	deps := web.Deps{Booking: b.book, Self: b.self, Key: links.Derive(web.KeyLabel),
		FrameOrigins: func(q string) []string {
			if q == "support" {
				return []string{"https://shop.example"}
			}
			return nil
		}}
	if o.deps != nil {
		o.deps(&deps)
	}
	pages, err := web.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(httpapi.NewServer(httpapi.Deps{Booking: b.book, Store: store, Self: b.self, Pages: pages}))
	t.Cleanup(b.srv.Close)
	return b
}

// page is a response with its parsed HTML.
type page struct {
	status int
	header http.Header
	body   string
	doc    *html.Node
	url    string
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (b *bundle) do(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(raw), url: req.URL.String()}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = html.Parse(strings.NewReader(p.body)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// get GETs a path; headers are name, value pairs.
func (b *bundle) get(t *testing.T, path string, headers ...string) page {
	t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(t, req)
}

// post POSTs a form as a browser does from our own page: Sec-Fetch-Site
// same-origin and, under the no-referrer policy, Origin null (headers
// override them; an empty value removes one).
func (b *bundle) post(t *testing.T, path string, form url.Values, headers ...string) page {
	t.Helper()
	req, _ := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", "null")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(t, req)
}

// follow GETs the Location of a 303.
func (b *bundle) follow(t *testing.T, p page) page {
	t.Helper()
	if p.status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303; body:\n%s", p.status, p.body)
	}
	return b.get(t, p.header.Get("Location"))
}

// HTML helpers.

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func withAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { v, ok := attr(n, key); return ok && v == val }
}

func byID(doc *html.Node, id string) *html.Node {
	if ns := find(doc, withAttr("id", id)); len(ns) == 1 {
		return ns[0]
	}
	return nil
}

// text is a node's text content, spaces collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// labelOf is the text of the label of a control (label for=id).
func labelOf(doc, control *html.Node) string {
	id, _ := attr(control, "id")
	for _, l := range find(doc, tag("label")) {
		if f, _ := attr(l, "for"); f == id && id != "" {
			return text(l)
		}
	}
	return ""
}

// control finds the one control whose label reads name.
func control(t *testing.T, doc *html.Node, name string) *html.Node {
	t.Helper()
	var out []*html.Node
	for _, n := range find(doc, func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" || n.Data == "textarea" }) {
		if labelOf(doc, n) == name {
			out = append(out, n)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d controls labelled %q", len(out), name)
	}
	return out[0]
}

// buttons are the buttons whose text reads name.
func buttons(doc *html.Node, name string) []*html.Node {
	return find(doc, func(n *html.Node) bool { return n.Data == "button" && text(n) == name })
}

// links are the links whose text reads name.
func links(doc *html.Node, name string) []*html.Node {
	return find(doc, func(n *html.Node) bool { return n.Data == "a" && text(n) == name })
}

// ancestor is the nearest ancestor of n named name.
func ancestor(n *html.Node, name string) *html.Node {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.Data == name {
			return p
		}
	}
	return nil
}

// radios are the "Available times" radios: legend → its fieldset.
func radios(t *testing.T, doc *html.Node, legend string) []*html.Node {
	t.Helper()
	for _, l := range find(doc, tag("legend")) {
		if text(l) == legend {
			return find(l.Parent, withAttr("type", "radio"))
		}
	}
	t.Fatalf("no fieldset with legend %q", legend)
	return nil
}

// formOf returns the values a browser would send with form f (its hidden
// and filled fields, checked boxes), to which the test adds its own.
func formOf(f *html.Node) url.Values {
	v := url.Values{}
	for _, n := range find(f, func(n *html.Node) bool { return n.Data == "input" || n.Data == "textarea" }) {
		name, _ := attr(n, "name")
		if name == "" {
			continue
		}
		typ, _ := attr(n, "type")
		switch typ {
		case "radio", "checkbox":
			if _, ok := attr(n, "checked"); !ok {
				continue
			}
		}
		val, _ := attr(n, "value")
		if n.Data == "textarea" {
			val = text(n)
		}
		v.Set(name, val)
	}
	return v
}

// postForm finds the form that posts (the one holding button name) and
// returns its action and values.
func postForm(t *testing.T, doc *html.Node, button string) (string, url.Values) {
	t.Helper()
	for _, bt := range buttons(doc, button) {
		if f := ancestor(bt, "form"); f != nil {
			if m, _ := attr(f, "method"); m == "post" {
				action, _ := attr(f, "action")
				return action, formOf(f)
			}
		}
	}
	t.Fatalf("no POST form with button %q", button)
	return "", nil
}

// describedBy reports whether n's aria-describedby names id.
func describedBy(n *html.Node, id string) bool {
	v, _ := attr(n, "aria-describedby")
	for _, f := range strings.Fields(v) {
		if f == id {
			return true
		}
	}
	return false
}
