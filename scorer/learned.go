package scorer

import (
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/windows"
)

// Models plugs the learned models into a Worker in place of the built-in
// rules: features/ computes each key's vector, models/ scores it with
// reasons, and the worker delivers the delayed labels through event-time
// timers (a conversion within the horizon, else a negative at the
// deadline). The models are shared by every worker (they are safe for
// concurrent use).
type Models struct {
	Lead  *models.Model // scores lead keys; its Set keys on lead_id
	Churn *models.Model // scores account keys; its Set keys on account_id
	// LeadHorizon is how long a lead may take to convert for a positive
	// label (default 90 days); ChurnHorizon the same for a cancellation
	// (default 30 days).
	LeadHorizon  windows.Span
	ChurnHorizon windows.Span
}

// Label timers (scorer.TimerFeatures and the next).
const (
	TimerLeadLabel  = TimerFeatures     // lead: no conversion by the deadline
	TimerChurnLabel = TimerFeatures + 1 // account: no cancellation by the deadline
)

func (m *Models) defaults() {
	if m.LeadHorizon == 0 {
		m.LeadHorizon = 90 * windows.Day
	}
	if m.ChurnHorizon == 0 {
		m.ChurnHorizon = 30 * windows.Day
	}
}

// learnedKey is the learned part of a key's State.
type learnedKey struct {
	F       *features.State // the key's feature state; nil until its first event
	Pending []byte          // models.Pending (AppendBinary) awaiting its label; nil: none
}

// scoreLearned updates the key's features with ev and emits its score.
func (w *Worker) scoreLearned(c *windows.Ctx, s *State, ev *event.Event) {
	mm := w.cfg.Models
	lead := s.Kind == kindLead
	m, horizon, timer := mm.Churn, mm.ChurnHorizon, TimerChurnLabel
	lk := &s.ML
	if lead {
		m, horizon, timer = mm.Lead, mm.LeadHorizon, TimerLeadLabel
	}
	if m == nil {
		return
	}
	if lk.F == nil {
		lk.F = m.Set().NewState()
	}
	// Samples due before this event are vectors served until now: take
	// them before the event changes the state.
	w.takeSamples(m, lk, c.Time)
	lk.F.Update(ev)
	lk.F.Vector(s.Newest, &w.vec)
	m.ScoreInto(&w.vec, &w.score)
	sc := &w.score
	w.reasons = sc.AppendReasonsJSON(w.reasons[:0])

	// Delayed labels: the outcome event labels the pending vector (the one
	// scored before it); otherwise the newest vector replaces it.
	positive := lead && ev.Type.IsConversion() || !lead && ev.Type == event.SubscriptionCancelled
	switch {
	case positive && lk.Pending != nil:
		if p, err := models.DecodePending(lk.Pending); err == nil && c.Time <= p.Deadline {
			_ = m.LearnPending(p, true, &w.scratch)
		}
		lk.Pending = nil
		s.LabelDone = lead // a lead converts once; an account may churn again after renewing
		c.ClearTimer(timer)
	case positive:
		s.LabelDone = lead
	case lk.Pending != nil && models.SetScored(lk.Pending, sc.Probability):
	case !s.LabelDone:
		w.pvec = w.vec.AppendBinary(w.pvec[:0])
		p := models.NewPending(sc.Probability, c.Time, c.Time.Add(horizon), w.pvec)
		lk.Pending = p.Encode()
		m.Provisional(&w.vec)
		c.SetTimer(timer, p.Deadline)
	}
	w.emitLearned(c, s, ev.ID, ev.OccurredAt)
}

