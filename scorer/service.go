package scorer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/tracing"
	"github.com/crmstream/crmstream/windows"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Config configures the Kafka runtime. Zero values take the defaults noted.
type Config struct {
	Kafka     kafka.Config
	Group     string         // consumer group; default "crmstream-scorer"
	Topic     string         // input; default crm.events
	Changelog string         // compacted state topic; default crm.scorer.changelog
	Windows   windows.Config // lateness (default 5 min), mode (default Live), idle (default 3 s), key TTL, future skew (default 1 min)
	// FlushInterval bounds how long rows wait before they are written and
	// the offsets committed (default 1 s); FlushRows flushes sooner when a
	// partition has that many rows pending (default 100,000: a backlog then
	// flushes on the aligned interval too, every partition in one group
	// commit; 25,000 flushed each partition on its own, 30 % more INSERTs
	// and 14 % more ClickHouse CPU per event).
	FlushInterval time.Duration
	FlushRows     int
	// Tick is how often each worker tells its engine the wall clock (idle
	// partitions, alert timers); default 500 ms.
	Tick     time.Duration
	Features bool          // also write crm.features rows
	Rescore  time.Duration // see WorkerConfig.Rescore
	// HistoryEvery thins the score history: a key's lead_scores /
	// churn_scores (and features) row is written only when its score, tier,
	// model version or converted/churned flag changed, or its last written
	// row is this old in event time (default 1 h; negative: every row).
	// lead_current / account_current always get the newest row.
	HistoryEvery time.Duration
	// Tracer traces records that arrive with a sampled trace context
	// (internal/tracing): a "score" span per record, child of its Kafka
	// receive span, and a "scorer flush" span per flush linked to them.
	Tracer trace.TracerProvider // nil = off

	models *Models // set by Serve or WithModels
}

// WithModels returns c scoring with the learned models m (nil: rules).
func (c Config) WithModels(m *Models) Config { c.models = m; return c }

