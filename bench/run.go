package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/benchcpu"
)

// Config of a benchmark run. Durations and sizes are the defaults of
// DefaultConfig unless set.
type Config struct {
	Targets    []string      // systems under test, in order; default crmstream, floor, goka
	Events     int           // backlog scenario: events preloaded; default 300,000; 0 skips it
	Rates      []int         // fixed-rate scenarios, events/s
	RateFor    time.Duration // how long each fixed rate is produced; default 10 s
	Partitions int           // partitions of crm.raw (and of crm.events, made by ingest); default 4
	BatchRows  int           // floor and goka insert batch; default 50,000 (ingest's default)
	Data       DataConfig
	BinDir     string        // ingest, scorer, bench-floor, bench-goka
	ClickHouse string        // native address; default 127.0.0.1:9000
	DBPrefix   string        // fresh databases <prefix>_<target>_<scenario>; default crm_e2e
	KeepDB     bool          // keep the databases for inspection
	WorkDir    string        // child logs, goka state, profiles; default artifacts/bench
	Scorer     bool          // run the scorer (false: ingest alone, probes on the events table)
	IngestArgs []string      // extra flags for ingest
	ScorerArgs []string      // flags for the scorer
	Profile    time.Duration // CPU-profile crmstream's children this long in the backlog run; 0: off
	RunTimeout time.Duration // give up on one target×scenario after this; default 4 min
	ProbeEvery time.Duration // fixed rate: one probe per this much produce time; default 100 ms
	StallAfter time.Duration // fail a run whose progress stops this long; default 60 s
	// BacklogSpan is the event time the backlog covers, ending when the
	// preload starts; default 2 min (less than the scorer's lateness, so
	// nothing is late even if a partition idles and its watermark follows
	// the wall clock).
	BacklogSpan time.Duration
	// ChangelogMaxBytes, when > 0, pre-creates crm.scorer.changelog with this
	// max.message.bytes: a workaround for the scorer's changelog batches
	// (up to 4 MiB) exceeding the broker default of 1 MiB. 0: leave the topic
	// to the scorer.
	ChangelogMaxBytes int
	Logger            *slog.Logger // progress; nil: discard
	Out               io.Writer    // the report; nil: discard
}

// DefaultConfig is a run that fits in about ten minutes on the 2-core box.
func DefaultConfig() Config {
	return Config{
		Targets: []string{Crmstream, Floor, Goka}, Events: 300_000, Rates: []int{10_000, 50_000},
		RateFor: 10 * time.Second, Partitions: 4, BatchRows: 50_000, BinDir: "bin/bench",
		ClickHouse: "127.0.0.1:9000", DBPrefix: "crm_e2e", WorkDir: "artifacts/bench", Scorer: true,
		RunTimeout: 4 * time.Minute, ProbeEvery: 100 * time.Millisecond, StallAfter: time.Minute, BacklogSpan: 2 * time.Minute,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Events < 0 || c.Partitions <= 0 || c.BatchRows <= 0 {
		errs = append(errs, errors.New("events must be ≥ 0, partitions and batch rows > 0"))
	}
	for _, r := range c.Rates {
		if r <= 0 {
			errs = append(errs, fmt.Errorf("rate %d: must be > 0", r))
		}
	}
	if len(c.Rates) > 0 && c.RateFor <= 0 {
		errs = append(errs, errors.New("rate duration must be > 0"))
	}
	for _, t := range c.Targets {
		if !slices.Contains([]string{Crmstream, Floor, Goka}, t) {
			errs = append(errs, fmt.Errorf("unknown target %q (crmstream, floor, goka)", t))
		}
	}
	if c.RunTimeout <= 0 || c.ProbeEvery <= 0 || c.StallAfter <= 0 || c.BacklogSpan <= 0 {
		errs = append(errs, errors.New("run timeout, probe interval and stall time must be > 0"))
	}
	return errors.Join(errs...)
}

// Harness runs the scenarios. Not safe for concurrent use.
type Harness struct {
	cfg   Config
	log   *slog.Logger
	data  *Data
	ch    driver.Conn
	chPID int
}

// New simulates the data and connects to ClickHouse.
func New(ctx context.Context, cfg Config) (*Harness, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Harness{cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.Out == nil {
		h.cfg.Out = io.Discard
	}
	start := time.Now()
	d, err := NewData(cfg.Data)
	if err != nil {
		return nil, err
	}
	h.data = d
	h.log.Info("simulated the event pool", "events", len(d.pool), "leads", d.leads, "took", time.Since(start).Round(time.Millisecond))
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cfg.ClickHouse}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s: %w", cfg.ClickHouse, err)
	}
	h.ch = conn
	h.chPID = clickhousePID()
	return h, nil
}

