package reports

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chtest"
)

// Handcrafted events with a known funnel, to check windowFunnel semantics,
// cohort buckets, grouping and the owner scope against real ClickHouse.
func TestFunnelCounts(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	type ev struct {
		lead, typ, owner, source, props string
		at                              time.Duration
	}
	events := []ev{
		// l1: visitor → lead → mql (lead_qualified stage=mql) → opportunity → won, in hour 10
		{"l1", "page_view", "rep-1", "web", `{}`, 0}, {"l1", "lead_created", "rep-1", "", `{}`, time.Minute},
		{"l1", "lead_qualified", "rep-1", "", `{"stage":"mql"}`, 2 * time.Minute}, {"l1", "deal_created", "rep-1", "", `{}`, 3 * time.Minute},
		{"l1", "deal_won", "rep-1", "", `{}`, 4 * time.Minute},
		// l2: visitor → lead; lead_qualified stage=sql is not an MQL signal; a
		// replayed page_view (same row twice) changes nothing. Hour 10.
		{"l2", "page_view", "rep-2", "email", `{}`, 5 * time.Minute}, {"l2", "page_view", "rep-2", "email", `{}`, 5 * time.Minute},
		{"l2", "lead_created", "rep-2", "", `{}`, 6 * time.Minute}, {"l2", "lead_qualified", "rep-2", "", `{"stage":"sql"}`, 7 * time.Minute},
		// l3: deal_created before any page_view: windowFunnel needs order, so only visitor. Hour 11.
		{"l3", "deal_created", "rep-1", "web", `{}`, 61 * time.Minute}, {"l3", "page_view", "rep-1", "web", `{}`, 62 * time.Minute},
		// l4: visitor → lead → mql via form_submit, but the lead comes after the 1 h window. Hour 11.
		{"l4", "page_view", "rep-1", "ads", `{}`, 70 * time.Minute}, {"l4", "lead_created", "rep-1", "", `{}`, 200 * time.Minute},
		// l5: outside the range.
		{"l5", "page_view", "rep-1", "web", `{}`, -2 * time.Hour},
	}
	batch, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+".events (event_id, type, occurred_at, lead_id, owner_id, source, properties, ingested_at, version)")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		id := fmt.Sprintf("%s-%d", e.lead, i)
		if i == 6 {
			id = "l2-5" // the replay
		}
		if err := batch.Append(id, e.typ, base.Add(e.at), e.lead, e.owner, e.source, e.props, base, uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Conn: s.Conn, Database: s.DB})
	if err != nil {
		t.Fatal(err)
	}
	// Reached: the deepest stage of each lead, whatever the order: l1 won,
	// l2 lead, l3 opportunity (deal_created implies the stages before), l4 lead.
	reached := FunnelRequest{From: base.Add(-time.Hour), To: base.Add(6 * time.Hour), Bucket: Hour, Stages: DefaultStages()}
	f, err := r.Funnel(ctx, reached)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(counts(f.Stages)); got != "[4 4 2 2 1]" || f.Mode != "reached" {
		t.Errorf("reached %s %s, want [4 4 2 2 1]", f.Mode, got)
	}

	req := FunnelRequest{From: base.Add(-time.Hour), To: base.Add(6 * time.Hour), Bucket: Hour, Stages: DefaultStages(), Window: time.Hour, Ordered: true}
	f, err = r.Funnel(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := []uint64{4, 2, 1, 1, 1}
	for i, s := range f.Stages {
		if s.Count != wantTotals[i] {
			t.Errorf("stage %s = %d, want %d (all %+v)", s.Stage, s.Count, wantTotals[i], f.Stages)
		}
	}
	if f.Stages[1].Conversion != 0.5 || f.Stages[4].FromStart != 0.25 {
		t.Errorf("conversions %+v", f.Stages)
	}
	if len(f.Series) != 2 || !f.Series[0].Bucket.Equal(base) || f.Series[0].Counts[0] != 2 || f.Series[1].Counts[0] != 2 || f.Series[1].Counts[1] != 0 {
		t.Errorf("series %+v", f.Series)
	}

	req.GroupBy = BySource
	f, err = r.Funnel(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]uint64{}
	for _, g := range f.Groups {
		for _, s := range g.Stages {
			got[g.Group] = append(got[g.Group], s.Count)
		}
	}
	want := map[string][]uint64{"web": {2, 1, 1, 1, 1}, "email": {1, 1, 0, 0, 0}, "ads": {1, 0, 0, 0, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by source %v, want %v", got, want)
	}

	req.GroupBy, req.Owner = NoGroup, "rep-2"
	if f, err = r.Funnel(ctx, req); err != nil {
		t.Fatal(err)
	}
	if f.Stages[0].Count != 1 || f.Stages[1].Count != 1 {
		t.Errorf("rep-2 funnel %+v", f.Stages)
	}
	req.Window = 4 * time.Hour // now l4's lead counts
	req.Owner = ""
	if f, err = r.Funnel(ctx, req); err != nil {
		t.Fatal(err)
	}
	if f.Stages[1].Count != 3 {
		t.Errorf("4 h window: leads %d, want 3", f.Stages[1].Count)
	}
}

func TestLeadScopeAndAcknowledge(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	at := now.Add(-time.Hour)
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+".lead_current (lead_id, owner_id, event_time, score, tier, reasons, version)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("l1", "rep-1", at, uint8(80), "hot", `[{"label":"x","evidence":["e1"]}]`, uint64(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	b, err = s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+".alerts (alert_id, kind, owner_id, fired_at, event_time, status, updated_at, version)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("a1", "hot_lead", "rep-1", at, at, "fired", at, uint64(5)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	r, _ := New(Config{Conn: s.Conn, Database: s.DB, Now: func() time.Time { return now }})
	d, err := r.Lead(ctx, "l1", "rep-1")
	if err != nil || d.Current == nil || d.Current.Score != 80 || len(d.Current.Reasons) != 1 || d.Current.Reasons[0].Evidence[0] != "e1" {
		t.Fatalf("Lead = %+v, %v", d, err)
	}
	if _, err := r.Lead(ctx, "l1", "rep-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other rep: %v", err)
	}
	if _, err := r.Acknowledge(ctx, "a1", "rep-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ack by other rep: %v", err)
	}
	a, err := r.Acknowledge(ctx, "a1", "")
	if err != nil || a.Version != 6 || a.Status != "acknowledged" || !a.UpdatedAt.Equal(now) {
		t.Fatalf("ack = %+v, %v", a, err)
	}
	if a, err = r.Alert(ctx, "a1", "rep-1"); err != nil || a.Status != "acknowledged" || a.Version != 6 {
		t.Fatalf("after ack: %+v, %v", a, err)
	}
}

func counts(s []StageCount) []uint64 {
	out := make([]uint64, len(s))
	for i, c := range s {
		out[i] = c.Count
	}
	return out
}
