package alerts

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Writer publishes alert states to both durable channels: the ClickHouse
// table <db>.alerts and the Kafka topic crm.alerts (value JSON, key alert
// id, record timestamp = updated_at). Both writes are idempotent — the
// table collapses rows by alert id and version, the notifier dedupes by alert
// id and status — so a caller may write the same alert again after a crash;
// that is how the scorer gets at-least-once: write, then commit its input.
//
// Safe for concurrent use. The Writer does not own the connection or the
// client: Close does nothing to them.
type Writer struct {
	conn   driver.Conn
	table  string
	kc     *kgo.Client
	topic  string
	logger *slog.Logger
	now    func() time.Time

	written prometheus.Counter
	errors  prometheus.Counter
}

// WriterOptions are the injected dependencies of a Writer.
type WriterOptions struct {
	Logger     *slog.Logger          // nil discards
	Registerer prometheus.Registerer // nil registers nothing
	Now        func() time.Time      // nil is time.Now
}

// insertAlerts lists the columns explicitly: ClickHouse 18.16 needs it for
// batches, and it keeps the writer working if columns are added.
const insertAlerts = "INSERT INTO %s (alert_id, kind, lead_id, account_id, owner_id, fired_at, event_time, status, score, reason, evidence, details, updated_at, version)"

// NewWriter returns a Writer into db.alerts and topic (normally
// "crm.alerts"). conn or kc may be nil to skip that channel (tests, a
// ClickHouse-only backfill); the client must have idempotent production on
// (franz-go's default).
func NewWriter(conn driver.Conn, db string, kc *kgo.Client, topic string, o WriterOptions) (*Writer, error) {
	if conn != nil && db == "" {
		return nil, fmt.Errorf("alerts writer: database required")
	}
	if kc != nil && topic == "" {
		return nil, fmt.Errorf("alerts writer: topic required")
	}
	w := &Writer{conn: conn, table: db + ".alerts", kc: kc, topic: topic, logger: o.Logger, now: o.Now}
	if w.logger == nil {
		w.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w.logger = w.logger.With("component", "alerts-writer")
	if w.now == nil {
		w.now = time.Now
	}
	w.written = prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_alerts_written_total", Help: "Alert states written to ClickHouse and Kafka."})
	w.errors = prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_alerts_write_errors_total", Help: "Failed alert writes (the caller retries)."})
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{w.written, w.errors} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register alerts writer metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Write stores as, ClickHouse first, then Kafka, and returns once both
// acknowledged. On error nothing is guaranteed about either: write the same
// alerts again.
func (w *Writer) Write(ctx context.Context, as []Alert) error {
	if len(as) == 0 {
		return nil
	}
	if err := w.insert(ctx, as); err != nil {
		w.errors.Inc()
		return err
	}
	if err := w.produce(ctx, as); err != nil {
		w.errors.Inc()
		return err
	}
	w.written.Add(float64(len(as)))
	return nil
}

func (w *Writer) insert(ctx context.Context, as []Alert) error {
	if w.conn == nil {
		return nil
	}
	batch, err := w.conn.PrepareBatch(ctx, fmt.Sprintf(insertAlerts, w.table))
	if err != nil {
		return fmt.Errorf("prepare alerts batch: %w", err)
	}
	defer batch.Close()
	for i := range as {
		a := &as[i]
		ev := a.Evidence
		if ev == nil {
			ev = []string{}
		}
		updated := a.UpdatedAt
		if updated.IsZero() {
			updated = w.now()
		}
		if err := batch.Append(a.ID, string(a.Kind), a.LeadID, a.AccountID, a.OwnerID,
			a.FiredAt.UTC(), a.EventTime.UTC(), string(a.Status), a.Score, a.Reason, ev,
			a.DetailsJSON(), updated.UTC(), Version(a.Status, updated)); err != nil {
			return fmt.Errorf("append alert %s: %w", a.ID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d alerts: %w", len(as), err)
	}
	return nil
}

func (w *Writer) produce(ctx context.Context, as []Alert) error {
	if w.kc == nil {
		return nil
	}
	recs := make([]*kgo.Record, len(as))
	for i := range as {
		v, err := as[i].AppendJSON(nil)
		if err != nil {
			return err
		}
		ts := as[i].UpdatedAt
		if ts.IsZero() {
			ts = w.now()
		}
		recs[i] = &kgo.Record{Topic: w.topic, Key: []byte(as[i].ID), Value: v, Timestamp: ts}
	}
	if err := w.kc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d alerts to %s: %w", len(as), w.topic, err)
	}
	return nil
}

// Close is a no-op: the Writer owns neither the connection nor the client.
func (w *Writer) Close() error { return nil }
