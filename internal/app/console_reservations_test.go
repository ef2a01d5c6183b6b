package app

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/password"
)

// resServe runs serve with two queues, the supervisor ada (q1) and the
// viewer vic, and returns it with an API token of the client web.
func resServe(t *testing.T) (*sandboxServer, string) {
	t.Helper()
	s, token := serveConfig(t, "clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n"+
		"operators:\n  - {username: ada, password_hash: '"+password.New("ada-secret-pw")+"', role: supervisor, queues: [q1]}\n"+
		"  - {username: vic, password_hash: '"+password.New("vic-secret-pw")+"', role: viewer}\n"+
		"queues:\n"+
		"  - {id: q1, name: Support, timezone: America/New_York, hours: 24/7, capacity: 2}\n"+
		"  - {id: q2, name: Sales, timezone: Europe/Berlin, hours: 24/7}\n")
	return s, token
}

// book creates a reservation of queue at start through the API.
func book(t *testing.T, s *sandboxServer, token, queue, number string, start time.Time) string {
	t.Helper()
	var created struct {
		ID string `json:"id"`
	}
	req := fmt.Sprintf(`{"callback_number":%q,"queue_id":%q,"time_slot_matrix":[{"start":%q,"end":%q}],"channel_preferences":{"primary":"voice"}}`,
		number, queue, start.Format(time.RFC3339), start.Add(15*time.Minute).Format(time.RFC3339))
	if st := s.call("POST", "/api/v2/callbacks", token, req, &created); st != 201 {
		t.Fatalf("create: %d", st)
	}
	return created.ID
}

// bookPages books 52 reservations of q1 (two pages of the list), two a
// bucket from two days ahead, numbers +14155551000 on, and returns the
// first slot and their ids in slot order.
func bookPages(t *testing.T, s *sandboxServer, token string) (time.Time, []string) {
	t.Helper()
	start := time.Now().Truncate(15 * time.Minute).Add(48 * time.Hour).UTC()
	var ids []string
	for i := range 52 {
		ids = append(ids, book(t, s, token, "q1", fmt.Sprintf("+1415555%04d", 1000+i), start.Add(time.Duration(i/2)*15*time.Minute)))
	}
	return start, ids
}

// consoleClient is an operator's browser without JavaScript: a cookie jar
// that does not follow redirects.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var consoleTicketRE = regexp.MustCompile(`name="ticket" value="([^"]+)"`)
var consoleCSRFRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signedIn signs in the local operator user ("": a browser signed out).
func signedIn(t *testing.T, base, user, pw string) *consoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if user == "" {
		return cc
	}
	_, page := cc.do("GET", "/console/login", nil)
	m := consoleTicketRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no ticket")
	}
	if st, _ := cc.do("POST", "/console/login", url.Values{"ticket": {m[1]}, "username": {user}, "password": {pw}}); st != 303 {
		t.Fatalf("sign in %s: %d", user, st)
	}
	_, home := cc.do("GET", "/console", nil)
	cc.csrf = consoleCSRFRE.FindStringSubmatch(home)[1]
	return cc
}

// do sends a request (a form from the console's origin when form is not
// nil) and returns the status and the body.
func (cc *consoleClient) do(method, path string, form url.Values) (int, string) {
	cc.t.Helper()
	st, body, _ := cc.send(method, path, form)
	return st, body
}

// get is do of a GET.
func (cc *consoleClient) get(path string) (int, string) {
	cc.t.Helper()
	return cc.do("GET", path, nil)
}

// post sends a form and returns the status and the Location.
func (cc *consoleClient) post(path string, form url.Values) (int, string) {
	cc.t.Helper()
	st, _, h := cc.send("POST", path, form)
	return st, h.Get("Location")
}

