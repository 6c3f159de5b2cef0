package reports

import (
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound is returned when the entity does not exist or is outside the
// caller's owner scope; the API maps it to 404.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a state change is not allowed (acknowledging a
// retracted alert); the API maps it to 409.
var ErrConflict = errors.New("conflict")

// Bucket is the width of funnel time buckets.
type Bucket string

// Buckets.
const (
	Minute Bucket = "minute"
	Hour   Bucket = "hour"
	Day    Bucket = "day"
)

// Valid reports whether b is a known bucket.
func (b Bucket) Valid() bool { _, ok := bucketFuncs[b]; return ok }

var bucketFuncs = map[Bucket]string{Minute: "toStartOfMinute", Hour: "toStartOfHour", Day: "toStartOfDay"}

// GroupBy splits the funnel by a lead attribute.
type GroupBy string

// Funnel groupings.
const (
	NoGroup  GroupBy = ""
	BySource GroupBy = "source"
	ByCamp   GroupBy = "campaign"
	ByOwner  GroupBy = "owner"
)

// Valid reports whether g is a known grouping.
func (g GroupBy) Valid() bool { _, ok := groupExprs[g]; return ok }

// Per lead: first-touch source and campaign, current owner.
var groupExprs = map[GroupBy]string{
	NoGroup:  "''",
	BySource: "argMinIf(source, occurred_at, source != '')",
	ByCamp:   "argMinIf(visitParamExtractString(properties, 'campaign'), occurred_at, visitParamExtractString(properties, 'campaign') != '')",
	ByOwner:  "argMaxIf(owner_id, occurred_at, owner_id != '')",
}

// Match selects events of Type, and when Property is set, whose properties
// hold Property = Value (string values).
type Match struct {
	Type     string `json:"type"`
	Property string `json:"property,omitempty"`
	Value    string `json:"value,omitempty"`
}

// Stage is one step of the funnel; an event matching any of Match reaches it.
type Stage struct {
	Name  string  `json:"name"`
	Match []Match `json:"match"`
}

// DefaultStages are the funnel of shared/event-schema.md.
func DefaultStages() []Stage {
	return []Stage{
		{Name: "visitor", Match: []Match{{Type: "page_view"}}},
		{Name: "lead", Match: []Match{{Type: "lead_created"}}},
		{Name: "mql", Match: []Match{{Type: "lead_qualified", Property: "stage", Value: "mql"}, {Type: "form_submit"}, {Type: "demo_requested"}}},
		{Name: "opportunity", Match: []Match{{Type: "deal_created"}}},
		{Name: "won", Match: []Match{{Type: "deal_won"}}},
	}
}

// FunnelRequest asks for a funnel.
type FunnelRequest struct {
	From, To time.Time     // range of event time, [From, To)
	Bucket   Bucket        // bucket width
	GroupBy  GroupBy       // split; NoGroup for one series
	Stages   []Stage       // at least 2, at most 16
	Window   time.Duration // windowFunnel window (Ordered only); default 30 days
	Owner    string        // narrow to one owner ("" = all)
	// Ordered counts a stage only when the lead reached the stages before it
	// in order within Window (windowFunnel). Otherwise a lead is at the
	// deepest stage any of its events in the range matches: a won deal has
	// passed every earlier stage, whatever order the sources sent them in.
	Ordered bool
}

// StageCount is one stage of a funnel.
type StageCount struct {
	Stage      string  `json:"stage"`
	Count      uint64  `json:"count"`
	Conversion float64 `json:"conversion"` // Count / previous stage's count (1 for the first)
	FromStart  float64 `json:"from_start"` // Count / first stage's count
}

// FunnelPoint is the stage counts of one (bucket, group) cohort.
type FunnelPoint struct {
	Bucket time.Time `json:"bucket"`
	Group  string    `json:"group"`
	Counts []uint64  `json:"counts"`
}

// FunnelGroup is the funnel of one group over the whole range.
type FunnelGroup struct {
	Group  string       `json:"group"`
	Stages []StageCount `json:"stages"`
}

// Funnel is the answer to a FunnelRequest.
type Funnel struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Bucket  Bucket        `json:"bucket"`
	GroupBy GroupBy       `json:"group_by"`
	Mode    string        `json:"mode"` // "reached" or "ordered"
	Stages  []StageCount  `json:"stages"`
	Groups  []FunnelGroup `json:"groups"`
	Series  []FunnelPoint `json:"series"`
}

