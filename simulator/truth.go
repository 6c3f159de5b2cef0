package simulator

import (
	"time"
)

// LeadTruth is what the simulator knows about a lead and no event shows:
// its hidden intent, the true probability that it converts within the
// conversion horizon, and whether it did.
type LeadTruth struct {
	LeadID    string    `json:"lead_id"`
	OwnerID   string    `json:"owner_id"`
	CreatedAt time.Time `json:"created_at"`
	// Intent is the hidden intent (standard normal); Fit the firmographic
	// part of the conversion log-odds.
	Intent float64 `json:"intent"`
	Fit    float64 `json:"fit"`
	// Probability is the true probability of conversion within the horizon,
	// known at creation: the oracle the models are measured against.
	Probability float64 `json:"probability"`
	// Converted reports a conversion (deal_won or subscription_started)
	// within the horizon; ConvertedAt is its event time.
	Converted   bool      `json:"converted"`
	ConvertedAt time.Time `json:"converted_at,omitzero"`
	// Censored is true when the horizon ends after the stream does: the
	// conversion happens (or not) after the last generated event, so the
	// label cannot be learned from the stream.
	Censored bool `json:"censored"`
}

// AccountTruth is the hidden side of a customer account.
type AccountTruth struct {
	AccountID string    `json:"account_id"`
	OwnerID   string    `json:"owner_id"`
	StartedAt time.Time `json:"started_at"`
	// Health is the hidden health at the start (standard normal); it drifts
	// and takes shocks afterwards (see ChurnRisk).
	Health float64 `json:"health"`
	// Probability is the true probability that the account cancelled by the
	// end of its simulated life, given its realized health path: one minus
	// the product of not cancelling at each renewal.
	Probability float64 `json:"probability"`
	Churned     bool    `json:"churned"`
	// ChurnedAt is the event time of subscription_cancelled.
	ChurnedAt time.Time `json:"churned_at,omitzero"`
	// EndedAt is when the simulation of the account stopped (cancellation or
	// stream end).
	EndedAt time.Time `json:"ended_at"`
}

// ChurnRisk is the true probability, at At, that a paying account cancels
// within the next 30 days (it cancels only at a monthly renewal, with a
// probability set by its health then; the row uses the health at At). One
// row per account per Config.RiskGrid.
type ChurnRisk struct {
	AccountID   string    `json:"account_id"`
	At          time.Time `json:"at"`
	Probability float64   `json:"probability"`
}

// Abandonment is one flow episode: a flow_started and whether it was
// completed within its timeout. Abandoned episodes are the ones an
// abandonment alert should fire for, at ConditionAt.
type Abandonment struct {
	LeadID    string        `json:"lead_id"`
	OwnerID   string        `json:"owner_id"`
	Flow      string        `json:"flow"`
	StartedAt time.Time     `json:"started_at"`
	Timeout   time.Duration `json:"timeout_ns"`
	Abandoned bool          `json:"abandoned"`
	// LastStep is the last step reached ("" if none).
	LastStep string `json:"last_step,omitempty"`
	// CompletedAt is the event time of flow_completed, if any; it can be
	// after the timeout (a late completion does not undo the abandonment).
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// ConditionAt is StartedAt+Timeout for abandoned episodes.
	ConditionAt time.Time `json:"condition_at,omitzero"`
}

// Inactivity kinds.
const (
	InactiveAccount = "account" // paying account without login or feature use
	InactiveLead    = "lead"    // engaged, unconverted lead gone quiet
)

// Inactivity is one quiet stretch long enough to alert on: the condition
// became true at ConditionAt (LastActivityAt + the quiet period) and held
// until EndedAt (the next activity; zero if it never came).
type Inactivity struct {
	Kind           string    `json:"kind"`
	Key            string    `json:"key"` // lead_id or account_id
	OwnerID        string    `json:"owner_id"`
	LastActivityAt time.Time `json:"last_activity_at"`
	ConditionAt    time.Time `json:"condition_at"`
	EndedAt        time.Time `json:"ended_at,omitzero"`
}

// Truth receives the ground truth as the generator produces it. Records
// come in generation order, not sorted by time. Implementations need not be
// safe for concurrent use: one generator calls them from one goroutine.
type Truth interface {
	Lead(LeadTruth)
	Account(AccountTruth)
	ChurnRisk(ChurnRisk)
	Abandonment(Abandonment)
	Inactivity(Inactivity)
}

// TruthSet collects the ground truth in memory; the eval harness uses it.
type TruthSet struct {
	Leads        []LeadTruth
	Accounts     []AccountTruth
	Risks        []ChurnRisk
	Abandonments []Abandonment
	Inactivities []Inactivity
}

var _ Truth = (*TruthSet)(nil)

func (s *TruthSet) Lead(t LeadTruth)          { s.Leads = append(s.Leads, t) }
func (s *TruthSet) Account(t AccountTruth)    { s.Accounts = append(s.Accounts, t) }
func (s *TruthSet) ChurnRisk(t ChurnRisk)     { s.Risks = append(s.Risks, t) }
func (s *TruthSet) Abandonment(t Abandonment) { s.Abandonments = append(s.Abandonments, t) }
func (s *TruthSet) Inactivity(t Inactivity)   { s.Inactivities = append(s.Inactivities, t) }

// discardTruth drops everything.
type discardTruth struct{}

func (discardTruth) Lead(LeadTruth)          {}
func (discardTruth) Account(AccountTruth)    {}
func (discardTruth) ChurnRisk(ChurnRisk)     {}
func (discardTruth) Abandonment(Abandonment) {}
func (discardTruth) Inactivity(Inactivity)   {}

// quiet tracks one key's inactivity episodes from its own events, in time
// order. eligible says whether the key may be alerted on now (paying
// account; engaged, unconverted lead).
type quiet struct {
	kind, key, owner string
	period           time.Duration
	last             time.Time // last activity (or the moment it became eligible)
	eligible         bool
	reported         bool // an episode is open for the current quiet stretch
}

// arm makes the key eligible from t, counting t as its last activity.
func (q *quiet) arm(t time.Time) {
	q.eligible, q.last, q.reported = true, t, false
}

// activity records activity at t, closing an open episode.
func (q *quiet) activity(t time.Time, out Truth) {
	q.check(t, t, out)
	q.last, q.reported = t, false
}

// disarm ends eligibility at t (conversion, cancellation): a condition
// that became true before t still counts.
func (q *quiet) disarm(t time.Time, out Truth) {
	if q.eligible {
		q.check(t, time.Time{}, out)
	}
	q.eligible = false
}

// check reports an episode when the quiet period elapsed before now.
func (q *quiet) check(now, endedAt time.Time, out Truth) {
	if !q.eligible || q.reported {
		return
	}
	cond := q.last.Add(q.period)
	if cond.Before(now) {
		out.Inactivity(Inactivity{Kind: q.kind, Key: q.key, OwnerID: q.owner, LastActivityAt: q.last, ConditionAt: cond, EndedAt: endedAt})
		q.reported = true
	}
}