func (cc *consoleClient) send(method, path string, form url.Values) (int, string, http.Header) {
	cc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, cc.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestConsoleReservations(t *testing.T) {
	t.Parallel()
	s, token := resServe(t)
	start, ids := bookPages(t, s, token)
	other := book(t, s, token, "q2", "+14155559999", start)
	ada := signedIn(t, s.base, "ada", "ada-secret-pw")

	st, list := ada.do("GET", "/console/reservations", nil)
	if st != 200 || strings.Count(list, `href="/console/reservations/`) != 50 {
		t.Fatalf("list: %d, %d rows", st, strings.Count(list, `href="/console/reservations/`))
	}
	if strings.Contains(list, "14155551000") || !strings.Contains(list, "********00") || strings.Contains(list, other) {
		t.Error("the list shows a full number, or another queue's reservation")
	}
	if !strings.Contains(list, "(America/New_York)") {
		t.Error("times not in the queue's zone")
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(list)
	if next == nil || strings.Contains(list, `rel="prev"`) {
		t.Fatal("page 1 has no Next page link, or a Previous page link")
	}
	_, page2 := ada.do("GET", strings.ReplaceAll(next[1], "&amp;", "&"), nil)
	if n := strings.Count(page2, `href="/console/reservations/`); n != 2 || !strings.Contains(page2, `rel="prev"`) || !strings.Contains(page2, ids[51]) {
		t.Errorf("page 2: %d rows", n)
	}
	if _, f := ada.do("GET", "/console/reservations?digits=1007", nil); strings.Count(f, `href="/console/reservations/`) != 1 || !strings.Contains(f, ids[7]) {
		t.Error("last digits filter")
	}
	if st, _ := ada.do("GET", "/console/reservations?queue=q2", nil); st != 404 {
		t.Errorf("another's queue: %d", st)
	}
	if st, _ := ada.do("GET", "/console/reservations/"+other, nil); st != 404 {
		t.Errorf("another queue's reservation: %d", st)
	}

	// The detail: the full number, the reschedule and cancel actions.
	st, detail := ada.do("GET", "/console/reservations/"+ids[0], nil)
	if st != 200 || !strings.Contains(detail, "&#43;14155551000") || !strings.Contains(detail, "reservation.created") {
		t.Fatalf("detail: %d", st)
	}
	slot := regexp.MustCompile(`<option value="([^"]+)"`).FindStringSubmatch(detail)
	if slot == nil {
		t.Fatal("no free slot offered")
	}
	if st, _ := ada.do("POST", "/console/reservations/"+ids[0]+"/reschedule", url.Values{"slot": {slot[1]}, "version": {"1"}}); st != 403 {
		t.Errorf("reschedule without CSRF: %d", st)
	}
	if st, _ := ada.do("POST", "/console/reservations/"+ids[0]+"/reschedule", url.Values{"csrf": {ada.csrf}, "slot": {slot[1]}, "version": {"1"}}); st != 303 {
		t.Fatalf("reschedule: %d", st)
	}
	// A stale version: a plain message.
	if st, b := ada.do("POST", "/console/reservations/"+ids[0]+"/cancel", url.Values{"csrf": {ada.csrf}, "version": {"1"}}); st != 412 ||
		!strings.Contains(b, "changed meanwhile") {
		t.Errorf("stale cancel: %d", st)
	}
	// A full slot: ids[2] and ids[3] hold start+15m (capacity 2).
	full := start.Add(15*time.Minute).Format(time.RFC3339) + "/" + start.Add(30*time.Minute).Format(time.RFC3339)
	if st, b := ada.do("POST", "/console/reservations/"+ids[1]+"/reschedule", url.Values{"csrf": {ada.csrf}, "slot": {full}, "version": {"1"}}); st != 409 ||
		!strings.Contains(b, "slot is full") {
		t.Errorf("reschedule into a full slot: %d", st)
	}
	if st, b := ada.do("GET", "/console/reservations/"+ids[0]+"/cancel", nil); st != 200 || !strings.Contains(b, "Yes, cancel") {
		t.Errorf("cancel confirmation: %d", st)
	}
	if st, _ := ada.do("POST", "/console/reservations/"+ids[0]+"/cancel", url.Values{"csrf": {ada.csrf}, "version": {"2"}}); st != 303 {
		t.Fatalf("cancel: %d", st)
	}
	_, detail = ada.do("GET", "/console/reservations/"+ids[0]+"?done=canceled", nil)
	for _, want := range []string{"reservation.rescheduled", "reservation.canceled", "operator:ada (operator)", "The reservation was canceled."} {
		if !strings.Contains(detail, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}

	// A viewer sees no change controls and a forged change is refused.
	vic := signedIn(t, s.base, "vic", "vic-secret-pw")
	if _, b := vic.do("GET", "/console/reservations/"+ids[1], nil); strings.Contains(b, "Reschedule") || strings.Contains(b, "/cancel") {
		t.Error("a viewer sees change controls")
	}
	if st, _ := vic.do("POST", "/console/reservations/"+ids[1]+"/cancel", url.Values{"csrf": {vic.csrf}, "version": {"1"}}); st != 403 {
		t.Errorf("viewer's forged cancel: %d", st)
	}
	var got struct {
		Status string `json:"status"`
	}
	s.call("GET", "/api/v2/callbacks/"+ids[1], token, "", &got)
	if got.Status != "scheduled" {
		t.Errorf("after the refused cancel: %s", got.Status)
	}
	if st, _ := signedIn(t, s.base, "", "").do("GET", "/console/reservations", nil); st != 303 {
		t.Errorf("signed out: %d", st)
	}

	// The live page without JavaScript: the newest events, newest first.
	st, live := ada.do("GET", "/console/live", nil)
	live = live[strings.Index(live, `id="live-log"`):]
	if st != 200 || !strings.Contains(live, "reservation.canceled") || strings.Index(live, "reservation.canceled") > strings.Index(live, "reservation.created") {
		t.Errorf("live: %d", st)
	}
	if strings.Contains(live, "14155551000") || strings.Contains(live, "Sales") && strings.Contains(live, "9999") {
		t.Error("live shows a full number or another queue's event")
	}
}

// sseEvent reads the next data event of an event stream.
func sseEvent(t *testing.T, r *bufio.Reader) (id, data string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		case line == "" && data != "":
			return id, data
		}
	}
}

func TestConsoleEvents(t *testing.T) {
	t.Parallel()
	s, token := resServe(t)
	ada := signedIn(t, s.base, "ada", "ada-secret-pw")
	if st, _ := signedIn(t, s.base, "", "").do("GET", "/console/events", nil); st != 303 {
		t.Errorf("signed out: %d", st)
	}
	open := func(query, lastID string) (*bufio.Reader, func()) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.base+"/console/events"+query, nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := ada.c.Do(req)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %v %v", err, resp)
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	r, done := open("?type=reservation.", "")
	defer done()
	typed, doneTyped := open("?type=reservation.canceled", "")
	defer doneTyped()
	if st, _ := ada.do("GET", "/console/events?queue=q2", nil); st != 404 {
		t.Errorf("another's queue: %d", st)
	}
	start := time.Now().Truncate(15 * time.Minute).Add(48 * time.Hour).UTC()
	book(t, s, token, "q2", "+14155559999", start) // not ada's queue
	id := book(t, s, token, "q1", "+14155551234", start)
	seq, data := sseEvent(t, r)
	if !strings.Contains(data, `"reservation_id":"`+id+`"`) || !strings.Contains(data, `"type":"reservation.created"`) ||
		strings.Contains(data, "+14155551234") || !strings.Contains(data, `"number":"+1********34"`) {
		t.Fatalf("first event: %s", data)
	}
	if st := s.call("DELETE", "/api/v2/callbacks/"+id, token, "", nil); st/100 != 2 {
		t.Fatalf("cancel: %d", st)
	}
	for {
		_, d := sseEvent(t, typed)
		if strings.Contains(d, `"type":"reservation.canceled"`) {
			break
		}
		t.Fatalf("the type filter let through %s", d)
	}
	// Resume after the first event: the next is the same reservation's.
	resumed, doneResumed := open("?queue=q1", seq)
	defer doneResumed()
	if _, d := sseEvent(t, resumed); !strings.Contains(d, id) || strings.Contains(d, `"type":"reservation.created"`) {
		t.Errorf("resumed from %s: %s", seq, d)
	}
}