func (c *Config) defaults() {
	if c.Group == "" {
		c.Group = "crmstream-scorer"
	}
	if c.Topic == "" {
		c.Topic = kafka.TopicEvents
	}
	if c.Changelog == "" {
		c.Changelog = kafka.TopicChangelog
	}
	if c.Windows.IdleAfter == 0 {
		c.Windows.IdleAfter = 3 * time.Second
	}
	if c.Windows.MaxFutureSkew == 0 {
		c.Windows.MaxFutureSkew = time.Minute
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.FlushRows <= 0 {
		c.FlushRows = 100_000
	}
	if c.Tick <= 0 {
		c.Tick = 500 * time.Millisecond
	}
	if c.HistoryEvery == 0 {
		c.HistoryEvery = DefaultHistoryEvery
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Windows.Lateness < 0 || c.Windows.KeyTTL < 0 || c.Windows.IdleAfter < 0 || c.Windows.MaxFutureSkew < 0 {
		errs = append(errs, errors.New("scorer: lateness, idle, key TTL and future skew must not be negative"))
	}
	if c.Windows.Mode != windows.Live && c.Windows.Mode != windows.Backfill {
		errs = append(errs, fmt.Errorf("scorer: unknown windows mode %d", c.Windows.Mode))
	}
	if c.Topic != "" && c.Topic == c.Changelog {
		errs = append(errs, errors.New("scorer: input and changelog topics must differ"))
	}
	return errors.Join(errs...)
}

// Options are the Service's collaborators.
type Options struct {
	Sink       Sink                  // where rows go (CHSink); required
	Detector   *alerts.Detector      // alert rules; nil: no alerts
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not exported
	Now        func() time.Time      // wall clock; default time.Now
}

// Service is the scorer's Kafka runtime: a member of the consumer group on
// the input topic that runs one Worker goroutine per assigned partition,
// restores each partition's state from the changelog on assignment,
// checkpoints it, and commits input offsets only after the rows are durable
// in the Sink and the checkpoint is written.
//
// Run blocks until ctx is done or a fatal error; on the way out every worker
// finishes its records, flushes, checkpoints and commits. Close is
// idempotent and makes Run return.
type Service struct {
	cfg     Config
	o       Options
	logger  *slog.Logger
	metrics *Metrics
	kprom   *kprom.Metrics
	base    []kgo.Opt
	tracer  trace.Tracer // nil: tracing off

	cl  *kgo.Client // group consumer; also commits
	clg *kgo.Client // changelog producer (manual partitions)

	mu      sync.Mutex
	workers map[int32]*partitionWorker
	// stopMu serializes stopping workers, so a revoke callback returns only
	// after a shutdown already stopping the same partitions has committed.
	stopMu  sync.Mutex
	aborted atomic.Bool // tests: die like a crash (no final sync)
	fatal   chan error  // first fatal error of a callback or worker
	ready   chan struct{}

	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

// New validates cfg and prepares a Service; Run connects.
func New(cfg Config, o Options) (*Service, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Sink == nil {
		return nil, errors.New("scorer: a Sink is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	base, err := cfg.Kafka.Opts()
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, o: o, base: base,
		logger:  o.Logger.With("component", "scorer"),
		tracer:  tracing.Tracer(cfg.Tracer),
		metrics: NewMetrics(o.Registerer),
		workers: map[int32]*partitionWorker{},
		fatal:   make(chan error, 1),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	if o.Registerer != nil {
		s.kprom = kprom.NewMetrics("crmstream_scorer", kprom.Subsystem("kafka"), kprom.Registerer(o.Registerer), kprom.WithClientLabel())
	}
	return s, nil
}

// Metrics returns the service's metrics (for tests and the sink).
func (s *Service) Metrics() *Metrics { return s.metrics }

// Ready reports nil once the service has joined the group and polls.
func (s *Service) Ready(context.Context) error {
	select {
	case <-s.ready:
		return nil
	default:
		return errors.New("scorer: not consuming yet")
	}
}

// fail records the first fatal error and stops Run (its poll may be
// waiting for records that never come).
func (s *Service) fail(err error) {
	select {
	case s.fatal <- err:
	default:
	}
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (s *Service) hooks() []kgo.Opt {
	if s.kprom == nil {
		return nil
	}
	return []kgo.Opt{kgo.WithHooks(s.kprom)}
}

// Run consumes until ctx is done, Close is called, or a fatal error.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	defer close(s.done)
	defer cancel()

	id := s.cfg.Kafka.ClientID
	if id == "" {
		id = "crmstream-scorer"
	}
	var err error
	s.clg, err = kgo.NewClient(append(append(s.base[:len(s.base):len(s.base)],
		kgo.ClientID(id+"-changelog"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(s.cfg.Changelog),
		// Batch size stays at kgo's default (~1 MB): under the brokers'
		// default max.message.bytes (1 MiB), so a large checkpoint is
		// split into batches the broker accepts.
	), s.hooks()...)...)
	if err != nil {
		return fmt.Errorf("scorer changelog client: %w", err)
	}
	defer s.clg.Close()
	s.cl, err = kgo.NewClient(append(append(s.base[:len(s.base):len(s.base)],
		kgo.ClientID(id),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.AdjustFetchOffsetsFn(s.adjust),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	), append(s.hooks(), tracing.KafkaOpts(s.cfg.Tracer, id, s.cfg.Group)...)...)...)
	if err != nil {
		return fmt.Errorf("scorer consumer client: %w", err)
	}
	if err := s.checkTopics(ctx); err != nil {
		s.cl.Close()
		return err
	}
	s.logger.Info("scorer consuming", "topic", s.cfg.Topic, "group", s.cfg.Group, "changelog", s.cfg.Changelog)
	close(s.ready)

	var runErr error
	for runErr == nil {
		fs := s.cl.PollRecords(ctx, 10_000)
		if fs.IsClientClosed() || ctx.Err() != nil {
			s.cl.AllowRebalance()
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.logger.Warn("fetch", "topic", t, "partition", p, "error", err)
			}
		})
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if len(ftp.Records) == 0 {
				return
			}
			s.mu.Lock()
			pw := s.workers[ftp.Partition]
			s.mu.Unlock()
			if pw == nil {
				s.logger.Debug("records of a partition not held", "partition", ftp.Partition, "records", len(ftp.Records))
				return // not ours (any more): the owner consumes it from its checkpoint
			}
			last := ftp.Records[len(ftp.Records)-1].Offset
			pw.m.lag.Set(float64(ftp.HighWatermark - last - 1))
			select {
			case pw.in <- ftp.Records:
			case <-pw.exited:
			case <-ctx.Done():
			}
		})
		s.cl.AllowRebalance()
		select {
		case runErr = <-s.fatal:
		default:
		}
	}
	// Shut down: every worker finishes, flushes, checkpoints and commits;
	// then leave the group (the revoke callback then finds no workers).
	s.mu.Lock()
	all := make([]int32, 0, len(s.workers))
	for p := range s.workers {
		all = append(all, p)
	}
	s.mu.Unlock()
	s.stopWorkers(all, runErr == nil)
	s.cl.Close()
	if runErr == nil {
		select {
		case runErr = <-s.fatal:
		default:
		}
	}
	s.logger.Info("scorer stopped", "error", runErr)
	return runErr
}

// abort stops Run like a crash: no final flush, checkpoint or commit (tests).
func (s *Service) abort() {
	s.aborted.Store(true)
	_ = s.Close()
}

// Close stops Run (gracefully) and waits for it.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		cancel := s.cancel
		s.mu.Unlock()
		if cancel != nil {
			cancel()
			<-s.done
		}
	})
	return nil
}

