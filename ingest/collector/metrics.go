package collector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests    *prometheus.CounterVec
	duration    prometheus.Histogram
	inflight    prometheus.Gauge
	received    prometheus.Counter
	accepted    prometheus.Counter
	rejected    *prometheus.CounterVec
	breakerOpen prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmstream_ingest_http_requests_total", Help: "POST /v1/events requests by status code.",
		}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "crmstream_ingest_http_request_seconds", Help: "Time to answer POST /v1/events, including the Kafka acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crmstream_ingest_http_inflight_requests", Help: "Requests being processed.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_events_in_total", Help: "Items received.", ConstLabels: prometheus.Labels{"source": "collector"},
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_events_out_total", Help: "Events produced to crm.events and acknowledged.", ConstLabels: prometheus.Labels{"source": "collector"},
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmstream_ingest_events_rejected_total", Help: "Items rejected, by the field at fault.", ConstLabels: prometheus.Labels{"source": "collector"},
		}, []string{"kind"}),
		breakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crmstream_ingest_collector_breaker_open", Help: "1 while the Kafka produce breaker is open.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight, m.received, m.accepted, m.rejected, m.breakerOpen} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("collector: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
