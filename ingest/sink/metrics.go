package sink

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	rows          prometheus.Counter
	batchRows     prometheus.Histogram
	insertSeconds prometheus.Histogram
	insertErrors  prometheus.Counter
	breakerOpen   prometheus.Gauge
	dead          prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_sink_rows_total", Help: "Rows inserted into crm.events.",
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "crmstream_ingest_sink_batch_rows", Help: "Rows per insert.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "crmstream_ingest_sink_insert_seconds", Help: "Latency of successful inserts.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_sink_insert_errors_total", Help: "Failed insert attempts (retried).",
		}),
		breakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crmstream_ingest_sink_breaker_open", Help: "1 while the ClickHouse breaker is open.",
		}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_sink_dead_letters_total", Help: "Undecodable crm.events records sent to the dead-letter topic.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.rows, m.batchRows, m.insertSeconds, m.insertErrors, m.breakerOpen, m.dead} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("sink: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
