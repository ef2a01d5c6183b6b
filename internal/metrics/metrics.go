// Package metrics defines Slotline's Prometheus metrics on a registry of its
// own (no global state), served at /metrics.
package metrics

import (
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
	}
	reg.MustRegister(m.HTTPRequests, m.Admissions, m.Stages, m.AuditRefusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
