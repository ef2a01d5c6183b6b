package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/frame"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/syncer"
	"github.com/slotline/slotline/internal/webhook"
)

// ---------------------------------------------------------------------------
// Reservations past "scheduled", the stream and webhook deliveries, all
// against the document.

// clearNumber is the number every reservation of the lifecycle test calls.
const clearNumber = "+14155550199"

// validate fails t unless the JSON raw matches the schema at JSON pointer p.
func (d *openapiDoc) validate(t testing.TB, p, what string, raw []byte) {
	t.Helper()
	s, err := d.schema(p)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("%s is not JSON: %v\n%s", what, err, raw)
		return
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s does not match %s: %v\n%s", what, p, err, raw)
	}
}

// checkWebhook fails t unless openapi.json documents a delivery: the
// webhook's header parameters and its request body for its media type.
func (d *openapiDoc) checkWebhook(t testing.TB, name string, header http.Header, body []byte) {
	t.Helper()
	opPtr := ptr("webhooks", name, "post")
	_, op, err := d.deref(opPtr)
	if err != nil {
		t.Errorf("webhook %s: %v", name, err)
		return
	}
	params, _ := op["parameters"].([]any)
	for i := range params {
		pPtr, p, err := d.deref(opPtr + "/parameters/" + strconv.Itoa(i))
		if err != nil {
			t.Errorf("webhook %s: %v", name, err)
			continue
		}
		if p["in"] != "header" {
			continue
		}
		hn, _ := p["name"].(string)
		got := header.Get(hn)
		if got == "" {
			if p["required"] == true {
				t.Errorf("webhook %s: required header %s is missing", name, hn)
			}
			continue
		}
		s, err := d.schema(pPtr + "/schema")
		if err != nil {
			t.Errorf("webhook %s: header %s: %v", name, hn, err)
			continue
		}
		if err := s.Validate(got); err != nil {
			t.Errorf("webhook %s: header %s: %q does not match its schema: %v", name, hn, got, err)
		}
	}
	rbPtr, rb, err := d.deref(opPtr + "/requestBody")
	if err != nil {
		t.Errorf("webhook %s: %v", name, err)
		return
	}
	ct := header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		t.Errorf("webhook %s: Content-Type %q: %v", name, ct, err)
		return
	}
	content, _ := rb["content"].(map[string]any)
	if _, ok := content[mt]; !ok {
		t.Errorf("webhook %s: Content-Type %q is not documented (documented: %v)", name, ct, slices.Sorted(maps.Keys(content)))
		return
	}
	s, err := d.schema(rbPtr + ptr("content", mt, "schema"))
	if err != nil {
		t.Errorf("webhook %s: %v", name, err)
		return
	}
	var v any
	if isJSON(mt) {
		if v, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
			t.Errorf("webhook %s: the body is not JSON: %v\n%s", name, err, body)
			return
		}
	} else {
		if mt == "text/calendar" {
			if err := checkICalendar(body); err != nil {
				t.Errorf("webhook %s: the body is not an iCalendar object: %v\n%q", name, err, body)
			}
		}
		v = string(body)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("webhook %s: the %s body does not match openapi.json: %v\nbody: %s", name, mt, err, body)
	}
}

