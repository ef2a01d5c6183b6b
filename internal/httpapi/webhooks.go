package httpapi

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/ical"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/webhook"
)

type endpointJSON struct {
	ID                      string   `json:"id"`
	ClientID                string   `json:"client_id"`
	Name                    string   `json:"name"`
	URL                     string   `json:"url"`
	ContentType             string   `json:"content_type"`
	Enabled                 bool     `json:"enabled"`
	Events                  []string `json:"events"`
	Queues                  []string `json:"queues"`
	IncludeNumbers          bool     `json:"include_numbers"`
	DisabledReason          string   `json:"disabled_reason,omitempty"`
	FailingSince            string   `json:"failing_since,omitempty"`
	PreviousSecretExpiresAt string   `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               string   `json:"created_at"`
	UpdatedAt               string   `json:"updated_at"`
	Secret                  string   `json:"secret,omitempty"`
}

func renderEndpoint(e *storage.Endpoint, withSecret bool) endpointJSON {
	out := endpointJSON{ID: e.ID, ClientID: e.ClientID, Name: e.Name, URL: e.URL, ContentType: e.ContentType, Enabled: e.Enabled,
		Events: e.EventTypes, Queues: e.QueueIDs, IncludeNumbers: e.IncludeNumbers, DisabledReason: e.DisabledReason,
		CreatedAt: e.CreatedAt.UTC().Format(reservation.TimeFormat), UpdatedAt: e.UpdatedAt.UTC().Format(reservation.TimeFormat)}
	if out.Events == nil {
		out.Events = []string{}
	}
	if out.Queues == nil {
		out.Queues = []string{}
	}
	if !e.FailingSince.IsZero() {
		out.FailingSince = e.FailingSince.UTC().Format(reservation.TimeFormat)
	}
	if e.PreviousSecret != "" && time.Now().Before(e.PreviousUntil) {
		out.PreviousSecretExpiresAt = e.PreviousUntil.UTC().Format(reservation.TimeFormat)
	}
	if withSecret {
		out.Secret = e.Secret
	}
	return out
}

func (s *Server) webhooksReady(w http.ResponseWriter, r *http.Request) bool {
	if s.Webhooks == nil || s.Dispatcher == nil {
		s.problem(w, r, reservation.Errorf(reservation.EUNAVAILABLE, "webhooks are not running"))
		return false
	}
	return true
}

// webhookWrite is a webhooks route's write: by the calling client, on its
// own endpoints only unless it holds webhook:admin.
func webhookWrite(r *http.Request) reservation.Write {
	ri := info(r)
	w := reservation.Write{Actor: ri.principal.ClientID, Origin: reservation.OriginAPI, RequestID: ri.id}
	if !ri.principal.Has(auth.ScopeWebhookAdmin) {
		w.Owner = w.Actor
	}
	return w
}

// endpoint reads an endpoint the caller may reach: its own, or any with
// webhook:admin. Another client's answers ENOTFOUND, as if it did not
// exist.
func (s *Server) endpoint(r *http.Request, id string) (*storage.Endpoint, error) {
	e, err := s.Store.FindEndpoint(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if o := webhookWrite(r).Owner; o != "" && e.ClientID != o {
		return nil, storage.EndpointNotFound(id)
	}
	return e, nil
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	body, err := readJSON(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	req, err := webhook.DecodeEndpointRequest(body)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	ri := info(r)
	e, err := s.Webhooks.Create(r.Context(), webhookWrite(r), req)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	ri.target = e.ID
	w.Header().Set("Location", "/api/v2/webhooks/"+e.ID)
	writeJSON(w, http.StatusCreated, renderEndpoint(e, true))
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	eps, err := s.Store.FindEndpoints(r.Context())
	if err != nil {
		s.problem(w, r, err)
		return
	}
	owner := webhookWrite(r).Owner
	items := []endpointJSON{}
	for _, e := range eps {
		if owner == "" || e.ClientID == owner {
			items = append(items, renderEndpoint(e, false))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	e, err := s.endpoint(r, r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderEndpoint(e, false))
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	body, err := readJSON(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	req, err := webhook.DecodeEndpointRequest(body)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	e, err := s.Webhooks.Update(r.Context(), webhookWrite(r), r.PathValue("id"), req)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if e.Enabled {
		// Deliveries may have waited while it was off or failing.
		_ = s.Dispatcher.Kick(r.Context(), e.ID)
	}
	writeJSON(w, http.StatusOK, renderEndpoint(e, false))
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	if err := s.Webhooks.Delete(r.Context(), webhookWrite(r), r.PathValue("id")); err != nil {
		s.problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRotateWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	e, err := s.Webhooks.Rotate(r.Context(), webhookWrite(r), r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderEndpoint(e, true))
}

type deliveryJSON struct {
	ID            string `json:"id"`
	EventSeq      int64  `json:"event_seq"`
	EventType     string `json:"event_type"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
	LastStatus    int    `json:"last_status,omitempty"`
	LastLatencyMS int    `json:"last_latency_ms,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	CreatedAt     string `json:"created_at"`
	DeliveredAt   string `json:"delivered_at,omitempty"`
}

func renderDelivery(d *storage.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventSeq: d.EventSeq, EventType: d.EventType, Status: d.Status, Attempts: d.Attempts,
		LastStatus: d.LastStatus, LastLatencyMS: d.LastLatencyMS, LastError: d.LastError,
		CreatedAt: d.CreatedAt.UTC().Format(reservation.TimeFormat)}
	if d.Status == storage.DeliveryPending {
		out.NextAttemptAt = d.NextAttemptAt.UTC().Format(reservation.TimeFormat)
	}
	if !d.DeliveredAt.IsZero() {
		out.DeliveredAt = d.DeliveredAt.UTC().Format(reservation.TimeFormat)
	}
	return out
}

func (s *Server) handleListDeliveries(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	id := r.PathValue("id")
	if _, err := s.endpoint(r, id); err != nil {
		s.problem(w, r, err)
		return
	}
	q, err := query(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	status := q.Get("status")
	switch status {
	case "", storage.DeliveryPending, storage.DeliveryDelivered, storage.DeliveryFailed, storage.DeliveryCanceled:
	default:
		s.problem(w, r, reservation.FieldError("status", "must be pending, delivered, failed or canceled"))
		return
	}
	limit := 50
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			s.problem(w, r, reservation.FieldError("limit", "must be from 1 to 500"))
			return
		}
		limit = n
	}
	ds, next, err := s.Store.FindDeliveries(r.Context(), id, status, q.Get("cursor"), limit)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	items := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		items[i] = renderDelivery(d)
	}
	out := map[string]any{"items": items}
	if next != "" {
		out["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRetryDelivery(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	id := r.PathValue("id")
	if _, err := s.endpoint(r, id); err != nil {
		s.problem(w, r, err)
		return
	}
	d, err := s.Dispatcher.Retry(r.Context(), id, r.PathValue("delivery"), webhookWrite(r))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, renderDelivery(d))
}

func (s *Server) handleTestWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhooksReady(w, r) {
		return
	}
	id := r.PathValue("id")
	ep, err := s.endpoint(r, id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	did, err := s.Dispatcher.Ping(r.Context(), ep, webhookWrite(r))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"delivery_id": did})
}

// writeCalendar answers with an iCalendar document (a feed: no METHOD).
func (s *Server) writeCalendar(w http.ResponseWriter, r *http.Request, events []ical.Event) {
	var buf bytes.Buffer
	if err := ical.Write(&buf, "", events); err != nil {
		s.problem(w, r, fmt.Errorf("calendar: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=60")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// handleReservationICS serves GET /api/v2/callbacks/{id}.ics.
func (s *Server) handleReservationICS(w http.ResponseWriter, r *http.Request, id string) {
	res, err := s.Booking.Find(r.Context(), reader(r), id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	q, _ := s.Booking.Queue(res.QueueID)
	name := res.QueueID
	if q != nil {
		name = q.Name
	}
	s.writeCalendar(w, r, []ical.Event{ical.FromReservation(res, name, false, time.Now())})
}

// feedToken reads a feed token's digest.
func feedDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// handleQueueCalendar serves GET /api/v2/queues/{id}/calendar.ics: the
// queue's reservations from a day ago to the end of its booking window, as
// a feed for calendar apps. A Bearer token with callback:read works, and so
// does ?token= with a feed token (calendar apps cannot send headers). The
// feed holds the reservations of the token's client, or of every client
// when that client holds callback:admin.
func (s *Server) handleQueueCalendar(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var c booking.Caller
	v, err := query(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if tok := v.Get("token"); tok != "" {
		// An unknown queue has no token: the same 401, so that queue ids
		// cannot be probed (an id that cannot exist is not looked up). So
		// has a client no longer configured.
		client := ""
		if validID(id) {
			if client, err = s.Store.FeedTokenOwner(r.Context(), id, feedDigest(tok)); err != nil {
				s.problem(w, r, err)
				return
			}
		}
		if client == "" || !s.Auth.ClientHas(client, "callback:read") {
			s.problem(w, r, reservation.Errorf(reservation.EUNAUTHORIZED, "the feed token is not valid (it may have been rotated)"))
			return
		}
		c = booking.Caller{ClientID: client, All: s.Auth.ClientHas(client, auth.ScopeCallbackAdmin)}
	} else if !s.authorizedInline(w, r, "callback:read") {
		return
	} else {
		c = reader(r)
	}
	q, err := s.Booking.Queue(id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	now := time.Now()
	f := reservation.Filter{QueueID: q.ID, From: now.Add(-24 * time.Hour), To: now.Add(q.Calendar.Horizon + 24*time.Hour), Limit: 500}
	var events []ical.Event
	for pages := 0; pages < 20; pages++ {
		items, next, err := s.Booking.List(r.Context(), c, f)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		for _, res := range items {
			events = append(events, ical.FromReservation(res, q.Name, false, now))
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	s.writeCalendar(w, r, events)
}

// authorizedInline applies authorize's checks inside a handler.
func (s *Server) authorizedInline(w http.ResponseWriter, r *http.Request, scope string) bool {
	ok := false
	s.authorize(scope, "", func(http.ResponseWriter, *http.Request) { ok = true }).ServeHTTP(w, r)
	return ok
}

// handleFeedToken serves POST /api/v2/queues/{id}/calendar-token: a new
// feed token of the calling client for the queue (the client's previous
// one stops working; other clients' are untouched).
func (s *Server) handleFeedToken(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := "cal_" + base64.RawURLEncoding.EncodeToString(b)
	ri := info(r)
	if err := s.Store.SetFeedToken(r.Context(), ri.principal.ClientID, q.ID, feedDigest(token),
		reservation.Write{Actor: ri.principal.ClientID, Origin: reservation.OriginAPI, RequestID: ri.id}); err != nil {
		s.problem(w, r, err)
		return
	}
	path := "/api/v2/queues/" + q.ID + "/calendar.ics?token=" + token
	feed := path
	if s.PublicURL != "" {
		feed = strings.TrimRight(s.PublicURL, "/") + path
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token, "feed_url": feed})
}
