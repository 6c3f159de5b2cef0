package simulator

import (
	"errors"
	"fmt"
	"time"
)

// Config describes the synthetic population and the shape of the stream.
// The zero value is not usable: start from DefaultConfig.
type Config struct {
	// Seed makes the stream reproducible: the same Config gives the same
	// events, byte for byte, and the same ground truth.
	Seed uint64
	// Leads is how many leads arrive, uniformly over Span (batch mode) or
	// over Ramp (live mode: the leads already there). Default 2000.
	Leads int
	// LeadsPerHour, when > 0, is live mode: after Ramp, leads keep arriving
	// as an endless Poisson stream at this rate, and the stream ends only
	// with its context.
	LeadsPerHour float64
	// Accounts is how many paying customer accounts exist. Default 300.
	// 70 % are customers when the stream starts, the rest sign up during
	// the first half of Span.
	Accounts int
	// Ramp is how long after Start the population already there comes into
	// view: accounts that are customers already (their subscription_started
	// is replayed then) and, in live mode, the Leads initial leads. Default
	// 2 days; the simulator command sets it to the live backfill.
	Ramp time.Duration
	// Reps is the number of sales reps (owner_id rep-01 …). Default 8.
	Reps int
	// Start is the event time at which the stream begins. Default
	// 2026-01-05T00:00:00Z.
	Start time.Time
	// Span is how much event time the stream covers (batch mode). Default
	// 240 days. Events after Start+Span are not generated.
	Span time.Duration
	// IDPrefix starts every generated id (event, lead, account, session,
	// deal), so that runs with different prefixes never collide. Default
	// "sim".
	IDPrefix string

	// ConversionHorizon is the label window of the lead model. Default 90 days.
	ConversionHorizon time.Duration
	// FlowTimeout is the abandonment timeout per flow name; flows not listed
	// use DefaultFlowTimeout (default 30 minutes). The ground truth of
	// abandonment uses these; give the alert detector the same values.
	FlowTimeout        map[string]time.Duration
	DefaultFlowTimeout time.Duration
	// AccountQuiet is how long a paying account may go without login or
	// feature use before it counts as inactive. Default 7 days.
	AccountQuiet time.Duration
	// LeadQuiet is how long an engaged lead may go without activity
	// (IsLeadActivity) before it counts as inactive. Default 14 days.
	LeadQuiet time.Duration
	// EngagedEvents is how many engagement events (IsLeadEngagement) make a
	// lead "engaged", eligible for inactivity. Default 1, as the alert
	// detector has it.
	EngagedEvents int
	// RiskGrid is the spacing of the churn-risk ground-truth rows (the true
	// probability of cancelling within 30 days, per paying account). Default
	// 24 hours; 0 disables them.
	RiskGrid time.Duration

	// OutOfOrderRate is the fraction of events delivered late, after events
	// that happened after them (uniform delay up to MaxLateness). Default 0.
	OutOfOrderRate float64
	// MaxLateness bounds the delivery delay of out-of-order events. Default
	// 10 minutes.
	MaxLateness time.Duration
	// DuplicateRate is the fraction of events delivered twice (same
	// event_id, up to a minute apart). Default 0.
	DuplicateRate float64
	// MalformedRate is the rate of junk records injected between events (per
	// event): broken JSON, missing or invalid fields. They are extra records;
	// no real event is lost, so the ground truth is unaffected. Default 0.
	MalformedRate float64
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Seed:               1,
		Leads:              2000,
		Accounts:           300,
		Ramp:               2 * 24 * time.Hour,
		Reps:               8,
		Start:              time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
		Span:               240 * 24 * time.Hour,
		IDPrefix:           "sim",
		ConversionHorizon:  90 * 24 * time.Hour,
		DefaultFlowTimeout: 30 * time.Minute,
		AccountQuiet:       7 * 24 * time.Hour,
		LeadQuiet:          14 * 24 * time.Hour,
		EngagedEvents:      1,
		RiskGrid:           24 * time.Hour,
		MaxLateness:        10 * time.Minute,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Leads < 0 || c.Accounts < 0 {
		errs = append(errs, errors.New("leads and accounts must not be negative"))
	}
	if c.Leads == 0 && c.Accounts == 0 && c.LeadsPerHour <= 0 {
		errs = append(errs, errors.New("nothing to simulate: leads, accounts and leads per hour are all 0"))
	}
	if c.LeadsPerHour < 0 {
		errs = append(errs, fmt.Errorf("leads per hour %v must not be negative", c.LeadsPerHour))
	}
	if c.Ramp < time.Second {
		errs = append(errs, fmt.Errorf("ramp %v must be at least 1s", c.Ramp))
	}
	if c.Reps < 1 || c.Reps > 99 {
		errs = append(errs, fmt.Errorf("reps %d must be in 1..99", c.Reps))
	}
	if c.Start.IsZero() || c.Start.Year() < 1971 || c.Start.Year() > 2100 {
		errs = append(errs, fmt.Errorf("start %v must be a time between 1971 and 2100", c.Start))
	}
	if c.Span < 24*time.Hour {
		errs = append(errs, fmt.Errorf("span %v must be at least 24h", c.Span))
	}
	if c.IDPrefix == "" || len(c.IDPrefix) > 32 {
		errs = append(errs, errors.New("id prefix must have 1 to 32 characters"))
	}
	if c.ConversionHorizon < 24*time.Hour {
		errs = append(errs, fmt.Errorf("conversion horizon %v must be at least 24h", c.ConversionHorizon))
	}
	if c.DefaultFlowTimeout < time.Minute {
		errs = append(errs, fmt.Errorf("default flow timeout %v must be at least 1m", c.DefaultFlowTimeout))
	}
	for name, d := range c.FlowTimeout {
		if d < time.Minute {
			errs = append(errs, fmt.Errorf("flow %q timeout %v must be at least 1m", name, d))
		}
	}
	if c.AccountQuiet < time.Hour || c.LeadQuiet < time.Hour {
		errs = append(errs, errors.New("quiet periods must be at least 1h"))
	}
	if c.EngagedEvents < 1 {
		errs = append(errs, fmt.Errorf("engaged events %d must be at least 1", c.EngagedEvents))
	}
	if c.RiskGrid < 0 {
		errs = append(errs, errors.New("risk grid must not be negative"))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"out-of-order rate", c.OutOfOrderRate}, {"duplicate rate", c.DuplicateRate}, {"malformed rate", c.MalformedRate}} {
		if r.v < 0 || r.v > 0.5 {
			errs = append(errs, fmt.Errorf("%s %v must be in [0, 0.5]", r.name, r.v))
		}
	}
	if c.OutOfOrderRate > 0 && c.MaxLateness <= 0 {
		errs = append(errs, errors.New("max lateness must be positive when out-of-order rate > 0"))
	}
	return errors.Join(errs...)
}

// flowTimeout returns the abandonment timeout of flow.
func (c *Config) flowTimeout(flow string) time.Duration {
	if d, ok := c.FlowTimeout[flow]; ok {
		return d
	}
	return c.DefaultFlowTimeout
}

// end is the end of the stream's event time; the zero time in live mode.
func (c *Config) end() time.Time {
	if c.LeadsPerHour > 0 {
		return time.Time{}
	}
	return c.Start.Add(c.Span)
}
