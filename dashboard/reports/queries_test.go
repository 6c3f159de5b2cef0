package reports

import (
	"reflect"
	"testing"
	"time"
)

var (
	t0 = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
)

func TestToSQL(t *testing.T) {
	two := []Stage{{Name: "visitor", Match: []Match{{Type: "page_view"}}}, {Name: "mql", Match: []Match{{Type: "lead_qualified", Property: "stage", Value: "mql"}, {Type: "form_submit"}}}}
	tests := []struct {
		name     string
		q        sqler
		wantSQL  string
		wantArgs []any
	}{
		{"funnel reached", funnelQuery{"crm", FunnelRequest{From: t0, To: t1, Bucket: Hour, Stages: two}},
			"SELECT bucket, grp, countIf(level >= 1), countIf(level >= 2) FROM (SELECT lead_id, toStartOfHour(min(occurred_at)) AS bucket, '' AS grp, " +
				"max(multiIf((type = ? AND visitParamExtractString(properties, ?) = ?) OR type = ?, 2, type = ?, 1, 0)) AS level " +
				"FROM `crm`.events PREWHERE has(?, type) WHERE occurred_at >= ? AND occurred_at < ? AND lead_id != '' GROUP BY lead_id) GROUP BY bucket, grp ORDER BY bucket, grp",
			[]any{"lead_qualified", "stage", "mql", "form_submit", "page_view", []string{"page_view", "lead_qualified", "form_submit"}, t0, t1}},
		{"funnel ordered", funnelQuery{"crm", FunnelRequest{From: t0, To: t1, Bucket: Hour, Stages: two, Window: 24 * time.Hour, Ordered: true}},
			"SELECT bucket, grp, countIf(level >= 1), countIf(level >= 2) FROM (SELECT lead_id, toStartOfHour(min(occurred_at)) AS bucket, '' AS grp, " +
				"windowFunnel(?)(occurred_at, type = ?, (type = ? AND visitParamExtractString(properties, ?) = ?) OR type = ?) AS level " +
				"FROM `crm`.events PREWHERE has(?, type) WHERE occurred_at >= ? AND occurred_at < ? AND lead_id != '' GROUP BY lead_id) GROUP BY bucket, grp ORDER BY bucket, grp",
			[]any{int64(86400), "page_view", "lead_qualified", "stage", "mql", "form_submit", []string{"page_view", "lead_qualified", "form_submit"}, t0, t1}},
		{"funnel by owner, scoped", funnelQuery{"crm", FunnelRequest{From: t0, To: t1, Bucket: Day, GroupBy: ByOwner, Stages: two[:1], Window: time.Hour, Owner: "rep-1", Ordered: true}},
			"SELECT bucket, grp, countIf(level >= 1) FROM (SELECT lead_id, toStartOfDay(min(occurred_at)) AS bucket, argMaxIf(owner_id, occurred_at, owner_id != '') AS grp, " +
				"windowFunnel(?)(occurred_at, type = ?) AS level FROM `crm`.events PREWHERE has(?, type) WHERE occurred_at >= ? AND occurred_at < ? AND lead_id != '' AND owner_id = ? " +
				"GROUP BY lead_id) GROUP BY bucket, grp ORDER BY bucket, grp",
			[]any{int64(3600), "page_view", []string{"page_view"}, t0, t1, "rep-1"}},
		{"hot leads", hotLeadsQuery{"crm", HotLeadsRequest{Limit: 25}},
			"SELECT lead_id FROM `crm`.lead_current FINAL WHERE converted = 0 ORDER BY score DESC, event_time DESC, lead_id LIMIT ?, ?",
			[]any{0, 26}},
		{"funnel rollup", funnelRollupQuery{"crm", FunnelRequest{From: t0, To: t1, Bucket: Minute, GroupBy: BySource, Stages: two, Owner: "rep-1"}},
			"SELECT bucket, grp, countIf(lvl >= 1), countIf(lvl >= 2) FROM (SELECT lead_id, toStartOfMinute(minMerge(first_at)) AS bucket, argMinIfMerge(source) AS grp, " +
				"maxMerge(level) AS lvl FROM `crm`.funnel_minutes WHERE minute >= ? AND minute < ? AND owner_id = ? GROUP BY lead_id) GROUP BY bucket, grp ORDER BY bucket, grp",
			[]any{t0, t1, "rep-1"}},
		{"hot lead candidates", hotCandidatesQuery{"crm", HotLeadsRequest{Owner: "rep-7", Tier: "hot", MinScore: 70, Limit: 10, Offset: 20}, 124},
			"SELECT lead_id, score, event_time FROM `crm`.lead_current PREWHERE converted = 0 AND score >= ? WHERE 1 = 1 AND owner_id = ? AND tier = ? ORDER BY score DESC, event_time DESC, lead_id LIMIT ?",
			[]any{uint8(70), "rep-7", "hot", 124}},
		{"current rank", currentRankQuery{"crm", []string{"l1", "l2"}},
			"SELECT lead_id, score, event_time, converted, owner_id, tier FROM `crm`.lead_current FINAL WHERE lead_id IN (?, ?)", []any{"l1", "l2"}},
		{"leads by id", leadsByIDQuery{"crm", []string{"l1", "l2"}}, "SELECT " + leadCols + " FROM `crm`.lead_current FINAL WHERE lead_id IN (?, ?)", []any{"l1", "l2"}},
		{"accounts by id", accountsByIDQuery{"crm", []string{"a1"}}, "SELECT " + accountCols + " FROM `crm`.account_current FINAL WHERE account_id IN (?)", []any{"a1"}},
		{"hot leads filtered", hotLeadsQuery{"crm", HotLeadsRequest{Owner: "rep-7", Tier: "hot", MinScore: 70, Limit: 10, Offset: 20}},
			"SELECT lead_id FROM `crm`.lead_current FINAL WHERE converted = 0 AND owner_id = ? AND tier = ? AND score >= ? ORDER BY score DESC, event_time DESC, lead_id LIMIT ?, ?",
			[]any{"rep-7", "hot", uint8(70), 20, 11}},
		{"names", namesQuery{"crm", []string{"a", "b"}},
			"SELECT lead_id, argMaxIf(name, occurred_at, name != ''), argMaxIf(company, occurred_at, company != '') FROM `crm`.events WHERE lead_id IN (?, ?) GROUP BY lead_id",
			[]any{"a", "b"}},
		{"lead current", leadCurrentQuery{"crm", "l'1"}, "SELECT " + leadCols + " FROM `crm`.lead_current FINAL WHERE lead_id = ?", []any{"l'1"}},
		{"profile", profileQuery{"crm", "lead_id", "l1"}, "SELECT " + profileCols + " FROM `crm`.events WHERE lead_id = ?", []any{"l1"}},
		{"lead history", historyQuery{"crm", "lead_id", "l1", 500},
			"SELECT event_time, score, probability, tier, model_version FROM `crm`.lead_scores FINAL WHERE lead_id = ? ORDER BY event_time DESC, scored_at DESC LIMIT ?", []any{"l1", 500}},
		{"account history", historyQuery{"crm", "account_id", "a1", 10},
			"SELECT event_time, score, probability, tier, model_version FROM `crm`.churn_scores FINAL WHERE account_id = ? ORDER BY event_time DESC, scored_at DESC LIMIT ?", []any{"a1", 10}},
		{"lead timeline", timelineQuery{"crm", "lead_id", "l1", 200},
			"SELECT event_id, type, occurred_at, lead_id, source, properties FROM `crm`.events FINAL WHERE lead_id = ? ORDER BY occurred_at DESC, event_id LIMIT 1 BY event_id LIMIT ?", []any{"l1", 200}},
		{"account timeline", timelineQuery{"crm", "account_id", "a1", 100},
			"SELECT event_id, type, occurred_at, lead_id, source, properties FROM `crm`.events WHERE account_id = ? ORDER BY occurred_at DESC, event_id LIMIT 1 BY event_id LIMIT ?", []any{"a1", 100}},
		{"at risk", atRiskQuery{"crm", AtRiskRequest{Owner: "rep-1", Limit: 5}},
			"SELECT account_id FROM `crm`.account_current FINAL WHERE churned = 0 AND owner_id = ? ORDER BY score DESC, mrr DESC, account_id LIMIT ?, ?", []any{"rep-1", 0, 6}},
		{"alerts", alertsQuery{"crm", AlertsRequest{Owner: "rep-1", Status: "fired", Kind: "hot_lead", From: t0, To: t1, Limit: 50, Offset: 50}},
			"SELECT " + alertCols + " FROM `crm`.alerts FINAL WHERE 1 = 1 AND owner_id = ? AND status = ? AND kind = ? AND fired_at >= ? AND fired_at < ? ORDER BY fired_at DESC, alert_id LIMIT ?, ?",
			[]any{"rep-1", "fired", "hot_lead", t0, t1, 50, 51}},
		{"alerts unfiltered", alertsQuery{"crm", AlertsRequest{Limit: 10}},
			"SELECT " + alertCols + " FROM `crm`.alerts FINAL WHERE 1 = 1 ORDER BY fired_at DESC, alert_id LIMIT ?, ?", []any{0, 11}},
		{"alerts since", alertsSinceQuery{"crm", t0, 1000},
			"SELECT " + alertCols + " FROM `crm`.alerts FINAL WHERE updated_at >= ? ORDER BY updated_at, alert_id LIMIT ?", []any{t0, 1000}},
		{"metric series", metricSeriesQuery{"crm", MetricsRequest{Model: "lead", Metric: "auc", From: t0, To: t1, Bucket: Hour}},
			"SELECT model, model_version, metric, toStartOfHour(at) AS t, avg(value), sum(n) FROM `crm`.model_metrics WHERE at >= ? AND at < ? AND model = ? AND metric = ? " +
				"GROUP BY model, model_version, metric, t ORDER BY model, metric, model_version, t LIMIT 20000", []any{t0, t1, "lead", "auc"}},
		{"throughput", throughputQuery{"crm", t1},
			"SELECT toStartOfMinute(ingested_at) AS t, count() FROM `crm`.events WHERE ingested_at >= ? AND occurred_at >= ? GROUP BY t ORDER BY t", []any{t1, t1.Add(-7 * 24 * time.Hour)}},
		{"rejects", recentRejectsQuery{"crm", t0, 20},
			"SELECT received_at, origin, event_id, reason FROM `crm`.rejects WHERE received_at >= ? ORDER BY received_at DESC, reject_id LIMIT ?", []any{t0, 20}},
		{"audit", auditQuery{"crm", "lee", t0, 100},
			"SELECT at, user, role, method, path, query, status, duration_ms, remote FROM `crm`.audit_log WHERE at >= ? AND user = ? ORDER BY at DESC LIMIT ?", []any{t0, "lee", 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sql, args := tc.q.toSQL()
			if sql != tc.wantSQL {
				t.Errorf("SQL\n got: %s\nwant: %s", sql, tc.wantSQL)
			}
			if !reflect.DeepEqual(args, tc.wantArgs) {
				t.Errorf("args\n got: %#v\nwant: %#v", args, tc.wantArgs)
			}
		})
	}
}

