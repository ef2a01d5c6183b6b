// SPDX-License-Identifier: Apache-2.0

// Package metrics defines Slotline's Prometheus metrics on a registry of its
// own (no global state), served at /metrics.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector.
type Metrics struct {
	Registry *prometheus.Registry

	// HTTPRequests observes request latency by route pattern, method and status.
	HTTPRequests *prometheus.HistogramVec
	// Admissions counts admission attempts by outcome and rejection reason.
	Admissions *prometheus.CounterVec
	// Stages observes the time spent in each stage of an admission.
	Stages *prometheus.HistogramVec
	// AuditRefusals counts refused writes recorded in the audit log.
	AuditRefusals prometheus.Counter
	// Connections is the number of connections the HTTP listener holds
	// open; ConnectionsRefused counts those closed at once, over a cap,
	// by reason (max_connections, max_connections_per_address).
	Connections        prometheus.Gauge
	ConnectionsRefused *prometheus.CounterVec
	// TokenRefusals counts refused token requests by reason
	// (bad_credentials, throttled, rate_limited).
	TokenRefusals *prometheus.CounterVec
	// KeyRefusals counts refused requests with a publishable key, and
	// refused challenges, by reason (unknown_key, origin_not_allowed,
	// rate_limited, forbidden, proof_required, challenge_rate_limited).
	KeyRefusals *prometheus.CounterVec

	// Genesys client.
	GenesysCalls   *prometheus.HistogramVec // op, status
	GenesysRetries *prometheus.CounterVec   // op, reason (429, 5xx, network, 401)
	GenesysTokens  prometheus.Counter
	Genesys429     prometheus.Counter
	// The rate limit: Genesys' inin-ratelimit-allowed, -count and -reset as
	// last seen, the limit the budget holds the calls to, and the pauses
	// (count and total length) by reason (retry_after, count, deployment).
	GenesysAllowed      prometheus.Gauge
	GenesysCount        prometheus.Gauge
	GenesysReset        prometheus.Gauge
	GenesysBudget       prometheus.Gauge
	GenesysPauses       *prometheus.CounterVec
	GenesysPauseSeconds *prometheus.CounterVec
	SyncOutcomes        *prometheus.CounterVec // op, outcome
	SyncLagSeconds      prometheus.Histogram
	Notifications       *prometheus.CounterVec // kind
	ListenerUp          prometheus.Gauge
	Repairs             *prometheus.CounterVec // kind
	SMSRefusals         *prometheus.CounterVec // kind, reason
	ReachedCancels      *prometheus.CounterVec // queue

	// Stream.
	StreamDelivered   prometheus.Counter
	StreamLag         prometheus.Histogram
	StreamAcks        *prometheus.CounterVec // known
	StreamClosed      *prometheus.CounterVec // reason
	StreamSubscribers prometheus.Gauge

	// Webhooks.
	WebhookAttempts  *prometheus.CounterVec // outcome, status
	WebhookLatency   prometheus.Histogram
	WebhookLag       prometheus.Histogram
	WebhookDisabled  prometheus.Counter
	WebhookExhausted prometheus.Counter

	// own are Slotline's collectors, in the order registered (Reference).
	own []prometheus.Collector
}

