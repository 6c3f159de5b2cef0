package sink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/ingest/dlq"
	"github.com/crmstream/crmstream/internal/kafka"
)

// Config configures a Sink. Zero fields take the defaults shown.
type Config struct {
	Opts          []kgo.Opt             // Kafka client options: brokers, TLS, SASL, hooks
	Group         string                // consumer group; default "crmstream-sink"
	InstanceID    string                // static group membership (group.instance.id); empty = dynamic
	Topic         string                // default crm.events
	DLQ           string                // default crm.events.dlq
	Conn          driver.Conn           // required: ClickHouse (chstore.Store.Conn)
	Database      string                // default "crm"
	BatchRows     int                   // insert when this many rows are batched; default 50,000
	FlushEvery    time.Duration         // or when the oldest batched row is this old; default 1 s
	InsertTimeout time.Duration         // per insert attempt; default 30 s
	MaxBackoff    time.Duration         // cap of the retry backoff; default 10 s
	BreakerOpen   time.Duration         // time the breaker stays open before a trial insert; default 5 s
	DrainTimeout  time.Duration         // on stop, time to flush the last batch; default 15 s
	PIIKey        []byte                // non-empty: hash e-mail, phone and name (HMAC-SHA256)
	Logger        *slog.Logger          // nil = discard
	Registerer    prometheus.Registerer // nil = metrics not registered
	Now           func() time.Time      // default time.Now
}

// Sink consumes crm.events into ClickHouse. Run it once; Healthy is safe for
// concurrent use.
type Sink struct {
	cfg     Config
	log     *slog.Logger
	cl      *kgo.Client
	breaker *gobreaker.CircuitBreaker[struct{}]
	m       *metrics
	insert  string
	closed  sync.Once

	mu      sync.Mutex // guards the batch; held by the poll loop and the rebalance callbacks
	rows    columns
	e       event.Event // decoded into, reused
	mac     hash.Hash   // PII HMAC, reused (see hash)
	cols    []any       // the columns of an insert, reused
	dead    []*kgo.Record
	offsets map[int32]kgo.EpochOffset // next offset per partition of the batch
	first   time.Time                 // when the oldest batched row arrived
}

const columnList = "event_id, type, occurred_at, occurred_ms, lead_id, account_id, owner_id, session_id, source, email, phone, name, company, country, title, properties, ingested_at, version"

// New creates the sink's consumer group client (it joins on Run).
func New(cfg Config) (*Sink, error) {
	if cfg.Conn == nil {
		return nil, errors.New("sink: Conn is required")
	}
	if cfg.Group == "" {
		cfg.Group = "crmstream-sink"
	}
	if cfg.Topic == "" {
		cfg.Topic = kafka.TopicEvents
	}
	if cfg.DLQ == "" {
		cfg.DLQ = kafka.TopicDLQ
	}
	if cfg.Database == "" {
		cfg.Database = "crm"
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 50_000
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.InsertTimeout <= 0 {
		cfg.InsertTimeout = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.BreakerOpen <= 0 {
		cfg.BreakerOpen = 5 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:     cfg,
		log:     log.With("component", "sink"),
		m:       m,
		insert:  "INSERT INTO " + cfg.Database + ".events (" + columnList + ")",
		offsets: map[int32]kgo.EpochOffset{},
	}
	s.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "clickhouse",
		Timeout:     cfg.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 3 },
		IsExcluded: func(err error) bool {
			var re *rowError
			return errors.Is(err, context.Canceled) || errors.As(err, &re)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			s.log.Warn("clickhouse breaker", "from", from.String(), "to", to.String())
			s.m.breakerOpen.Set(boolf(to == gobreaker.StateOpen))
			if s.cl == nil {
				return
			}
			switch to {
			case gobreaker.StateOpen:
				s.cl.PauseFetchTopics(cfg.Topic)
			case gobreaker.StateClosed:
				s.cl.ResumeFetchTopics(cfg.Topic)
			}
		},
	})
	opts := append(append([]kgo.Opt(nil), cfg.Opts...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		// A member killed without leaving holds its partitions until the
		// session times out: 10 s rather than the 45 s default.
		kgo.SessionTimeout(10*time.Second),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
	)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("sink: kafka client: %w", err)
	}
	s.cl = cl
	return s, nil
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ErrUnhealthy is returned by Healthy while inserts into ClickHouse fail.
var ErrUnhealthy = errors.New("sink: clickhouse inserts failing")

