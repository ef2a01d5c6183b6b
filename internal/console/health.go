package console

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/report"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/syncer"
)

// HealthDeps is what the health and reports pages need; a nil field
// leaves its part of the page out (or its action 404).
type HealthDeps struct {
	// Store reads the sync backlog, the failed syncs, the webhook
	// endpoints and deliveries and the outcome report's facts.
	Store HealthStore
	// RetrySync tries a reservation's failed sync again now, audited with
	// w's actor (storage.RetrySync with syncer.Runner.EnqueueRetry).
	// Errors: ENOTFOUND, EINVALID (not retryable).
	RetrySync func(ctx context.Context, id string, w reservation.Write) error
	// Listener reports the notification listener's state in this process
	// (syncer.Listener.Status).
	Listener func() syncer.ListenerStatus
	// Budget reports the Genesys budget (genesys.Client.BudgetStatus).
	Budget func() genesys.BudgetStatus
	// ReplayDelivery makes a webhook delivery due again now and starts it
	// (webhook.Dispatcher.Retry, as POST
	// /api/v2/webhooks/{id}/deliveries/{delivery}/retry). Errors:
	// ENOTFOUND.
	ReplayDelivery func(ctx context.Context, endpointID, deliveryID string, w reservation.Write) (*storage.Delivery, error)
}

// HealthStore is what the health and reports pages read (storage.Store).
type HealthStore interface {
	FindReservationByID(ctx context.Context, id string) (*reservation.Reservation, error)
	FindSyncBacklog(ctx context.Context, queueIDs []string) ([]storage.SyncBacklog, error)
	FindFailedSyncs(ctx context.Context, queueIDs []string, limit int) ([]*reservation.Reservation, error)
	FindEndpoints(ctx context.Context) ([]*storage.Endpoint, error)
	FindDeliveries(ctx context.Context, endpointID, status, cursor string, limit int) ([]*storage.Delivery, string, error)
	OutcomeFacts(ctx context.Context, queueID, clientID string, from, to time.Time) ([]report.Facts, error)
}

// healthRoutes registers the health and reports pages and their actions.
func (s *Server) healthRoutes() {
	m := s.mux
	m.Handle("GET /console/health", s.Require(Viewer)(http.HandlerFunc(s.handleHealth)))
	m.Handle("POST /console/reservations/{id}/retry-sync", s.Require(Supervisor)(http.HandlerFunc(s.handleRetrySync)))
	m.Handle("POST /console/webhooks/{id}/deliveries/{delivery}/replay", s.Require(Admin)(http.HandlerFunc(s.handleReplay)))
	m.Handle("GET /console/reports", s.Require(Viewer)(http.HandlerFunc(s.handleReports)))
	m.Handle("GET /console/reports.csv", s.Require(Viewer)(http.HandlerFunc(s.handleReportsCSV)))
}

// Limits of the health page's lists.
const (
	healthFailedSyncs = 50
	healthDeliveries  = 10
)

// healthPage is GET /console/health.
type healthPage struct {
	page
	// Notice is the confirmation of an action just done ("" when none).
	Notice  string
	Backlog []backlogRow
	Failed  []failedRow
	// Listener and Budget are nil when not wired.
	Listener *listenerView
	Budget   *budgetView
	// Webhooks are shown to admins only (ShowWebhooks).
	ShowWebhooks bool
	Endpoints    []endpointView
}

type backlogRow struct {
	Queue   Queue
	Pending int
	// Oldest is when the oldest waiting change was made, and Age how
	// long it has waited ("" when none waits).
	Oldest, Age string
	Failed      int
}

type failedRow struct {
	ID, Queue, Slot, Status, Reason string
	Attempts                        int
	// CanRetry: the operator may retry it and it is retryable.
	CanRetry bool
}

type listenerView struct {
	State, Since, Channel, LastMessage, LastError string
}

type budgetView struct {
	Kind, Limit, PerMinute, Used, Paused string
}

type endpointView struct {
	ID, Name, URL, State string
	Deliveries           []deliveryView
}

type deliveryView struct {
	ID, Event, Status, Created, Response, Error string
	Attempts                                    int
}

// visibleQueues are the configured queues the operator may see.
func (s *Server) visibleQueues(op Operator) []Queue {
	var out []Queue
	for _, q := range s.queues {
		if op.CanSee(q.ID) {
			out = append(out, q)
		}
	}
	return out
}

// zoneOf is a queue's time zone (UTC when unknown).
func (s *Server) zoneOf(queueID string) *time.Location {
	if s.booking != nil {
		if q, err := s.booking.Queue(queueID); err == nil && q.Calendar.Location != nil {
			return q.Calendar.Location
		}
	}
	return time.UTC
}

