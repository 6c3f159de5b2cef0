package alerts

import (
	"errors"
	"fmt"
	"time"

	"github.com/crmstream/crmstream/event"
)

// Config holds the rules of the detector. DefaultConfig has every default;
// a zero field in a Config passed to New is an error, not a default, so that
// a typo in a flag cannot silently switch a rule off.
type Config struct {
	// FlowTimeout is how long a started flow may take to complete before
	// it counts as abandoned. Default 30 minutes.
	FlowTimeout time.Duration
	// FlowTimeouts overrides FlowTimeout per flow name (checkout, signup,
	// demo_booking, onboarding, …).
	FlowTimeouts map[string]time.Duration

	// AccountQuiet is how long a paying account may go without a login or
	// feature_used before an inactivity alert. Default 7 days.
	AccountQuiet time.Duration
	// LeadQuiet is how long an engaged lead may go without activity before
	// an inactivity alert. Default 14 days.
	LeadQuiet time.Duration
	// EngagedMin is how many engagement events (see Engagement) make a lead
	// "engaged". Default 1.
	EngagedMin int

	// HotThreshold is the lead score (0–100) whose upward crossing fires
	// hot_lead. Default 80.
	HotThreshold float64
	// HotRise is the rise in score within HotRiseWindow that fires hot_lead
	// below the threshold. Default 25 points in 24 hours.
	HotRise       float64
	HotRiseWindow time.Duration
	// HotRearm is how far below HotThreshold the score must fall before a
	// new crossing counts (hysteresis). Default 10 points.
	HotRearm float64

	// ChurnThreshold is the churn probability (0–1) whose upward crossing
	// fires churn_risk. Default 0.7; ChurnRearm (default 0.1) is its
	// hysteresis.
	ChurnThreshold float64
	ChurnRearm     float64

	// Cooldown is the minimum event time between two alerts of one kind for
	// one key. Episodes that end inside it are dropped (counted as
	// suppressed). Defaults: abandonment 1 h, inactivity 24 h, hot_lead
	// 24 h, churn_risk 7 days.
	Cooldown map[Kind]time.Duration

	// RetractWindow is how long after its condition a fired alert can still
	// be retracted by a late event. Set it to at least the scorer's allowed
	// lateness: later events never reach the detector. Default 1 hour.
	RetractWindow time.Duration

	// MaxFlows bounds the flow episodes kept per key (the oldest finished
	// ones are dropped first). Default 8.
	MaxFlows int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		FlowTimeout:    30 * time.Minute,
		AccountQuiet:   7 * 24 * time.Hour,
		LeadQuiet:      14 * 24 * time.Hour,
		EngagedMin:     1,
		HotThreshold:   80,
		HotRise:        25,
		HotRiseWindow:  24 * time.Hour,
		HotRearm:       10,
		ChurnThreshold: 0.7,
		ChurnRearm:     0.1,
		Cooldown: map[Kind]time.Duration{
			Abandonment: time.Hour,
			Inactivity:  24 * time.Hour,
			HotLead:     24 * time.Hour,
			ChurnRisk:   7 * 24 * time.Hour,
		},
		RetractWindow: time.Hour,
		MaxFlows:      8,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %v", name, d))
		}
	}
	pos("flow timeout", c.FlowTimeout)
	for f, d := range c.FlowTimeouts {
		pos("flow timeout "+f, d)
	}
	pos("account quiet", c.AccountQuiet)
	pos("lead quiet", c.LeadQuiet)
	pos("hot rise window", c.HotRiseWindow)
	pos("retract window", c.RetractWindow)
	if c.EngagedMin < 1 {
		errs = append(errs, fmt.Errorf("engaged min: must be at least 1, got %d", c.EngagedMin))
	}
	if c.HotThreshold <= 0 || c.HotThreshold > 100 {
		errs = append(errs, fmt.Errorf("hot threshold: must be in (0, 100], got %v", c.HotThreshold))
	}
	if c.HotRise <= 0 {
		errs = append(errs, fmt.Errorf("hot rise: must be positive, got %v", c.HotRise))
	}
	if c.HotRearm < 0 {
		errs = append(errs, fmt.Errorf("hot rearm: must not be negative, got %v", c.HotRearm))
	}
	if c.ChurnThreshold <= 0 || c.ChurnThreshold > 1 {
		errs = append(errs, fmt.Errorf("churn threshold: must be in (0, 1], got %v", c.ChurnThreshold))
	}
	if c.ChurnRearm < 0 {
		errs = append(errs, fmt.Errorf("churn rearm: must not be negative, got %v", c.ChurnRearm))
	}
	for k, d := range c.Cooldown {
		if !k.Valid() {
			errs = append(errs, fmt.Errorf("cooldown: unknown kind %q", k))
		}
		if d < 0 {
			errs = append(errs, fmt.Errorf("cooldown %s: must not be negative, got %v", k, d))
		}
	}
	if c.MaxFlows < 1 {
		errs = append(errs, fmt.Errorf("max flows: must be at least 1, got %d", c.MaxFlows))
	}
	return errors.Join(errs...)
}

// Timeout returns the abandonment timeout of flow.
func (c *Config) Timeout(flow string) time.Duration {
	if d, ok := c.FlowTimeouts[flow]; ok {
		return d
	}
	return c.FlowTimeout
}

// IsEngagement reports whether t counts toward making a lead engaged: the
// lead did something deliberate (submitted, booked, attended, clicked,
// started a flow, was qualified or met a rep).
func IsEngagement(t event.Type) bool {
	switch t {
	case event.FormSubmit, event.DemoRequested, event.ContentDownload, event.WebinarAttended,
		event.EmailClick, event.FlowStarted, event.FlowCompleted, event.LeadQualified,
		event.MeetingScheduled, event.MeetingHeld:
		return true
	}
	return false
}

// IsLeadActivity reports whether t shows a lead is still active, which
// restarts its quiet clock: every event except those the lead did not cause
// (outbound e-mail, bounces, CRM record edits, the erasure tombstone).
func IsLeadActivity(t event.Type) bool {
	switch t {
	case event.EmailSent, event.EmailBounce, event.LeadUpdated, event.Erased:
		return false
	}
	return true
}

// IsAccountActivity reports whether t restarts a paying account's quiet
// clock: a login or use of a feature.
func IsAccountActivity(t event.Type) bool { return t == event.Login || t == event.FeatureUsed }

// IsPayment reports whether t shows an active subscription.
func IsPayment(t event.Type) bool {
	switch t {
	case event.SubscriptionStarted, event.SubscriptionRenewed, event.PlanUpgraded, event.PlanDowngraded:
		return true
	}
	return false
}