// Healthy returns ErrUnhealthy (wrapped) while the ClickHouse breaker is not
// closed; the collector answers 503 meanwhile.
func (s *Sink) Healthy() error {
	if st := s.breaker.State(); st != gobreaker.StateClosed {
		return fmt.Errorf("%w (breaker %s)", ErrUnhealthy, st)
	}
	return nil
}

// Run consumes until ctx is done, then flushes and commits the last batch
// (within DrainTimeout), leaves the group and returns nil.
func (s *Sink) Run(ctx context.Context) error {
	defer s.Close()
	for {
		wait := s.cfg.FlushEvery
		s.mu.Lock()
		if len(s.offsets) > 0 {
			wait = s.first.Add(s.cfg.FlushEvery).Sub(s.cfg.Now())
		}
		room := s.cfg.BatchRows - s.rows.len()
		s.mu.Unlock()
		if wait > 0 && room > 0 {
			pctx, cancel := context.WithTimeout(ctx, wait)
			fs := s.cl.PollRecords(pctx, room)
			cancel()
			if fs.IsClientClosed() {
				return nil
			}
			fs.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					s.log.Warn("fetch", "topic", t, "partition", p, "error", err)
				}
			})
			s.add(fs.Records())
		}
		if ctx.Err() != nil {
			return s.drain(ctx)
		}
		s.probe(ctx)
		if s.due() {
			if err := s.flushRetry(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// Close closes the Kafka client, leaving the group (the revoke callback
// flushes what is batched). Run calls it on return; call it yourself only if
// Run never ran. Idempotent.
func (s *Sink) Close() error {
	s.closed.Do(s.cl.Close)
	return nil
}

// probe tries ClickHouse when the breaker is not closed but no batch is
// waiting to prove it (the batch went to another member on a rebalance), so
// the breaker, the paused fetches and Healthy recover.
func (s *Sink) probe(ctx context.Context) {
	if s.breaker.State() == gobreaker.StateClosed {
		return
	}
	s.mu.Lock()
	empty := s.rows.len() == 0
	s.mu.Unlock()
	if !empty {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.InsertTimeout)
	defer cancel()
	_, _ = s.breaker.Execute(func() (struct{}, error) { return struct{}{}, s.cfg.Conn.Ping(pctx) })
}

// add decodes records into the batch; undecodable ones become dead letters.
func (s *Sink) add(recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.offsets) == 0 {
		s.first = now
	}
	var pseudonymize func([]byte, string) []byte
	if len(s.cfg.PIIKey) > 0 {
		pseudonymize = s.appendHash
	}
	if s.rows.len() == 0 {
		s.rows.reserve(s.cfg.BatchRows)
	}
	// e's strings (and the properties JSON) view the record's value; a row
	// keeps the record (for its bytes, partition and dead letter) until the
	// insert.
	e := &s.e
	for _, r := range recs {
		// Decoded and validated: the topic is the pipeline's, but a rogue
		// producer could still write what ClickHouse cannot store (a year
		// past 2105), and one such row would block the batch forever.
		props, err := event.DecodeViewValid(e, r.Value)
		switch {
		case err != nil:
			s.dead = append(s.dead, dlq.New(r, "sink: "+err.Error(), now, s.cfg.DLQ))
		case e.Type == event.Erased:
			// An erasure tombstone is for stateful consumers; crmctl erase
			// deletes the subject's rows itself. Storing it would count as
			// an event.
		default:
			s.rows.add(r, e, props, pseudonymize)
		}
		s.offsets[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	}
	// e views the last record, which the batch may not keep.
	clear(e.Properties[:cap(e.Properties)])
	*e = event.Event{Properties: e.Properties[:0]}
}

func (s *Sink) due() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// offsets has an entry for every record taken, stored or not (a
	// tombstone), so a batch of only skipped records is still committed.
	return len(s.offsets) > 0 && (s.rows.len() >= s.cfg.BatchRows || s.cfg.Now().Sub(s.first) >= s.cfg.FlushEvery)
}

// flushRetry flushes the batch, retrying with backoff and jitter until it
// succeeds or ctx is done. The lock is released between attempts so that a
// rebalance is never stuck behind an outage.
func (s *Sink) flushRetry(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for {
		s.mu.Lock()
		err := s.flushLocked(ctx)
		s.mu.Unlock()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		s.log.Warn("flush failed, retrying", "backoff", backoff, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
	}
}

// flushLocked inserts the batch, produces its dead letters, commits its
// offsets and empties it. s.mu is held.
func (s *Sink) flushLocked(ctx context.Context) error {
	if s.rows.len()+len(s.dead)+len(s.offsets) == 0 {
		return nil
	}
	for s.rows.len() > 0 {
		start := s.cfg.Now()
		_, err := s.breaker.Execute(func() (struct{}, error) { return struct{}{}, s.insertRows(ctx) })
		var re *rowError
		if errors.As(err, &re) {
			rec := s.rows.recs[re.i]
			s.log.Warn("row refused by the driver; dead-lettered", "origin", dlq.Origin(rec), "error", re.err)
			s.dead = append(s.dead, dlq.New(rec, "sink: "+re.Error(), s.cfg.Now(), s.cfg.DLQ))
			s.rows.remove(re.i)
			continue
		}
		if err != nil {
			s.m.insertErrors.Inc()
			return fmt.Errorf("insert %d rows: %w", s.rows.len(), err)
		}
		s.m.insertSeconds.Observe(s.cfg.Now().Sub(start).Seconds())
		s.m.batchRows.Observe(float64(s.rows.len()))
		s.m.rows.Add(float64(s.rows.len()))
		s.rows.reset() // drops the records for the GC
	}
	if len(s.dead) > 0 {
		if err := s.cl.ProduceSync(ctx, s.dead...).FirstErr(); err != nil {
			return fmt.Errorf("produce %d dead letters: %w", len(s.dead), err)
		}
		s.m.dead.Add(float64(len(s.dead)))
		s.dead = s.dead[:0]
	}
	err := s.commit(ctx, s.offsets)
	s.offsets = map[int32]kgo.EpochOffset{}
	if err != nil {
		// The rows are durable; the records are read (and collapse) again.
		s.log.Warn("commit", "error", err)
	}
	return nil
}

// blockRows bounds the rows of one block of an INSERT. The driver's column
// buffers are fresh for every INSERT and reused between its blocks (Flush):
// sent in blocks they grow to one block once, instead of growing to the
// whole batch by repeated copies (most of the sink's allocation and copying
// at 50,000 rows). The server squashes the blocks of one INSERT into one part
// as it would a single block (checked on 18.16, TestInsertBlocks), but each
// block costs it some CPU: BenchmarkFlush, client / server µs per row, one
// block 5.3 / 4.2, 256 rows 3.5 / 5.1, 2,048 rows 3.3 / 4.2, 8,192 rows
// 3.6 / 4.1 (medians of 6, loaded machine).
const blockRows = 2048

// insertRows inserts the batch column by column, in blocks of blockRows
// rows within one INSERT. Should the driver refuse a column, insertRowWise
// finds the row at fault.
func (s *Sink) insertRows(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.InsertTimeout)
	defer cancel()
	b, err := s.cfg.Conn.PrepareBatch(ctx, s.insert)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer b.Close()
	now := s.cfg.Now().UTC()
	defer clear(s.cols)
	n := s.rows.len()
	for lo := 0; lo < n; lo += blockRows {
		if lo > 0 {
			if err := b.Flush(); err != nil {
				return fmt.Errorf("send block: %w", err)
			}
		}
		s.cols = s.rows.appendTo(s.cols[:0], lo, min(lo+blockRows, n), now)
		for i, col := range s.cols {
			if err := b.Column(i).Append(col); err != nil {
				// A failed Append poisons the batch: abort its INSERT
				// (Close would complete it) and start again, row by
				// row. Blocks already sent may be stored all the same:
				// rows of the batch, which collapse with their copies.
				_ = b.Abort()
				s.log.Debug("column refused; inserting row by row", "column", i, "error", err)
				return s.insertRowWise(ctx, now)
			}
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// insertRowWise inserts the batch row by row, returning a *rowError for the
// first row the driver refuses.
func (s *Sink) insertRowWise(ctx context.Context, now time.Time) error {
	b, err := s.cfg.Conn.PrepareBatch(ctx, s.insert)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer b.Close()
	for i := range s.rows.len() {
		if i > 0 && i%blockRows == 0 {
			if err := b.Flush(); err != nil {
				return fmt.Errorf("send block: %w", err)
			}
		}
		if err := b.Append(s.rows.row(i, now)...); err != nil {
			_ = b.Abort() // not Close, which would complete the INSERT
			return &rowError{i: i, err: err}
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// rowError is a row the driver refused: the row, not ClickHouse, is at
// fault, so it is dead-lettered and the rest of the batch retried at once.
type rowError struct {
	i   int
	err error
}

func (e *rowError) Error() string { return fmt.Sprintf("append row %d: %v", e.i, e.err) }
func (e *rowError) Unwrap() error { return e.err }

func (s *Sink) commit(ctx context.Context, offsets map[int32]kgo.EpochOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	var cerr error
	s.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{s.cfg.Topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
						cerr = errors.Join(cerr, fmt.Errorf("partition %d: %w", p.Partition, err))
					}
				}
			}
		})
	return cerr
}

// drain flushes the last batch within DrainTimeout.
func (s *Sink) drain(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
	defer cancel()
	if err := s.flushRetry(dctx); err != nil {
		s.log.Warn("stopped with an unflushed batch; it is read again on restart", "error", err)
	}
	return nil
}

// onRevoked flushes and commits before partitions move (one attempt); if that
// fails, the revoked partitions' rows are dropped, uncommitted, for their new
// owner to read again.
func (s *Sink) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushLocked(ctx); err != nil {
		s.log.Warn("flush on revoke failed; revoked partitions are re-read by their new owner", "error", err)
		s.dropLocked(revoked[s.cfg.Topic])
	}
}

// onLost drops the rows of lost partitions: committing for them is no longer
// possible, and their new owner reads them again.
func (s *Sink) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(lost[s.cfg.Topic])
}

func (s *Sink) dropLocked(parts []int32) {
	if len(parts) == 0 {
		return
	}
	gone := map[int32]bool{}
	for _, p := range parts {
		gone[p] = true
		delete(s.offsets, p)
	}
	s.rows.filter(func(i int) bool { return !gone[s.rows.recs[i].Partition] })
	keptDead := s.dead[:0]
	for _, r := range s.dead {
		if !gone[r.Partition] {
			keptDead = append(keptDead, r)
		}
	}
	s.dead = keptDead
}

// appendHash appends the pseudonym of one personal value to dst. The MAC
// is kept and reset per value, and the hex goes straight into dst: no
// allocation. s.mu is held, as add holds it.
func (s *Sink) appendHash(dst []byte, v string) []byte {
	if s.mac == nil {
		s.mac = hmac.New(sha256.New, s.cfg.PIIKey)
	}
	s.mac.Reset()
	s.mac.Write(unsafe.Slice(unsafe.StringData(v), len(v))) // read only
	var sum [sha256.Size]byte
	return hex.AppendEncode(dst, s.mac.Sum(sum[:0])[:16])
}
