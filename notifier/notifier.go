package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/internal/kafka"
)

// Config tunes a Notifier. DefaultConfig holds every default.
type Config struct {
	Topic    string // alerts to deliver; default crm.alerts
	DLQTopic string // dead letters; default crm.alerts.dlq
	Group    string // consumer group; default crmstream-notifier

	MaxAttempts    int           // attempts per alert before dead-lettering; default 8
	BackoffBase    time.Duration // wait after the first failure, doubled each time; default 500 ms
	BackoffMax     time.Duration // cap of one wait; default 30 s
	AttemptTimeout time.Duration // per HTTP attempt unless the endpoint sets one; default 10 s

	BreakerFailures uint32        // consecutive failures that open an endpoint's breaker; default 5
	BreakerOpen     time.Duration // how long it stays open before a trial request; default 30 s

	DedupeSize  int           // alert ids remembered to suppress repeats; default 100 000
	MaxPoll     int           // records per poll; default 500
	QueueSize   int           // alerts waiting per endpoint before polling pauses; default 1 000
	CommitEvery time.Duration // how often finished offsets are committed; default 1 s
	// MaxAge skips alerts whose condition (event_time) is older than this
	// when consumed: a backfill or an import replays history, and a rep
	// wants no message about an abandonment of last spring. 0 = no limit.
	// Default 24 h.
	MaxAge time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Topic: kafka.TopicAlerts, DLQTopic: kafka.TopicAlertsDLQ, Group: "crmstream-notifier",
		MaxAttempts: 8, BackoffBase: 500 * time.Millisecond, BackoffMax: 30 * time.Second,
		AttemptTimeout: 10 * time.Second, BreakerFailures: 5, BreakerOpen: 30 * time.Second,
		DedupeSize: 100_000, MaxPoll: 500, QueueSize: 1000, CommitEvery: time.Second,
		MaxAge: 24 * time.Hour,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Topic == "" || c.DLQTopic == "" || c.Group == "" {
		errs = append(errs, errors.New("notifier: topic, dlq topic and group are required"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("notifier: max attempts must be ≥ 1, got %d", c.MaxAttempts))
	}
	if c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("notifier: backoff must be 0 < base (%v) ≤ max (%v)", c.BackoffBase, c.BackoffMax))
	}
	if c.AttemptTimeout <= 0 || c.BreakerOpen <= 0 || c.BreakerFailures < 1 {
		errs = append(errs, errors.New("notifier: attempt timeout, breaker open time and breaker failures must be positive"))
	}
	if c.DedupeSize < 1 || c.MaxPoll < 1 || c.QueueSize < 1 || c.CommitEvery <= 0 {
		errs = append(errs, errors.New("notifier: dedupe size, max poll, queue size and commit interval must be positive"))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("notifier: max age must not be negative, got %v", c.MaxAge))
	}
	return errors.Join(errs...)
}

// Options are the injected dependencies of a Notifier.
type Options struct {
	Logger     *slog.Logger          // nil discards
	Registerer prometheus.Registerer // nil registers nothing
	Now        func() time.Time      // nil is time.Now
	HTTP       *http.Client          // nil: a client with no overall timeout (attempts carry their own)
}

// Notifier consumes alert states from Kafka and delivers them to webhooks.
// Create with New, run with Run, stop by cancelling Run's context, then
// Close. Run and Close may be called once each; Ready is safe for
// concurrent use.
type Notifier struct {
	cfg     Config
	routes  Routes
	eps     map[string]*endpoint
	kc      *kgo.Client
	http    *http.Client
	logger  *slog.Logger
	now     func() time.Time
	metrics *metrics
	dedupe  *dedupe
	track   *tracker
	queues  map[string]chan job // per endpoint

	lastPollErr atomic.Pointer[error]
	closeOnce   sync.Once
}