// Close releases the ClickHouse connection.
func (h *Harness) Close() error { return h.ch.Close() }

// scenario is one load shape.
type scenario struct {
	name string
	rate int // 0: backlog
	n    int // events
}

// Run runs every scenario for every target and writes the report. It
// returns the results in order.
func (h *Harness) Run(ctx context.Context) ([]Result, error) {
	var scs []scenario
	if h.cfg.Events > 0 {
		scs = append(scs, scenario{name: "backlog", n: h.cfg.Events})
	}
	for _, r := range h.cfg.Rates {
		scs = append(scs, scenario{name: fmt.Sprintf("rate%dk", r/1000), rate: r, n: int(float64(r) * h.cfg.RateFor.Seconds())})
	}
	var results []Result
	for _, sc := range scs {
		for _, name := range h.cfg.Targets {
			t, err := h.target(name)
			if err != nil {
				return results, err
			}
			h.settle(ctx)
			h.log.Info("run", "scenario", sc.name, "target", name, "events", sc.n, "load", loadavg())
			res, err := h.runOne(ctx, sc, t)
			if err != nil {
				res.Err = err.Error()
				h.log.Error("run failed", "scenario", sc.name, "target", name, "error", err)
			}
			results = append(results, res)
			if ctx.Err() != nil {
				return results, ctx.Err()
			}
		}
	}
	writeReport(h.cfg.Out, results)
	return results, nil
}

// settle waits, at most 30 s, until the ClickHouse server is idle: no merge
// running and under 5 % of a core over half a second. The previous run's
// merges and dropped database otherwise land on the next target's account.
func (h *Harness) settle(ctx context.Context) {
	start := time.Now()
	for time.Since(start) < 30*time.Second && ctx.Err() == nil {
		c0, err := benchcpu.Process(h.chPID)
		if err != nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
		c1, err := benchcpu.Process(h.chPID)
		if err != nil {
			return
		}
		var merges uint64
		if row := h.ch.QueryRow(ctx, "SELECT count() FROM system.merges"); row.Scan(&merges) != nil {
			merges = 0
		}
		if merges == 0 && c1-c0 < 25*time.Millisecond {
			break
		}
	}
	if d := time.Since(start); d > time.Second {
		h.log.Info("waited for ClickHouse to settle", "took", d.Round(100*time.Millisecond))
	}
}

// probe is one sampled event whose arrival in ClickHouse is watched.
type probe struct {
	EventID, LeadID string
	EventTime       time.Time // occurred_at
	Partition       int32
	Offset          int64
	At              time.Time // handed to the Kafka client
	Acked           bool
	Seen            time.Time // first poll that found it
}

// tracker holds the probes of one run; the producer's callbacks and the
// poller share it.
type tracker struct {
	mu      sync.Mutex
	probes  []*probe
	last    map[int32]*probe // the newest lead event produced per partition
	pending []*probe
}

func (t *tracker) add(p *probe, final bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !final {
		t.probes = append(t.probes, p)
		t.pending = append(t.pending, p)
	}
}

func (t *tracker) acked(p *probe, part int32, off int64, final bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.Partition, p.Offset, p.Acked = part, off, true
	if final {
		if cur := t.last[part]; cur == nil || cur.Offset < off {
			t.last[part] = p
		}
	}
}