// codeEventTypes is every event type the code can emit: the types an
// endpoint may subscribe to and webhook.ping. It fails t if the reservation
// package declares an event type constant that is not among them.
func codeEventTypes(t testing.TB) []string {
	t.Helper()
	types := append(slices.Clone(webhook.EventTypes), reservation.EventWebhookPing)
	src, err := os.ReadFile("../reservation/reservation.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := regexp.MustCompile(`(?m)^\s*Event[A-Za-z]+\s*=\s*"([a-z_.]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(consts) < 10 {
		t.Fatalf("found only %d event type constants in reservation.go; has it changed shape?", len(consts))
	}
	for _, m := range consts {
		if !slices.Contains(types, m[1]) {
			t.Errorf("reservation.go declares the event type %s; neither webhook.EventTypes nor webhook.ping has it", m[1])
		}
	}
	return types
}

// fullReservation is a reservation with every member AppendJSON can write.
func fullReservation() *reservation.Reservation {
	at := time.Date(2026, 6, 15, 18, 0, 0, 0, time.UTC)
	slot := reservation.Slot{Start: at, End: at.Add(15 * time.Minute)}
	return &reservation.Reservation{
		ID:               "cb_01a23400b695d9e792850a",
		ClientID:         "website",
		CallbackID:       "web-000123",
		QueueID:          "queue_12345",
		TimeZone:         "America/New_York",
		CallbackNumber:   clearNumber,
		CustomerName:     "Ada Lovelace",
		Candidates:       []reservation.Slot{{Start: at.Add(-time.Hour), End: at.Add(-45 * time.Minute)}, slot},
		Slot:             slot,
		Channel:          reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true},
		Reason:           "Billing question",
		ConcurrencyLimit: 5,
		Status:           reservation.StatusMissed,
		Outcome:          reservation.OutcomeNotReached,
		DisconnectType:   "timeout",
		DisconnectReasons: []reservation.DisconnectReason{
			{Type: "q850", Code: 19, Phrase: "No answer from user (user alerted)"}, {Type: "sip", Code: 480},
		},
		WrapupCode:   "0c1d0000-0000-4000-8000-0000000000a2",
		DialAttempts: 2,
		Overbooked:   true,
		Locale:       "de",
		SMSOptOut:    true,
		CancelReason: reservation.CancelReasonCustomerReached, // every member, whatever the status
		Version:      3,
		CreatedAt:    at.Add(-48 * time.Hour),
		UpdatedAt:    at.Add(time.Minute),
		Sync: reservation.Sync{
			State:          reservation.SyncFailed,
			ConversationID: "3053c7f4-b5cc-4700-89d5-1cd54469de36",
			CallbackIDs: []reservation.CallbackIdentifier{
				{Type: "ACD", ID: "f15e9f6e-caa5-4f0a-ba9d-7e9f81c1f7df"},
				{Type: "EXTERNAL", ID: "4f33bebf-ee0b-4970-8541-b92efa8513c3"},
			},
			ScheduledAt: at.Add(-time.Hour),
			Attempts:    2,
			LastError:   "genesys refused the reschedule: 400 bad.request",
		},
	}
}

// TestOpenAPIEventSchemas checks the document's event schemas against the
// code: every event type it declares is in the EventType enum, and an event
// of each type, its reservation carrying every member a reservation can
// have, matches Event as the stream writes it (Event.AppendJSONWithSubject)
// and WebhookPayload as a delivery carries it, the number masked or not.
func TestOpenAPIEventSchemas(t *testing.T) {
	t.Parallel()
	d := loadDoc(t)
	enum, _ := d.lookup("/components/schemas/EventType/enum")
	list, _ := enum.([]any)
	inEnum := map[string]bool{}
	for _, e := range list {
		s, _ := e.(string)
		inEnum[s] = true
	}
	res := fullReservation()
	at := time.Date(2026, 6, 15, 18, 1, 2, 345678900, time.UTC)
	for _, typ := range codeEventTypes(t) {
		if !inEnum[typ] {
			t.Errorf("the code emits %s; the EventType enum of openapi.json lacks it", typ)
		}
		ev := reservation.Event{Seq: 42, ID: "evt_01a2340222e522183ea53a58a871", Type: typ, OccurredAt: at,
			Origin: reservation.OriginGenesys, Actor: "sync"}
		var subject []byte
		switch {
		case reservation.IsReservationEvent(typ):
			ev.ReservationID, ev.QueueID, ev.Reservation = res.ID, res.QueueID, res
			subject = res.AppendJSON(nil)
		default:
			ev.Origin, ev.Actor = reservation.OriginSystem, "system"
			ev.Webhook = &reservation.WebhookNote{EndpointID: "we_01a2340222e522183ea53a58a871"}
			switch typ {
			case reservation.EventDeliveryExhausted:
				ev.Webhook.DeliveryID, ev.Webhook.EventSeq = "msg_01a2340222e522183ea53a58a871", 41
				ev.Webhook.Reason = "2 attempts failed; the last: HTTP 500"
			case reservation.EventWebhookDisabled:
				ev.Webhook.Reason = "the endpoint answered 410 Gone"
			case reservation.EventWebhookPing:
				ev.Webhook.DeliveryID = "msg_01a2340222e522183ea53a58a871"
				ev.Origin, ev.Actor = reservation.OriginAPI, "website"
			}
			subject, _ = json.Marshal(ev.Webhook)
		}
		d.validate(t, "/components/schemas/Event", typ+" on the stream", ev.AppendJSONWithSubject(nil, subject))
		for _, number := range []string{clearNumber, reservation.MaskNumber(clearNumber), reservation.MaskNumber("+4930901820"),
			reservation.MaskNumber("+442071838750"), ""} {
			if ev.Reservation != nil {
				r := *res
				r.CallbackNumber = number
				ev.Reservation = &r
			}
			body, err := json.Marshal(map[string]any{"type": ev.Type, "timestamp": ev.OccurredAt.UTC().Format(time.RFC3339Nano), "data": &ev})
			if err != nil {
				t.Fatal(err)
			}
			d.validate(t, "/components/schemas/WebhookPayload", typ+" in a webhook", body)
			if ev.Reservation == nil {
				break
			}
		}
	}

	// The document describes no member the server never writes: the full
	// reservation has every member of Reservation and of Sync (but the
	// self-service link's, which only a create's answer carries).
	createOnly := map[string]bool{"manage_url": true, "manage_token": true}
	var written map[string]any
	if err := json.Unmarshal(res.AppendJSON(nil), &written); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		schema string
		got    map[string]any
	}{{"Reservation", written}, {"Sync", written["sync"].(map[string]any)}} {
		props, _ := d.lookup(ptr("components", "schemas", c.schema, "properties"))
		m, _ := props.(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if _, ok := c.got[name]; !ok && !createOnly[name] {
				t.Errorf("%s documents %s, which the full reservation does not have", c.schema, name)
			}
		}
	}

	// Numbers the schemas must still refuse.
	s, err := d.schema("/components/schemas/Reservation")
	if err != nil {
		t.Fatal(err)
	}
	for _, number := range []string{"4155550199", "+1 415 555 0199", "+1********9x", "+0********99", "********99"} {
		bad := *res
		bad.CallbackNumber = number
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(bad.AppendJSON(nil)))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(v) == nil {
			t.Errorf("Reservation accepts the callback_number %q", number)
		}
	}
}