// New creates the Kafka client (consumer group member and idempotent
// producer for dead letters) from base options, e.g. internal/kafka
// Config.Opts.
func New(cfg Config, routes Routes, base []kgo.Opt, o Options) (*Notifier, error) {
	if err := errors.Join(cfg.Validate(), routes.Validate()); err != nil {
		return nil, err
	}
	n := &Notifier{cfg: cfg, routes: routes, eps: map[string]*endpoint{}, http: o.HTTP, logger: o.Logger,
		now: o.Now, dedupe: newDedupe(cfg.DedupeSize), track: newTracker(), queues: map[string]chan job{}}
	if n.logger == nil {
		n.logger = slog.New(slog.DiscardHandler)
	}
	n.logger = n.logger.With("component", "notifier")
	if n.now == nil {
		n.now = time.Now
	}
	if n.http == nil {
		n.http = &http.Client{}
	}
	var err error
	if n.metrics, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crmstream_notifier_inflight",
			Help: "Consumed records not finished yet (queued, being delivered or retried).",
		}, func() float64 { return float64(n.track.pending()) })); err != nil {
			return nil, fmt.Errorf("register notifier metrics: %w", err)
		}
	}
	for name, e := range routes.Endpoints {
		timeout := e.Timeout
		if timeout == 0 {
			timeout = cfg.AttemptTimeout
		}
		ep := &endpoint{name: name, url: e.URL, timeout: timeout}
		ep.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        name,
			MaxRequests: 1,
			Timeout:     cfg.BreakerOpen,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.BreakerFailures },
			// A rejected payload or our own shutdown says nothing about the endpoint's health.
			IsExcluded: func(err error) bool {
				var perm *permanentError
				return errors.As(err, &perm) || errors.Is(err, context.Canceled)
			},
			OnStateChange: func(name string, from, to gobreaker.State) {
				n.metrics.breaker.WithLabelValues(name).Set(float64(to))
				n.logger.Warn("webhook circuit breaker", "endpoint", name, "from", from.String(), "to", to.String())
			},
		})
		n.metrics.breaker.WithLabelValues(name).Set(0)
		n.eps[name] = ep
		n.queues[name] = make(chan job, cfg.QueueSize)
	}
	opts := append([]kgo.Opt{}, base...)
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		// Hand over cleanly: commit what finished, then forget the
		// partitions (queued records of theirs are not delivered here).
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			n.commit(ctx, m)
			n.track.drop(m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { n.track.drop(m) }),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if n.kc, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("notifier kafka client: %w", err)
	}
	return n, nil
}

// Ready reports whether the last poll succeeded (for /readyz).
func (n *Notifier) Ready(ctx context.Context) error {
	if p := n.lastPollErr.Load(); p != nil && *p != nil {
		return *p
	}
	return n.kc.Ping(ctx)
}

// job is one alert state waiting for its endpoint's worker.
type job struct {
	e     *entry
	alert alerts.Alert
	body  []byte
}

// Run consumes and delivers until ctx is done, then commits what finished.
// One poll loop decodes, dedupes and routes records and hands them to one
// worker per endpoint (so an endpoint that is down holds up only its own
// alerts, and each endpoint sees its alerts in order); a committer commits,
// every CommitEvery, the offsets up to which every record is finished.
// Records in flight at shutdown are consumed again at the next start.
func (n *Notifier) Run(ctx context.Context) error {
	n.logger.Info("notifier started", "topic", n.cfg.Topic, "group", n.cfg.Group, "endpoints", len(n.eps))
	var wg sync.WaitGroup
	for name, ep := range n.eps {
		q := n.queues[name]
		wg.Go(func() { n.work(ctx, ep, q) })
	}
	wg.Go(func() {
		t := time.NewTicker(n.cfg.CommitEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n.commit(ctx, nil)
			}
		}
	})
	err := n.poll(ctx)
	wg.Wait()
	// Commit what finished, even though ctx is done.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	n.commit(cctx, nil)
	return err
}

func (n *Notifier) poll(ctx context.Context) error {
	for {
		fs := n.kc.PollRecords(ctx, n.cfg.MaxPoll)
		if ctx.Err() != nil {
			return nil
		}
		var pollErr error
		fs.EachError(func(topic string, p int32, err error) {
			n.logger.Error("poll", "topic", topic, "partition", p, "error", err)
			pollErr = fmt.Errorf("poll %s/%d: %w", topic, p, err)
		})
		n.lastPollErr.Store(&pollErr)
		if errors.Is(pollErr, kgo.ErrClientClosed) {
			return pollErr
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if err := n.dispatch(ctx, r, n.track.add(r)); err != nil {
				return nil // ctx ended
			}
		}
	}
}

// commit commits the finished prefix of the given partitions (nil: all).
func (n *Notifier) commit(ctx context.Context, partitions map[string][]int32) {
	recs := n.track.committable(partitions)
	if len(recs) == 0 {
		return
	}
	if err := n.kc.CommitRecords(ctx, recs...); err != nil {
		// Consumed again later: dedupe and the Idempotency-Key absorb it.
		n.logger.Error("commit offsets", "error", err)
	}
}