// assigned restores each new partition from the changelog and starts its
// worker. It runs inside the rebalance (polls are blocked), so no record of
// the partition is processed before its state is back.
func (s *Service) assigned(ctx context.Context, cl *kgo.Client, parts map[string][]int32) {
	var wg sync.WaitGroup
	for _, p := range parts[s.cfg.Topic] {
		s.mu.Lock()
		_, running := s.workers[p]
		s.mu.Unlock()
		if running {
			continue
		}
		wg.Go(func() {
			pw, err := s.startWorker(ctx, cl, p)
			if err != nil {
				s.logger.Error("restore partition", "partition", p, "error", err)
				s.metrics.errors.WithLabelValues("restore").Inc()
				s.fail(fmt.Errorf("restore partition %d: %w", p, err))
				return
			}
			s.mu.Lock()
			s.workers[p] = pw
			s.metrics.partitions.Set(float64(len(s.workers)))
			s.mu.Unlock()
		})
	}
	wg.Wait()
}

// adjust starts each restored partition at its checkpoint's offset, whatever
// the group committed: the state and the position must agree.
func (s *Service) adjust(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range offsets[s.cfg.Topic] {
		s.logger.Debug("adjust offset", "partition", p, "committed", offsets[s.cfg.Topic][p], "worker", s.workers[p] != nil)
		if pw := s.workers[p]; pw != nil && pw.w.NextOffset() > 0 {
			offsets[s.cfg.Topic][p] = kgo.NewOffset().At(pw.w.NextOffset()).WithEpoch(-1)
		}
	}
	return offsets, nil
}

func (s *Service) revoked(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	s.logger.Debug("partitions revoked", "partitions", parts[s.cfg.Topic])
	s.stopWorkers(parts[s.cfg.Topic], true)
}

func (s *Service) lost(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	// Another member may own them already: no checkpoint, no commit.
	s.stopWorkers(parts[s.cfg.Topic], false)
}

