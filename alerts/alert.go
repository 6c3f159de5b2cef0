package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kind is what an alert is about.
type Kind string

// The alert kinds.
const (
	Abandonment Kind = "abandonment" // a flow started and not completed within its timeout
	Inactivity  Kind = "inactivity"  // a paying account or an engaged lead gone quiet
	HotLead     Kind = "hot_lead"    // a lead's score crossed the hot threshold or jumped
	ChurnRisk   Kind = "churn_risk"  // an account's churn probability crossed its threshold
	ModelDrift  Kind = "model_drift" // a model's live quality drifted (raised by the models side)
)

// Kinds lists the kinds in a fixed order (metrics, evaluation).
var Kinds = []Kind{Abandonment, Inactivity, HotLead, ChurnRisk, ModelDrift}

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case Abandonment, Inactivity, HotLead, ChurnRisk, ModelDrift:
		return true
	}
	return false
}

// Status is the state of an alert episode. States only move forward:
// fired → acknowledged, fired → retracted, acknowledged → retracted.
type Status string

// The alert states.
const (
	Fired        Status = "fired"
	Acknowledged Status = "acknowledged"
	Retracted    Status = "retracted"
)

// Rank orders the states: a reader (or ReplacingMergeTree) keeps the row
// with the highest rank. Unknown states rank 0.
func (s Status) Rank() uint64 {
	switch s {
	case Fired:
		return 1
	case Acknowledged:
		return 2
	case Retracted:
		return 3
	}
	return 0
}

// Version is the value of the alerts table's version column for an alert in
// state s updated at t: the state's rank first, so a replayed "fired" row can
// never replace a "retracted" one, then the update time in milliseconds.
// The dashboard uses it when it writes an acknowledgement.
func Version(s Status, t time.Time) uint64 {
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	return s.Rank()<<44 | uint64(ms)&(1<<44-1)
}

// Alert is one state of one alert episode: the row of crm.alerts and the
// value produced to the crm.alerts topic. A plain value, safe to copy.
type Alert struct {
	ID        string    `json:"alert_id"`   // deterministic per episode: see EpisodeID
	Kind      Kind      `json:"kind"`       //
	LeadID    string    `json:"lead_id"`    // empty for account alerts without a lead
	AccountID string    `json:"account_id"` //
	OwnerID   string    `json:"owner_id"`   // the rep it is routed to; empty routes to the default
	FiredAt   time.Time `json:"fired_at"`   // wall clock when the detector fired it
	EventTime time.Time `json:"event_time"` // event time at which the condition became true
	Status    Status    `json:"status"`     //
	Score     float64   `json:"score"`      // lead score 0–100, churn probability 0–1, drift metric
	Reason    string    `json:"reason"`     // one sentence in plain words for the rep
	Evidence  []string  `json:"evidence"`   // ids of the events that prove it
	Details   Details   `json:"details"`    //
	UpdatedAt time.Time `json:"updated_at"` // wall clock of this state (fired_at for fired)
}

// Details are the kind-specific facts of an alert, stored as JSON in the
// details column. Empty fields are left out.
type Details struct {
	Subject      string    `json:"subject,omitempty"`       // inactivity: "account" or "lead"
	Flow         string    `json:"flow,omitempty"`          // abandonment
	Step         string    `json:"step,omitempty"`          // abandonment: last step reached
	CartValue    float64   `json:"cart_value,omitempty"`    // abandonment, when known
	Currency     string    `json:"currency,omitempty"`      // abandonment, with CartValue
	StartedAt    time.Time `json:"started_at,omitzero"`     // abandonment: flow start; inactivity: last activity
	Timeout      string    `json:"timeout,omitempty"`       // the rule's duration ("30m0s", "168h0m0s")
	PrevScore    float64   `json:"prev_score,omitempty"`    // hot_lead / churn_risk: the value it moved from
	Threshold    float64   `json:"threshold,omitempty"`     // hot_lead / churn_risk / model_drift
	Rule         string    `json:"rule,omitempty"`          // hot_lead: "threshold" or "rise"
	Model        string    `json:"model,omitempty"`         // model_drift
	ModelVersion string    `json:"model_version,omitempty"` // model_drift
	Metric       string    `json:"metric,omitempty"`        // model_drift
	DetectedAt   time.Time `json:"detected_at,omitzero"`    // the detector's clock (event time) when it fired
	RetractedBy  string    `json:"retracted_by,omitempty"`  // retracted: id of the event that disproved it
}