func TestParseReasons(t *testing.T) {
	tests := []struct {
		in   string
		want []Reason
	}{
		{"", []Reason{}},
		{`[{"label":"Viewed pricing","feature":"pricing_7d","weight":0.4,"evidence":["e1","e2"]}]`, []Reason{{Label: "Viewed pricing", Feature: "pricing_7d", Weight: 0.4, Evidence: []string{"e1", "e2"}}}},
		{`[{"feature":"tickets","contribution":-0.2,"evidence":[{"event_id":"e9"}]}]`, []Reason{{Label: "Tickets", Feature: "tickets", Weight: -0.2, Evidence: []string{"e9"}}}},
		{`{"reasons":[{"reason":"Demo requested","impact":1}]}`, []Reason{{Label: "Demo requested", Weight: 1, Evidence: []string{}}}},
		{`{"positive":[{"feature":"pricing_views_7d","value":2,"contribution":0.769,"evidence":["e3","e2"]}],"negative":[{"feature":"days_since_touch","value":30,"contribution":0.4}],"rule":0.54}`,
			[]Reason{{Label: "Pricing views 7d: 2", Feature: "pricing_views_7d", Weight: 0.769, Evidence: []string{"e3", "e2"}}, {Label: "Days since touch: 30", Feature: "days_since_touch", Weight: -0.4, Evidence: []string{}}}},
		{`high intent`, []Reason{{Label: "high intent", Evidence: []string{}}}},
	}
	for _, tc := range tests {
		if got := ParseReasons(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseReasons(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

// FuzzParseReasons: reasons come from another service's JSON; any text is
// accepted without panicking and gives non-nil evidence lists.
func FuzzParseReasons(f *testing.F) {
	f.Add(`[{"label":"x","weight":1,"evidence":["a"]}]`)
	f.Add(`{"reasons":[{"evidence":[{"id":1}]}]}`)
	f.Add(`[1,"a",null]`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range ParseReasons(s) {
			if r.Evidence == nil {
				t.Fatal("nil evidence")
			}
		}
	})
}
