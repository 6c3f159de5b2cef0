package eval

import (
	"context"
	"fmt"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/scorer"
	"github.com/crmstream/crmstream/windows"
)

// ScorerConfig configures a ScorerPipeline.
type ScorerConfig struct {
	// Partitions splits keys over this many workers, as Kafka partitions
	// would (each has its own watermark). Default 1.
	Partitions int
	// Lateness is the workers' allowed lateness. Default 5 minutes.
	Lateness time.Duration
	// Alerts are the detector's rules. Default alerts.DefaultConfig.
	Alerts *alerts.Config
	// FlushEvery is how many events pass between flushes. Default 4096.
	FlushEvery int
	// Live runs the workers in live mode on a simulated wall clock that
	// follows the delivery time of the records (Tick): Advance every
	// AdvanceEvery (default 500 ms) as the scorer's runtime does, idle
	// partitions moving after IdleAfter (default 2 s), alerts fired ahead of
	// the watermark and retracted by late events. Alerts' FiredAt is then
	// on that clock, so their wall delay means what it would live.
	Live         bool
	IdleAfter    time.Duration
	AdvanceEvery time.Duration
	// Rules scores with the transparent rules alone (the scorer's --rules),
	// instead of the learned lead and churn models the scorer runs by
	// default.
	Rules  bool
	Logger *slog.Logger
}

// ScorerPipeline runs the scorer's own Worker — windows, features, models,
// alert detector — in backfill mode, without Kafka or ClickHouse: the
// same code the scorer runs, driven in event time.
type ScorerPipeline struct {
	workers []*scorer.Worker
	sink    collectSink
	every   int
	n       int
	live    bool
	step    time.Duration
	clock   time.Time // simulated wall clock (live)
	next    time.Time // next Advance (live)
}

// NewScorerPipeline builds the workers.
func NewScorerPipeline(c ScorerConfig) (*ScorerPipeline, error) {
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.Lateness <= 0 {
		c.Lateness = 5 * time.Minute
	}
	if c.Alerts == nil {
		d := alerts.DefaultConfig()
		c.Alerts = &d
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 4096
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = 2 * time.Second
	}
	if c.AdvanceEvery <= 0 {
		c.AdvanceEvery = 500 * time.Millisecond
	}
	p := &ScorerPipeline{every: c.FlushEvery, live: c.Live, step: c.AdvanceEvery}
	now := time.Now
	mode := windows.Backfill
	if c.Live {
		now = func() time.Time { return p.clock }
		mode = windows.Live
	}
	det, err := alerts.New(*c.Alerts, alerts.Options{Logger: c.Logger, Now: now})
	if err != nil {
		return nil, fmt.Errorf("alert detector: %w", err)
	}
	var learned *scorer.Models
	if !c.Rules {
		// One pair of models shared by every worker, as in a scorer process.
		if learned, err = newModels(); err != nil {
			return nil, err
		}
	}
	for i := range c.Partitions {
		p.workers = append(p.workers, scorer.NewWorker(scorer.WorkerConfig{
			Partition: int32(i),
			Windows:   windows.Config{Mode: mode, Lateness: c.Lateness, IdleAfter: c.IdleAfter},
			Detector:  det,
			Models:    learned,
			Now:       now,
			Logger:    c.Logger,
		}))
	}
	return p, nil
}

// Live implements Clocked.
func (p *ScorerPipeline) Live() bool { return p.live }

// Tick implements Clocked: in live mode the simulated wall clock moves to
// now, calling Advance on every worker each AdvanceEvery on the way.
func (p *ScorerPipeline) Tick(now time.Time) error {
	if !p.live {
		return nil
	}
	if p.next.IsZero() {
		p.next = now
	}
	for !p.next.After(now) {
		p.clock = p.next
		for _, w := range p.workers {
			w.Advance(p.next)
		}
		p.next = p.next.Add(p.step)
	}
	if now.After(p.clock) {
		p.clock = now
	}
	return nil
}

func (p *ScorerPipeline) worker(key string) *scorer.Worker {
	if len(p.workers) == 1 {
		return p.workers[0]
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return p.workers[h.Sum32()%uint32(len(p.workers))]
}

// Process implements Pipeline.
func (p *ScorerPipeline) Process(ev *event.Event) error {
	p.worker(ev.Key()).Process(-1, ev)
	p.n++
	if p.n%p.every == 0 {
		return p.flush()
	}
	return nil
}

func (p *ScorerPipeline) flush() error {
	for _, w := range p.workers {
		if err := w.Flush(context.Background(), &p.sink); err != nil {
			return err
		}
	}
	return nil
}

// Finish implements Pipeline: the watermark of every worker goes to end.
func (p *ScorerPipeline) Finish(end time.Time) error {
	for _, w := range p.workers {
		w.AdvanceTo(end)
	}
	return p.flush()
}

// Results implements Pipeline.
func (p *ScorerPipeline) Results() *Results {
	s := &p.sink
	s.res.Versions = map[string]int{}
	for v, n := range s.leadV {
		s.res.Versions["lead/"+v] = n
	}
	for v, n := range s.churnV {
		s.res.Versions["churn/"+v] = n
	}
	return &s.res
}

// collectSink keeps what the metrics need: key, event time, probability.
type collectSink struct {
	res           Results
	leadV, churnV map[string]int // rows by model version
}

func (s *collectSink) Write(_ context.Context, b *scorer.Batch) error {
	if s.leadV == nil {
		s.leadV, s.churnV = map[string]int{}, map[string]int{}
	}
	for i := range b.Leads {
		r := &b.Leads[i]
		s.leadV[r.ModelVersion]++
		s.res.Leads = append(s.res.Leads, LeadScore{LeadID: r.LeadID, At: r.EventTime, Probability: r.Probability})
	}
	for i := range b.Churn {
		r := &b.Churn[i]
		s.churnV[r.ModelVersion]++
		s.res.Churn = append(s.res.Churn, ChurnScore{AccountID: r.AccountID, At: r.EventTime, Probability: r.Probability})
	}
	s.res.Alerts = append(s.res.Alerts, b.Alerts...)
	return nil
}

// newModels builds fresh lead and churn models over the built-in feature
// sets, the scorer's defaults before any champion is registered.
func newModels() (*scorer.Models, error) {
	ls, err := features.Lead()
	if err != nil {
		return nil, fmt.Errorf("lead features: %w", err)
	}
	as, err := features.Account()
	if err != nil {
		return nil, fmt.Errorf("account features: %w", err)
	}
	lead, err := models.New(models.LeadConfig(ls))
	if err != nil {
		return nil, fmt.Errorf("lead model: %w", err)
	}
	churn, err := models.New(models.ChurnConfig(as))
	if err != nil {
		return nil, fmt.Errorf("churn model: %w", err)
	}
	return &scorer.Models{Lead: lead, Churn: churn}, nil
}
