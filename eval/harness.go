package eval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/simulator"
)

// Pipeline is the scoring code under evaluation, driven in event time. The
// harness calls it from one goroutine.
type Pipeline interface {
	// Process applies one event, parsed and normalized as ingest does.
	Process(ev *event.Event) error
	// Finish raises the clock to end so due timers fire, and flushes.
	Finish(end time.Time) error
	// Results returns everything emitted so far.
	Results() *Results
}

// Clocked is a Pipeline with a wall clock of its own (live mode): Run
// calls Tick with each record's delivery time before the record, and with
// the end of the stream before Finish.
type Clocked interface {
	Tick(now time.Time) error
	// Live reports whether the pipeline runs on the clock (alerts' FiredAt
	// then means something).
	Live() bool
}

// LeadScore is one served lead probability, as of an event time.
type LeadScore struct {
	LeadID      string
	At          time.Time
	Probability float64
}

// ChurnScore is one served churn probability, as of an event time.
type ChurnScore struct {
	AccountID   string
	At          time.Time
	Probability float64
}

// Results is what a pipeline emitted.
type Results struct {
	Leads  []LeadScore
	Churn  []ChurnScore
	Alerts []alerts.Alert
	// Versions counts score rows by model version ("lead/rules-v1" …), so a
	// report says which model it measured.
	Versions map[string]int
}

// Config sets up one evaluation run.
type Config struct {
	// Sim is the simulated world; the stream is replayed in event time.
	Sim simulator.Config
	// Alerts are the detector's rules the pipeline runs with; the truth is
	// filtered by the same rules (cooldowns). Default alerts.DefaultConfig.
	Alerts *alerts.Config
	// Lateness is the pipeline's allowed lateness: conditions later than
	// the stream end minus it are not expected to fire. Default 5 minutes.
	Lateness time.Duration
	// Warmup excludes leads created, and churn snapshots taken, in the first
	// stretch of the stream, while the models have few labels. Default 90
	// days (the first negative lead labels arrive then).
	Warmup time.Duration
	// LeadSnapshot is when a lead's score is read: the last score at most
	// this long after its creation (and before its conversion). Default 7
	// days.
	LeadSnapshot time.Duration
	// ChurnHorizon is the churn label window. Default 30 days.
	ChurnHorizon time.Duration
	// ChurnEvery is the spacing of churn snapshots. Default 7 days.
	ChurnEvery time.Duration
	// Tolerance is how far an alert's event time may be from the true
	// condition time and still match. Default 1 minute.
	Tolerance time.Duration
	// Logger reports progress; nil discards.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Alerts == nil {
		d := alerts.DefaultConfig()
		c.Alerts = &d
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Lateness, 5*time.Minute)
	def(&c.Warmup, 90*24*time.Hour)
	def(&c.LeadSnapshot, 7*24*time.Hour)
	def(&c.ChurnHorizon, 30*24*time.Hour)
	def(&c.ChurnEvery, 7*24*time.Hour)
	def(&c.Tolerance, time.Minute)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run generates the stream, passes every record through event.Parse (junk
// is rejected as ingest would) into p, and scores p's output against the
// ground truth.
func Run(ctx context.Context, cfg Config, p Pipeline) (*Report, error) {
	cfg.defaults()
	if cfg.Sim.LeadsPerHour > 0 {
		return nil, errors.New("eval needs a finite stream: leads per hour must be 0")
	}
	ts := &simulator.TruthSet{}
	g, err := simulator.New(cfg.Sim, ts)
	if err != nil {
		return nil, err
	}
	s := simulator.NewStream(g)
	rep := &Report{}
	start := time.Now()
	clocked, _ := p.(Clocked)
	rep.Live = clocked != nil && clocked.Live()
	var rec simulator.Record
	for s.Next(&rec) {
		rep.Records++
		if clocked != nil {
			if err := clocked.Tick(rec.At); err != nil {
				return nil, fmt.Errorf("tick: %w", err)
			}
		}
		ev, err := event.Parse(rec.Value)
		if err != nil {
			rep.Rejected++
			continue
		}
		if err := p.Process(&ev); err != nil {
			return nil, fmt.Errorf("process %s: %w", ev.ID, err)
		}
		if rep.Records%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cfg.Logger.Info("replaying", "records", rep.Records, "event_time", rec.Time)
		}
	}
	end := g.End()
	if clocked != nil {
		if err := clocked.Tick(end); err != nil {
			return nil, fmt.Errorf("tick: %w", err)
		}
	}
	if err := p.Finish(end); err != nil {
		return nil, fmt.Errorf("finish: %w", err)
	}
	rep.Elapsed = time.Since(start)
	res := p.Results()
	rep.LeadScores, rep.ChurnScores, rep.AlertRows = len(res.Leads), len(res.Churn), len(res.Alerts)
	rep.Versions = res.Versions
	rep.Lead = leadQuality(ts, res.Leads, cfg)
	rep.Churn = churnQuality(ts, res.Churn, cfg, end)
	horizon := end.Add(-cfg.Lateness)
	truth := AlertTruth(ts, RulesFrom(*cfg.Alerts, horizon))
	var rows []alerts.Alert
	for _, a := range res.Alerts {
		if (a.Kind == alerts.Abandonment || a.Kind == alerts.Inactivity) && !a.EventTime.After(horizon) {
			rows = append(rows, a)
		}
	}
	for _, q := range alerts.Evaluate(truth, rows, alerts.EvalOptions{Tolerance: cfg.Tolerance}) {
		switch q.Kind {
		case alerts.Abandonment:
			rep.Abandonment = q
		case alerts.Inactivity:
			rep.Inactivity = q
		}
	}
	rep.Abandonment.Kind, rep.Inactivity.Kind = alerts.Abandonment, alerts.Inactivity
	for _, a := range res.Alerts {
		rep.AlertsByKind[kindIndex(a.Kind)]++
	}
	return rep, nil
}