// hookRequest is one delivery a hookReceiver got.
type hookRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// hookReceiver records every delivery. /gone answers 410, /failing 500,
// any other path 204.
type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []hookRequest
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, hookRequest{r.Method, r.URL.Path, r.Header.Clone(), body})
		rc.mu.Unlock()
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/failing":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hookReceiver) requests() []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// lifeBundle is a whole Slotline in one process: the API over a real
// socket, the sync against the Genesys simulator (its clock stopped: the
// test moves it) with the notification listener, the webhook dispatcher
// with a short retry schedule, and the stream.
type lifeBundle struct {
	*specBundle
	sim   *gcsim.Sim
	ctx   context.Context
	hooks *hookReceiver
}

// setupLife starts it on a fresh SQLite database with two queues: support
// (known to the simulator, capacity 2 per 15-minute bucket, an SMS number)
// and refused (a Genesys queue the simulator refuses with 400).
func setupLife(t *testing.T, doc *openapiDoc) *lifeBundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hooks := newHookReceiver(t)
	store, err := storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "slotline.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := gcsim.NewClock(time.Now(), 0)
	sim := gcsim.New(gcsim.Options{
		Clock: clock, Seed: 7, AnswerRate: 1, RingTime: 20 * time.Second, TalkTime: time.Minute, HeartbeatEvery: time.Second,
		Queues: []gcsim.Queue{{ID: gcsim.DefaultQueueID, Name: "Support", SMSAddress: "+18005550100"}},
	})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gc, err := genesys.New(genesys.Config{
		APIURL: simURL, LoginURL: simURL, ClientID: gcsim.DefaultClientID, ClientSecret: gcsim.DefaultClientSecret,
		RateLimit: 1000, Burst: 100, BackoffBase: 20 * time.Millisecond, CallTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	calendar := func() *schedule.Calendar {
		return &schedule.Calendar{Location: ny, SlotMinutes: 15, Capacity: 2, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}
	}
	queues := []*booking.Queue{
		{ID: "support", Name: "Support", GenesysQueueID: gcsim.DefaultQueueID, TimeZone: ny.String(), Calendar: calendar(), SMSFrom: "+18005550100",
			// Every reservation here is booked after its reminder was
			// due: reservation.notify_skipped.
			Notify: &notify.Policy{OnMissed: true, RemindBefore: 30 * time.Hour}},
		{ID: "refused", Name: "Refused", GenesysQueueID: "no-such-queue", TimeZone: ny.String(), Calendar: calendar()},
	}
	js := jobs.New(store.JobDriver(), jobs.Config{FetchCooldown: time.Millisecond, RetryBase: 20 * time.Millisecond, JobTimeout: 20 * time.Second})
	runner := syncer.New(syncer.Config{Store: store, Jobs: js, Genesys: gc, Queues: queues, Now: clock.Now,
		RetryBase: 20 * time.Millisecond, ReconcileEvery: time.Hour, SMSAttempts: 2})
	disp := webhook.New(webhook.Config{Store: store, Jobs: js, Schedule: []time.Duration{0, 50 * time.Millisecond},
		QueueNames: map[string]string{"support": "Support", "refused": "Refused"}})
	store.OnEvents(runner.OnEvents, disp.OnEvents)
	if err := js.Open(ctx); err != nil {
		t.Fatal(err)
	}
	book := booking.New(store, queues, booking.Options{})
	hub := stream.NewHub(store, nil, 0)
	var wg sync.WaitGroup
	wg.Go(func() { _ = hub.Run(ctx) })
	wg.Go(func() { _ = disp.Run(ctx) })
	if err := js.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := runner.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	l := runner.NewListener(syncer.ListenerOptions{LeaseTTL: 2 * time.Second, Silence: 3 * time.Second, PongWait: time.Second})
	wg.Go(func() { _ = l.Run(ctx) })
	clients := []*auth.Client{auth.NewClient("website", websiteSecret, config.Scopes[:4], 0, 0)}
	// The receiver is on loopback over http: every URL is allowed here.
	endpoints := webhook.NewEndpoints(store, func(string) string { return "" }, []string{"support", "refused"})
	srv := httptest.NewUnstartedServer(httpapi.NewServer(httpapi.Deps{
		Booking: book, Auth: auth.NewService(store, clients, time.Hour), Store: store, Version: "test",
		Stream: stream.NewServer(hub, store, nil), Webhooks: endpoints, Dispatcher: disp,
	}))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = js.Stop(sctx)
		_ = sim.Close()
		_ = store.Close()
	})
	b := &specBundle{doc: doc, srv: srv, store: store, book: book, clients: clients, now: time.Now(), ny: ny}
	b.website = b.token(t, "website", websiteSecret, "")
	b.reader = b.website
	return &lifeBundle{specBundle: b, sim: sim, ctx: ctx, hooks: hooks}
}