// Result is one target in one scenario.
type Result struct {
	Scenario, Target string
	Events           int
	Rate             int           // offered rate, 0 for backlog
	Startup          time.Duration // child start to first consumer group ready
	Elapsed          time.Duration // ready (or first produce) to the last event queryable
	Sustained        float64       // events/s between 10 % and 90 % of progress (backlog)
	ProduceRate      float64       // achieved offered rate (fixed rate)
	Drain            time.Duration // after the last produce until done (fixed rate)
	CPU              time.Duration // children's CPU between ready and done
	ChildCPU         []string      // per process: "name=µs/event"
	CHCPU            time.Duration // ClickHouse server's CPU in the same interval
	CHAfterCPU       time.Duration // its CPU from then until it settled: the merges still to do
	HarnessCPU       time.Duration // this process's CPU in the same interval: the in-process broker, producing, probing
	PeakRSS          int64         // sum of the children's VmHWM
	ReadyRSS         int64         // sum of the children's VmRSS when ready (the baseline)
	Leads            int           // distinct leads in the data
	Latencies        []time.Duration
	Probes           int // probes produced (fixed rate)
	DoneBy           string
	LoadBefore       string
	LoadAfter        string
	Err              string
}

// EventsPerSecond is the end-to-end rate: events over Elapsed.
func (r Result) EventsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