// EpisodeID returns the deterministic alert id of an episode: the same
// episode detected again (replay, restart) gets the same id, so every store
// collapses it into one alert. parts identify the episode within the key
// (flow and start, the start of the quiet spell, the scoring event).
func EpisodeID(kind Kind, key string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(key))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return string(kind) + "-" + hex.EncodeToString(h.Sum(sum[:0])[:12])
}

// Key is the lead when known, else the account, like event.Event.Key.
func (a *Alert) Key() string {
	if a.LeadID != "" {
		return a.LeadID
	}
	return a.AccountID
}

// Version is the alerts table version of this state.
func (a *Alert) Version() uint64 { return Version(a.Status, a.UpdatedAt) }

// DedupeKey identifies one state of one episode: alert id and status. It is
// the Idempotency-Key of webhook deliveries.
func (a *Alert) DedupeKey() string { return a.ID + ":" + string(a.Status) }

// DetailsJSON is the details column value.
func (a *Alert) DetailsJSON() string {
	b, err := json.Marshal(a.Details)
	if err != nil { // unreachable: Details holds only strings, floats and times
		return "{}"
	}
	return string(b)
}

// Validate checks what every consumer relies on.
func (a *Alert) Validate() error {
	var errs []error
	if a.ID == "" || len(a.ID) > 256 {
		errs = append(errs, errors.New("alert_id: required, at most 256 bytes"))
	}
	if !a.Kind.Valid() {
		errs = append(errs, fmt.Errorf("kind: unknown %q", truncate(string(a.Kind), 32)))
	}
	if a.Status.Rank() == 0 {
		errs = append(errs, fmt.Errorf("status: unknown %q", truncate(string(a.Status), 32)))
	}
	if a.EventTime.IsZero() {
		errs = append(errs, errors.New("event_time: required"))
	}
	return errors.Join(errs...)
}

// AppendJSON appends the JSON form of a: the value of crm.alerts records.
func (a *Alert) AppendJSON(dst []byte) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return dst, fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	return append(dst, b...), nil
}

// Decode parses a record of the crm.alerts topic and validates it. Input is
// untrusted: it never panics, and a rejection says why.
func Decode(b []byte) (Alert, error) {
	var a Alert
	if err := json.Unmarshal(b, &a); err != nil {
		return Alert{}, fmt.Errorf("decode alert: %w", err)
	}
	if err := a.Validate(); err != nil {
		return Alert{}, fmt.Errorf("decode alert: %w", err)
	}
	return a, nil
}

// NewModelDrift builds the alert the models side raises when a model's live
// metric crosses its limit (for example AUC below 0.6 over the last day).
// One episode per model version and metric: raising it again is idempotent.
func NewModelDrift(model, version, metric string, value, threshold float64, eventTime, now time.Time, reason string) Alert {
	if reason == "" {
		reason = fmt.Sprintf("Model %s %s: %s is %s, past its limit %s.", model, version, metric,
			strconv.FormatFloat(value, 'f', 3, 64), strconv.FormatFloat(threshold, 'f', 3, 64))
	}
	return Alert{
		ID:        EpisodeID(ModelDrift, model, version, metric),
		Kind:      ModelDrift,
		FiredAt:   now.UTC(),
		EventTime: eventTime.UTC(),
		Status:    Fired,
		Score:     value,
		Reason:    reason,
		Details:   Details{Model: model, ModelVersion: version, Metric: metric, Threshold: threshold, DetectedAt: eventTime.UTC()},
		UpdatedAt: now.UTC(),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
