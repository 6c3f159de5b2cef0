package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/ingest/dlq"
	"github.com/crmstream/crmstream/ingest/rejects"
	"github.com/crmstream/crmstream/internal/kafka"
)

// Config configures a Relay. Zero fields take the defaults shown.
type Config struct {
	Opts         []kgo.Opt             // client options: brokers, TLS, SASL, hooks (internal/kafka.Config.Opts)
	Group        string                // consumer group; default "crmstream-relay"
	InstanceID   string                // static group membership (group.instance.id); empty = dynamic
	Topic        string                // raw input; default crm.raw
	Out          string                // canonical events; default crm.events
	DLQ          string                // dead letters; default crm.events.dlq
	MaxPoll      int                   // records per poll; default 2,000
	Parallelism  int                   // goroutines parsing a poll; default GOMAXPROCS
	DrainTimeout time.Duration         // on stop, time to finish the poll in flight; default 10 s
	Rejects      rejects.Recorder      // nil = rejects.Discard
	Logger       *slog.Logger          // nil = discard
	Registerer   prometheus.Registerer // nil = metrics not registered
	Now          func() time.Time      // default time.Now

	// process replaces event.ParseViewJSON in tests (poison records).
	process func(*event.Event, []byte) ([]byte, error)
}

// Relay consumes the raw topic. Run it once; it owns its Kafka client.
type Relay struct {
	cfg       Config
	log       *slog.Logger
	cl        *kgo.Client
	closeOnce sync.Once
	pollOut   []*kgo.Record // a poll's output, reused (Run is one goroutine)
	scratch   []scratch     // per chunk, reused from poll to poll

	in, out  prometheus.Counter
	rejected *prometheus.CounterVec
	retries  prometheus.Counter
}

// New connects the consumer group client (it joins on Run).
func New(cfg Config) (*Relay, error) {
	if cfg.Group == "" {
		cfg.Group = "crmstream-relay"
	}
	if cfg.Topic == "" {
		cfg.Topic = kafka.TopicRaw
	}
	if cfg.Out == "" {
		cfg.Out = kafka.TopicEvents
	}
	if cfg.DLQ == "" {
		cfg.DLQ = kafka.TopicDLQ
	}
	if cfg.MaxPoll <= 0 {
		cfg.MaxPoll = 2000
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = runtime.GOMAXPROCS(0)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.Rejects == nil {
		cfg.Rejects = rejects.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.process == nil {
		cfg.process = event.ParseViewJSON
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		cfg: cfg,
		log: log.With("component", "relay"),
		in: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_events_in_total", Help: "Items received.", ConstLabels: prometheus.Labels{"source": "relay"},
		}),
		out: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_events_out_total", Help: "Events produced to crm.events and acknowledged.", ConstLabels: prometheus.Labels{"source": "relay"},
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmstream_ingest_events_rejected_total", Help: "Items rejected, by the field at fault.", ConstLabels: prometheus.Labels{"source": "relay"},
		}, []string{"kind"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crmstream_ingest_relay_produce_retries_total", Help: "Produce attempts of the relay that failed and were retried.",
		}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.in, r.out, r.rejected, r.retries} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("relay: register metrics: %w", err)
			}
		}
	}
	opts := append(append([]kgo.Opt(nil), cfg.Opts...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// A member killed without leaving holds its partitions until the
		// session times out: 10 s rather than the 45 s default.
		kgo.SessionTimeout(10*time.Second),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("relay: kafka client: %w", err)
	}
	r.cl = cl
	return r, nil
}

// Run relays until ctx is done, then finishes the poll in flight (within
// DrainTimeout), commits it, leaves the group and returns nil. It returns an
// error only when the client fails for good.
func (r *Relay) Run(ctx context.Context) error {
	defer r.Close()
	for {
		fs := r.cl.PollRecords(ctx, r.cfg.MaxPoll)
		if fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("fetch", "topic", t, "partition", p, "error", err)
			}
		})
		recs := fs.Records()
		if len(recs) > 0 {
			// The poll in flight is finished even when ctx is done: a
			// drain context bounds it.
			dctx, cancel := drainContext(ctx, r.cfg.DrainTimeout)
			err := r.handle(dctx, recs)
			cancel()
			if err != nil {
				r.cl.AllowRebalance()
				if ctx.Err() != nil {
					r.log.Info("stopped with an uncommitted poll; it is read again on restart", "records", len(recs), "error", err)
					return nil
				}
				return err
			}
		}
		r.cl.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Close closes the Kafka client (leaving the group). Run calls it on return;
// call it yourself only if Run never ran. Idempotent.
func (r *Relay) Close() error {
	r.closeOnce.Do(r.cl.CloseAllowingRebalance)
	return nil
}

// drainContext is ctx while it lives, then at most d more.
func drainContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d, cancel)
		context.AfterFunc(dctx, func() { t.Stop() })
	})
	return dctx, func() { stop(); cancel() }
}