func (s *Service) stopWorkers(parts []int32, graceful bool) {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.aborted.Load() {
		graceful = false
	}
	var wg sync.WaitGroup
	for _, p := range parts {
		s.mu.Lock()
		pw := s.workers[p]
		delete(s.workers, p)
		s.metrics.partitions.Set(float64(len(s.workers)))
		s.mu.Unlock()
		if pw != nil {
			wg.Go(func() { pw.stop(graceful) })
		}
	}
	wg.Wait()
}

func (s *Service) startWorker(ctx context.Context, cl *kgo.Client, p int32) (*partitionWorker, error) {
	w := NewWorker(WorkerConfig{
		Partition: p, Windows: s.cfg.Windows, Detector: s.o.Detector, Features: s.cfg.Features,
		Rescore: s.cfg.Rescore, Models: s.cfg.models, Now: s.o.Now, Logger: s.o.Logger, Metrics: s.metrics,
	})
	start := time.Now()
	st, err := restorePartition(ctx, s.base, s.cfg.Changelog, p, w)
	if err != nil {
		return nil, err
	}
	if st.Corrupt > 0 {
		s.metrics.errors.WithLabelValues("restore").Add(float64(st.Corrupt))
		s.logger.Error("corrupt changelog records skipped: those keys start afresh", "partition", p,
			"records", st.Corrupt, "first", st.FirstCorrupt)
	}
	s.metrics.restore.Observe(time.Since(start).Seconds())
	s.metrics.restoredKey.Add(float64(st.Keys))
	s.logger.Info("partition assigned", "partition", p, "restored_keys", st.Keys, "changelog_records", st.Records,
		"resume_offset", st.Next, "took", time.Since(start).Round(time.Millisecond))
	pw := &partitionWorker{
		s: s, p: p, w: w, m: w.m, cl: cl,
		in:        make(chan []*kgo.Record, 4),
		stopc:     make(chan bool, 1),
		exited:    make(chan struct{}),
		committed: st.Next,
		epoch:     -1,
		sink:      s.o.Sink,
	}
	if s.cfg.HistoryEvery > 0 {
		pw.sink = historySink{h: newHistory(s.cfg.HistoryEvery), next: s.o.Sink}
	}
	go pw.run()
	return pw, nil
}

// partitionWorker is the goroutine that owns one partition's Worker.
type partitionWorker struct {
	s      *Service
	cl     *kgo.Client // the group client (from the assign callback): commits
	p      int32
	w      *Worker
	m      *partitionMetrics
	sink   Sink // Options.Sink, behind the partition's history thinning
	in     chan []*kgo.Record
	stopc  chan bool // true: graceful (flush, checkpoint, commit)
	exited chan struct{}

	unsent    []*kgo.Record       // checkpoint records not yet acknowledged
	committed int64               // offset committed (or restored)
	traced    []trace.SpanContext // score spans since the last flush (tracing on), linked from its span
	epoch     int32               // leader epoch of the newest record
	lastSync  time.Time
	// ev is the event being applied, decoded in place (event.DecodeView):
	// its strings view the record's bytes. What outlives the record is a
	// copy (the engine's and the alert state's keys, features' packed
	// strings, owner ids) or a row held until the next flush.
	ev event.Event
}

func (pw *partitionWorker) stop(graceful bool) {
	pw.stopc <- graceful
	<-pw.exited
}

