package dashboard

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	cache       *prometheus.CounterVec
	sseClients  *prometheus.GaugeVec
	sseDropped  prometheus.Counter
	rateLimited prometheus.Counter
	auditOK     prometheus.Counter
	auditDrop   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "crmstream", "dashboard"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "http_requests_total",
			Help: "API requests by route pattern and status code."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "http_request_duration_seconds",
			Help:    "API request latency by route pattern (SSE streams excluded).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cache_requests_total",
			Help: "Response cache lookups by result: hit, stale (served while refreshing), miss."}, []string{"result"}),
		sseClients: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sse_clients",
			Help: "Connected Server-Sent Events clients by stream."}, []string{"stream"}),
		sseDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "sse_dropped_total",
			Help: "SSE subscribers disconnected because their buffer was full."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "ratelimited_total",
			Help: "Requests refused with 429."}),
		auditOK: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "audit_written_total",
			Help: "Audit entries inserted into ClickHouse."}),
		auditDrop: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "audit_dropped_total",
			Help: "Audit entries dropped (queue full or insert failed)."}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.cache, m.sseClients, m.sseDropped, m.rateLimited, m.auditOK, m.auditDrop} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("dashboard: metrics already registered: %w", err)
			}
			return nil, fmt.Errorf("dashboard: register metrics: %w", err)
		}
	}
	return m, nil
}

// AcquireObserver returns the function to pass as reports.Config.ObserveAcquire
// so pool waits land in crmstream_dashboard_clickhouse_acquire_seconds. It is
// registered on reg; call it once per registry, before New with the same
// registry (New registers the other metrics).
func AcquireObserver(reg prometheus.Registerer) (func(time.Duration), error) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "crmstream", Subsystem: "dashboard", Name: "clickhouse_acquire_seconds",
		Help:    "Time a query waited for a ClickHouse connection slot (pool acquisition).",
		Buckets: []float64{1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, .1, 1}})
	if err := reg.Register(h); err != nil {
		return nil, fmt.Errorf("dashboard: register pool wait: %w", err)
	}
	return func(d time.Duration) { h.Observe(d.Seconds()) }, nil
}