// handle turns one poll into events and dead letters, produces them until
// all are acknowledged, then commits the poll.
//
// Parsing is where the relay spends its CPU, so the poll is cut into
// contiguous chunks parsed in parallel, and the outputs are concatenated in
// chunk order: what is produced, and in which order, is exactly what one
// goroutine would produce, so order per key (and per raw partition) holds.
func (r *Relay) handle(ctx context.Context, recs []*kgo.Record) error {
	r.in.Add(float64(len(recs)))
	chunks := r.chunks(len(recs))
	// The chunks' buffers are reused by the next poll: produce returns
	// only when every record is acknowledged, and the client keeps none.
	for len(r.scratch) < len(chunks) {
		r.scratch = append(r.scratch, scratch{})
	}
	for i := range chunks {
		chunks[i].scratch = &r.scratch[i]
	}
	if len(chunks) == 1 {
		r.parseChunk(&chunks[0], recs)
	} else {
		var wg sync.WaitGroup
		for i := range chunks {
			wg.Go(func() { r.parseChunk(&chunks[i], recs) })
		}
		wg.Wait()
	}
	out := r.pollOut[:0]
	events := 0
	for i := range chunks {
		c := &chunks[i]
		out = append(out, c.out...)
		events += c.events
		for _, rj := range c.rejects {
			r.cfg.Rejects.Add(rj)
		}
	}
	r.pollOut = out
	defer func() {
		// No record kept beyond its poll: the output records view the
		// input's values, which would stay pinned while the relay idles.
		clear(r.pollOut)
		for i := range chunks {
			clear(chunks[i].slab)
		}
	}()
	if err := r.produce(ctx, out); err != nil {
		return err
	}
	r.out.Add(float64(events))
	if err := r.cl.CommitRecords(ctx, recs...); err != nil {
		// The output is durable; a failed commit only means these records
		// are relayed again (deduplicated downstream).
		r.log.Warn("commit", "records", len(recs), "error", err)
	}
	return nil
}

// minChunk keeps chunks large enough that a goroutine is worth starting.
const minChunk = 64

// chunk is one contiguous slice of a poll, parsed by one goroutine.
type chunk struct {
	lo, hi  int
	out     []*kgo.Record
	events  int
	rejects []rejects.Reject
	*scratch
}

// scratch holds a chunk's buffers, kept from poll to poll: the output
// records, the bytes of their keys and values, and the event parsed into.
type scratch struct {
	slab []kgo.Record
	buf  []byte
	e    event.Event
}

// chunks splits n records into at most Parallelism contiguous chunks.
func (r *Relay) chunks(n int) []chunk {
	k := min(r.cfg.Parallelism, max(1, n/minChunk))
	cs := make([]chunk, k)
	for i := range cs {
		cs[i].lo, cs[i].hi = n*i/k, n*(i+1)/k
	}
	return cs
}

// parseChunk parses recs[c.lo:c.hi] into c. It touches only c (and
// concurrency-safe metrics), so chunks run in parallel.
func (r *Relay) parseChunk(c *chunk, recs []*kgo.Record) {
	in := recs[c.lo:c.hi]
	c.out = make([]*kgo.Record, 0, len(in))
	if c.scratch == nil {
		c.scratch = &scratch{}
	}
	// One allocation for the chunk's records, one for their bytes, both
	// reused by later polls. Values are never written again while a
	// record views them: buf only grows (a new array when full) until the
	// next poll.
	if cap(c.slab) < len(in) {
		c.slab = make([]kgo.Record, len(in))
	}
	slab := c.slab[:len(in)]
	clear(slab)
	if need := 512 * len(in); cap(c.buf) < need {
		c.buf = make([]byte, 0, need)
	}
	buf := c.buf[:0]
	e := &c.e
	for j, rec := range in {
		enc, err := r.process(e, rec)
		if err != nil {
			kind := rejects.Kind(err)
			var pe *panicError
			if errors.As(err, &pe) {
				kind = "panic"
				r.log.Error("poison record", "origin", dlq.Origin(rec), "error", err)
			}
			r.rejected.WithLabelValues(kind).Inc()
			now := r.cfg.Now()
			c.out = append(c.out, dlq.New(rec, err.Error(), now, r.cfg.DLQ))
			c.rejects = append(c.rejects, rejects.Reject{Origin: "relay", Reason: err.Error(), Payload: rec.Value, ReceivedAt: now})
			continue
		}
		n := len(buf)
		if enc == nil {
			buf = e.AppendJSON(buf)
		}
		k := len(buf)
		buf = append(buf, e.Key()...)
		if enc == nil {
			enc = buf[n:k:k]
		}
		o := &slab[j]
		o.Topic, o.Key, o.Value, o.Timestamp = r.cfg.Out, buf[k:len(buf):len(buf)], enc, e.OccurredAt
		c.out = append(c.out, o)
		c.events++
	}
	if cap(buf) > cap(c.buf) {
		c.buf = buf[:0] // keep the grown array for the next poll
	}
	clear(e.Properties[:cap(e.Properties)]) // the event views this poll's records
	*e = event.Event{Properties: e.Properties[:0]}
}

type panicError struct{ v any }

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.v) }

// process parses one record into e, turning a panic into an error. The
// event's strings may view rec.Value, and so may enc: the event's canonical
// encoding when rec.Value is exactly that, else nil (event.ParseViewJSON).
// Both stay valid while the poll is handled.
func (r *Relay) process(e *event.Event, rec *kgo.Record) (enc []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			enc, err = nil, &panicError{v}
		}
	}()
	return r.cfg.process(e, rec.Value)
}

// produce sends recs and retries the failed ones with backoff and jitter
// until all are acknowledged or ctx is done.
func (r *Relay) produce(ctx context.Context, recs []*kgo.Record) error {
	backoff := 100 * time.Millisecond
	for {
		res := r.cl.ProduceSync(ctx, recs...)
		var failed []*kgo.Record
		var first error
		for _, pr := range res {
			if pr.Err != nil {
				failed = append(failed, pr.Record)
				if first == nil {
					first = pr.Err
				}
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("relay: produce %d records: %w", len(failed), first)
		}
		r.retries.Inc()
		r.log.Warn("produce failed, retrying", "records", len(failed), "backoff", backoff, "error", first)
		for _, f := range failed {
			f.Partition, f.Offset = 0, 0
		}
		recs = failed
		select {
		case <-ctx.Done():
			return fmt.Errorf("relay: produce %d records: %w", len(failed), ctx.Err())
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