// startIn is the start of the 15-minute bucket after now + d.
func (b *lifeBundle) startIn(d time.Duration) time.Time {
	return b.now.Add(d).Truncate(15 * time.Minute).Add(15 * time.Minute)
}

// reserve books [start, start+15 min) of queue through the API; extra are
// member, value pairs of the request.
func (b *lifeBundle) reserve(t *testing.T, queue string, start time.Time, extra ...any) string {
	t.Helper()
	body := map[string]any{
		"callback_number":  clearNumber,
		"time_slot_matrix": []any{slotAt(start, 15*time.Minute, b.ny)},
		"queue_id":         queue,
		"reason":           "Billing question",
		"customer_name":    "Ada Lovelace",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return b.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", b.website, body).reservation(t).ID
}

// waitFor polls the store until the reservation satisfies cond.
func (b *lifeBundle) waitFor(t *testing.T, id, what string, cond func(r *reservation.Reservation) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := b.store.FindReservationByID(b.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(r) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reservation %s never became %s: status %s, sync %+v", id, what, r.Status, r.Sync)
		}
		time.Sleep(20 * time.Millisecond) // poll interval (a wait on a condition, with a deadline)
	}
}

// waitEvent polls the event log until an event of type typ exists (for
// reservation id, when id is not empty).
func (b *lifeBundle) waitEvent(t *testing.T, typ, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := b.store.FindEvents(b.ctx, 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Type == typ && (id == "" || ev.ReservationID == id) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event (reservation %q) in 30 s", typ, id)
		}
		time.Sleep(20 * time.Millisecond) // poll interval (a wait on a condition, with a deadline)
	}
}

