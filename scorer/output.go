package scorer

import (
	"context"
	"time"

	"github.com/crmstream/crmstream/alerts"
)

// LeadScore is one row of crm.lead_scores (and, the newest per lead, of
// crm.lead_current).
type LeadScore struct {
	LeadID, AccountID, OwnerID string
	EventID                    string    // the scored event; "decay@<unix>" for a re-score by timer
	EventTime                  time.Time // event time the score reflects
	ScoredAt                   time.Time // wall clock
	Score                      uint8     // 0–100
	Probability                float64
	Tier                       string // hot, warm, cold
	ModelVersion               string
	Reasons                    string // JSON, see models.Score.AppendReasonsJSON
	Converted                  bool
	// Version orders rows of lead_current: the key's newest event time in
	// ms << 12 | its update count, so a correction after an out-of-order
	// event replaces the row it corrects.
	Version uint64
	// Quiet: the row adds nothing to the score history (same score, tier
	// and model as the key's last written row, within HistoryEvery); it
	// updates lead_current only.
	Quiet bool
}

// ChurnScore is one row of crm.churn_scores (and, the newest per account,
// of crm.account_current).
type ChurnScore struct {
	AccountID, OwnerID string
	EventID            string
	EventTime          time.Time
	ScoredAt           time.Time
	Score              uint8
	Probability        float64
	Tier               string
	ModelVersion       string
	Reasons            string
	Plan               string
	MRR                float64
	Churned            bool
	Version            uint64
	Quiet              bool // as LeadScore.Quiet: account_current only
}

// LateEvent is one row of crm.late_events: an event behind the watermark by
// more than the allowed lateness. It reached crm.events; it changed no state.
type LateEvent struct {
	EventID    string
	Key        string
	Type       string
	OccurredAt time.Time
	Watermark  time.Time
	Partition  int32
	ReceivedAt time.Time
}

// FeatureRow is one row of crm.features: the vector a score was computed
// from. Its names go once per set to crm.feature_sets (the row carries the
// set's id); crm.features_named shows rows with their names.
type FeatureRow struct {
	Entity    string // "lead" or "account"
	EntityID  string
	EventID   string
	EventTime time.Time
	Names     []string // shared by every row of its set and never mutated: CHSink hashes it once per slice
	Values    []float64
	Quiet     bool // its score row is Quiet: not written
}

// Batch is what a Worker produced since its last flush. Rows are appended in
// processing order.
type Batch struct {
	Leads    []LeadScore
	Churn    []ChurnScore
	Alerts   []alerts.Alert
	Late     []LateEvent
	Features []FeatureRow
}

// Len returns the number of rows held.
func (b *Batch) Len() int {
	return len(b.Leads) + len(b.Churn) + len(b.Alerts) + len(b.Late) + len(b.Features)
}

// Reset empties b, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Leads)
	b.Leads = b.Leads[:0]
	clear(b.Churn)
	b.Churn = b.Churn[:0]
	clear(b.Alerts)
	b.Alerts = b.Alerts[:0]
	clear(b.Late)
	b.Late = b.Late[:0]
	clear(b.Features)
	b.Features = b.Features[:0]
}

// Sink makes a batch durable. Write must be idempotent (the same rows may be
// written again after a crash: every table is keyed so a rewrite collapses)
// and must not keep b after it returns. A Worker's offsets are committed
// only after Write returned nil.
type Sink interface {
	Write(ctx context.Context, b *Batch) error
}

// MemorySink keeps every row in memory, for tests and the eval harness. It
// is not safe for concurrent use unless wrapped.
type MemorySink struct {
	Batch
}

// Write appends copies of the rows of b.
func (m *MemorySink) Write(_ context.Context, b *Batch) error {
	m.Leads = append(m.Leads, b.Leads...)
	m.Churn = append(m.Churn, b.Churn...)
	m.Alerts = append(m.Alerts, b.Alerts...)
	m.Late = append(m.Late, b.Late...)
	m.Features = append(m.Features, b.Features...)
	return nil
}