func (h *Harness) runOne(ctx context.Context, sc scenario, t target) (res Result, err error) {
	res = Result{Scenario: sc.name, Target: t.name, Events: sc.n, Rate: sc.rate, Leads: h.data.LeadsPer(sc.n), LoadBefore: loadavg()}
	defer func() { res.LoadAfter = loadavg() }()
	ctx, cancel := context.WithTimeout(ctx, h.cfg.RunTimeout)
	defer cancel()

	parts := int32(h.cfg.Partitions)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(parts)), kfake.SeedTopics(parts, "crm.raw"))
	if err != nil {
		return res, fmt.Errorf("kfake: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	db := fmt.Sprintf("%s_%s_%s", h.cfg.DBPrefix, t.name, sc.name)
	if err := h.ch.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		return res, fmt.Errorf("drop database: %w", err)
	}
	if err := h.ch.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return res, fmt.Errorf("create database: %w", err)
	}
	if !h.cfg.KeepDB {
		defer func() { _ = h.ch.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) }()
	}
	workDir := filepath.Join(h.cfg.WorkDir, sc.name+"-"+t.name)
	_ = os.RemoveAll(workDir)

	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("crm.raw"),
		kgo.ProducerLinger(time.Millisecond), kgo.MaxBufferedRecords(200_000), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return res, fmt.Errorf("producer: %w", err)
	}
	defer prod.Close()
	adm := kadm.NewClient(prod)
	tr := &tracker{last: map[int32]*probe{}}
	if t.name == Crmstream && h.cfg.Scorer && h.cfg.ChangelogMaxBytes > 0 {
		resp, err := adm.CreateTopic(ctx, parts, -1, map[string]*string{
			"cleanup.policy":    kadm.StringPtr("compact"),
			"max.message.bytes": kadm.StringPtr(fmt.Sprint(h.cfg.ChangelogMaxBytes)),
		}, "crm.scorer.changelog")
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return res, fmt.Errorf("create changelog topic: %w", err)
		}
	}

	if sc.rate == 0 {
		start := time.Now()
		if err := h.produce(ctx, prod, tr, sc.n, 0, 0); err != nil {
			return res, err
		}
		h.log.Info("preloaded", "events", sc.n, "took", time.Since(start).Round(time.Millisecond))
	}

	specs, err := t.children(runEnv{brokers: brokers[0], chAddr: h.cfg.ClickHouse, db: db,
		binDir: h.cfg.BinDir, stateDir: workDir, port: freePort})
	if err != nil {
		return res, err
	}
	spawned := time.Now()
	var children []*Child
	defer func() {
		for i := len(children) - 1; i >= 0; i-- {
			_ = children[i].Stop(15 * time.Second)
		}
	}()
	for _, s := range specs {
		c, err := startChild(s.name, s.bin, s.args, s.env, workDir)
		if err != nil {
			return res, err
		}
		children = append(children, c)
	}
	failed := func() error {
		for _, c := range children {
			if done, werr := c.Exited(); done {
				return fmt.Errorf("%s exited (%v): %s", c.Name, werr, c.LogTail(2000))
			}
		}
		return nil
	}

	// Ready: the first consumer group of the target is stable.
	if err := waitGroups(ctx, adm, 1, failed); err != nil {
		return res, err
	}
	ready := time.Now()
	res.Startup = ready.Sub(spawned)
	cpu0 := childrenCPU(children)
	byChild0 := perChildCPU(children)
	ch0, _ := benchcpu.Process(h.chPID)
	self0, _ := benchcpu.Process(os.Getpid())
	for _, c := range children {
		if rss, err := c.RSS(); err == nil {
			res.ReadyRSS += rss
		}
	}

	var profWG sync.WaitGroup
	if h.cfg.Profile > 0 && sc.rate == 0 && t.name == Crmstream {
		for _, s := range specs {
			if s.pprof == "" {
				continue
			}
			profWG.Add(1)
			go func() {
				defer profWG.Done()
				h.fetchProfile(ctx, s.pprof, "profile?seconds="+fmt.Sprint(int(h.cfg.Profile.Seconds())), filepath.Join(h.cfg.WorkDir, "profiles", s.name+".cpu.pprof"))
			}()
		}
	}

	pollCtx, stopPoll := context.WithCancel(ctx)
	var pollWG sync.WaitGroup
	pollWG.Add(1)
	go func() {
		defer pollWG.Done()
		h.pollProbes(pollCtx, db, t.probe, tr)
	}()
	defer func() { stopPoll(); pollWG.Wait() }()

	var progress []sample
	if sc.rate > 0 {
		// The consumers are up; offer the rate.
		if err := waitGroups(ctx, adm, t.groups, failed); err != nil {
			return res, err
		}
		ready = time.Now()
		cpu0 = childrenCPU(children)
		byChild0 = perChildCPU(children)
		ch0, _ = benchcpu.Process(h.chPID)
		self0, _ = benchcpu.Process(os.Getpid())
		every := max(1, int(float64(sc.rate)*h.cfg.ProbeEvery.Seconds()))
		if err := h.produce(ctx, prod, tr, sc.n, sc.rate, every); err != nil {
			return res, err
		}
		res.ProduceRate = float64(sc.n) / time.Since(ready).Seconds()
	}
	produced := time.Now()

	// Done: every partition's last lead event is queryable, and every
	// consumer group has caught up with its input.
	doneBy, err := h.waitDone(ctx, adm, t, tr, sc.n, failed, &progress)
	if err != nil {
		return res, err
	}
	done := time.Now()
	res.DoneBy = doneBy
	res.Elapsed = done.Sub(ready)
	if sc.rate > 0 {
		res.Drain = done.Sub(produced)
	}
	res.CPU = childrenCPU(children) - cpu0
	for i, d := range perChildCPU(children) {
		res.ChildCPU = append(res.ChildCPU, fmt.Sprintf("%s=%.1f", children[i].Name, perEvent(d-byChild0[i], sc.n)))
	}
	ch1, chErr := benchcpu.Process(h.chPID)
	if chErr == nil {
		res.CHCPU = ch1 - ch0
	}
	if self1, err := benchcpu.Process(os.Getpid()); err == nil {
		res.HarnessCPU = self1 - self0
	}
	for _, c := range children {
		if rss, err := c.PeakRSS(); err == nil {
			res.PeakRSS += rss
		}
	}
	res.Sustained = sustained(progress, sc.n)
	if h.cfg.Profile > 0 && sc.rate == 0 && t.name == Crmstream {
		profWG.Wait()
		for _, s := range specs {
			if s.pprof != "" {
				h.fetchProfile(ctx, s.pprof, "heap", filepath.Join(h.cfg.WorkDir, "profiles", s.name+".heap.pprof"))
			}
		}
	}
	stopPoll()
	pollWG.Wait()
	// The merges a run's inserts cause go on after it: count them until the
	// server settles, as a separate figure (the interval's CPU above may
	// hold some of them or none, which makes it vary from run to run).
	if chErr == nil {
		h.settle(ctx)
		if ch2, err := benchcpu.Process(h.chPID); err == nil {
			res.CHAfterCPU = ch2 - ch1
		}
	}
	tr.mu.Lock()
	for _, p := range tr.probes {
		if !p.Seen.IsZero() {
			res.Latencies = append(res.Latencies, p.Seen.Sub(p.At))
		}
	}
	res.Probes = len(tr.probes)
	tr.mu.Unlock()
	slices.Sort(res.Latencies)
	return res, nil
}

