package notifier

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sent         *prometheus.CounterVec
	failed       *prometheus.CounterVec
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	breaker      *prometheus.GaugeVec
	latency      *prometheus.HistogramVec
	lag          prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_notifier_sent_total",
			Help: "Alert states delivered (2xx), by endpoint."}, []string{"endpoint"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_notifier_failed_total",
			Help: "Failed delivery attempts, by endpoint and class (5xx, 429, 408, timeout, network, breaker_open, permanent)."}, []string{"endpoint", "class"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_notifier_retried_total",
			Help: "Delivery attempts scheduled again after a failure, by endpoint."}, []string{"endpoint"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_notifier_dead_lettered_total",
			Help: "Records sent to the dead-letter topic, by reason (decode, no_route, encode, permanent, exhausted)."}, []string{"reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_notifier_skipped_total",
			Help: "Records not delivered on purpose, by reason (duplicate, acknowledged, stale)."}, []string{"reason"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crmstream_notifier_breaker_state",
			Help: "Circuit breaker state per endpoint: 0 closed, 1 half-open, 2 open."}, []string{"endpoint"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "crmstream_notifier_delivery_seconds",
			Help: "Time from the first attempt to a successful delivery, by endpoint.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)}, []string{"endpoint"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crmstream_notifier_alert_lag_seconds",
			Help: "Time from an alert firing to its delivery.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sent, m.failed, m.retried, m.deadLettered, m.skipped, m.breaker, m.latency, m.lag} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register notifier metrics: %w", err)
			}
		}
	}
	return m, nil
}
