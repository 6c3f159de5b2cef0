package eval

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/simulator"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestAlertTruthRules(t *testing.T) {
	ts := &simulator.TruthSet{
		Leads: []simulator.LeadTruth{
			{LeadID: "conv", Converted: true, ConvertedAt: t0.Add(20 * time.Minute)},
			{LeadID: "late-conv", Converted: true, ConvertedAt: t0.Add(2 * time.Hour)},
		},
		Abandonments: []simulator.Abandonment{
			{LeadID: "a", Flow: "checkout", Abandoned: true, ConditionAt: t0},
			{LeadID: "a", Flow: "signup", Abandoned: true, ConditionAt: t0.Add(30 * time.Minute)}, // cooldown
			{LeadID: "a", Flow: "signup", Abandoned: true, ConditionAt: t0.Add(61 * time.Minute)},
			{LeadID: "b", Flow: "checkout", Abandoned: false},
			{LeadID: "conv", Flow: "checkout", Abandoned: true, ConditionAt: t0.Add(20 * time.Minute)}, // converted at the deadline
			{LeadID: "late-conv", Flow: "checkout", Abandoned: true, ConditionAt: t0},
			{LeadID: "c", Flow: "checkout", Abandoned: true, ConditionAt: t0.Add(48 * time.Hour)}, // after the horizon
		},
		Inactivities: []simulator.Inactivity{
			{Kind: "account", Key: "acct", ConditionAt: t0},
			{Kind: "account", Key: "acct", ConditionAt: t0.Add(10 * time.Hour)}, // cooldown
			{Kind: "lead", Key: "a", ConditionAt: t0.Add(time.Hour)},            // other kind: own cooldown
			{Kind: "lead", Key: "d", ConditionAt: t0.Add(47 * time.Hour)},
		},
	}
	cfg := alerts.DefaultConfig()
	got := AlertTruth(ts, RulesFrom(cfg, t0.Add(47*time.Hour)))
	want := []alerts.Truth{
		{Kind: alerts.Abandonment, Key: "a", Flow: "checkout", ConditionAt: t0},
		{Kind: alerts.Abandonment, Key: "a", Flow: "signup", ConditionAt: t0.Add(61 * time.Minute)},
		{Kind: alerts.Abandonment, Key: "late-conv", Flow: "checkout", ConditionAt: t0},
		{Kind: alerts.Inactivity, Key: "a", Subject: "lead", ConditionAt: t0.Add(time.Hour)},
		{Kind: alerts.Inactivity, Key: "acct", Subject: "account", ConditionAt: t0},
		{Kind: alerts.Inactivity, Key: "d", Subject: "lead", ConditionAt: t0.Add(47 * time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d episodes %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("episode %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAUCStdErr(t *testing.T) {
	// Hanley & McNeil's formula by hand for AUC 0.8 on 50 + 50.
	if se := AUCStdErr(0.8, 50, 50); math.Abs(se-0.0445) > 0.0005 {
		t.Errorf("se = %.4f, want 0.0445", se)
	}
	if AUCStdErr(0.8, 500, 500) >= AUCStdErr(0.8, 50, 50) {
		t.Error("more labels, no smaller error")
	}
	if !math.IsNaN(AUCStdErr(0.8, 0, 10)) {
		t.Error("one class: want NaN")
	}
}

func TestQuantile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.95, 10}, {0.1, 1}, {0, 1}, {1, 10}} {
		if got := Quantile(ds, c.q); got != c.want {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	if Quantile(nil, 0.5) != 0 {
		t.Error("empty: want 0")
	}
}

// cheat is a pipeline that knows the truth: it serves each lead's true
// probability (or noise), each account's true risk, and fires every alert
// the truth expects at its condition time. It checks the harness's glue,
// not a model.
type cheat struct {
	truth *simulator.TruthSet
	noise bool
	leads map[string]float64
	r     *rand.Rand
	res   Results
	risk  map[string][]simulator.ChurnRisk
}

func newCheat(t *testing.T, cfg Config, noise bool) *cheat {
	ts := &simulator.TruthSet{}
	g, err := simulator.New(cfg.Sim, ts)
	if err != nil {
		t.Fatal(err)
	}
	var e event.Event
	for g.Next(&e) {
	}
	c := &cheat{truth: ts, noise: noise, leads: map[string]float64{}, r: rand.New(rand.NewPCG(1, 2)), risk: map[string][]simulator.ChurnRisk{}}
	for _, l := range ts.Leads {
		c.leads[l.LeadID] = l.Probability
	}
	for _, r := range ts.Risks {
		c.risk[r.AccountID] = append(c.risk[r.AccountID], r)
	}
	return c
}

func (c *cheat) Process(ev *event.Event) error {
	if ev.Type == event.LeadCreated {
		p := c.leads[ev.LeadID]
		if c.noise {
			p = c.r.Float64()
		}
		c.res.Leads = append(c.res.Leads, LeadScore{LeadID: ev.LeadID, At: ev.OccurredAt, Probability: p})
	}
	return nil
}

func (c *cheat) Finish(end time.Time) error {
	for _, rs := range c.risk {
		for _, r := range rs {
			c.res.Churn = append(c.res.Churn, ChurnScore{AccountID: r.AccountID, At: r.At, Probability: r.Probability})
		}
	}
	if !c.noise {
		for i, tr := range AlertTruth(c.truth, RulesFrom(alerts.DefaultConfig(), end.Add(-5*time.Minute))) {
			a := alerts.Alert{ID: string(tr.Kind) + "-" + tr.Key + "-" + tr.ConditionAt.String(), Kind: tr.Kind, LeadID: tr.Key,
				EventTime: tr.ConditionAt, FiredAt: tr.ConditionAt, Status: alerts.Fired}
			a.Details.Flow, a.Details.Subject = tr.Flow, tr.Subject
			a.Details.DetectedAt = tr.ConditionAt.Add(time.Duration(i%7) * time.Second)
			c.res.Alerts = append(c.res.Alerts, a)
		}
	}
	return nil
}

func (c *cheat) Results() *Results { return &c.res }

func harnessConfig() Config {
	sim := simulator.DefaultConfig()
	sim.Leads, sim.Accounts, sim.Span = 800, 12, 160*24*time.Hour
	sim.MalformedRate = 0.002
	return Config{Sim: sim, Warmup: 20 * 24 * time.Hour}
}

func TestHarnessWithOracle(t *testing.T) {
	cfg := harnessConfig()
	rep, err := Run(context.Background(), cfg, newCheat(t, cfg, false))
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Lead.Snapshot.Ratio(); math.Abs(r-1) > 1e-9 || rep.Lead.Snapshot.N < 200 {
		t.Errorf("oracle pipeline: lead ratio %.4f on %d leads, want 1", r, rep.Lead.Snapshot.N)
	}
	if r := rep.Churn.Ratio(); math.Abs(r-1) > 1e-9 || rep.Churn.N < 50 {
		t.Errorf("oracle pipeline: churn ratio %.4f on %d snapshots, want 1", r, rep.Churn.N)
	}
	for _, q := range []alerts.Quality{rep.Abandonment, rep.Inactivity} {
		if q.Truth < 20 || q.Precision != 1 || q.Recall != 1 {
			t.Errorf("oracle pipeline: %v", q)
		}
	}
	if !rep.Pass() {
		t.Error("oracle pipeline does not pass")
	}
	if rep.Rejected == 0 {
		t.Error("malformed records were not rejected")
	}
	var b bytes.Buffer
	rep.WriteTo(&b)
	for _, k := range []string{"lead_auc=", "lead_oracle_auc=", "churn_auc=", "churn_oracle_auc=", "lead_ece=",
		"abandonment_precision=1.0000", "abandonment_recall=1.0000", "inactivity_recall=1.0000", "abandonment_delay_p95_s=", "goal_lead_auc_ratio=pass"} {
		if !strings.Contains(b.String(), "\n"+k) && !strings.HasPrefix(b.String(), k) {
			t.Errorf("report lacks %q:\n%s", k, b.String())
		}
	}
}

func TestHarnessWithNoise(t *testing.T) {
	if raceEnabled {
		t.Skip("statistical; the oracle test covers the harness under -race")
	}
	cfg := harnessConfig()
	rep, err := Run(context.Background(), cfg, newCheat(t, cfg, true))
	if err != nil {
		t.Fatal(err)
	}
	if auc := rep.Lead.Snapshot.Model.AUC; math.Abs(auc-0.5) > 4*rep.Lead.Snapshot.AUCStdErr {
		t.Errorf("noise scores: AUC %.3f ± %.3f, want about 0.5", auc, rep.Lead.Snapshot.AUCStdErr)
	}
	if rep.Lead.Snapshot.Oracle.AUC < 0.7 {
		t.Errorf("oracle AUC %.3f: the simulator carries too little signal", rep.Lead.Snapshot.Oracle.AUC)
	}
	if rep.Abandonment.Recall != 0 || rep.Inactivity.Recall != 0 || rep.Pass() {
		t.Errorf("no alerts, yet recall %v / %v, pass %v", rep.Abandonment.Recall, rep.Inactivity.Recall, rep.Pass())
	}
}
