package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// problemTypes maps each error code to its HTTP status, title and a
// description served at its type URI.
var problemTypes = map[string]struct {
	status int
	title  string
	about  string
}{
	reservation.EINVALID:         {http.StatusBadRequest, "Invalid request", "The request is malformed or breaks a rule; the errors member names each field and what is wrong with it. For time slots it also lists each candidate's reason and the nearest free slots."},
	reservation.ENOTFOUND:        {http.StatusNotFound, "Not found", "The resource does not exist."},
	reservation.EMETHOD:          {http.StatusMethodNotAllowed, "Method not allowed", "The resource exists but does not support this method; the Allow header lists the ones it does."},
	reservation.ECONFLICT:        {http.StatusConflict, "Conflict", "Every candidate slot is full (see candidates and nearest_free_slots), the reservation can no longer change, or an idempotency key was reused with a different request."},
	reservation.EPRECONDITION:    {http.StatusPreconditionFailed, "Precondition failed", "If-Match does not match the reservation's current version. Read it again and retry."},
	reservation.EUNAUTHORIZED:    {http.StatusUnauthorized, "Unauthorized", "No valid Bearer token. Get one from POST /oauth/token."},
	reservation.EFORBIDDEN:       {http.StatusForbidden, "Forbidden", "The token lacks the scope this route needs."},
	reservation.ERATELIMITED:     {http.StatusTooManyRequests, "Too many requests", "The client, the publishable key or the source address is over its rate limit. Wait for Retry-After seconds."},
	reservation.ETOOMANYSTREAMS:  {http.StatusTooManyRequests, "Too many streams", "The client already holds as many event stream subscriptions as the server allows one client (stream.max_subscriptions_per_client, counted per server process). Close one, or wait for one to end, before opening another; a request that names a durable subscription the client holds open takes it over instead."},
	reservation.ETOOLARGE:        {http.StatusRequestEntityTooLarge, "Payload too large", "The request body is over 64 KiB."},
	reservation.EUNSUPPORTEDTYPE: {http.StatusUnsupportedMediaType, "Unsupported media type", "Send JSON with Content-Type: application/json."},
	reservation.EUNAVAILABLE:     {http.StatusServiceUnavailable, "Service unavailable", "A dependency is down; retry later."},
	reservation.EINTERNAL:        {http.StatusInternalServerError, "Internal error", "Something failed on our side; the request id identifies it in our logs."},

	reservation.ECHANGENOTALLOWED: {http.StatusConflict, "Change not allowed", "The queue's self-service policy does not allow this change any more: its cutoff before the callback has passed, or the reservation was rescheduled as many times as it allows (max_reschedules); reason says which."},
	reservation.EGONE:             {http.StatusGone, "Gone", "The self-service link has expired (it is valid until the callback's end plus self_service.link_ttl)."},
	reservation.ENOTALLOWED:       {http.StatusBadRequest, "Number not allowed", "The queue's number rules (number_rules: countries, block, refuse_types) refuse the callback number; errors.callback_number says why."},
	reservation.EDUPLICATE:        {http.StatusConflict, "Duplicate", "The callback number already has an active (scheduled or in_progress) reservation in the queue's scope (duplicates: strict); duplicate_of names it when the client may see it."},
	reservation.ETHROTTLED:        {http.StatusTooManyRequests, "Throttled", "The queue's throttle (per_number or per_queue) allows no more creates over its rolling window now. Wait for Retry-After seconds."},

	reservation.EORIGINNOTALLOWED: {http.StatusForbidden, "Origin not allowed", "The publishable key is not accepted from the page's origin: the request's Origin header is not one of the key's origins (publishable_keys[].origins, scheme://host[:port] exactly). Serve the page from a listed origin, or add the origin to the key."},
	reservation.EPROOFREQUIRED:    {http.StatusForbidden, "Proof of work required", "A create with a publishable key needs a proof of work: fetch a challenge from GET /api/v2/challenge, find the number n for which hex(SHA-256(salt + n)) is the challenge, and send base64 of {algorithm, challenge, number, salt, signature} as JSON in the Slotline-Proof header. Each proof is good for one create until the challenge expires; this one was missing, wrong, expired or used before."},
}

// problem renders err as RFC 9457 application/problem+json. An uncoded error
// becomes a 500 whose cause is logged here, once, and never sent. A refused
// write by an authenticated client is recorded in the audit log.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, err error) {
	code := reservation.ErrorCode(err)
	pt, ok := problemTypes[code]
	if !ok {
		code, pt = reservation.EINTERNAL, problemTypes[reservation.EINTERNAL]
	}
	ri := info(r)
	body := map[string]any{
		"type":     "/problems/" + code,
		"title":    pt.title,
		"status":   pt.status,
		"detail":   reservation.ErrorMessage(err),
		"instance": "urn:slotline:request:" + ri.id,
		"code":     code,
	}
	if e := (*reservation.Error)(nil); errors.As(err, &e) {
		if len(e.Fields) > 0 {
			body["errors"] = e.Fields
		}
		for k, v := range e.Extra {
			body[k] = v
		}
		if code == reservation.ETHROTTLED {
			if secs, ok := e.Extra["retry_after"].(int); ok {
				w.Header().Set("Retry-After", strconv.Itoa(secs))
			}
		}
	}
	if code == reservation.EINTERNAL {
		s.Logger.ErrorContext(r.Context(), "internal error", "request_id", ri.id, "method", r.Method, "route", r.Pattern, "err", err)
		body["detail"] = "Internal error."
	}
	s.auditRefusal(r, pt.status, code, reservation.ErrorMessage(err))
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(pt.status)
	_ = json.NewEncoder(w).Encode(body)
}

// auditRefusal records a refused write of an authenticated client (not rate
// limiting, which would let a flood fill the log, and not server errors).
func (s *Server) auditRefusal(r *http.Request, status int, code, msg string) {
	ri := info(r)
	if ri.action == "" || ri.principal == nil || status == http.StatusTooManyRequests || status >= 500 {
		return
	}
	if code == reservation.EPROOFREQUIRED {
		// Anyone may hold a publishable key: a bot's proofless creates
		// would fill the log.
		return
	}
	target := auditText(r.PathValue("id"))
	if target == "" {
		target = ri.target
	}
	detail, _ := json.Marshal(map[string]any{"status": status, "code": code, "message": msg, "request_id": ri.id})
	entry := &audit.Entry{At: time.Now(), Actor: ri.principal.ClientID, Action: ri.action, Target: target,
		Outcome: audit.OutcomeRefused, Detail: string(detail)}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.Store.RecordAudit(ctx, entry); err != nil {
		s.Logger.ErrorContext(ctx, "audit refused write", "request_id", ri.id, "err", err)
		return
	}
	s.Metrics.AuditRefusals.Inc()
}

func (s *Server) handleProblemType(w http.ResponseWriter, r *http.Request) {
	pt, ok := problemTypes[r.PathValue("code")]
	if !ok {
		s.problem(w, r, reservation.Errorf(reservation.ENOTFOUND, "no such problem type"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%d %s\n\n%s\n", pt.status, pt.title, pt.about)
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