// produce writes n events from the start of the data to crm.raw: as fast as
// possible when rate is 0, else paced at rate events/s, with every every-th
// lead event a latency probe. The last lead event of each partition is
// tracked as the run's completion marker.
func (h *Harness) produce(ctx context.Context, cl *kgo.Client, tr *tracker, n, rate, every int) error {
	h.data.Reset()
	var (
		e       event.Event
		errMu   sync.Mutex
		prodErr error
		start   = time.Now()
		leadN   int
	)
	for i := 0; i < n; i++ {
		if rate > 0 && i%64 == 0 {
			// Pace in small steps: sleep until event i is due.
			if due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second))); time.Until(due) > time.Millisecond {
				time.Sleep(time.Until(due))
			}
		}
		h.data.Next(&e)
		// Event time is arrival time, as for live traffic: the scheduled
		// produce time at a fixed rate; for a backlog, spread over the
		// BacklogSpan before the preload. Order per key is kept (the pool is
		// in event-time order), and a live-mode scorer whose idle partitions
		// follow the wall clock never sees these events as late.
		if rate > 0 {
			e.OccurredAt = start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second))).UTC().Truncate(time.Millisecond)
		} else {
			e.OccurredAt = start.Add(-h.cfg.BacklogSpan + time.Duration(float64(i)/float64(n)*float64(h.cfg.BacklogSpan))).UTC().Truncate(time.Millisecond)
		}
		r := &kgo.Record{Key: []byte(e.Key()), Value: e.AppendJSON(make([]byte, 0, 512)), Timestamp: e.OccurredAt}
		var p *probe
		isProbe := false
		if e.LeadID != "" {
			leadN++
			p = &probe{EventID: e.ID, LeadID: e.LeadID, EventTime: e.OccurredAt}
			isProbe = every > 0 && leadN%every == 0
			if isProbe {
				p.At = time.Now()
				tr.add(p, false)
			}
		}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				errMu.Lock()
				prodErr = errors.Join(prodErr, err)
				errMu.Unlock()
				return
			}
			if p != nil {
				tr.acked(p, r.Partition, r.Offset, true)
			}
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	errMu.Lock()
	defer errMu.Unlock()
	if prodErr != nil {
		return fmt.Errorf("produce: %w", prodErr)
	}
	return nil
}

// pollProbes looks for unseen probes (and the completion markers) in
// ClickHouse every 50 ms.
func (h *Harness) pollProbes(ctx context.Context, db string, q probeQuery, tr *tracker) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tr.mu.Lock()
		var ask []*probe
		keep := tr.pending[:0]
		for _, p := range tr.pending {
			if !p.Seen.IsZero() {
				continue
			}
			keep = append(keep, p)
			if p.Acked && len(ask) < 200 {
				ask = append(ask, p)
			}
		}
		tr.pending = keep
		for _, p := range tr.last {
			if p.Seen.IsZero() && !slices.Contains(ask, p) {
				ask = append(ask, p)
			}
		}
		tr.mu.Unlock()
		if len(ask) == 0 {
			continue
		}
		found, err := h.query(ctx, db, q, ask)
		now := time.Now()
		if err != nil {
			continue // the table may not exist yet
		}
		seen := q.seen(found)
		tr.mu.Lock()
		for _, p := range ask {
			if seen(p) && p.Seen.IsZero() {
				p.Seen = now
			}
		}
		tr.mu.Unlock()
	}
}

func (h *Harness) query(ctx context.Context, db string, q probeQuery, ps []*probe) (map[string]bool, error) {
	sql, args := q.toSQL(db, ps)
	rows, err := h.ch.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		found[id] = true
	}
	return found, rows.Err()
}

// sample is the slowest consumer group's committed progress at a time.
type sample struct {
	at        time.Time
	committed int64
}

