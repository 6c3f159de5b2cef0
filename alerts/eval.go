package alerts

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Truth is one ground-truth episode: a condition that really became true.
// The simulator derives them from what it generated.
type Truth struct {
	Kind        Kind
	Key         string    // lead_id, else account_id (event.Event.Key of the episode)
	Flow        string    // abandonment: the flow
	Subject     string    // inactivity: "account" or "lead"; "" matches either
	ConditionAt time.Time // when the condition became true
}

// EvalOptions tune Evaluate.
type EvalOptions struct {
	// Tolerance is how far an alert's EventTime may be from the truth's
	// ConditionAt and still match. Default 1 minute.
	Tolerance time.Duration
}

// Delay summarizes delays from condition to alert.
type Delay struct {
	N             int
	P50, P95, Max time.Duration
}

func (d Delay) String() string {
	if d.N == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d p50=%v p95=%v max=%v", d.N, d.P50, d.P95, d.Max)
}

// Quality is the score of one kind of alert against the truth.
type Quality struct {
	Kind      Kind
	Truth     int // truth episodes
	Alerts    int // alerts standing at the end (fired or acknowledged)
	Retracted int // alerts retracted (not counted as positives)
	TP        int // standing alerts matched to a truth episode
	FP        int // standing alerts matching none
	FN        int // truth episodes no standing alert matched
	Precision float64
	Recall    float64
	// EventDelay is Details.DetectedAt − ConditionAt over matches: the
	// event-time lag of the detector (replay and live).
	EventDelay Delay
	// WallDelay is FiredAt − ConditionAt over matches: the wall-clock lag,
	// meaningful only when event time is the wall clock (live).
	WallDelay Delay
}

func (q Quality) String() string {
	return fmt.Sprintf("%-12s truth=%d alerts=%d retracted=%d tp=%d fp=%d fn=%d precision=%.4f recall=%.4f event_delay[%v] wall_delay[%v]",
		q.Kind, q.Truth, q.Alerts, q.Retracted, q.TP, q.FP, q.FN, q.Precision, q.Recall, q.EventDelay, q.WallDelay)
}

// Evaluate matches alerts to truth and scores each kind present in either.
// alerts may hold every state of every alert, in any order: the highest
// ranked state of each id is its final one. A match is one-to-one: same
// kind, key, flow (abandonment), subject (inactivity, when the truth names
// one), and EventTime within Tolerance of ConditionAt; among candidates the
// closest in time wins. Precision and recall are 1 when their denominator is
// zero.
func Evaluate(truth []Truth, alerts []Alert, o EvalOptions) []Quality {
	if o.Tolerance <= 0 {
		o.Tolerance = time.Minute
	}
	final := map[string]Alert{}
	for _, a := range alerts {
		if cur, ok := final[a.ID]; !ok || a.Status.Rank() > cur.Status.Rank() {
			final[a.ID] = a
		}
	}
	type group struct {
		truth  []Truth
		alerts []Alert
	}
	groups := map[string]*group{} // by kind, key, flow
	gkey := func(k Kind, key, flow string) string { return string(k) + "\x00" + key + "\x00" + flow }
	byKind := map[Kind]*Quality{}
	q := func(k Kind) *Quality {
		if byKind[k] == nil {
			byKind[k] = &Quality{Kind: k}
		}
		return byKind[k]
	}
	for _, t := range truth {
		flow := ""
		if t.Kind == Abandonment {
			flow = t.Flow
		}
		k := gkey(t.Kind, t.Key, flow)
		if groups[k] == nil {
			groups[k] = &group{}
		}
		groups[k].truth = append(groups[k].truth, t)
		q(t.Kind).Truth++
	}
	for _, a := range final {
		if a.Status == Retracted {
			q(a.Kind).Retracted++
			continue
		}
		q(a.Kind).Alerts++
		flow := ""
		if a.Kind == Abandonment {
			flow = a.Details.Flow
		}
		k := gkey(a.Kind, a.Key(), flow)
		if groups[k] == nil {
			groups[k] = &group{}
		}
		groups[k].alerts = append(groups[k].alerts, a)
	}
	evDelays := map[Kind][]time.Duration{}
	wallDelays := map[Kind][]time.Duration{}
	for _, g := range groups {
		// Candidate pairs, closest first, then greedy one-to-one.
		type pair struct {
			ti, ai int
			gap    time.Duration
		}
		var pairs []pair
		for ti, t := range g.truth {
			for ai, a := range g.alerts {
				if t.Subject != "" && a.Details.Subject != "" && t.Subject != a.Details.Subject {
					continue
				}
				gap := a.EventTime.Sub(t.ConditionAt)
				if gap < 0 {
					gap = -gap
				}
				if gap <= o.Tolerance {
					pairs = append(pairs, pair{ti, ai, gap})
				}
			}
		}
		slices.SortFunc(pairs, func(x, y pair) int { return cmp.Compare(x.gap, y.gap) })
		tUsed := make([]bool, len(g.truth))
		aUsed := make([]bool, len(g.alerts))
		for _, p := range pairs {
			if tUsed[p.ti] || aUsed[p.ai] {
				continue
			}
			tUsed[p.ti], aUsed[p.ai] = true, true
			t, a := g.truth[p.ti], g.alerts[p.ai]
			q(t.Kind).TP++
			if !a.Details.DetectedAt.IsZero() {
				evDelays[t.Kind] = append(evDelays[t.Kind], a.Details.DetectedAt.Sub(t.ConditionAt))
			}
			if !a.FiredAt.IsZero() {
				wallDelays[t.Kind] = append(wallDelays[t.Kind], a.FiredAt.Sub(t.ConditionAt))
			}
		}
	}
	out := make([]Quality, 0, len(byKind))
	for k, qq := range byKind {
		qq.FP = qq.Alerts - qq.TP
		qq.FN = qq.Truth - qq.TP
		qq.Precision, qq.Recall = ratio(qq.TP, qq.Alerts), ratio(qq.TP, qq.Truth)
		qq.EventDelay = summarize(evDelays[k])
		qq.WallDelay = summarize(wallDelays[k])
		out = append(out, *qq)
	}
	slices.SortFunc(out, func(a, b Quality) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
	return out
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

func summarize(ds []time.Duration) Delay {
	if len(ds) == 0 {
		return Delay{}
	}
	slices.Sort(ds)
	pct := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return Delay{N: len(ds), P50: pct(0.50), P95: pct(0.95), Max: ds[len(ds)-1]}
}
