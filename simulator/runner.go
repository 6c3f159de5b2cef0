package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Runner pulls records from a Stream and writes them to a Sink in batches,
// at a bounded rate, and in live mode no earlier than their delivery time
// on the wall clock.
type Runner struct {
	Stream *Stream
	Sink   Sink
	// Rate caps deliveries per second; 0 means as fast as the sink takes
	// them.
	Rate float64
	// Live holds each record until the wall clock reaches its delivery
	// time (Record.At), so event time follows the clock. Records already in
	// the past (the backfill) go out at once, subject to Rate.
	Live bool
	// BatchSize is the most records per Write. Default 500.
	BatchSize int
	// Linger is how long a partial batch may wait in live or rate-limited
	// mode before it is written. Default 200 ms.
	Linger time.Duration
	// Limit stops after this many records; 0 means the stream's end.
	Limit int64
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Registerer receives the runner's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now and Sleep are the clock; defaults time.Now and a context-aware
	// timer.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	sent    int64
	records *prometheus.CounterVec
	writes  prometheus.Histogram
}

// Stats is what a run delivered.
type Stats struct {
	Records  int64
	ByKind   map[string]int64
	Elapsed  time.Duration
	LastTime time.Time // event time of the last record
}

// Run delivers until the stream ends, Limit is reached, the context is
// cancelled (returns ctx.Err()) or the sink fails. It does not close the
// sink.
func (r *Runner) Run(ctx context.Context) (st Stats, err error) {
	if r.Stream == nil || r.Sink == nil {
		return Stats{}, errors.New("runner needs a stream and a sink")
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("component", "simulator")
	now, sleep := r.Now, r.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	batchSize, linger := r.BatchSize, r.Linger
	if batchSize <= 0 {
		batchSize = 500
	}
	if linger <= 0 {
		linger = 200 * time.Millisecond
	}
	r.records = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crmstream_simulator_records_total", Help: "Records delivered, by kind (event, late, duplicate, malformed).",
	}, []string{"kind"})
	r.writes = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "crmstream_simulator_write_seconds", Help: "Time to write one batch to the sink.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	if r.Registerer != nil {
		for _, c := range []prometheus.Collector{r.records, r.writes} {
			if err := r.Registerer.Register(c); err != nil {
				return Stats{}, fmt.Errorf("register metrics: %w", err)
			}
		}
	}

	st = Stats{ByKind: map[string]int64{}}
	start := now()
	defer func() { st.Elapsed = now().Sub(start) }()
	batch := make([]Record, 0, batchSize)
	batchStart := start
	lastLog := start
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		t0 := now()
		if err := r.Sink.Write(ctx, batch); err != nil {
			return err
		}
		r.writes.Observe(now().Sub(t0).Seconds())
		for i := range batch {
			r.records.WithLabelValues(batch[i].Kind).Inc()
			st.ByKind[batch[i].Kind]++
		}
		st.Records += int64(len(batch))
		clear(batch)
		batch = batch[:0]
		return nil
	}
	var rec Record
	for {
		if err := ctx.Err(); err != nil {
			return st, errors.Join(err, flush())
		}
		if r.Limit > 0 && r.sent >= r.Limit {
			break
		}
		if !r.Stream.Next(&rec) {
			break
		}
		r.sent++
		st.LastTime = rec.Time
		// Pacing: the record may not go before its time (live) nor before
		// its slot (rate). Write what is batched before waiting.
		var due time.Time
		if r.Live {
			due = rec.At
		}
		if r.Rate > 0 {
			slot := start.Add(time.Duration(float64(r.sent-1) / r.Rate * float64(time.Second)))
			if slot.After(due) {
				due = slot
			}
		}
		if wait := due.Sub(now()); wait > 0 {
			if len(batch) > 0 && (wait > time.Millisecond || now().Sub(batchStart) >= linger) {
				if err := flush(); err != nil {
					return st, err
				}
				wait = due.Sub(now())
			}
			if wait > 0 {
				if err := sleep(ctx, wait); err != nil {
					return st, errors.Join(err, flush())
				}
			}
		}
		if len(batch) == 0 {
			batchStart = now()
		}
		batch = append(batch, rec)
		if len(batch) >= batchSize {
			if err := flush(); err != nil {
				return st, err
			}
		}
		if t := now(); t.Sub(lastLog) >= 10*time.Second {
			lastLog = t
			log.Info("progress", "records", st.Records+int64(len(batch)), "event_time", rec.Time)
		}
	}
	err = flush()
	log.Info("done", "records", st.Records, "elapsed", now().Sub(start))
	return st, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