// New returns Metrics registered on a new registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		HTTPRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slotline_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
		Admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slotline_admissions_total",
			Help: "Reservation admissions by outcome (admitted, replayed, rejected) and rejection reason.",
		}, []string{"outcome", "reason"}),
		Stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slotline_admission_stage_duration_seconds",
			Help:    "Time spent per admission stage (validation, admission).",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}, []string{"stage"}),
		AuditRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slotline_refused_writes_total",
			Help: "Write requests refused and recorded in the audit log.",
		}),
		TokenRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slotline_token_refusals_total",
			Help: "Token requests refused, by reason: bad_credentials (401), throttled (429 after too many failed logins), rate_limited (429, the client's rate limit).",
		}, []string{"reason"}),
		KeyRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slotline_publishable_key_refusals_total",
			Help: "Requests with a publishable key refused, and challenges refused, by reason: unknown_key (401), origin_not_allowed, forbidden (another route or queue), proof_required (403), rate_limited (429, the key's limits), challenge_rate_limited (429, challenges per address).",
		}, []string{"reason"}),
	}
	m.GenesysCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "slotline_genesys_call_duration_seconds",
		Help:    "Genesys Cloud API call latency by operation and HTTP status (0 = no response).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"op", "status"})
	m.GenesysRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_genesys_retries_total",
		Help: "Genesys Cloud API calls retried, by operation and reason (429, 5xx, network, 401).",
	}, []string{"op", "reason"})
	m.GenesysTokens = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slotline_genesys_token_refreshes_total", Help: "OAuth tokens fetched from Genesys Cloud."})
	m.Genesys429 = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slotline_genesys_rate_limited_total", Help: "Genesys Cloud answers with status 429."})
	m.GenesysAllowed = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slotline_genesys_ratelimit_allowed",
		Help: "Genesys' allowance in calls per minute (inin-ratelimit-allowed), as last seen on a response."})
	m.GenesysCount = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slotline_genesys_ratelimit_count",
		Help: "Calls Genesys has counted against its allowance (inin-ratelimit-count), as last seen on a response."})
	m.GenesysReset = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slotline_genesys_ratelimit_reset_seconds",
		Help: "Seconds until Genesys resets its count (inin-ratelimit-reset), as last seen on a response."})
	m.GenesysBudget = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slotline_genesys_budget_per_minute",
		Help: "The limit, calls per minute, the Genesys budget holds the deployment to: genesys.rate_limit, or Genesys' allowance when lower."})
	m.GenesysPauses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_genesys_pauses_total",
		Help: "Pauses of every Genesys call, by reason: retry_after (a 429), count (Genesys' count reached its allowance), deployment (another process paused the shared budget).",
	}, []string{"reason"})
	m.GenesysPauseSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_genesys_pause_seconds_total",
		Help: "Total length of the pauses of every Genesys call, by reason.",
	}, []string{"reason"})
	m.SyncOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_sync_total",
		Help: "Sync steps by operation (create, reschedule, cancel, adopt, sms) and outcome (ok, retry, failed, unknown; " +
			"adopt searching: a lost create not found yet; cancel fallback: landed after the conversation disconnect; " +
			"cancel unverified: never landed, sync failed; reschedule agent_required: Genesys wants an agentId the callback cannot give; " +
			"sms refused: a permanent refusal; notify_confirm, notify_remind, notify_cancel, notify_missed: the messages to customers, " +
			"sent, skipped, waiting (a reminder not due yet, looked at again) or obsolete (no longer wanted: rescheduled, canceled)).",
	}, []string{"op", "outcome"})
	m.SyncLagSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "slotline_sync_lag_seconds",
		Help:    "Time from a reservation's change to its creation in Genesys Cloud.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})
	m.Notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_genesys_notifications_total",
		Help: "Genesys notifications received, by kind (callback, heartbeat, pong, socket_closing, other).",
	}, []string{"kind"})
	m.ListenerUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slotline_genesys_listener_connected", Help: "1 while this process holds a live notification socket."})
	m.Repairs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_reconcile_repairs_total",
		Help: "Reservations repaired by reconciliation, by kind (status, resync, retry: a failed reschedule or cancel tried again).",
	}, []string{"kind"})
	m.SMSRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_sms_refusals_total",
		Help: "Missed-callback SMS sends that failed, by kind (permanent: not retried; transient: retried) and reason " +
			"(from_address, 10dlc, invalid; active_conversation, rate_limited, server, network).",
	}, []string{"kind", "reason"})
	m.ReachedCancels = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_customer_reached_cancels_total",
		Help: "Reservations canceled because the customer got through to an agent of the queue on another call (cancel_if_reached_within), by queue.",
	}, []string{"queue"})
	m.register(m.ReachedCancels)
	m.StreamDelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slotline_stream_frames_total", Help: "Events sent to stream subscribers."})
	m.StreamLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "slotline_stream_delivery_lag_seconds",
		Help:    "Time from an event reaching the stream hub to its delivery to a subscriber (one observation per batch written, for its oldest event).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30},
	})
	m.StreamAcks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_stream_acks_total", Help: "Acknowledgments received, by whether they named an event in flight."},
		[]string{"known"})
	m.StreamClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_stream_closed_total",
		Help: "Stream connections closed, by reason (gone, shutdown, slow_consumer, taken_over, bad_frame, too_big, bad_type).",
	}, []string{"reason"})
	m.StreamSubscribers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slotline_stream_subscribers", Help: "Stream subscriptions open in this process."})
	m.register(m.StreamDelivered, m.StreamLag, m.StreamAcks, m.StreamClosed, m.StreamSubscribers)
	m.WebhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome (delivered, retry, failed, disabled) and HTTP status (0 = no response).",
	}, []string{"outcome", "status"})
	m.WebhookLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "slotline_webhook_attempt_duration_seconds", Help: "Webhook delivery attempt latency.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15}})
	m.WebhookLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "slotline_webhook_delivery_lag_seconds", Help: "Time from an event's commit to its successful delivery.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300, 3600, 86400}})
	m.WebhookDisabled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slotline_webhook_endpoints_disabled_total", Help: "Webhook endpoints disabled automatically (410, or failing for days)."})
	m.WebhookExhausted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "slotline_webhook_deliveries_exhausted_total", Help: "Webhook deliveries that failed every attempt of the schedule."})
	m.register(m.WebhookAttempts, m.WebhookLatency, m.WebhookLag, m.WebhookDisabled, m.WebhookExhausted)
	m.register(m.GenesysCalls, m.GenesysRetries, m.GenesysTokens, m.Genesys429, m.SyncOutcomes, m.SyncLagSeconds,
		m.Notifications, m.ListenerUp, m.Repairs, m.SMSRefusals,
		m.GenesysAllowed, m.GenesysCount, m.GenesysReset, m.GenesysBudget, m.GenesysPauses, m.GenesysPauseSeconds)
	m.Connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "slotline_http_connections", Help: "Connections the HTTP listener holds open (streams included)."})
	m.ConnectionsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slotline_http_connections_refused_total",
		Help: "Connections closed as soon as accepted, over a cap, by reason (max_connections, max_connections_per_address).",
	}, []string{"reason"})
	m.register(m.HTTPRequests, m.Admissions, m.Stages, m.AuditRefusals, m.Connections, m.ConnectionsRefused, m.TokenRefusals, m.KeyRefusals)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Admission implements booking.Observer.
