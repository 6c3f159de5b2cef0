package eval

import (
	"slices"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/simulator"
)

// AlertRules are the hygiene rules of the alert detector that decide which
// true episodes deserve an alert. They must match the detector's
// alerts.Config; RulesFrom derives them from it.
type AlertRules struct {
	// AbandonCooldown and InactivityCooldown: an episode whose condition
	// falls within this long after the previous alerted episode of the same
	// key and kind is not alerted.
	AbandonCooldown    time.Duration
	InactivityCooldown time.Duration
	// Horizon is the last condition time that counts: the replay's end
	// minus the scorer's lateness (the watermark never passes it).
	Horizon time.Time
}

// RulesFrom returns the rules of an alerts.Config for a replay whose
// watermark ends at horizon.
func RulesFrom(c alerts.Config, horizon time.Time) AlertRules {
	return AlertRules{
		AbandonCooldown:    c.Cooldown[alerts.Abandonment],
		InactivityCooldown: c.Cooldown[alerts.Inactivity],
		Horizon:            horizon,
	}
}

// AlertTruth turns the simulator's episodes into the alerts that should
// fire: abandoned flows of leads not converted by the deadline, quiet
// spells, each within the horizon and outside the cooldown of the previous
// alerted episode of its key.
func AlertTruth(ts *simulator.TruthSet, r AlertRules) []alerts.Truth {
	converted := make(map[string]time.Time, len(ts.Leads))
	for _, l := range ts.Leads {
		if l.Converted {
			converted[l.LeadID] = l.ConvertedAt
		}
	}
	inHorizon := func(t time.Time) bool { return r.Horizon.IsZero() || !t.After(r.Horizon) }

	var abandon []alerts.Truth
	for _, a := range ts.Abandonments {
		if !a.Abandoned || !inHorizon(a.ConditionAt) {
			continue
		}
		if c, ok := converted[a.LeadID]; ok && !c.After(a.ConditionAt) {
			continue // suppressed: the lead converted by the deadline
		}
		abandon = append(abandon, alerts.Truth{Kind: alerts.Abandonment, Key: a.LeadID, Flow: a.Flow, ConditionAt: a.ConditionAt})
	}
	var quiet []alerts.Truth
	for _, q := range ts.Inactivities {
		if !inHorizon(q.ConditionAt) {
			continue
		}
		quiet = append(quiet, alerts.Truth{Kind: alerts.Inactivity, Key: q.Key, Subject: q.Kind, ConditionAt: q.ConditionAt})
	}
	out := applyCooldown(abandon, r.AbandonCooldown)
	return append(out, applyCooldown(quiet, r.InactivityCooldown)...)
}

// applyCooldown keeps, per key in condition order, the episodes at least
// cooldown after the previous kept one.
func applyCooldown(ts []alerts.Truth, cooldown time.Duration) []alerts.Truth {
	slices.SortStableFunc(ts, func(a, b alerts.Truth) int {
		if a.Key != b.Key {
			if a.Key < b.Key {
				return -1
			}
			return 1
		}
		return a.ConditionAt.Compare(b.ConditionAt)
	})
	out := ts[:0]
	var lastKey string
	var last time.Time
	for _, t := range ts {
		if t.Key == lastKey && t.ConditionAt.Sub(last) < cooldown {
			continue
		}
		out = append(out, t)
		lastKey, last = t.Key, t.ConditionAt
	}
	return out
}