// get reads a reservation through the API (checked against the document)
// and through the list, and returns it.
func (b *lifeBundle) get(t *testing.T, id string) *reservation.Reservation {
	t.Helper()
	var r reservation.Reservation
	b.do(t, http.StatusOK, "GET", "/api/v2/callbacks/"+id, b.website, nil).decode(t, &r)
	if r.CallbackNumber != clearNumber {
		t.Errorf("GET %s: callback_number %q, want it in clear", id, r.CallbackNumber)
	}
	var page struct {
		Items []reservation.Reservation `json:"items"`
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/callbacks?status="+string(r.Status)+"&queue_id="+r.QueueID+"&limit=500", b.website, nil).decode(t, &page)
	if !slices.ContainsFunc(page.Items, func(x reservation.Reservation) bool { return x.ID == id }) {
		t.Errorf("the list of %s reservations lacks %s", r.Status, id)
	}
	return &r
}

// wantSynced fails t unless r carries what a synced callback has: its
// conversation, its callback identifiers and the time Genesys holds.
func wantSynced(t *testing.T, what string, r *reservation.Reservation) {
	t.Helper()
	y := r.Sync
	if y.State != reservation.SyncSynced || y.ConversationID == "" || len(y.CallbackIDs) == 0 || !y.ScheduledAt.Equal(r.Slot.Start) {
		t.Errorf("%s: sync %+v, want synced with a conversation, callback identifiers and scheduled_at %s", what, y, r.Slot.Start)
	}
}

// change sends a PATCH and a DELETE for a reservation (both checked
// against the document): a scheduled reservation can be changed, one that
// is scheduled, in progress or canceled can be canceled, and the others
// answer 409.
func (b *lifeBundle) change(t *testing.T, id string) {
	t.Helper()
	r, err := b.store.FindReservationByID(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v2/callbacks/" + id
	patch, cancel := http.StatusConflict, http.StatusConflict
	switch r.Status {
	case reservation.StatusScheduled:
		patch, cancel = http.StatusOK, http.StatusOK
	case reservation.StatusInProgress, reservation.StatusCanceled:
		cancel = http.StatusOK
	}
	b.do(t, patch, "PATCH", path, b.website, map[string]any{"reason": "Changed reason"})
	b.do(t, cancel, "DELETE", path, b.website, nil)
}

// readStream reads the stream from the start in format (json or msgpack)
// until the event with sequence number head, acknowledging each event, and
// checks every message against the document. It returns the event types
// seen.
func (b *lifeBundle) readStream(t *testing.T, format string, head int64) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/api/v2/callbacks/websocket?after=0&format=" + format
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + b.website}}})
	if err != nil {
		t.Fatalf("dial the stream (%s): %v", format, err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	types := map[string]bool{}
	notices := 0
	var last int64
	for last < head {
		typ, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("stream (%s) after seq %d of %d: %v", format, last, head, err)
		}
		kind, payload := int64(frame.TypeUpdate), msg
		if format == "json" {
			if typ != websocket.MessageText {
				t.Fatalf("stream (json): a %v message, want text", typ)
			}
			var probe map[string]json.RawMessage
			if err := json.Unmarshal(msg, &probe); err != nil {
				t.Fatalf("stream (json): %s is not a JSON object: %v", msg, err)
			}
			if _, ok := probe["notice"]; ok {
				kind = frame.TypeNotice
			}
		} else {
			f, err := frame.Decode(msg, 0)
			if err != nil {
				t.Fatalf("stream (msgpack): %v", err)
			}
			kind, payload = f.Type, bytes.Clone(f.Payload)
		}
		switch kind {
		case frame.TypeNotice:
			notices++
			b.doc.validate(t, "/components/schemas/StreamNotice", "stream ("+format+") notice", payload)
		case frame.TypeUpdate:
			b.doc.validate(t, "/components/schemas/Event", "stream ("+format+") event", payload)
			var ev reservation.Event
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatalf("stream (%s): %v", format, err)
			}
			if ev.Seq != last+1 {
				t.Fatalf("stream (%s): seq %d after %d", format, ev.Seq, last)
			}
			last = ev.Seq
			types[ev.Type] = true
			if ev.Reservation != nil && ev.Reservation.CallbackNumber != clearNumber {
				t.Errorf("stream (%s): event %d has callback_number %q, want it in clear", format, ev.Seq, ev.Reservation.CallbackNumber)
			}
			ackJSON, _ := json.Marshal(map[string]string{"status": "ack", "id": ev.ID})
			if format == "json" {
				err = ws.Write(ctx, websocket.MessageText, ackJSON)
			} else {
				err = ws.Write(ctx, websocket.MessageBinary, frame.Append(nil, frame.Frame{Type: frame.TypeAck, Payload: ackJSON}))
			}
			if err != nil {
				t.Fatalf("stream (%s): ack: %v", format, err)
			}
		default:
			t.Fatalf("stream (%s): frame type %d", format, kind)
		}
	}
	if notices == 0 {
		t.Errorf("stream (%s): no subscribed notice", format)
	}
	return types
}

