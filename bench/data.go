package bench

import (
	"fmt"
	"strconv"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/simulator"
)

// DataConfig shapes the benchmark's events.
type DataConfig struct {
	Seed     uint64 // simulator seed; default 1
	Pool     int    // distinct simulated events replayed in cycles; default 20,000
	Leads    int    // simulator leads over Span; default 200,000
	Accounts int    // simulator accounts; default 5,000
	Span     time.Duration
}

func (c *DataConfig) defaults() {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Pool <= 0 {
		c.Pool = 20_000
	}
	if c.Leads <= 0 {
		c.Leads = 200_000
	}
	if c.Accounts <= 0 {
		c.Accounts = 5_000
	}
	if c.Span <= 0 {
		c.Span = 30 * 24 * time.Hour
	}
}

// Data is a deterministic, endless stream of canonical events (the harness
// then sets their event times to arrival times): a pool of
// simulated events (leads, accounts, sessions, page views, e-mails, flows,
// deals, as the simulator makes them) replayed in cycles, each cycle with
// fresh ids (a suffix on event, lead, account and session ids) and event
// times shifted past the previous cycle. So a long run has as many distinct
// leads as it has cycles times the pool's, and event time only moves on.
//
// Replaying is the point: the simulator spends tens of microseconds per
// event modelling behaviour, too slow to feed 50,000 events/s on this box
// beside the system under test; a cycle costs one copy and one AppendJSON.
//
// Not safe for concurrent use.
type Data struct {
	pool  []event.Event
	shift time.Duration // event-time offset between cycles
	leads int           // distinct leads in the pool
	i     int           // next event, counting across cycles
}

// NewData simulates the pool (a few seconds for the default size).
func NewData(cfg DataConfig) (*Data, error) {
	cfg.defaults()
	sc := simulator.DefaultConfig()
	sc.Seed, sc.Leads, sc.Accounts, sc.Span, sc.IDPrefix = cfg.Seed, cfg.Leads, cfg.Accounts, cfg.Span, "b"
	g, err := simulator.New(sc, nil)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	d := &Data{pool: make([]event.Event, 0, cfg.Pool)}
	leads := map[string]struct{}{}
	var e event.Event
	for len(d.pool) < cfg.Pool && g.Next(&e) {
		d.pool = append(d.pool, e)
		if e.LeadID != "" {
			leads[e.LeadID] = struct{}{}
		}
	}
	if len(d.pool) == 0 {
		return nil, fmt.Errorf("simulator produced no events")
	}
	d.leads = len(leads)
	first, last := d.pool[0].OccurredAt, d.pool[len(d.pool)-1].OccurredAt
	d.shift = last.Sub(first).Truncate(time.Hour) + time.Hour
	return d, nil
}

// LeadsPer returns how many distinct leads the first n events hold
// (approximately: whole cycles times the pool's leads).
func (d *Data) LeadsPer(n int) int {
	cycles := (n + len(d.pool) - 1) / len(d.pool)
	return cycles * d.leads
}

// Reset starts the stream again from its first event.
func (d *Data) Reset() { d.i = 0 }

// Next stores the next event in *e.
func (d *Data) Next(e *event.Event) {
	cycle := d.i / len(d.pool)
	*e = d.pool[d.i%len(d.pool)]
	d.i++
	if cycle == 0 {
		return
	}
	sfx := "~" + strconv.Itoa(cycle)
	e.ID += sfx
	if e.LeadID != "" {
		e.LeadID += sfx
	}
	if e.AccountID != "" {
		e.AccountID += sfx
	}
	if e.SessionID != "" {
		e.SessionID += sfx
	}
	e.OccurredAt = e.OccurredAt.Add(time.Duration(cycle) * d.shift)
}