func (m *Metrics) Admission(outcome, reason string) {
	m.Admissions.WithLabelValues(outcome, reason).Inc()
}

// Stage implements booking.Observer.
func (m *Metrics) Stage(stage string, d time.Duration) {
	m.Stages.WithLabelValues(stage).Observe(d.Seconds())
}

// Call implements genesys.Observer.
func (m *Metrics) Call(op string, status int, d time.Duration) {
	m.GenesysCalls.WithLabelValues(op, strconv.Itoa(status)).Observe(d.Seconds())
	if status == 429 {
		m.Genesys429.Inc()
	}
}

// Retry implements genesys.Observer.
func (m *Metrics) Retry(op, reason string) { m.GenesysRetries.WithLabelValues(op, reason).Inc() }

// TokenRefresh implements genesys.Observer.
func (m *Metrics) TokenRefresh() { m.GenesysTokens.Inc() }

// RateLimit implements genesys.Observer.
func (m *Metrics) RateLimit(allowed, count int, reset time.Duration) {
	m.GenesysAllowed.Set(float64(allowed))
	m.GenesysCount.Set(float64(count))
	m.GenesysReset.Set(reset.Seconds())
}

// Paused implements genesys.Observer.
func (m *Metrics) Paused(reason string, d time.Duration) {
	m.GenesysPauses.WithLabelValues(reason).Inc()
	m.GenesysPauseSeconds.WithLabelValues(reason).Add(d.Seconds())
}

// BudgetRate implements genesys.Observer.
func (m *Metrics) BudgetRate(perMinute float64) { m.GenesysBudget.Set(perMinute) }

// SyncOutcome implements syncer.Observer.
func (m *Metrics) SyncOutcome(op, outcome string) { m.SyncOutcomes.WithLabelValues(op, outcome).Inc() }

// SyncLag implements syncer.Observer.
func (m *Metrics) SyncLag(d time.Duration) { m.SyncLagSeconds.Observe(d.Seconds()) }

// NotificationEvent implements syncer.Observer.
func (m *Metrics) NotificationEvent(kind string) { m.Notifications.WithLabelValues(kind).Inc() }

// ListenerConnected implements syncer.Observer.
func (m *Metrics) ListenerConnected(up bool) {
	if up {
		m.ListenerUp.Set(1)
	} else {
		m.ListenerUp.Set(0)
	}
}

// ReconcileRepair implements syncer.Observer.
func (m *Metrics) ReconcileRepair(kind string) { m.Repairs.WithLabelValues(kind).Inc() }

// SMSRefused implements syncer.Observer.
func (m *Metrics) SMSRefused(kind, reason string) { m.SMSRefusals.WithLabelValues(kind, reason).Inc() }

// CustomerReachedCancel implements syncer.ReachedObserver.
func (m *Metrics) CustomerReachedCancel(queue string) { m.ReachedCancels.WithLabelValues(queue).Inc() }

// ConnOpened implements connlimit.Observer.
func (m *Metrics) ConnOpened() { m.Connections.Inc() }

// ConnClosed implements connlimit.Observer.
func (m *Metrics) ConnClosed() { m.Connections.Dec() }

// ConnRefused implements connlimit.Observer.
func (m *Metrics) ConnRefused(reason string) { m.ConnectionsRefused.WithLabelValues(reason).Inc() }

// Delivered implements stream.Stats.
func (m *Metrics) Delivered(n int, lag time.Duration) {
	m.StreamDelivered.Add(float64(n))
	m.StreamLag.Observe(lag.Seconds())
}

// Acked implements stream.Stats.
func (m *Metrics) Acked(unknown bool) {
	m.StreamAcks.WithLabelValues(strconv.FormatBool(!unknown)).Inc()
}

// Closed implements stream.Stats.
func (m *Metrics) Closed(reason string) {
	m.StreamClosed.WithLabelValues(reason).Inc()
	m.StreamSubscribers.Dec()
}

// Opened counts a new stream subscription.
func (m *Metrics) Opened() { m.StreamSubscribers.Inc() }

// Delivery implements webhook.Observer.
func (m *Metrics) Delivery(outcome string, status int, d, lag time.Duration) {
	m.WebhookAttempts.WithLabelValues(outcome, strconv.Itoa(status)).Inc()
	m.WebhookLatency.Observe(d.Seconds())
	if outcome == "delivered" {
		m.WebhookLag.Observe(lag.Seconds())
	}
}

// EndpointDisabled implements webhook.Observer.
func (m *Metrics) EndpointDisabled(string) { m.WebhookDisabled.Inc() }

// DeliveryExhausted implements webhook.Observer.
func (m *Metrics) DeliveryExhausted() { m.WebhookExhausted.Inc() }
