package genesys_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// simT0 is the simulator clock's start: a fixed instant, clock stopped.
var simT0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

const (
	simQueue = gcsim.DefaultQueueID
	resKey   = "slotline_reservation_id"
)

type simBundle struct {
	sim    *gcsim.Sim
	client *genesys.Client
}

// simSetup starts a simulator with a stopped clock at simT0 and a client of
// it over real sockets.
func simSetup(t *testing.T, opts gcsim.Options) simBundle {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = gcsim.NewClock(simT0, 0)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	sim := gcsim.New(opts)
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := genesys.New(genesys.Config{
		APIURL:       base,
		LoginURL:     base,
		ClientID:     gcsim.DefaultClientID,
		ClientSecret: gcsim.DefaultClientSecret,
		RateLimit:    500,
		Burst:        50,
		CallTimeout:  5 * time.Second,
		BackoffBase:  20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(simLog{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return simBundle{sim: sim, client: c}
}

// simWait polls cond every 10 ms until it holds, and fails the test if it
// does not within 10 s.
func simWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

type simLog struct{ t *testing.T }

func (l simLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func simCreate(resID string) genesys.CreateCallbackRequest {
	return genesys.CreateCallbackRequest{
		QueueID:               simQueue,
		CallbackUserName:      "Jane Doe",
		CallbackNumbers:       []string{"+14155550123"},
		CallbackScheduledTime: simT0.Add(time.Hour),
		Data:                  map[string]string{resKey: resID},
	}
}

func TestSimLifecycle(t *testing.T) {
	t.Parallel()
	b := simSetup(t, gcsim.Options{})
	ctx := context.Background()

	created, err := b.client.CreateCallback(ctx, simCreate("res-1"))
	if err != nil {
		t.Fatal(err)
	}
	if created.ConversationID == "" || len(created.CallbackIdentifiers) == 0 {
		t.Fatalf("created = %+v", created)
	}

	cc, err := b.client.GetCallbackConversation(ctx, created.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := cc.Attribute(resKey); v != "res-1" {
		t.Errorf("attribute = %q", v)
	}
	// The GET callback view has no "scheduled" state; the generic view
	// does.
	cust := cc.Participant("customer")
	if cust == nil || cust.State != "none" || cust.CallbackScheduledTime == nil || !cust.CallbackScheduledTime.Equal(simT0.Add(time.Hour)) ||
		len(cc.OtherMediaURIs) != 0 {
		t.Fatalf("customer = %+v, other media %v", cust, cc.OtherMediaURIs)
	}

	newTime := simT0.Add(2 * time.Hour)
	if _, err := b.client.RescheduleCallback(ctx, genesys.PatchCallbackRequest{ConversationID: created.ConversationID, CallbackScheduledTime: newTime}); err != nil {
		t.Fatal(err)
	}
	cv, err := b.client.GetConversation(ctx, created.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	var scheduled *time.Time
	for _, p := range cv.Participants {
		for _, cb := range p.Callbacks {
			if cb.CallbackScheduledTime != nil {
				scheduled = cb.CallbackScheduledTime
			}
			if cb.State != "scheduled" {
				t.Errorf("%s callback state %q, want scheduled", p.Purpose, cb.State)
			}
		}
	}
	if scheduled == nil || !scheduled.Equal(newTime) {
		t.Errorf("rescheduled time = %v, want %v", scheduled, newTime)
	}

	if err := b.client.CancelCallback(ctx, created.ConversationID, created.CallbackIdentifiers); err != nil {
		t.Fatal(err)
	}
	// The bulk disconnect answers 202 and applies later: read it back.
	simWait(t, "the cancel lands", func() bool {
		cc, err = b.client.GetCallbackConversation(ctx, created.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		p := cc.Participant("customer")
		return p != nil && p.State == "disconnected"
	})
	// Cancelling again, or without identifiers, is harmless.
	if err := b.client.CancelCallback(ctx, created.ConversationID, nil); err != nil {
		t.Errorf("second cancel: %v", err)
	}
	if _, err := b.client.GetCallbackConversation(ctx, "no-such-conversation"); !genesys.IsNotFound(err) {
		t.Errorf("unknown conversation: %v", err)
	}
	if n := len(b.sim.Callbacks()); n != 1 {
		t.Errorf("simulator has %d callbacks, want 1", n)
	}
}

// TestSimLostResponse is the recovery the jobs perform: a create whose
// response is lost after the simulator committed it yields an
// UnknownOutcomeError; FindCallbacks and the attributes find it, and no
// second callback is created.
func TestSimLostResponse(t *testing.T) {
	t.Parallel()
	b := simSetup(t, gcsim.Options{})
	ctx := context.Background()
	if _, err := b.client.CreateCallback(ctx, simCreate("res-other")); err != nil { // a neighbour on the same number
		t.Fatal(err)
	}
	b.sim.FailNext(gcsim.Fault{Method: http.MethodPost, PathPrefix: "/api/v2/conversations/callbacks", LoseResponse: true})

	_, err := b.client.CreateCallback(ctx, simCreate("res-2"))
	var uo *genesys.UnknownOutcomeError
	if !errors.As(err, &uo) {
		t.Fatalf("err = %v, want *UnknownOutcomeError", err)
	}
	find := func() []string {
		t.Helper()
		ids, err := b.client.FindCallbacks(ctx, genesys.FindQuery{
			CallbackNumbers: []string{"+14155550123"}, From: simT0.Add(-time.Hour), To: simT0.Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	// Analytics shows them only once its delay has passed.
	if ids := find(); len(ids) != 0 {
		t.Fatalf("found %v before the analytics delay, want nothing yet", ids)
	}
	b.sim.Clock().Advance(gcsim.DefaultAnalyticsDelay)
	ids := find()
	var adopted []string
	for _, id := range ids {
		cc, err := b.client.GetCallbackConversation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := cc.Attribute(resKey); v == "res-2" {
			adopted = append(adopted, id)
		}
	}
	if len(ids) != 2 || len(adopted) != 1 {
		t.Fatalf("found %v, adopted %v; want 2 found, 1 adopted", ids, adopted)
	}
	var mine int
	for _, cb := range b.sim.Callbacks() {
		if cb.Data[resKey] == "res-2" {
			mine++
			if cb.ConversationID != adopted[0] {
				t.Errorf("adopted %s, simulator has %s", adopted[0], cb.ConversationID)
			}
		}
	}
	if mine != 1 {
		t.Errorf("simulator has %d callbacks for res-2, want exactly 1", mine)
	}
}

// TestSimFindSeveralNumbers: one analytics query with several numbers finds
// the callbacks to any of them, and no others.
func TestSimFindSeveralNumbers(t *testing.T) {
	t.Parallel()
	b := simSetup(t, gcsim.Options{})
	ctx := context.Background()
	want := map[string]bool{}
	for i, number := range []string{"+14155550101", "+14155550102", "+14155550103"} {
		req := simCreate(fmt.Sprintf("res-%d", i))
		req.CallbackNumbers = []string{number}
		cb, err := b.client.CreateCallback(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if i != 1 {
			want[cb.ConversationID] = true
		}
	}
	b.sim.Clock().Advance(gcsim.DefaultAnalyticsDelay)
	ids, err := b.client.FindCallbacks(ctx, genesys.FindQuery{
		CallbackNumbers: []string{"+14155550101", "+14155550103", "+14155550199"},
		From:            simT0.Add(-time.Hour), To: simT0.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || !want[ids[0]] || !want[ids[1]] {
		t.Errorf("found %v, want the two callbacks %v", ids, want)
	}
}

func TestSimFaults(t *testing.T) {
	t.Parallel()

	t.Run("429RetriedAfterRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := simSetup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{Method: http.MethodPost, PathPrefix: "/api/v2/conversations/callbacks", Status: 429, RetryAfter: time.Second})
		start := time.Now()
		if _, err := b.client.CreateCallback(context.Background(), simCreate("res-429")); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("create took %s, want ≥ 1 s (Retry-After)", d)
		}
		if n := len(b.sim.Callbacks()); n != 1 {
			t.Errorf("simulator has %d callbacks, want 1", n)
		}
	})

	t.Run("503OnCreateIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		b := simSetup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{Method: http.MethodPost, PathPrefix: "/api/v2/conversations/callbacks", Status: 503})
		_, err := b.client.CreateCallback(context.Background(), simCreate("res-503"))
		var uo *genesys.UnknownOutcomeError
		if !errors.As(err, &uo) {
			t.Fatalf("err = %v", err)
		}
		if got := b.sim.Stats().Count("POST /api/v2/conversations/callbacks", 0); got != 1 {
			t.Errorf("simulator saw %d creates, want 1", got)
		}
	})

	t.Run("503OnReadRetried", func(t *testing.T) {
		t.Parallel()
		b := simSetup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{Method: http.MethodGet, PathPrefix: "/api/v2/routing/queues/", Status: 503, Count: 2})
		q, err := b.client.GetQueue(context.Background(), simQueue)
		if err != nil {
			t.Fatal(err)
		}
		if q.ID != simQueue {
			t.Errorf("queue = %+v", q)
		}
	})

	t.Run("RevokedTokenRefreshed", func(t *testing.T) {
		t.Parallel()
		b := simSetup(t, gcsim.Options{})
		ctx := context.Background()
		if _, err := b.client.GetQueue(ctx, simQueue); err != nil {
			t.Fatal(err)
		}
		b.sim.RevokeTokens()
		if _, err := b.client.GetQueue(ctx, simQueue); err != nil {
			t.Fatalf("after revocation: %v", err)
		}
		if n := b.sim.Stats().TokensIssued; n != 2 {
			t.Errorf("tokens issued = %d, want 2", n)
		}
	})
}

func TestSimRoutingAndSMS(t *testing.T) {
	t.Parallel()
	b := simSetup(t, gcsim.Options{
		Queues: []gcsim.Queue{{ID: simQueue, Name: "Support", CallingPartyNumber: "+18005550100", SMSAddress: "+18005550199"}},
		ScheduleGroups: []gcsim.ScheduleGroup{{
			ID: "sg-1", Name: "Support hours", TimeZone: "America/New_York",
			Open:    []gcsim.Schedule{{ID: "sch-1", Name: "Weekdays", Start: "2026-03-02T08:00:00.000", End: "2026-03-02T17:00:00.000", RRule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}},
			Holiday: []gcsim.Schedule{{ID: "sch-3", Name: "Christmas", Start: "2026-12-25T00:00:00.000", End: "2026-12-26T00:00:00.000"}},
		}},
	})
	ctx := context.Background()
	q, err := b.client.GetQueue(ctx, simQueue)
	if err != nil {
		t.Fatal(err)
	}
	if q.Name != "Support" || q.CallingPartyNumber != "+18005550100" || q.OutboundMessagingAddresses == nil || q.OutboundMessagingAddresses.SMSAddress == nil {
		t.Errorf("queue = %+v", q)
	}
	g, err := b.client.GetScheduleGroup(ctx, "sg-1")
	if err != nil {
		t.Fatal(err)
	}
	if g.TimeZone != "America/New_York" || len(g.OpenSchedules) != 1 || len(g.HolidaySchedules) != 1 {
		t.Fatalf("group = %+v", g)
	}
	s, err := b.client.GetSchedule(ctx, g.OpenSchedules[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(g.TimeZone)
	start, end, err := s.Window(loc)
	if err != nil || start.UTC().Format(time.RFC3339) != "2026-03-02T13:00:00Z" || end.Sub(start) != 9*time.Hour {
		t.Errorf("window = %v–%v, %v", start, end, err)
	}

	if _, err := b.client.SendSMS(ctx, genesys.AgentlessMessage{FromAddress: "+18005550199", ToAddress: "+14155550123", TextBody: "We missed you."}); err != nil {
		t.Fatal(err)
	}
	if sms := b.sim.SMS(); len(sms) != 1 || sms[0].TextBody != "We missed you." {
		t.Errorf("sms = %+v", sms)
	}
}

func TestSimNotifications(t *testing.T) {
	t.Parallel()
	b := simSetup(t, gcsim.Options{HeartbeatEvery: 200 * time.Millisecond, SocketClosingDelay: 500 * time.Millisecond, AnswerRate: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	ch, err := b.client.CreateChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.client.ChannelExists(ctx, ch.ID); !ok || err != nil {
		t.Fatalf("ChannelExists = %v, %v", ok, err)
	}
	topic := genesys.QueueCallbacksTopic(simQueue)
	if _, err := b.client.Subscribe(ctx, ch.ID, []string{topic}, true); err != nil {
		t.Fatal(err)
	}
	topics, err := b.client.Subscribe(ctx, ch.ID, []string{genesys.QueueCallbacksTopic("unknown-queue")}, false)
	var tre *genesys.TopicRejectedError
	if !errors.As(err, &tre) || len(tre.Topics) != 1 || tre.Topics[0].RejectionReason == "" {
		t.Fatalf("subscribe unknown queue: %+v, %v", topics, err)
	}

	nc, err := genesys.DialNotifications(ctx, ch.ConnectURI)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// next reads until a notification satisfying ok arrives.
	next := func(what string, ok func(*genesys.Notification) bool) *genesys.Notification {
		t.Helper()
		for {
			n, err := nc.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if ok(n) {
				return n
			}
		}
	}
	next("heartbeat", (*genesys.Notification).IsHeartbeat)
	if err := nc.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	next("pong", (*genesys.Notification).IsPong)

	created, err := b.client.CreateCallback(ctx, simCreate("res-ev"))
	if err != nil {
		t.Fatal(err)
	}
	// The callbacks topic: flat callback participants, "scheduled" while
	// waiting.
	n := next("callbacks event", func(n *genesys.Notification) bool { return n.TopicName == topic })
	if cc, err := genesys.ParseCallbackEvent(n.EventBody); err != nil || cc.ID != created.ConversationID ||
		cc.Participant("customer").State != "scheduled" {
		t.Fatalf("callbacks event %s: %v", n.EventBody, err)
	}
	// The conversations topic: the generic view, the customer's call
	// included.
	if _, err := b.client.Subscribe(ctx, ch.ID, []string{genesys.QueueConversationsTopic(simQueue)}, false); err != nil {
		t.Fatal(err)
	}
	event := func(what string, ok func(*genesys.Conversation) bool) *genesys.Conversation {
		t.Helper()
		for {
			n := next(what, func(n *genesys.Notification) bool { return n.TopicName == genesys.QueueConversationsTopic(simQueue) })
			cv, err := genesys.ParseConversationEvent(n.EventBody)
			if err != nil {
				t.Fatal(err)
			}
			if cv.ID != created.ConversationID {
				t.Fatalf("event for %s, want %s", cv.ID, created.ConversationID)
			}
			if ok(cv) {
				return cv
			}
		}
	}
	b.sim.Clock().Advance(time.Hour + 25*time.Second) // offered, accepted, dialled, answered
	cv := event("the answered call", func(cv *genesys.Conversation) bool {
		return len(cv.Participants[0].Calls) == 1 && cv.Participants[0].Calls[0].ConnectedTime != nil
	})
	if v, _ := cv.Attribute(resKey); v != "res-ev" || cv.Participants[0].Purpose != "customer" || cv.Participants[0].Callbacks[0].State != "connected" {
		t.Errorf("event = %+v", cv)
	}
	b.sim.Clock().Advance(time.Hour) // hung up, wrapped up
	cv = event("the wrap-up", func(cv *genesys.Conversation) bool { return cv.Participants[2].Wrapup != nil })
	if call := cv.Participants[0].Calls[0]; call.DisconnectType != "endpoint" || len(call.DisconnectReasons) != 1 ||
		cv.Participants[2].Wrapup.Code != gcsim.WrapupReached.ID || cv.Participants[2].Purpose != "agent" {
		t.Errorf("ended: %+v, agent %+v", call, cv.Participants[2])
	}
	b.sim.SocketClosing(ch.ID)
	next("socket_closing", (*genesys.Notification).IsSocketClosing)
	// Reconnect to the same connectUri, as the official SDKs do.
	nc.Close()
	nc, err = genesys.DialNotifications(ctx, ch.ConnectURI)
	if err != nil {
		t.Fatal(err)
	}
	next("heartbeat after reconnect", (*genesys.Notification).IsHeartbeat)

	b.sim.ExpireChannel(ch.ID)
	if ok, err := b.client.ChannelExists(ctx, ch.ID); ok || err != nil {
		t.Errorf("expired channel: ChannelExists = %v, %v", ok, err)
	}
}

// TestSimFindTelNumbers: analytics holding numbers as "tel:+1…" still
// finds the callback, without the queue predicate.
func TestSimFindTelNumbers(t *testing.T) {
	t.Parallel()
	b := simSetup(t, gcsim.Options{AnalyticsTelNumbers: true, AnalyticsDelay: -1})
	ctx := context.Background()
	cb, err := b.client.CreateCallback(ctx, simCreate("res-tel"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := b.client.FindCallbacks(ctx, genesys.FindQuery{
		CallbackNumbers: []string{"+14155550123"}, From: simT0.Add(-time.Hour), To: simT0.Add(time.Hour),
	})
	if err != nil || len(ids) != 1 || ids[0] != cb.ConversationID {
		t.Fatalf("found %v (%v), want %s", ids, err, cb.ConversationID)
	}
}

// TestSimRescheduleAgentRequired: a Genesys that requires agentId refuses
// a reschedule without it (IsAgentRequired), and with an agent other than
// the owner; the owner read from the conversation works.
func TestSimRescheduleAgentRequired(t *testing.T) {
	t.Parallel()
	b := simSetup(t, gcsim.Options{RequireAgentID: true})
	ctx := context.Background()
	cb, err := b.client.CreateCallback(ctx, simCreate("res-owned"))
	if err != nil {
		t.Fatal(err)
	}
	patch := genesys.PatchCallbackRequest{ConversationID: cb.ConversationID, CallbackScheduledTime: simT0.Add(3 * time.Hour)}
	if _, err := b.client.RescheduleCallback(ctx, patch); !genesys.IsAgentRequired(err) || !genesys.IsPermanent(err) {
		t.Fatalf("without agentId: %v, want the agentId refusal", err)
	}
	agents := b.sim.AgentIDs()
	if err := b.sim.SetOwner(cb.ConversationID, agents[1]); err != nil {
		t.Fatal(err)
	}
	cc, err := b.client.GetCallbackConversation(ctx, cb.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if got := cc.Owner(); got != agents[1] {
		t.Fatalf("owner = %q, want %q", got, agents[1])
	}
	patch.AgentID = agents[0]
	if _, err := b.client.RescheduleCallback(ctx, patch); !genesys.IsAgentRequired(err) {
		t.Errorf("with another agent: %v, want the agentId refusal", err)
	}
	patch.AgentID = cc.Owner()
	if _, err := b.client.RescheduleCallback(ctx, patch); err != nil {
		t.Fatalf("with the owner: %v", err)
	}
	got := b.sim.Callbacks()[0]
	if !got.ScheduledTime.Equal(patch.CallbackScheduledTime) || fmt.Sprint(got.PatchAgentIDs) != fmt.Sprint([]string{agents[1]}) {
		t.Errorf("callback = %+v", got)
	}
	if genesys.IsAgentRequired(&genesys.APIError{Status: 400, Code: "bad.request", Message: "callbackScheduledTime is invalid"}) {
		t.Error("an unrelated 400 reads as the agentId refusal")
	}
}

// TestSimSMSRefusals: the customer's active conversation is used when
// asked (and refuses the send otherwise, transiently); a number not
// provisioned and a 10DLC block are permanent; a 503 is transient.
func TestSimSMSRefusals(t *testing.T) {
	t.Parallel()
	const from, to = "+18005550199", "+14155550123"
	b := simSetup(t, gcsim.Options{Queues: []gcsim.Queue{{ID: simQueue, SMSAddress: from}}})
	ctx := context.Background()
	msg := genesys.AgentlessMessage{FromAddress: from, ToAddress: to, TextBody: "We missed you."}
	active := b.sim.OpenSMSConversation(from, to)

	_, err := b.client.SendSMS(ctx, msg)
	if got := genesys.ClassifySMSError(err); got != (genesys.SMSRefusal{Reason: genesys.SMSActiveConversation}) {
		t.Errorf("into an active conversation without the flag: %v → %+v", err, got)
	}
	msg.UseExistingActiveConversation = true
	resp, err := b.client.SendSMS(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if sms := b.sim.SMS(); len(sms) != 1 || resp.ConversationID != active || !sms[0].ExistingConversation {
		t.Errorf("with the flag: %+v, sent %+v; want it in conversation %s", resp, sms, active)
	}

	for _, tc := range []struct {
		name string
		prep func()
		msg  genesys.AgentlessMessage
		want genesys.SMSRefusal
	}{
		{"not provisioned", func() {}, genesys.AgentlessMessage{FromAddress: "+18005550100", ToAddress: to, TextBody: "x"},
			genesys.SMSRefusal{Permanent: true, Reason: genesys.SMSFromAddress}},
		{"10DLC", func() { b.sim.RefuseSMS(from, gcsim.SMSRefusal10DLC) }, msg,
			genesys.SMSRefusal{Permanent: true, Reason: genesys.SMS10DLC}},
		{"503", func() {
			b.sim.RefuseSMS(from, "")
			b.sim.FailNext(gcsim.Fault{PathPrefix: "/api/v2/conversations/messages/agentless", Status: 503, Count: 10})
		}, msg, genesys.SMSRefusal{Reason: genesys.SMSServer}},
	} {
		tc.prep()
		_, err := b.client.SendSMS(ctx, tc.msg)
		if got := genesys.ClassifySMSError(err); got != tc.want {
			t.Errorf("%s: %v → %+v, want %+v", tc.name, err, got, tc.want)
		}
	}
}
