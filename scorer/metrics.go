package scorer

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the scorer's Prometheus metrics. Labels are bounded: partition
// (the input topic's partitions), outcome, table.
type Metrics struct {
	events      *prometheus.CounterVec // by partition, outcome
	late        *prometheus.CounterVec // by partition
	dups        *prometheus.CounterVec // by partition
	rows        *prometheus.CounterVec // by table
	lag         *prometheus.GaugeVec   // by partition
	wmDelay     *prometheus.GaugeVec   // by partition
	keys        *prometheus.GaugeVec   // by partition
	stateBytes  *prometheus.GaugeVec   // by partition
	flush       prometheus.Histogram   // sink write
	checkpoint  prometheus.Histogram   // changelog write
	commit      prometheus.Histogram   // offset commit
	restore     prometheus.Histogram   // changelog read on assignment
	changelogB  prometheus.Counter     // bytes written to the changelog
	restoredKey prometheus.Counter     // keys restored
	errors      *prometheus.CounterVec // by stage
	partitions  prometheus.Gauge       // assigned partitions
}

// Event outcomes counted in crmstream_scorer_events_total.
const (
	outcomeInOrder    = "in_order"
	outcomeOutOfOrder = "out_of_order"
	outcomeLate       = "late"
	outcomeDuplicate  = "duplicate"
	outcomeReplayed   = "replayed"
	outcomeErased     = "erased"
	outcomeUndecoded  = "undecodable"
	outcomeFuture     = "future"
)

// NewMetrics creates the scorer metrics and registers them with reg (nil:
// not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	dur := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_scorer_events_total",
			Help: "Input events by outcome: in_order, out_of_order (within lateness), late (beyond), future (ahead of the wall clock by more than the allowed skew: applied, watermark clamped), duplicate (event id seen), replayed (already in restored state), erased, undecodable."}, []string{"partition", "outcome"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_scorer_late_events_total",
			Help: "Events beyond the allowed lateness, written to crm.late_events."}, []string{"partition"}),
		dups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_scorer_duplicates_total",
			Help: "Events skipped because their event id was seen recently for the key (client retries, relay replays)."}, []string{"partition"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_scorer_rows_total",
			Help: "Rows made durable, by table."}, []string{"table"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crmstream_scorer_lag_records",
			Help: "Consumer lag: high watermark minus the next offset to process."}, []string{"partition"}),
		wmDelay: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crmstream_scorer_watermark_delay_seconds",
			Help: "Wall clock minus the partition's event-time watermark."}, []string{"partition"}),
		keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crmstream_scorer_state_keys",
			Help: "Keys (leads and accounts) held in memory."}, []string{"partition"}),
		stateBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "crmstream_scorer_state_bytes",
			Help: "Estimated encoded size of the partition's state (keys × mean checkpointed record size)."}, []string{"partition"}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crmstream_scorer_flush_duration_seconds",
			Help: "Time to make a batch of rows durable in ClickHouse.", Buckets: dur}),
		checkpoint: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crmstream_scorer_checkpoint_duration_seconds",
			Help: "Time to write a checkpoint to the changelog topic.", Buckets: dur}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crmstream_scorer_commit_duration_seconds",
			Help: "Time to commit input offsets.", Buckets: dur}),
		restore: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crmstream_scorer_restore_duration_seconds",
			Help: "Time to restore a partition's state from the changelog on assignment.", Buckets: dur}),
		changelogB: prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_scorer_changelog_bytes_total",
			Help: "Bytes of state written to the changelog topic."}),
		restoredKey: prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_scorer_restored_keys_total",
			Help: "Keys restored from the changelog."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_scorer_errors_total",
			Help: "Errors by stage (flush, checkpoint, commit, restore); the stage is retried."}, []string{"stage"}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "crmstream_scorer_partitions",
			Help: "Input partitions assigned to this instance."}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.late, m.dups, m.rows, m.lag, m.wmDelay, m.keys, m.stateBytes, m.flush,
			m.checkpoint, m.commit, m.restore, m.changelogB, m.restoredKey, m.errors, m.partitions)
	}
	return m
}

// partitionMetrics are the children of one partition, looked up once.
type partitionMetrics struct {
	inOrder, outOfOrder, late, dup, replayed, erased, undecodable, future prometheus.Counter
	lateRows, dupRows                                                     prometheus.Counter
	lag, wmDelay, keys, stateBytes                                        prometheus.Gauge
}

func (m *Metrics) partition(p int32) *partitionMetrics {
	if m == nil {
		m = NewMetrics(nil)
	}
	l := strconv.Itoa(int(p))
	ev := func(o string) prometheus.Counter { return m.events.WithLabelValues(l, o) }
	return &partitionMetrics{
		inOrder: ev(outcomeInOrder), outOfOrder: ev(outcomeOutOfOrder), late: ev(outcomeLate),
		dup: ev(outcomeDuplicate), replayed: ev(outcomeReplayed), erased: ev(outcomeErased),
		undecodable: ev(outcomeUndecoded), future: ev(outcomeFuture),
		lateRows: m.late.WithLabelValues(l),
		dupRows:  m.dups.WithLabelValues(l),
		lag:      m.lag.WithLabelValues(l), wmDelay: m.wmDelay.WithLabelValues(l),
		keys: m.keys.WithLabelValues(l), stateBytes: m.stateBytes.WithLabelValues(l),
	}
}