// Reason is one explanation of a score: what it is, how much it weighed, and
// the events that show it. Parsed leniently from the scorer's JSON.
type Reason struct {
	Label    string   `json:"label"`
	Feature  string   `json:"feature,omitempty"`
	Weight   float64  `json:"weight"`
	Evidence []string `json:"evidence"`
}

// Lead is one row of the hot-leads list.
type Lead struct {
	LeadID       string    `json:"lead_id"`
	AccountID    string    `json:"account_id"`
	OwnerID      string    `json:"owner_id"`
	Name         string    `json:"name"`
	Company      string    `json:"company"`
	Score        uint8     `json:"score"`
	Probability  float64   `json:"probability"`
	Tier         string    `json:"tier"`
	ModelVersion string    `json:"model_version"`
	EventTime    time.Time `json:"event_time"`
	Converted    bool      `json:"converted"`
	TopReason    string    `json:"top_reason"`
}

// Page is a window of a ranked list.
type Page struct {
	Limit      int  `json:"limit"`
	Offset     int  `json:"offset"`
	NextOffset *int `json:"next_offset"` // nil on the last page
}

// HotLeadsRequest asks for leads ranked by score.
type HotLeadsRequest struct {
	Owner    string // "" = all owners
	Tier     string // "" = all tiers
	MinScore uint8
	Limit    int // 1..200
	Offset   int
}

// HotLeads is a page of leads.
type HotLeads struct {
	Leads []Lead `json:"leads"`
	Page  Page   `json:"page"`
}

// Profile is what the events say about a lead or account.
type Profile struct {
	OwnerID     string    `json:"owner_id"`
	AccountID   string    `json:"account_id,omitempty"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	Name        string    `json:"name"`
	Company     string    `json:"company"`
	Country     string    `json:"country"`
	Title       string    `json:"title"`
	Source      string    `json:"source"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	EventsCount uint64    `json:"events_count"`
}

// Score is the current score of a lead or account.
type Score struct {
	Score        uint8     `json:"score"`
	Probability  float64   `json:"probability"`
	Tier         string    `json:"tier"`
	ModelVersion string    `json:"model_version"`
	EventTime    time.Time `json:"event_time"`
	Reasons      []Reason  `json:"reasons"`
}

// ScorePoint is one point of a score history.
type ScorePoint struct {
	EventTime    time.Time `json:"event_time"`
	Score        uint8     `json:"score"`
	Probability  float64   `json:"probability"`
	Tier         string    `json:"tier"`
	ModelVersion string    `json:"model_version"`
}