// TestOpenAPILifecycle carries reservations through every state with the
// real sync against the Genesys simulator and checks against the document
// every answer of the API about them (GET, list, PATCH, DELETE), every event
// of the stream (JSON and msgpack) and every webhook delivery (JSON,
// iCalendar, the webhooks' own events).
func TestOpenAPILifecycle(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	b := setupLife(t, doc)
	// reservation.sms_sent is no longer emitted (reservation.notified,
	// kind missed, replaced it); endpoints may still name it.
	types := slices.DeleteFunc(codeEventTypes(t), func(typ string) bool { return typ == reservation.EventSMSSent })

	// Endpoints: every event masked, every event in clear, a calendar, and
	// two on the refused queue's creates: one that answers 410 (disabled:
	// webhook.disabled) and one that always fails (delivery.exhausted after
	// the two-attempt schedule).
	hook := b.hooks.srv.URL
	masked := b.createWebhook(t, "name", "Masked", "url", hook+"/masked")
	clear := b.createWebhook(t, "name", "Clear", "url", hook+"/clear", "include_numbers", true)
	calendar := b.createWebhook(t, "name", "Calendar", "url", hook+"/calendar", "content_type", "text/calendar")
	refusedOnly := []any{"events", []string{reservation.EventCreated}, "queues", []string{"refused"}}
	gone := b.createWebhook(t, append([]any{"name", "Gone", "url", hook + "/gone"}, refusedOnly...)...)
	failing := b.createWebhook(t, append([]any{"name", "Failing", "url", hook + "/failing"}, refusedOnly...)...)
	b.do(t, http.StatusAccepted, "POST", "/api/v2/webhooks/"+masked.ID+"/test", b.website, nil)
	b.do(t, http.StatusAccepted, "POST", "/api/v2/webhooks/"+calendar.ID+"/test", b.website, nil)

	// Reservations. answered and dropping share a bucket, and so do full1
	// and full2 (capacity 2: that bucket is full).
	sms := map[string]any{"primary": "voice", "fallback": "sms", "allow_sms": true}
	soon := b.startIn(time.Hour)
	ids := map[string]string{
		"answered":   b.reserve(t, "support", soon),
		"dropping":   b.reserve(t, "support", soon, "concurrency_limit", 5),
		"missed":     b.reserve(t, "support", b.startIn(2*time.Hour), "channel_preferences", sms),
		"smsRefused": b.reserve(t, "support", b.startIn(4*time.Hour), "channel_preferences", sms),
		"smsFailed":  b.reserve(t, "support", b.startIn(5*time.Hour), "channel_preferences", sms),
		"refused":    b.reserve(t, "refused", b.startIn(3*time.Hour)),
		"moved":      b.reserve(t, "support", b.startIn(6*time.Hour)),
		"dropped":    b.reserve(t, "support", b.startIn(7*time.Hour)),
		"full1":      b.reserve(t, "support", b.startIn(8*time.Hour)),
		"full2":      b.reserve(t, "support", b.startIn(8*time.Hour), "callback_id", "web-full2"),
		"moving":     b.reserve(t, "support", b.startIn(9*time.Hour)),
		"stuck":      b.reserve(t, "support", b.startIn(11*time.Hour)),
		"failedGC":   b.reserve(t, "support", b.startIn(12*time.Hour)),
	}
	for name, id := range ids {
		if name == "refused" {
			continue
		}
		b.waitFor(t, id, "synced", func(r *reservation.Reservation) bool { return r.Sync.State == reservation.SyncSynced })
		r := b.get(t, id)
		wantSynced(t, name, r)
		if r.Sync.Attempts != 1 {
			t.Errorf("%s: sync.attempts %d, want the one create", name, r.Sync.Attempts)
		}
	}
	// Refused by Genesys: failed, with the reason.
	b.waitFor(t, ids["refused"], "failed", func(r *reservation.Reservation) bool { return r.Sync.State == reservation.SyncFailed })
	if r := b.get(t, ids["refused"]); r.Status != reservation.StatusFailed || r.Sync.LastError == "" {
		t.Errorf("refused: %s, sync %+v; want failed with last_error", r.Status, r.Sync)
	}

	// Changes made inside Genesys, followed by the listener: one callback
	// moved into the full bucket (overbooked), one disconnected (canceled).
	deadline := time.Now().Add(15 * time.Second)
	for len(b.sim.ConnectedChannels()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the notification listener never subscribed")
		}
		time.Sleep(20 * time.Millisecond) // poll interval (a wait on a condition, with a deadline)
	}
	conv := func(name string) string {
		r, err := b.store.FindReservationByID(b.ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		return r.Sync.ConversationID
	}
	fullAt := b.startIn(8 * time.Hour)
	if err := b.sim.Reschedule(conv("moved"), fullAt); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, ids["moved"], "moved inside Genesys", func(r *reservation.Reservation) bool { return r.Slot.Start.Equal(fullAt) })
	if r := b.get(t, ids["moved"]); !r.Overbooked || r.Status != reservation.StatusScheduled || !r.Sync.ScheduledAt.Equal(fullAt) {
		t.Errorf("moved into a full bucket: overbooked %v, status %s, sync %+v; want overbooked and scheduled at %s", r.Overbooked, r.Status, r.Sync, fullAt)
	}
	if err := b.sim.Disconnect(conv("dropped")); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, ids["dropped"], "canceled inside Genesys", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusCanceled })
	if r := b.get(t, ids["dropped"]); r.Sync.State != reservation.SyncSynced || r.Sync.ConversationID == "" {
		t.Errorf("canceled inside Genesys: sync %+v, want synced", r.Sync)
	}

	// A reschedule through the API, carried to Genesys.
	later := b.startIn(10 * time.Hour)
	b.do(t, http.StatusOK, "PATCH", "/api/v2/callbacks/"+ids["moving"], b.website,
		map[string]any{"time_slot_matrix": []any{slotAt(later, 15*time.Minute, b.ny)}})
	b.waitFor(t, ids["moving"], "rescheduled in Genesys", func(r *reservation.Reservation) bool {
		return r.Sync.State == reservation.SyncSynced && r.Sync.ScheduledAt.Equal(later)
	})
	wantSynced(t, "moving", b.get(t, ids["moving"]))

	// A reschedule Genesys refuses: still scheduled, its sync failed.
	b.sim.FailNext(gcsim.Fault{Method: "PATCH", PathPrefix: "/api/v2/conversations/callbacks", Status: http.StatusBadRequest})
	b.do(t, http.StatusOK, "PATCH", "/api/v2/callbacks/"+ids["stuck"], b.website,
		map[string]any{"time_slot_matrix": []any{slotAt(b.startIn(13*time.Hour), 15*time.Minute, b.ny)}})
	b.waitFor(t, ids["stuck"], "sync failed", func(r *reservation.Reservation) bool { return r.Sync.State == reservation.SyncFailed })
	if r := b.get(t, ids["stuck"]); r.Status != reservation.StatusScheduled || r.Sync.LastError == "" || r.Sync.ConversationID == "" {
		t.Errorf("refused reschedule: %s, sync %+v; want scheduled, failed with last_error", r.Status, r.Sync)
	}

	// Genesys reporting a callback failed (a call it could not place): the
	// store's own method records it here (reservation.failed).
	if _, _, err := b.store.ApplyGenesys(b.ctx, ids["failedGC"], reservation.GenesysUpdate{Status: reservation.StatusFailed, DisconnectType: "error"},
		reservation.Write{Actor: "genesys", Origin: reservation.OriginGenesys}); err != nil {
		t.Fatal(err)
	}
	if r := b.get(t, ids["failedGC"]); r.Status != reservation.StatusFailed || r.DisconnectType != "error" {
		t.Errorf("failed in Genesys: %s, disconnect type %q", r.Status, r.DisconnectType)
	}

	// The simulator's clock reaches the first bucket: both callbacks dial.
	clock := b.sim.Clock()
	clock.Advance(soon.Sub(clock.Now()) + time.Second)
	for _, name := range []string{"answered", "dropping"} {
		b.waitFor(t, ids[name], "in progress", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusInProgress })
		if r := b.get(t, ids[name]); r.Sync.State != reservation.SyncSynced {
			t.Errorf("%s in progress: sync %+v", name, r.Sync)
		}
	}
	b.do(t, http.StatusConflict, "PATCH", "/api/v2/callbacks/"+ids["answered"], b.website, map[string]any{"reason": "Too late"})
	b.change(t, ids["dropping"]) // 409, then canceled while in progress
	b.waitFor(t, ids["dropping"], "canceled in Genesys", func(r *reservation.Reservation) bool {
		return r.Status == reservation.StatusCanceled && r.Sync.State == reservation.SyncSynced
	})
	clock.Advance(2 * time.Minute)
	b.waitFor(t, ids["answered"], "completed", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusCompleted })

	// Not answered, with the SMS fallback: missed (not_reached) with a
	// disconnect type, then reservation.notified (kind missed).
	if err := b.sim.SetPlay(conv("missed"), gcsim.Play{Customer: gcsim.CustomerNoAnswer}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(b.startIn(2*time.Hour).Sub(clock.Now()) + time.Minute)
	b.waitFor(t, ids["missed"], "missed", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusMissed })
	b.waitEvent(t, reservation.EventNotified, ids["missed"])
	if r := b.get(t, ids["missed"]); r.DisconnectType == "" || r.Sync.State != reservation.SyncSynced ||
		r.Outcome != reservation.OutcomeNotReached || r.DialAttempts != 1 || len(r.DisconnectReasons) == 0 {
		t.Errorf("missed: disconnect type %q, sync %+v, outcome %q, %d dial attempts, reasons %+v; want a disconnect type, synced, not_reached",
			r.DisconnectType, r.Sync, r.Outcome, r.DialAttempts, r.DisconnectReasons)
	}
	// The SMS number blocked for 10DLC: reservation.sms_refused. Then 503s
	// on every attempt: reservation.sms_failed. Neither is answered.
	for _, name := range []string{"smsRefused", "smsFailed"} {
		if err := b.sim.SetPlay(conv(name), gcsim.Play{Customer: gcsim.CustomerNoAnswer}); err != nil {
			t.Fatal(err)
		}
	}
	b.sim.RefuseSMS("+18005550100", gcsim.SMSRefusal10DLC)
	clock.Advance(b.startIn(4*time.Hour).Sub(clock.Now()) + time.Minute)
	b.waitEvent(t, reservation.EventSMSRefused, ids["smsRefused"])
	b.sim.RefuseSMS("+18005550100", "")
	b.sim.FailNext(gcsim.Fault{PathPrefix: "/api/v2/conversations/messages/agentless", Status: http.StatusServiceUnavailable, Count: 1000})
	clock.Advance(b.startIn(5*time.Hour).Sub(clock.Now()) + time.Minute)
	b.waitEvent(t, reservation.EventSMSFailed, ids["smsFailed"])

	// Every reservation in its final form, then a change and a cancel of
	// each; the cancels of synced ones are carried to Genesys.
	for _, name := range slices.Sorted(maps.Keys(ids)) {
		b.get(t, ids[name])
		b.change(t, ids[name])
	}
	for _, name := range slices.Sorted(maps.Keys(ids)) {
		b.waitFor(t, ids[name], "settled", func(r *reservation.Reservation) bool {
			return r.Status != reservation.StatusCanceled || r.Sync.State != reservation.SyncPending
		})
		r := b.get(t, ids[name])
		if r.Status == reservation.StatusCanceled && (r.Sync.State != reservation.SyncSynced || r.Sync.ConversationID == "") {
			t.Errorf("%s canceled after sync: sync %+v, want synced", name, r.Sync)
		}
	}

	// The webhooks' own events, then every delivery done.
	b.waitEvent(t, reservation.EventWebhookDisabled, "")
	b.waitEvent(t, reservation.EventDeliveryExhausted, "")
	deadline = time.Now().Add(30 * time.Second)
	for _, ep := range []string{masked.ID, clear.ID, calendar.ID} {
		for {
			ds, _, err := b.store.FindDeliveries(b.ctx, ep, storage.DeliveryPending, "", 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("endpoint %s still has pending deliveries", ep)
			}
			time.Sleep(20 * time.Millisecond) // poll interval (a wait on a condition, with a deadline)
		}
	}
	// The endpoints and deliveries those outcomes left, as the API shows them.
	for _, ep := range []string{gone.ID, failing.ID, masked.ID} {
		b.do(t, http.StatusOK, "GET", "/api/v2/webhooks/"+ep, b.website, nil)
		b.deliveries(t, ep, "")
	}
	b.do(t, http.StatusOK, "GET", "/api/v2/webhooks", b.website, nil)

	// Every delivery against the webhook's description.
	seen := map[string]map[string]bool{}
	for _, r := range b.hooks.requests() {
		if r.method != http.MethodPost {
			t.Errorf("%s: a %s delivery, want POST", r.path, r.method)
		}
		doc.checkWebhook(t, "event", r.header, r.body)
		mt, params, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
		if seen[r.path] == nil {
			seen[r.path] = map[string]bool{}
		}
		if mt == "text/calendar" {
			if m := params["method"]; !bytes.Contains(r.body, []byte("\r\nMETHOD:"+m+"\r\n")) {
				t.Errorf("%s: Content-Type method=%q, body without METHOD:%s", r.path, m, m)
			}
			continue
		}
		var p struct {
			Type      string            `json:"type"`
			Timestamp time.Time         `json:"timestamp"`
			Data      reservation.Event `json:"data"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Errorf("%s: %v\n%s", r.path, err, r.body)
			continue
		}
		seen[r.path][p.Type] = true
		if p.Type != p.Data.Type || !p.Timestamp.Equal(p.Data.OccurredAt) {
			t.Errorf("%s: type %s at %s, data %s at %s; want the event's own", r.path, p.Type, p.Timestamp, p.Data.Type, p.Data.OccurredAt)
		}
		if res := p.Data.Reservation; res != nil {
			if clear := r.path == "/clear"; clear != (res.CallbackNumber == clearNumber) || res.CallbackNumber == "" {
				t.Errorf("%s: callback_number %q (include_numbers %v)", r.path, res.CallbackNumber, clear)
			}
		}
	}

	// Every event type the code can emit was seen, and checked, on the
	// stream in both formats and in webhooks.
	evs, err := b.store.FindEvents(b.ctx, 0, 100000)
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %d, %v", len(evs), err)
	}
	head := evs[len(evs)-1].Seq
	onStream := map[string]map[string]bool{"json": b.readStream(t, "json", head), "msgpack": b.readStream(t, "msgpack", head)}
	for _, typ := range types {
		for _, format := range []string{"json", "msgpack"} {
			if !onStream[format][typ] {
				t.Errorf("no %s event on the stream (%s)", typ, format)
			}
		}
		if !seen["/masked"][typ] {
			t.Errorf("no %s delivery to the JSON endpoint", typ)
		}
	}
	for _, typ := range []string{reservation.EventWebhookPing, reservation.EventWebhookDisabled, reservation.EventDeliveryExhausted} {
		if !seen["/calendar"][typ] {
			t.Errorf("no %s delivery (as JSON) to the calendar endpoint", typ)
		}
	}
	if len(seen["/gone"]) == 0 || len(seen["/failing"]) == 0 {
		t.Errorf("deliveries to /gone %v and /failing %v, want the refused create", seen["/gone"], seen["/failing"])
	}
}