// dispatch settles what needs no webhook (bad records, acknowledgements,
// duplicates, unroutable owners) and queues the rest for its endpoint. It
// returns an error only when ctx ended first.
func (n *Notifier) dispatch(ctx context.Context, r *kgo.Record, e *entry) error {
	m := n.metrics
	a, err := alerts.Decode(r.Value)
	if err != nil {
		return n.settle(e, n.deadLetter(ctx, r, "decode", err.Error()))
	}
	if a.Status == alerts.Acknowledged {
		m.skipped.WithLabelValues("acknowledged").Inc() // the rep did it: nothing to tell them
		return n.settle(e, nil)
	}
	if n.dedupe.seen(a.ID, a.Status.Rank()) {
		m.skipped.WithLabelValues("duplicate").Inc()
		return n.settle(e, nil)
	}
	if n.cfg.MaxAge > 0 && n.now().Sub(a.EventTime) > n.cfg.MaxAge {
		m.skipped.WithLabelValues("stale").Inc() // history replayed: stored, not announced
		return n.settle(e, nil)
	}
	name, ok := n.routes.Lookup(a.OwnerID)
	if !ok {
		return n.settle(e, n.deadLetter(ctx, r, "no_route", "no route for owner and no default endpoint"))
	}
	body, err := Render(&a).JSON()
	if err != nil {
		return n.settle(e, n.deadLetter(ctx, r, "encode", err.Error()))
	}
	select {
	case n.queues[name] <- job{e: e, alert: a, body: body}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle finishes e unless err says the work did not complete.
func (n *Notifier) settle(e *entry, err error) error {
	if err != nil {
		return err
	}
	n.track.finish(e)
	return nil
}

// work delivers the alerts routed to ep, one at a time, in order.
func (n *Notifier) work(ctx context.Context, ep *endpoint, q <-chan job) {
	m := n.metrics
	for {
		var j job
		select {
		case <-ctx.Done():
			return
		case j = <-q:
		}
		a := &j.alert
		if !n.track.owned(j.e) {
			continue // the partition moved to another member, which delivers it
		}
		rank := a.Status.Rank()
		if n.dedupe.seen(a.ID, rank) { // an earlier record of the same state got there first
			m.skipped.WithLabelValues("duplicate").Inc()
			n.track.finish(j.e)
			continue
		}
		start := n.now()
		err := n.deliver(ctx, ep, a.DedupeKey(), j.body)
		switch {
		case err == nil:
			n.dedupe.done(a.ID, rank)
			end := n.now()
			m.latency.WithLabelValues(ep.name).Observe(end.Sub(start).Seconds())
			if !a.FiredAt.IsZero() && a.Status == alerts.Fired {
				m.lag.Observe(max(end.Sub(a.FiredAt), 0).Seconds())
			}
			n.track.finish(j.e)
		case ctx.Err() != nil:
			return
		default:
			n.logger.Warn("alert dead-lettered", "alert_id", a.ID, "status", a.Status, "endpoint", ep.name, "error", err)
			reason := "exhausted"
			var perm *permanentError
			if errors.As(err, &perm) {
				reason = "permanent"
			}
			if n.settle(j.e, n.deadLetter(ctx, j.e.rec, reason, err.Error())) != nil {
				return
			}
		}
	}
}

// deadLetter produces r to the DLQ topic with the reason, retrying until it
// is durable or ctx ends: an alert is never dropped silently.
func (n *Notifier) deadLetter(ctx context.Context, r *kgo.Record, class, reason string) error {
	dl := &kgo.Record{
		Topic: n.cfg.DLQTopic, Key: r.Key, Value: r.Value,
		Headers: []kgo.RecordHeader{
			{Key: kafka.HeaderReason, Value: []byte(class + ": " + reason)},
			{Key: kafka.HeaderOrigin, Value: fmt.Appendf(nil, "%s/%d/%d", r.Topic, r.Partition, r.Offset)},
			{Key: kafka.HeaderFailedAt, Value: []byte(n.now().UTC().Format(time.RFC3339))},
		},
	}
	for attempt := 1; ; attempt++ {
		err := n.kc.ProduceSync(ctx, dl).FirstErr()
		if err == nil {
			n.metrics.deadLettered.WithLabelValues(class).Inc()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n.logger.Error("produce dead letter", "attempt", attempt, "error", err)
		t := time.NewTimer(n.backoff(attempt, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close leaves the consumer group and closes the Kafka client. Call it after
// Run returned. Idempotent.
func (n *Notifier) Close() error {
	n.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.kc.LeaveGroupContext(ctx)
		n.kc.Close()
	})
	return nil
}
