package rejects

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crmstream/crmstream/event"
)

// MaxPayload is how much of a rejected input is kept (bytes): enough to see
// what was wrong, bounded against hostile multi-megabyte items.
const MaxPayload = 4 << 10

// Reject is one rejected input.
type Reject struct {
	Origin     string    // collector, relay, webhook:<crm>, import
	EventID    string    // when the input had a readable event_id
	Reason     string    // field and rule, as told to the sender
	Payload    []byte    // the input as received; truncated to MaxPayload
	ReceivedAt time.Time // when the input arrived
}

// ID is the deterministic row key: the same input rejected twice for the
// same reason is one row.
func (r *Reject) ID() string {
	h := sha256.New()
	io.WriteString(h, r.Origin)
	h.Write([]byte{0})
	io.WriteString(h, r.Reason)
	h.Write([]byte{0})
	h.Write(r.Payload)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Recorder takes rejects without blocking. Writer implements it; Discard
// drops them.
type Recorder interface {
	Add(Reject)
}

// Discard is a Recorder that keeps nothing, for tests and for running without
// ClickHouse.
var Discard Recorder = discard{}

type discard struct{}

func (discard) Add(Reject) {}

// Config configures a Writer. Zero fields take the defaults shown.
type Config struct {
	Conn       driver.Conn           // required
	Database   string                // default "crm"
	QueueSize  int                   // rejects held while waiting for ClickHouse; default 10,000
	BatchSize  int                   // rows per insert; default 1,000
	FlushEvery time.Duration         // default 1 s
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = not registered
	Now        func() time.Time      // default time.Now
}

// Writer inserts rejects into crm.rejects in batches. Add is safe for
// concurrent use; Run owns the queue's consumer side.
type Writer struct {
	cfg     Config
	queue   chan Reject
	log     *slog.Logger
	written prometheus.Counter
	dropped prometheus.Counter

	closeOnce sync.Once
	done      chan struct{}
}

// New returns a Writer; call Run to start writing.
func New(cfg Config) (*Writer, error) {
	if cfg.Conn == nil {
		return nil, errors.New("rejects: Conn is required")
	}
	if cfg.Database == "" {
		cfg.Database = "crm"
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 10_000
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		cfg:   cfg,
		queue: make(chan Reject, cfg.QueueSize),
		log:   log.With("component", "rejects"),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_rejects_written_total", Help: "Rejected inputs written to crm.rejects.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_rejects_dropped_total", Help: "Rejected inputs not written to crm.rejects (queue full or insert failed).",
		}),
		done: make(chan struct{}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{w.written, w.dropped} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("rejects: register metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Add queues r; it never blocks. The payload is copied (and truncated).
func (w *Writer) Add(r Reject) {
	r.Payload = clip(r.Payload)
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = w.cfg.Now()
	}
	select {
	case w.queue <- r:
	default:
		w.dropped.Inc()
	}
}

func clip(p []byte) []byte {
	if len(p) > MaxPayload {
		p = p[:MaxPayload]
	}
	return append([]byte(nil), p...)
}

// Run writes queued rejects until ctx is done, then writes what is queued
// (bounded by a 5 s grace period) and returns nil.
func (w *Writer) Run(ctx context.Context) error {
	defer w.closeOnce.Do(func() { close(w.done) })
	t := time.NewTicker(w.cfg.FlushEvery)
	defer t.Stop()
	batch := make([]Reject, 0, w.cfg.BatchSize)
	flush := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		if err := w.insert(ctx, batch); err != nil {
			w.dropped.Add(float64(len(batch)))
			w.log.Warn("write rejects", "rows", len(batch), "error", err)
		} else {
			w.written.Add(float64(len(batch)))
		}
		batch = batch[:0]
	}
	for {
		select {
		case r := <-w.queue:
			batch = append(batch, r)
			if len(batch) >= w.cfg.BatchSize {
				flush(ctx)
			}
		case <-t.C:
			flush(ctx)
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
		drain:
			for {
				select {
				case r := <-w.queue:
					batch = append(batch, r)
					if len(batch) >= w.cfg.BatchSize {
						flush(final)
					}
				default:
					break drain
				}
			}
			flush(final)
			return nil
		}
	}
}

func (w *Writer) insert(ctx context.Context, rows []Reject) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := w.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+w.cfg.Database+".rejects (reject_id, origin, received_at, event_id, reason, payload)")
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer b.Close()
	for i := range rows {
		r := &rows[i]
		if err := b.Append(r.ID(), r.Origin, r.ReceivedAt.UTC(), validUTF8(r.EventID), r.Reason, validUTF8(string(r.Payload))); err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// validUTF8 keeps binary payloads readable in ClickHouse String columns
// queried as text.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Kind is the bounded metric label for a rejection: the top-level field at
// fault ("occurred_at", "properties", "contact", …) or "body" for input that
// is not an event at all.
func Kind(err error) string {
	var ee *event.Error
	if !errors.As(err, &ee) {
		return "other"
	}
	f, _, _ := strings.Cut(ee.Field, ".")
	switch f {
	case "":
		return "body"
	case "event_id", "type", "occurred_at", "lead_id", "account_id", "owner_id", "session_id", "source", "contact", "properties":
		return f
	}
	return "other"
}