// Binary compares a model's probabilities with the oracle's (the
// simulator's true probabilities) on the same examples.
type Binary struct {
	N, Positives int
	Model        models.Metrics
	Oracle       models.Metrics
	AUCStdErr    float64 // of the model's AUC
	Missing      int     // examples without a score, left out
}

// Ratio is the model's AUC over the oracle's.
func (b Binary) Ratio() float64 { return b.Model.AUC / b.Oracle.AUC }

func binary(probs, oracle []float64, labels []bool, missing int) Binary {
	b := Binary{N: len(labels), Missing: missing}
	for _, y := range labels {
		if y {
			b.Positives++
		}
	}
	b.Model = models.Evaluate(probs, labels)
	b.Oracle = models.Evaluate(oracle, labels)
	b.AUCStdErr = AUCStdErr(b.Model.AUC, b.Positives, b.N-b.Positives)
	return b
}

// LeadQuality holds the lead-model figures.
type LeadQuality struct {
	Snapshot Binary // the score LeadSnapshot after creation
	First    Binary // the first score (firmographics and the first visit)
	// Last is the last score served before the label was known (just
	// before the conversion, or at the end of the horizon): what the
	// model's own progressive validation sees. It includes the sales
	// process, so it may beat the oracle, which only knows the intent.
	Last Binary
	// At holds the snapshot after each of SnapshotOffsets.
	At []Binary
	// AllAUC is the AUC over every score served before the label was
	// known (progressive validation over all rows, weighted by activity).
	AllAUC float64
	AllN   int
}

// SnapshotOffsets are the extra lead snapshots printed (lead_auc_1d …).
var SnapshotOffsets = []time.Duration{24 * time.Hour, 3 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour}