func (pw *partitionWorker) run() {
	defer close(pw.exited)
	tick := time.NewTicker(pw.s.cfg.Tick)
	defer tick.Stop()
	// Flush timing follows the real clock, not the injected one. Its own
	// timer (checked on the tick instead, a 1 s interval became 1.5 s: the
	// tick one interval later comes a hair early), due at the next multiple
	// of FlushInterval after the last sync began: every partition's worker
	// is due at the same instants, so their rows join one group commit (one
	// INSERT per table) instead of several a little apart.
	pw.lastSync = time.Now()
	flush := time.NewTimer(pw.s.cfg.FlushInterval)
	defer flush.Stop()
	for {
		// Backpressure: while the sink is failing and rows pile up, stop
		// taking records (the poll loop then stops fetching) and only retry.
		in := pw.in
		if pw.w.Pending() >= 2*pw.s.cfg.FlushRows {
			in = nil
		}
		flush.Reset(max(0, time.Until(pw.lastSync.Truncate(pw.s.cfg.FlushInterval).Add(pw.s.cfg.FlushInterval))))
		select {
		case recs := <-in:
			pw.process(recs)
		case <-tick.C:
			pw.w.Advance(pw.s.o.Now())
		case <-flush.C:
			pw.sync()
		case graceful := <-pw.stopc:
			if !graceful {
				return
			}
			for {
				select {
				case recs := <-pw.in:
					pw.process(recs)
					continue
				default:
				}
				break
			}
			// A final sync, retried briefly: the next owner resumes from
			// whatever this leaves committed and checkpointed.
			for range 3 {
				if pw.sync() {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			return
		}
	}
}

func (pw *partitionWorker) process(recs []*kgo.Record) {
	for _, r := range recs {
		ev := &pw.ev
		if err := event.DecodeView(ev, r.Value); err != nil {
			// crm.events holds validated events; one that does not decode
			// is counted and skipped, never a crash.
			pw.m.undecodable.Inc()
			pw.s.logger.Warn("undecodable event", "partition", pw.p, "offset", r.Offset, "error", err)
			continue
		}
		span := pw.scoreSpan(r)
		pw.w.Process(r.Offset, ev)
		if span != nil {
			span.End()
		}
		pw.epoch = r.LeaderEpoch
		// Within the poll, not after it: a poll of a backlog holds tens of
		// thousands of records, and a batch that grows past FlushRows is
		// copied at each growth and kept at that size.
		if pw.w.Pending() >= pw.s.cfg.FlushRows {
			pw.sync()
		}
	}
	if len(recs) > 0 && pw.w.NextOffset() <= recs[len(recs)-1].Offset {
		// Every record was undecodable: still move past them.
		pw.w.next = recs[len(recs)-1].Offset + 1
	}
}

// sync makes the partition's progress durable: rows, then checkpoint, then
// the offset commit. It reports whether all three succeeded; on failure the
// next sync retries from the first step that failed.
func (pw *partitionWorker) sync() bool {
	s := pw.s
	pw.lastSync = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pw.flush(ctx); err != nil {
		s.metrics.errors.WithLabelValues("flush").Inc()
		s.logger.Warn("flush", "partition", pw.p, "error", err)
		return false
	}
	next := pw.w.NextOffset()
	if next <= pw.committed && pw.w.Engine().Pending() == 0 && len(pw.unsent) == 0 {
		return true // nothing new
	}
	start := time.Now()
	err := pw.w.Checkpoint(func(k string, v []byte) error {
		r := &kgo.Record{Topic: s.cfg.Changelog, Partition: pw.p, Key: stateKey(pw.p, k)}
		if v != nil {
			r.Value = append([]byte(nil), v...)
		}
		pw.unsent = append(pw.unsent, r)
		return nil
	}, func(v []byte) error {
		pw.unsent = append(pw.unsent, &kgo.Record{Topic: s.cfg.Changelog, Partition: pw.p, Key: metaKey(pw.p), Value: v})
		return nil
	})
	if err == nil {
		err = s.clg.ProduceSync(ctx, pw.unsent...).FirstErr()
	}
	if err != nil {
		s.metrics.errors.WithLabelValues("checkpoint").Inc()
		s.logger.Warn("checkpoint", "partition", pw.p, "error", err)
		return false
	}
	bytes := 0
	for _, r := range pw.unsent {
		bytes += len(r.Key) + len(r.Value)
	}
	s.metrics.changelogB.Add(float64(bytes))
	clear(pw.unsent)
	pw.unsent = pw.unsent[:0]
	s.metrics.checkpoint.Observe(time.Since(start).Seconds())

	if next > pw.committed {
		start = time.Now()
		var cerr error
		pw.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{
			s.cfg.Topic: {pw.p: {Epoch: pw.epoch, Offset: next}},
		}, func(_ *kgo.Client, _ *kmsgReq, resp *kmsgResp, err error) {
			cerr = commitErr(resp, err)
		})
		if cerr != nil {
			s.metrics.errors.WithLabelValues("commit").Inc()
			s.logger.Warn("commit", "partition", pw.p, "offset", next, "error", cerr)
			return false
		}
		pw.committed = next
		s.logger.Debug("committed", "partition", pw.p, "offset", next)
		s.metrics.commit.Observe(time.Since(start).Seconds())
	}
	return true
}

// checkTopics makes sure the changelog can hold every input partition's
// state in the partition of the same number; otherwise checkpoints would fail
// forever and no offset would ever be committed.
func (s *Service) checkTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	td, err := kadm.NewClient(s.cl).ListTopics(ctx, s.cfg.Topic, s.cfg.Changelog)
	if err != nil {
		return fmt.Errorf("scorer: list topics: %w", err)
	}
	in, ok1 := td[s.cfg.Topic]
	cl, ok2 := td[s.cfg.Changelog]
	if !ok1 || in.Err != nil || !ok2 || cl.Err != nil {
		return fmt.Errorf("scorer: topics %s and %s must exist (create them, or run without --no-create-topics)", s.cfg.Topic, s.cfg.Changelog)
	}
	if len(cl.Partitions) < len(in.Partitions) {
		return fmt.Errorf("scorer: changelog %s has %d partitions, fewer than the %d of %s: partition p's state goes to changelog partition p",
			s.cfg.Changelog, len(cl.Partitions), len(in.Partitions), s.cfg.Topic)
	}
	return nil
}