// TimelineEvent is one event of a lead's or account's timeline.
type TimelineEvent struct {
	EventID    string          `json:"event_id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	LeadID     string          `json:"lead_id,omitempty"`
	Source     string          `json:"source"`
	Properties json.RawMessage `json:"properties"`
}

// LeadDetail is the lead page.
type LeadDetail struct {
	LeadID    string          `json:"lead_id"`
	Profile   Profile         `json:"profile"`
	Current   *Score          `json:"current"` // nil when never scored
	Converted bool            `json:"converted"`
	History   []ScorePoint    `json:"history"`
	Timeline  []TimelineEvent `json:"timeline"`
}

// Account is one row of the at-risk list.
type Account struct {
	AccountID    string    `json:"account_id"`
	OwnerID      string    `json:"owner_id"`
	Score        uint8     `json:"score"`
	Probability  float64   `json:"probability"`
	Tier         string    `json:"tier"`
	ModelVersion string    `json:"model_version"`
	Plan         string    `json:"plan"`
	MRR          float64   `json:"mrr"`
	EventTime    time.Time `json:"event_time"`
	TopReason    string    `json:"top_reason"`
}

// AtRiskRequest asks for accounts ranked by churn score.
type AtRiskRequest struct {
	Owner    string
	Tier     string
	MinScore uint8
	Limit    int
	Offset   int
}

// AtRisk is a page of accounts.
type AtRisk struct {
	Accounts []Account `json:"accounts"`
	Page     Page      `json:"page"`
}

// AccountDetail is the account page.
type AccountDetail struct {
	AccountID string          `json:"account_id"`
	Profile   Profile         `json:"profile"`
	Current   *Score          `json:"current"`
	Plan      string          `json:"plan"`
	MRR       float64         `json:"mrr"`
	Churned   bool            `json:"churned"`
	History   []ScorePoint    `json:"history"`
	Leads     []Lead          `json:"leads"`
	Timeline  []TimelineEvent `json:"timeline"`
}

// Alert is the newest state of an alert episode.
type Alert struct {
	AlertID   string          `json:"alert_id"`
	Kind      string          `json:"kind"`
	LeadID    string          `json:"lead_id"`
	AccountID string          `json:"account_id"`
	OwnerID   string          `json:"owner_id"`
	FiredAt   time.Time       `json:"fired_at"`
	EventTime time.Time       `json:"event_time"`
	Status    string          `json:"status"`
	Score     float64         `json:"score"`
	Reason    string          `json:"reason"`
	Evidence  []string        `json:"evidence"`
	Details   json.RawMessage `json:"details"`
	UpdatedAt time.Time       `json:"updated_at"`
	Version   uint64          `json:"version"`
}

// AlertsRequest filters alerts.
type AlertsRequest struct {
	Owner    string
	Status   string
	Kind     string
	From, To time.Time // fired_at range; zero = unbounded
	Limit    int
	Offset   int
}

// Alerts is a page of alerts.
type Alerts struct {
	Alerts []Alert `json:"alerts"`
	Page   Page    `json:"page"`
}

// ModelVersion is one registered model version.
type ModelVersion struct {
	Model     string          `json:"model"`
	Version   string          `json:"version"`
	Kind      string          `json:"kind"`
	CreatedAt time.Time       `json:"created_at"`
	Status    string          `json:"status"`
	Metrics   json.RawMessage `json:"metrics"`
	UpdatedAt time.Time       `json:"updated_at"`
	Champion  bool            `json:"champion"`
}

// MetricValue is the newest value of one model metric.
type MetricValue struct {
	Model        string    `json:"model"`
	ModelVersion string    `json:"model_version"`
	Metric       string    `json:"metric"`
	Value        float64   `json:"value"`
	At           time.Time `json:"at"`
	Drift        bool      `json:"drift"`
}

// Models is the model registry with the newest metrics.
type Models struct {
	Versions []ModelVersion `json:"versions"`
	Latest   []MetricValue  `json:"latest"`
}

// MetricPoint is one bucket of a metric series.
type MetricPoint struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
	N     uint64    `json:"n"`
}

// MetricSeries is one metric of one model version over time.
type MetricSeries struct {
	Model        string        `json:"model"`
	ModelVersion string        `json:"model_version"`
	Metric       string        `json:"metric"`
	Drift        bool          `json:"drift"`
	Points       []MetricPoint `json:"points"`
}

// MetricsRequest asks for metric series.
type MetricsRequest struct {
	Model    string
	Metric   string
	From, To time.Time
	Bucket   Bucket
}

// CountPoint is a count in a time bucket.
type CountPoint struct {
	At    time.Time `json:"at"`
	Count uint64    `json:"count"`
}

// OriginCount is the rejects of one origin.
type OriginCount struct {
	Origin string `json:"origin"`
	Count  uint64 `json:"count"`
}

// Reject is one rejected input (without its payload, which may hold
// personal data).
type Reject struct {
	ReceivedAt time.Time `json:"received_at"`
	Origin     string    `json:"origin"`
	EventID    string    `json:"event_id"`
	Reason     string    `json:"reason"`
}

// Pipeline is the health of the flow from ingest to scores, as ClickHouse
// sees it.
type Pipeline struct {
	Since              time.Time     `json:"since"`
	EventsTotal        uint64        `json:"events_total"` // ingested since Since
	Throughput         []CountPoint  `json:"throughput"`   // per minute by ingest time
	LastIngestedAt     *time.Time    `json:"last_ingested_at"`
	LastScoredAt       *time.Time    `json:"last_scored_at"`
	IngestDelayP50     float64       `json:"ingest_delay_p50_seconds"` // ingested_at - occurred_at
	IngestDelayP99     float64       `json:"ingest_delay_p99_seconds"`
	ScoringLagSeconds  float64       `json:"scoring_lag_seconds"` // newest ingest - newest score
	LateEvents         uint64        `json:"late_events"`
	Rejects            uint64        `json:"rejects"`
	RejectsByOrigin    []OriginCount `json:"rejects_by_origin"`
	RecentRejects      []Reject      `json:"recent_rejects"`
	LateEventsByMinute []CountPoint  `json:"late_events_by_minute"`
}

// AuditEntry is one API call.
type AuditEntry struct {
	At         time.Time `json:"at"`
	User       string    `json:"user"`
	Role       string    `json:"role"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Query      string    `json:"query"`
	Status     uint16    `json:"status"`
	DurationMS float64   `json:"duration_ms"`
	Remote     string    `json:"remote"`
}