func leadQuality(ts *simulator.TruthSet, scores []LeadScore, cfg Config) LeadQuality {
	byLead := map[string][]LeadScore{}
	for _, s := range scores {
		byLead[s.LeadID] = append(byLead[s.LeadID], s)
	}
	from := cfg.Sim.Start.Add(cfg.Warmup)
	offsets := append([]time.Duration{cfg.LeadSnapshot}, SnapshotOffsets...)
	snapP := make([][]float64, len(offsets))
	var firstP, lastP, oracle, allP []float64
	var labels, allY []bool
	missing := 0
	for _, l := range ts.Leads {
		if l.Censored || l.CreatedAt.Before(from) {
			continue
		}
		ss := byLead[l.LeadID]
		slices.SortStableFunc(ss, func(a, b LeadScore) int { return a.At.Compare(b.At) })
		known := l.CreatedAt.Add(cfg.Sim.ConversionHorizon)
		if l.Converted {
			known = l.ConvertedAt
		}
		// scoreAt is the last score at or before t and strictly before the
		// label was known.
		scoreAt := func(t time.Time) int {
			if !t.Before(known) {
				t = known.Add(-time.Millisecond)
			}
			return lastBefore(len(ss), func(i int) time.Time { return ss[i].At }, t)
		}
		if scoreAt(l.CreatedAt.Add(cfg.LeadSnapshot)) < 0 {
			missing++
			continue
		}
		for i, off := range offsets {
			snapP[i] = append(snapP[i], ss[scoreAt(l.CreatedAt.Add(off))].Probability)
		}
		firstP = append(firstP, ss[0].Probability)
		lastP = append(lastP, ss[scoreAt(known)].Probability)
		oracle = append(oracle, l.Probability)
		labels = append(labels, l.Converted)
		for _, s := range ss {
			if s.At.Before(known) {
				allP = append(allP, s.Probability)
				allY = append(allY, l.Converted)
			}
		}
	}
	q := LeadQuality{
		Snapshot: binary(snapP[0], oracle, labels, missing),
		First:    binary(firstP, oracle, labels, missing),
		Last:     binary(lastP, oracle, labels, missing),
		AllAUC:   models.AUC(allP, allY),
		AllN:     len(allP),
	}
	for i := range SnapshotOffsets {
		q.At = append(q.At, binary(snapP[i+1], oracle, labels, missing))
	}
	return q
}

func churnQuality(ts *simulator.TruthSet, scores []ChurnScore, cfg Config, end time.Time) Binary {
	byAcct := map[string][]ChurnScore{}
	for _, s := range scores {
		byAcct[s.AccountID] = append(byAcct[s.AccountID], s)
	}
	risks := map[string][]simulator.ChurnRisk{}
	for _, r := range ts.Risks {
		risks[r.AccountID] = append(risks[r.AccountID], r)
	}
	var probs, oracle []float64
	var labels []bool
	missing := 0
	for _, a := range ts.Accounts {
		ss := byAcct[a.AccountID]
		slices.SortStableFunc(ss, func(x, y ChurnScore) int { return x.At.Compare(y.At) })
		rs := risks[a.AccountID]
		slices.SortStableFunc(rs, func(x, y simulator.ChurnRisk) int { return x.At.Compare(y.At) })
		for t := cfg.Sim.Start.Add(cfg.Warmup); !t.Add(cfg.ChurnHorizon).After(end); t = t.Add(cfg.ChurnEvery) {
			if a.StartedAt.After(t) || (a.Churned && !a.ChurnedAt.After(t)) {
				continue // not a paying customer at t
			}
			ri := lastBefore(len(rs), func(i int) time.Time { return rs[i].At }, t)
			if ri < 0 {
				continue
			}
			si := lastBefore(len(ss), func(i int) time.Time { return ss[i].At }, t)
			if si < 0 {
				missing++
				continue
			}
			probs = append(probs, ss[si].Probability)
			oracle = append(oracle, rs[ri].Probability)
			labels = append(labels, a.Churned && !a.ChurnedAt.After(t.Add(cfg.ChurnHorizon)))
		}
	}
	return binary(probs, oracle, labels, missing)
}

// lastBefore returns the last index i < n with at(i) ≤ t (at ascending), or
// -1.
func lastBefore(n int, at func(int) time.Time, t time.Time) int {
	lo, hi := 0, n // first index with at > t
	for lo < hi {
		m := (lo + hi) / 2
		if at(m).After(t) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

func kindIndex(k alerts.Kind) int {
	for i, x := range alertKinds {
		if x == k {
			return i
		}
	}
	return len(alertKinds)
}

var alertKinds = []alerts.Kind{alerts.Abandonment, alerts.Inactivity, alerts.HotLead, alerts.ChurnRisk, alerts.ModelDrift}
