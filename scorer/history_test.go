package scorer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/chtest"
)

// TestHistoryMarks: which rows of a key's stream reach the history tables.
func TestHistoryMarks(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	type row struct {
		at    time.Duration
		score uint8
		tier  string
		model string
		flag  bool
		want  bool // written to the history
	}
	for _, c := range []struct {
		name  string
		every time.Duration
		rows  []row
	}{
		{"first row always, unchanged rows quiet", time.Hour, []row{
			{0, 10, "cold", "m1", false, true},
			{time.Minute, 10, "cold", "m1", false, false},
			{30 * time.Minute, 10, "cold", "m1", false, false},
		}},
		{"score, tier, model or flag change is written", time.Hour, []row{
			{0, 10, "cold", "m1", false, true},
			{time.Minute, 11, "cold", "m1", false, true},
			{2 * time.Minute, 11, "warm", "m1", false, true},
			{3 * time.Minute, 11, "warm", "m2", false, true},
			{4 * time.Minute, 11, "warm", "m2", true, true},
			{5 * time.Minute, 11, "warm", "m2", true, false},
		}},
		{"an unchanged score is written again after the interval", time.Hour, []row{
			{0, 10, "cold", "m1", false, true},
			{59 * time.Minute, 10, "cold", "m1", false, false},
			{60 * time.Minute, 10, "cold", "m1", false, true},
			{61 * time.Minute, 10, "cold", "m1", false, false},
		}},
		{"out of order: the interval runs from the newest written row", time.Hour, []row{
			{time.Hour, 10, "cold", "m1", false, true},
			{0, 12, "cold", "m1", false, true},
			{90 * time.Minute, 12, "cold", "m1", false, false},
			{2 * time.Hour, 12, "cold", "m1", false, true},
		}},
		{"negative interval: every row", -1, []row{
			{0, 10, "cold", "m1", false, true},
			{time.Minute, 10, "cold", "m1", false, true},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHistory(c.every)
			for i, r := range c.rows {
				b := &Batch{
					Leads:    []LeadScore{{LeadID: "L1", EventID: fmt.Sprint("e", i), EventTime: t0.Add(r.at), Score: r.score, Tier: r.tier, ModelVersion: r.model, Converted: r.flag}},
					Churn:    []ChurnScore{{AccountID: "A1", EventID: fmt.Sprint("e", i), EventTime: t0.Add(r.at), Score: r.score, Tier: r.tier, ModelVersion: r.model, Churned: r.flag}},
					Features: []FeatureRow{{Entity: "lead", EntityID: "L1", EventID: fmt.Sprint("e", i)}, {Entity: "account", EntityID: "A1", EventID: fmt.Sprint("e", i)}},
				}
				h.mark(b)
				if b.Leads[0].Quiet == r.want || b.Churn[0].Quiet == r.want {
					t.Errorf("row %d (at %v score %d): lead quiet %v, account quiet %v, want written %v", i, r.at, r.score, b.Leads[0].Quiet, b.Churn[0].Quiet, r.want)
				}
				if b.Features[0].Quiet != b.Leads[0].Quiet || b.Features[1].Quiet != b.Churn[0].Quiet {
					t.Errorf("row %d: feature rows do not follow their score rows", i)
				}
			}
		})
	}
}

// TestHistoryForgets: marks of keys whose next row is written anyway are
// dropped, so memory follows the keys active within the interval.
func TestHistoryForgets(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	h := newHistory(time.Hour)
	for i := range 100 {
		h.mark(&Batch{Leads: []LeadScore{{LeadID: fmt.Sprint("L", i), EventTime: t0, Score: 1}}})
	}
	h.mark(&Batch{Leads: []LeadScore{{LeadID: "late", EventTime: t0.Add(2 * time.Hour), Score: 1}}})
	if len(h.marks) != 1 {
		t.Fatalf("%d marks kept, want 1 (the key active within the hour)", len(h.marks))
	}
	b := &Batch{Leads: []LeadScore{{LeadID: "L1", EventTime: t0.Add(2 * time.Hour), Score: 1}}}
	h.mark(b)
	if b.Leads[0].Quiet {
		t.Error("a forgotten key's next row was not written")
	}
}

// TestCHSinkQuietRows: quiet rows update lead_current / account_current
// but add no history or feature rows.
func TestCHSinkQuietRows(t *testing.T) {
	store := chtest.New(t)
	ctx := context.Background()
	sink := &CHSink{Conn: store.Conn, DB: store.DB}
	b := &Batch{
		Leads: []LeadScore{
			{LeadID: "L1", EventID: "e1", EventTime: base, Score: 10, Tier: "cold", Version: 1},
			{LeadID: "L1", EventID: "e2", EventTime: base.Add(time.Minute), Score: 10, Tier: "cold", Version: 2, Quiet: true},
		},
		Churn: []ChurnScore{{AccountID: "A1", EventID: "e3", EventTime: base, Score: 5, Tier: "cold", Version: 7, Quiet: true}},
		Features: []FeatureRow{
			{Entity: "lead", EntityID: "L1", EventID: "e1", EventTime: base, Names: []string{"x"}, Values: []float64{1}},
			{Entity: "lead", EntityID: "L1", EventID: "e2", EventTime: base, Names: []string{"x"}, Values: []float64{2}, Quiet: true},
		},
	}
	if err := sink.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]uint64{
		"SELECT count() FROM " + store.DB + ".lead_scores FINAL":                       1,
		"SELECT count() FROM " + store.DB + ".features FINAL":                          1,
		"SELECT count() FROM " + store.DB + ".churn_scores FINAL":                      0,
		"SELECT count() FROM " + store.DB + ".lead_current FINAL WHERE version = 2":    1,
		"SELECT count() FROM " + store.DB + ".account_current FINAL WHERE version = 7": 1,
	} {
		var n uint64
		if err := store.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
}

// TestHistoryEveryLeadScored: through a worker, every lead keeps its first
// score row in the history, and events that do not move the score are
// thinned.
func TestHistoryEveryLeadScored(t *testing.T) {
	w := NewWorker(WorkerConfig{Now: fixedNow, Features: true})
	var mem MemorySink
	sink := historySink{h: newHistory(time.Hour), next: &mem}
	off := int64(0)
	for l := range 5 {
		for i := range 6 {
			typ := event.Login // no engagement weight: the score stays
			if i == 0 {
				typ = event.PageView
			}
			w.Process(off, ev(fmt.Sprintf("e%d-%d", l, i), typ, fmt.Sprint("L", l), time.Duration(i)*time.Second))
			off++
		}
		if err := w.Flush(context.Background(), sink); err != nil {
			t.Fatal(err)
		}
	}
	written := map[string]int{}
	quiet := 0
	for _, r := range mem.Leads {
		if r.Quiet {
			quiet++
		} else {
			written[r.LeadID]++
		}
	}
	if len(written) != 5 {
		t.Errorf("leads with a history row: %v, want all 5", written)
	}
	if quiet == 0 {
		t.Error("no row thinned")
	}
	fq := 0
	for _, f := range mem.Features {
		if f.Quiet {
			fq++
		}
	}
	if fq != quiet {
		t.Errorf("%d quiet feature rows for %d quiet score rows", fq, quiet)
	}
}