// waitGroups waits until n consumer groups are stable.
func waitGroups(ctx context.Context, adm *kadm.Client, n int, failed func() error) error {
	for {
		if err := failed(); err != nil {
			return err
		}
		gs, err := adm.DescribeGroups(ctx)
		if err == nil {
			stable := 0
			for _, g := range gs {
				if g.State == "Stable" {
					stable++
				}
			}
			if stable >= n {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d consumer groups: %w", n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitDone waits until every partition's last lead event is queryable and
// every group has committed all n events of its input topic. Marker
// visibility is the end time; the lag check guards against a target that
// writes rows out of order. When a target never writes the markers (a
// probe table it does not fill for every event), caught-up groups end the
// run after a grace period.
func (h *Harness) waitDone(ctx context.Context, adm *kadm.Client, t target, tr *tracker, n int, failed func() error, progress *[]sample) (string, error) {
	var caughtUp, markers time.Time
	last, lastChange := int64(-1), time.Now()
	for {
		if err := failed(); err != nil {
			return "", err
		}
		committed, groups := groupProgress(ctx, adm)
		*progress = append(*progress, sample{at: time.Now(), committed: committed})
		if committed != last {
			last, lastChange = committed, time.Now()
		} else if caughtUp.IsZero() && time.Since(lastChange) > h.cfg.StallAfter {
			return "", fmt.Errorf("stalled: the slowest consumer group has committed %d of %d events and made no progress for %v (see the child logs in %s)", committed, n, h.cfg.StallAfter, h.cfg.WorkDir)
		}
		if groups >= t.groups && committed >= int64(n) && caughtUp.IsZero() {
			caughtUp = time.Now()
		}
		tr.mu.Lock()
		all := len(tr.last) > 0
		for _, p := range tr.last {
			if p.Seen.IsZero() {
				all = false
			} else if p.Seen.After(markers) {
				markers = p.Seen
			}
		}
		tr.mu.Unlock()
		switch {
		case all && !caughtUp.IsZero():
			return "markers", nil
		case !caughtUp.IsZero() && time.Since(caughtUp) > 10*time.Second:
			tr.mu.Lock()
			for _, p := range tr.last {
				if p.Seen.IsZero() {
					h.log.Warn("completion marker not found in ClickHouse", "event_id", p.EventID, "lead_id", p.LeadID, "partition", p.Partition, "offset", p.Offset)
				}
			}
			tr.mu.Unlock()
			return "lag (markers not seen)", nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for the end (committed %d of %d, markers seen %v): %w", committed, n, all, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// groupProgress returns the smallest number of records any group has
// committed on crm.raw or crm.events, and how many groups commit there.
func groupProgress(ctx context.Context, adm *kadm.Client) (int64, int) {
	gs, err := adm.ListGroups(ctx)
	if err != nil {
		return 0, 0
	}
	lags, err := adm.Lag(ctx, gs.Groups()...)
	if err != nil {
		return 0, 0
	}
	least, groups := int64(-1), 0
	for _, l := range lags.Sorted() {
		var sum int64
		counted := false
		for topic, ps := range l.Lag {
			if topic != "crm.raw" && topic != "crm.events" {
				continue
			}
			for _, m := range ps {
				if m.Commit.At > 0 {
					sum += m.Commit.At
					counted = true
				}
			}
		}
		if !counted {
			continue
		}
		groups++
		if least < 0 || sum < least {
			least = sum
		}
	}
	return max(least, 0), groups
}

// sustained is the rate between 10 % and 90 % of n committed.
func sustained(ss []sample, n int) float64 {
	var t10, t90 time.Time
	var c10, c90 int64
	for _, s := range ss {
		if t10.IsZero() && s.committed >= int64(n)/10 {
			t10, c10 = s.at, s.committed
		}
		if t90.IsZero() && s.committed >= int64(n)*9/10 {
			t90, c90 = s.at, s.committed
		}
	}
	if t10.IsZero() || t90.IsZero() || !t90.After(t10) {
		return 0
	}
	return float64(c90-c10) / t90.Sub(t10).Seconds()
}

func perChildCPU(cs []*Child) []time.Duration {
	out := make([]time.Duration, len(cs))
	for i, c := range cs {
		out[i], _ = c.CPU()
	}
	return out
}

func childrenCPU(cs []*Child) time.Duration {
	var sum time.Duration
	for _, c := range cs {
		if d, err := c.CPU(); err == nil {
			sum += d
		}
	}
	return sum
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (h *Harness) fetchProfile(ctx context.Context, addr, what, path string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.log.Warn("profile", "error", err)
		return
	}
	f, err := os.Create(path)
	if err != nil {
		h.log.Warn("profile", "error", err)
		return
	}
	defer f.Close()
	if err := httpGet(ctx, "http://"+addr+"/debug/pprof/"+what, f); err != nil {
		h.log.Warn("profile", "addr", addr, "error", err)
		return
	}
	h.log.Info("profile written", "path", path)
}

func httpGet(ctx context.Context, url string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