// stamp writes t in loc as "2006-01-02 15:04 MST" ("" for the zero time).
func stamp(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// age writes a duration for people, in the page's language: "45 s",
// "12 min", "3 h 5 min", "2 d 4 h".
func (p *page) age(d time.Duration) string {
	d = max(d, 0)
	n := func(v time.Duration) string { return strconv.FormatInt(int64(v), 10) }
	switch {
	case d < time.Minute:
		return p.T("health.age_s", "n", n(d/time.Second))
	case d < time.Hour:
		return p.T("health.age_min", "n", n(d/time.Minute))
	case d < 24*time.Hour:
		return p.T("health.age_h", "h", n(d/time.Hour), "m", n(d%time.Hour/time.Minute))
	}
	return p.T("health.age_d", "d", n(d/(24*time.Hour)), "h", n(d%(24*time.Hour)/time.Hour))
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	op, _ := OperatorFrom(ctx)
	p := healthPage{page: s.page(r, "health.title")}
	p.Styles = []string{"health.css"}
	now := s.now()
	switch q := r.URL.Query(); {
	case q.Get("retried") != "":
		p.Notice = p.T("health.retried", "id", q.Get("retried"))
	case q.Get("replayed") != "":
		p.Notice = p.T("health.replayed", "id", q.Get("replayed"))
	}
	queues := s.visibleQueues(op)
	ids := make([]string, len(queues))
	names := map[string]string{}
	for i, q := range queues {
		ids[i], names[q.ID] = q.ID, q.Name
	}
	if st := s.health.Store; st != nil {
		backlog, err := st.FindSyncBacklog(ctx, ids)
		if err != nil {
			s.unavailable(w, r, "find sync backlog", err)
			return
		}
		for i, b := range backlog {
			row := backlogRow{Queue: queues[i], Pending: b.Pending, Failed: b.Failed}
			if !b.OldestAt.IsZero() {
				row.Oldest, row.Age = stamp(b.OldestAt, s.zoneOf(b.QueueID)), p.age(now.Sub(b.OldestAt))
			}
			p.Backlog = append(p.Backlog, row)
		}
		failed, err := st.FindFailedSyncs(ctx, ids, healthFailedSyncs)
		if err != nil {
			s.unavailable(w, r, "find failed syncs", err)
			return
		}
		for _, res := range failed {
			loc := s.zoneOf(res.QueueID)
			p.Failed = append(p.Failed, failedRow{ID: res.ID, Queue: names[res.QueueID], Slot: stamp(res.Slot.Start, loc),
				Status: p.T("health.status." + string(res.Status)), Reason: res.Sync.LastError, Attempts: res.Sync.Attempts,
				CanRetry: s.health.RetrySync != nil && op.CanChange(res.QueueID) && syncer.Retryable(res, now)})
		}
		if op.Role >= Admin {
			p.ShowWebhooks = true
			if p.Endpoints, err = s.endpointViews(ctx, &p.page); err != nil {
				s.unavailable(w, r, "find webhook endpoints", err)
				return
			}
		}
	}
	if s.health.Listener != nil {
		st := s.health.Listener()
		v := &listenerView{State: p.T("health.listener." + st.State), Channel: st.ChannelID, LastError: st.LastError}
		if !st.Since.IsZero() {
			v.Since = p.T("health.ago", "age", p.age(now.Sub(st.Since)))
		}
		if !st.LastMessage.IsZero() {
			v.LastMessage = p.T("health.ago", "age", p.age(now.Sub(st.LastMessage)))
		}
		p.Listener = v
	}
	if s.health.Budget != nil {
		st := s.health.Budget()
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
		v := &budgetView{Kind: p.T("health.budget.process"), Limit: f(st.Limit), PerMinute: f(st.PerMinute), Used: strconv.Itoa(st.Used),
			Paused: p.T("health.budget.not_paused")}
		if st.Shared {
			v.Kind = p.T("health.budget.shared")
		}
		if st.PausedUntil.After(now) {
			v.Paused = p.T("health.budget.paused", "time", stamp(st.PausedUntil, time.UTC), "age", p.age(st.PausedUntil.Sub(now)))
		}
		p.Budget = v
	}
	s.render(w, r, http.StatusOK, "health", &p)
}

// endpointViews reads every webhook endpoint with its latest deliveries.
func (s *Server) endpointViews(ctx context.Context, p *page) ([]endpointView, error) {
	eps, err := s.health.Store.FindEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	var out []endpointView
	for _, e := range eps {
		v := endpointView{ID: e.ID, Name: e.Name, URL: e.URL, State: p.T("health.endpoint.enabled")}
		switch {
		case !e.Enabled && e.DisabledReason != "":
			v.State = p.T("health.endpoint.disabled_because", "reason", e.DisabledReason)
		case !e.Enabled:
			v.State = p.T("health.endpoint.disabled")
		case !e.FailingSince.IsZero():
			v.State = p.T("health.endpoint.failing", "time", stamp(e.FailingSince, time.UTC))
		}
		ds, _, err := s.health.Store.FindDeliveries(ctx, e.ID, "", "", healthDeliveries)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			dv := deliveryView{ID: d.ID, Event: d.EventType, Status: p.T("health.delivery." + d.Status), Attempts: d.Attempts,
				Created: stamp(d.CreatedAt, time.UTC), Error: d.LastError}
			if d.LastStatus != 0 {
				dv.Response = strconv.Itoa(d.LastStatus)
			}
			v.Deliveries = append(v.Deliveries, dv)
		}
		out = append(out, v)
	}
	return out, nil
}

// handleReplay is POST /console/webhooks/{id}/deliveries/{delivery}/replay
// (admin): the delivery is made due again now and sent (audited as
// webhook.delivery_retry by the operator); it redirects (303) to the
// health page's webhooks with replayed=ID.
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	op, _ := OperatorFrom(r.Context())
	if s.health.ReplayDelivery == nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	id, del := r.PathValue("id"), r.PathValue("delivery")
	_, err := s.health.ReplayDelivery(r.Context(), id, del, reservation.Write{Actor: op.AuditActor(),
		Origin: reservation.OriginOperator, RequestID: w.Header().Get("X-Request-Id")})
	if s.actionFailed(w, r, "replay webhook delivery", err) {
		return
	}
	http.Redirect(w, r, withQuery("/console/health#webhooks", "replayed", del), http.StatusSeeOther)
}
