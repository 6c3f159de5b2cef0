package eval

import (
	"context"
	"fmt"
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
	Logger     *slog.Logger
}

// ScorerPipeline runs the scorer's own Worker — windows, features, models,
// alert detector — in backfill mode, without Kafka or ClickHouse: the
// same code the scorer runs, driven in event time.
type ScorerPipeline struct {
	workers []*scorer.Worker
	sink    collectSink
	every   int
	n       int
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
	det, err := alerts.New(*c.Alerts, alerts.Options{Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("alert detector: %w", err)
	}
	p := &ScorerPipeline{every: c.FlushEvery}
	for i := range c.Partitions {
		p.workers = append(p.workers, scorer.NewWorker(scorer.WorkerConfig{
			Partition: int32(i),
			Windows:   windows.Config{Mode: windows.Backfill, Lateness: c.Lateness},
			Detector:  det,
			Logger:    c.Logger,
		}))
	}
	return p, nil
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
func (p *ScorerPipeline) Results() *Results { return &p.sink.res }

// collectSink keeps what the metrics need: key, event time, probability.
type collectSink struct{ res Results }

func (s *collectSink) Write(_ context.Context, b *scorer.Batch) error {
	for i := range b.Leads {
		r := &b.Leads[i]
		s.res.Leads = append(s.res.Leads, LeadScore{LeadID: r.LeadID, At: r.EventTime, Probability: r.Probability})
	}
	for i := range b.Churn {
		r := &b.Churn[i]
		s.res.Churn = append(s.res.Churn, ChurnScore{AccountID: r.AccountID, At: r.EventTime, Probability: r.Probability})
	}
	s.res.Alerts = append(s.res.Alerts, b.Alerts...)
	return nil
}
