package sink

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

type metrics struct {
	rows          prometheus.Counter
	batchRows     prometheus.Histogram
	insertSeconds prometheus.Histogram
	insertErrors  prometheus.Counter
	breakerOpen   prometheus.Gauge
	dead          prometheus.Counter
	lag           *prometheus.GaugeVec
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
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crmstream_ingest_consumer_lag_records", Help: "Records between the group's committed offset and the partition end.",
		}, []string{"group", "topic", "partition"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.rows, m.batchRows, m.insertSeconds, m.insertErrors, m.breakerOpen, m.dead, m.lag} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("sink: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// watchLag refreshes the consumer-lag gauge until ctx is done.
func (s *Sink) watchLag(ctx context.Context) {
	adm := kadm.NewClient(s.cl)
	t := time.NewTicker(s.cfg.LagEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lags, err := adm.Lag(lctx, s.cfg.Group)
		cancel()
		if err != nil {
			s.log.Debug("consumer lag", "error", err)
			continue
		}
		for _, l := range lags {
			for _, ml := range l.Lag.Sorted() {
				if ml.Err == nil {
					s.m.lag.WithLabelValues(l.Group, ml.Topic, strconv.Itoa(int(ml.Partition))).Set(float64(ml.Lag))
				}
			}
		}
	}
}