// maxLinks caps the traced records one flush span links to.
const maxLinks = 128

// scoreSpan starts the span of applying r when r carries a sampled trace
// (kotel's receive span in r.Context); nil otherwise, at the cost of one
// check when tracing is off.
func (pw *partitionWorker) scoreSpan(r *kgo.Record) trace.Span {
	if pw.s.tracer == nil || r.Context == nil || !trace.SpanContextFromContext(r.Context).IsSampled() {
		return nil
	}
	_, span := pw.s.tracer.Start(r.Context, "score", trace.WithAttributes(
		attribute.Int("messaging.destination.partition.id", int(pw.p)),
		attribute.Int64("messaging.kafka.offset", r.Offset),
		attribute.String("messaging.kafka.message.key", string(r.Key)),
	))
	if len(pw.traced) < maxLinks {
		pw.traced = append(pw.traced, span.SpanContext())
	}
	return span
}

// flush writes the pending rows (ClickHouse, alerts). With traced records
// pending it runs in a "scorer flush" span: a child of the first record's
// trace (so that trace reaches the write and the alert publish) linked to
// the others'.
func (pw *partitionWorker) flush(ctx context.Context) error {
	if len(pw.traced) == 0 || pw.w.Pending() == 0 {
		return pw.w.Flush(ctx, pw.sink) // no span: nothing traced, or nothing to write yet (timers may write later)
	}
	links := make([]trace.Link, 0, len(pw.traced)-1)
	for _, sc := range pw.traced[1:] {
		links = append(links, trace.Link{SpanContext: sc})
	}
	ctx, span := pw.s.tracer.Start(trace.ContextWithSpanContext(ctx, pw.traced[0]), "scorer flush",
		trace.WithLinks(links...),
		trace.WithAttributes(
			attribute.Int("messaging.destination.partition.id", int(pw.p)),
			attribute.Int("crm.rows", pw.w.Pending()),
			attribute.Int("crm.traced_records", len(pw.traced)),
		))
	defer span.End()
	err := pw.w.Flush(ctx, pw.sink)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.RecordError(err)
		return err // the retry links the same records
	}
	pw.traced = pw.traced[:0]
	return nil
}