// emitLearned appends the score rows of w.score / w.vec.
func (w *Worker) emitLearned(c *windows.Ctx, s *State, eventID string, eventTime time.Time) {
	sc := &w.score
	if s.Kind == kindLead {
		w.out.Leads = append(w.out.Leads, LeadScore{
			LeadID: c.Key, AccountID: s.AccountID(), OwnerID: s.OwnerID(), EventID: eventID, EventTime: eventTime,
			ScoredAt: w.cfg.Now().UTC(), Score: sc.Score, Probability: sc.Probability, Tier: string(sc.Tier),
			ModelVersion: sc.Version, Reasons: w.text(w.reasons), Converted: s.LabelDone, Version: s.version(),
		})
	} else {
		var plan string
		var mrr float64
		if i, ok := w.vec.Set.Index("mrr"); ok {
			mrr = w.vec.Num[i]
		}
		if i, ok := w.vec.Set.CatIndex("plan"); ok {
			plan = w.vec.Cat[i]
		}
		w.out.Churn = append(w.out.Churn, ChurnScore{
			AccountID: c.Key, OwnerID: s.OwnerID(), EventID: eventID, EventTime: eventTime,
			ScoredAt: w.cfg.Now().UTC(), Score: sc.Score, Probability: sc.Probability, Tier: string(sc.Tier),
			ModelVersion: sc.Version, Reasons: w.text(w.reasons), Plan: plan, MRR: mrr,
			Churned: s.Churned, Version: s.version(),
		})
	}
	if w.win != nil {
		if s.Kind == kindLead {
			w.win.LeadScore(c, &s.Alerts, alerts.Score{EventID: eventID, EventTime: eventTime, Value: float64(sc.Score)}, &w.aout)
		} else {
			w.win.ChurnScore(c, &s.Alerts, alerts.Score{EventID: eventID, EventTime: eventTime, Value: sc.Probability}, &w.aout)
		}
	}
	if w.cfg.Features {
		entity := "account"
		if s.Kind == kindLead {
			entity = "lead"
		}
		w.out.Features = append(w.out.Features, FeatureRow{
			Entity: entity, EntityID: c.Key, EventID: eventID, EventTime: eventTime,
			Names: w.vec.Set.NumNames(), Values: w.copyValues(w.vec.Num),
		})
	}
}

// labelTimer delivers a negative label: no outcome by the deadline.
func (w *Worker) labelTimer(c *windows.Ctx, s *State, kind windows.TimerKind) {
	mm := w.cfg.Models
	m, lk := mm.Lead, &s.ML
	if kind == TimerChurnLabel {
		m = mm.Churn
	}
	if m == nil || lk.Pending == nil {
		return
	}
	w.takeSamples(m, lk, c.Time)
	if p, err := models.DecodePending(lk.Pending); err == nil {
		_ = m.LearnPending(p, false, &w.scratch)
	}
	lk.Pending = nil
}

// rescoreLearned re-scores a key at timer time c.Time (features decay).
func (w *Worker) rescoreLearned(c *windows.Ctx, s *State, eventID string) uint8 {
	mm := w.cfg.Models
	m, lk := mm.Churn, &s.ML
	if s.Kind == kindLead {
		m = mm.Lead
	}
	if m == nil || lk.F == nil {
		return 0
	}
	lk.F.Vector(c.Time, &w.vec)
	m.ScoreInto(&w.vec, &w.score)
	w.reasons = w.score.AppendReasonsJSON(w.reasons[:0])
	w.emitLearned(c, s, eventID, c.Time.Time())
	return w.score.Score
}

// takeSamples adds to the key's pending label the samples due before t
// (Model.Due): the vectors the key was served at each sample age, as of
// the age or, for a key quiet since, as of its last re-score.
func (w *Worker) takeSamples(m *models.Model, lk *learnedKey, t windows.Sec) {
	if lk.Pending == nil || lk.F == nil || !m.SampleDue(lk.Pending, t) {
		return
	}
	p, err := models.DecodePending(lk.Pending)
	if err != nil {
		return
	}
	var still windows.Sec
	if w.cfg.Rescore > 0 && !lk.F.Empty() {
		still = lk.F.Head().Add(windows.SpanOf(w.cfg.Rescore))
	}
	for {
		at, n := m.Due(&p, t, still)
		if n == 0 {
			break
		}
		lk.F.Vector(at, &w.scratch)
		p.Take(w.scratch.AppendBinary(nil), n)
		m.ProvisionalN(&w.scratch, n)
	}
	lk.Pending = p.Encode() // exact size: every waiting key holds it
}
