package reports

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/crmstream/crmstream/dashboard/dashtest"
	"github.com/crmstream/crmstream/internal/chtest"
)

// The funnel_minutes rollup must give exactly the raw query's funnel, on
// seeded data plus replays (some before, some after the rollup saw them),
// events without a lead, and a non-MQL lead_qualified.
func TestFunnelRollupEqualsRaw(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 9, 30, 17, 0, time.UTC)
	if _, err := dashtest.Seed(ctx, s.Conn, s.DB, dashtest.Options{Events: 8000, Owners: 4, Now: now, Span: 3 * 24 * time.Hour, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	// Replays of a slice of the events with a higher version, odd rows, and a
	// late source change of an early event (first touch must follow time).
	if err := s.Conn.Exec(ctx, "INSERT INTO "+s.DB+".events SELECT event_id, type, occurred_at, occurred_ms, lead_id, account_id, owner_id, session_id, source, email, phone, name, company, country, title, properties, ingested_at, version + 1 FROM "+s.DB+".events WHERE cityHash64(event_id) % 5 = 0"); err != nil {
		t.Fatal(err)
	}
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+".events (event_id, type, occurred_at, lead_id, account_id, owner_id, source, properties, ingested_at, version)")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []struct{ lead, typ, owner, source, props string }{
		{"", "page_view", "rep-1", "web", `{}`},                                   // no lead: not in the funnel
		{"odd-1", "lead_qualified", "rep-9", "partner", `{"stage":"sql"}`},        // cohort, level 0
		{"odd-2", "page_view", "", "", `{"campaign":"x"}`},                        // no owner, no source
		{"lead-0000003", "deal_won", "rep-2", "late", `{"campaign":"late-camp"}`}, // an owner change
	} {
		if err := b.Append(fmt.Sprintf("odd-%d", i), e.typ, now.Add(-time.Duration(i*7)*time.Hour), e.lead, "a", e.owner, e.source, e.props, now, uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var rollupRows, events uint64
	if err := s.Conn.QueryRow(ctx, "SELECT (SELECT count() FROM "+s.DB+".funnel_minutes), (SELECT count() FROM "+s.DB+".events)").Scan(&rollupRows, &events); err != nil {
		t.Fatal(err)
	}
	if rollupRows == 0 || rollupRows >= events {
		t.Fatalf("rollup rows %d for %d event rows", rollupRows, events)
	}
	// The backfill statements, run again by hand below.
	fills, err := s.Dialect.Backfills()
	if err != nil || len(fills) == 0 {
		t.Fatalf("backfills %d, %v", len(fills), err)
	}

	rollup, _ := New(Config{Conn: s.Conn, Database: s.DB})
	raw, _ := New(Config{Conn: s.Conn, Database: s.DB, RawFunnel: true})
	to := now.Truncate(time.Minute).Add(time.Minute)
	var reqs []FunnelRequest
	for _, rg := range []struct{ from, to time.Time }{
		{to.Add(-7 * 24 * time.Hour), to},
		{to.Add(-30 * time.Hour), to.Add(-17 * time.Minute)},
	} {
		for _, bucket := range []Bucket{Minute, Hour, Day} {
			for _, g := range []GroupBy{NoGroup, BySource, ByCamp, ByOwner} {
				reqs = append(reqs, FunnelRequest{From: rg.from, To: rg.to, Bucket: bucket, GroupBy: g, Stages: DefaultStages()})
			}
			reqs = append(reqs, FunnelRequest{From: rg.from, To: rg.to, Bucket: bucket, GroupBy: BySource, Owner: "rep-2", Stages: DefaultStages()})
		}
	}
	check := func(when string) {
		t.Helper()
		nonEmpty := 0
		for _, req := range reqs {
			if !rollupCovers(req) {
				t.Fatalf("rollup does not cover %+v", req)
			}
			want, err := raw.Funnel(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rollup.Funnel(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s %s by %q owner %q: rollup\n%+v\nraw\n%+v", when, req.From, req.Bucket, req.GroupBy, req.Owner, got.Stages, want.Stages)
			}
			if want.Stages[0].Count > 0 {
				nonEmpty++
			}
		}
		if nonEmpty < len(reqs)/2 {
			t.Errorf("%s: only %d of %d funnels have leads", when, nonEmpty, len(reqs))
		}
	}
	check("after inserts")
	for _, f := range fills { // skipped: marked done by Migrate
		if err := s.Conn.Exec(ctx, f.SQL); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Conn.Exec(ctx, "OPTIMIZE TABLE "+s.DB+".funnel_minutes FINAL"); err != nil {
		t.Fatal(err)
	}
	check("after merge")
	// Rebuild from scratch by the backfill alone (as on a database that held
	// events before the view existed): same answers.
	var done uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM "+s.DB+".schema_backfills WHERE name = '0006_funnel_rollup.sql'").Scan(&done); err != nil || done != 1 {
		t.Fatalf("backfill marked done %d times, %v", done, err)
	}
	for _, tbl := range []string{"funnel_minutes", "schema_backfills"} {
		if err := s.Conn.Exec(ctx, "TRUNCATE TABLE "+s.DB+"."+tbl); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fills {
		if err := s.Conn.Exec(ctx, f.SQL); err != nil {
			t.Fatal(err)
		}
	}
	check("after backfill")
}

func TestRollupCovers(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ok := FunnelRequest{From: t0, To: t0.Add(time.Hour), Bucket: Hour, Stages: DefaultStages()}
	custom := DefaultStages()
	custom[2].Match = custom[2].Match[:1]
	for _, c := range []struct {
		name string
		req  FunnelRequest
		want bool
	}{
		{"default stages, whole minutes", ok, true},
		{"ordered", func() FunnelRequest { r := ok; r.Ordered = true; return r }(), false},
		{"seconds in from", func() FunnelRequest { r := ok; r.From = r.From.Add(time.Second); return r }(), false},
		{"seconds in to", func() FunnelRequest { r := ok; r.To = r.To.Add(-time.Second); return r }(), false},
		{"subset of stages", func() FunnelRequest { r := ok; r.Stages = r.Stages[1:]; return r }(), false},
		{"changed stage", func() FunnelRequest { r := ok; r.Stages = custom; return r }(), false},
	} {
		if got := rollupCovers(c.req); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
