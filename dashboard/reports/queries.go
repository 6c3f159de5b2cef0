package reports

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// builder appends SQL text and its arguments together so they cannot drift.
type builder struct {
	b    strings.Builder
	args []any
}

func (q *builder) add(sql string, args ...any) *builder {
	q.b.WriteString(sql)
	q.args = append(q.args, args...)
	return q
}

func (q *builder) done() (string, []any) { return q.b.String(), q.args }

func table(db, name string) string { return "`" + db + "`." + name }

// in renders "col IN (?, ?, …)" with one argument per value: unlike
// has(?, col), IN on a key column lets ClickHouse use the primary index, and
// 18.16 rejects a bound slice in IN. Callers bound len(values) (pages ≤ 200).
func (q *builder) in(col string, values []string) {
	q.add(col + " IN (")
	for i, v := range values {
		if i > 0 {
			q.add(", ")
		}
		q.add("?", v)
	}
	q.add(")")
}

// page renders LIMIT offset, n (18.16 has no OFFSET keyword). One more row
// than asked is read to tell whether a next page exists.
func (q *builder) page(limit, offset int) {
	q.add(" LIMIT ?, ?", offset, limit+1)
}

type funnelQuery struct {
	db  string
	req FunnelRequest
}

func (f funnelQuery) toSQL() (string, []any) {
	r := f.req
	q := &builder{}
	q.add("SELECT bucket, grp")
	for i := range r.Stages {
		q.add(", countIf(level >= " + strconv.Itoa(i+1) + ")")
	}
	q.add(" FROM (SELECT lead_id, " + bucketFuncs[r.Bucket] + "(min(occurred_at)) AS bucket, " + groupExprs[r.GroupBy] + " AS grp, ")
	cond := func(s Stage) {
		for j, m := range s.Match {
			if j > 0 {
				q.add(" OR ")
			}
			if m.Property != "" {
				q.add("(type = ? AND visitParamExtractString(properties, ?) = ?)", m.Type, m.Property, m.Value)
			} else {
				q.add("type = ?", m.Type)
			}
		}
	}
	if r.Ordered {
		q.add("windowFunnel(?)(occurred_at", int64(r.Window/time.Second))
		for _, s := range r.Stages {
			q.add(", ")
			cond(s)
		}
		q.add(")")
	} else {
		// The deepest stage any event matches: multiIf tries the deepest first.
		q.add("max(multiIf(")
		for i := len(r.Stages) - 1; i >= 0; i-- {
			cond(r.Stages[i])
			q.add(", " + strconv.Itoa(i+1) + ", ")
		}
		q.add("0))")
	}
	// PREWHERE on the stage types: rows of other types never have their
	// (wide) properties read.
	q.add(" AS level FROM "+table(f.db, "events")+" PREWHERE has(?, type) WHERE occurred_at >= ? AND occurred_at < ? AND lead_id != ''", stageTypes(r.Stages), r.From, r.To)
	if r.Owner != "" {
		q.add(" AND owner_id = ?", r.Owner)
	}
	q.add(" GROUP BY lead_id) GROUP BY bucket, grp ORDER BY bucket, grp")
	return q.done()
}

func stageTypes(stages []Stage) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range stages {
		for _, m := range s.Match {
			if !seen[m.Type] {
				seen[m.Type] = true
				out = append(out, m.Type)
			}
		}
	}
	return out
}

const leadCols = "lead_id, account_id, owner_id, event_time, score, probability, tier, model_version, reasons, converted"

type hotLeadsQuery struct {
	db  string
	req HotLeadsRequest
}

// The ranking reads only the narrow columns (FINAL merges what it reads, and
// reasons is the widest column); leadsByIDQuery then reads the page's rows.
func (h hotLeadsQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT lead_id FROM " + table(h.db, "lead_current") + " FINAL WHERE converted = 0")
	if h.req.Owner != "" {
		q.add(" AND owner_id = ?", h.req.Owner)
	}
	if h.req.Tier != "" {
		q.add(" AND tier = ?", h.req.Tier)
	}
	if h.req.MinScore > 0 {
		q.add(" AND score >= ?", h.req.MinScore)
	}
	q.add(" ORDER BY score DESC, event_time DESC, lead_id")
	q.page(h.req.Limit, h.req.Offset)
	return q.done()
}

type leadsByIDQuery struct {
	db    string
	leads []string
}

func (l leadsByIDQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT " + leadCols + " FROM " + table(l.db, "lead_current") + " FINAL WHERE ")
	q.in("lead_id", l.leads)
	return q.done()
}

// namesQuery reads display names of a page of leads from their events; IN on
// the primary-key prefix reads a few granules only.
type namesQuery struct {
	db    string
	leads []string
}

func (n namesQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT lead_id, argMaxIf(name, occurred_at, name != ''), argMaxIf(company, occurred_at, company != '') FROM " + table(n.db, "events") + " WHERE ")
	q.in("lead_id", n.leads)
	q.add(" GROUP BY lead_id")
	return q.done()
}

type leadCurrentQuery struct{ db, lead string }

func (l leadCurrentQuery) toSQL() (string, []any) {
	return "SELECT " + leadCols + " FROM " + table(l.db, "lead_current") + " FINAL WHERE lead_id = ?", []any{l.lead}
}

const profileCols = "argMaxIf(owner_id, occurred_at, owner_id != ''), argMaxIf(account_id, occurred_at, account_id != ''), " +
	"argMaxIf(email, occurred_at, email != ''), argMaxIf(phone, occurred_at, phone != ''), " +
	"argMaxIf(name, occurred_at, name != ''), argMaxIf(company, occurred_at, company != ''), " +
	"argMaxIf(country, occurred_at, country != ''), argMaxIf(title, occurred_at, title != ''), " +
	"argMinIf(source, occurred_at, source != ''), min(occurred_at), max(occurred_at), uniqExact(event_id)"

// profileQuery summarises the events of a lead (by == "lead_id") or an
// account (by == "account_id"); by comes from this package only.
type profileQuery struct{ db, by, id string }

func (p profileQuery) toSQL() (string, []any) {
	return "SELECT " + profileCols + " FROM " + table(p.db, "events") + " WHERE " + p.by + " = ?", []any{p.id}
}

// historyQuery reads the newest limit scores of a lead (from lead_scores) or
// an account (from churn_scores).
type historyQuery struct {
	db, by, id string
	limit      int
}

func (h historyQuery) toSQL() (string, []any) {
	t := "lead_scores"
	if h.by == "account_id" {
		t = "churn_scores"
	}
	return "SELECT event_time, score, probability, tier, model_version FROM " + table(h.db, t) +
		" FINAL WHERE " + h.by + " = ? ORDER BY event_time DESC, scored_at DESC LIMIT ?", []any{h.id, h.limit}
}

type timelineQuery struct {
	db, by, id string
	limit      int
}

func (t timelineQuery) toSQL() (string, []any) {
	final := " FINAL"
	if t.by == "account_id" {
		// account_id is not a key prefix: FINAL would merge the whole table.
		final = ""
	}
	return "SELECT event_id, type, occurred_at, lead_id, source, properties FROM " + table(t.db, "events") + final +
		" WHERE " + t.by + " = ? ORDER BY occurred_at DESC, event_id LIMIT 1 BY event_id LIMIT ?", []any{t.id, t.limit}
}

const accountCols = "account_id, owner_id, event_time, score, probability, tier, model_version, reasons, plan, mrr, churned"

type atRiskQuery struct {
	db  string
	req AtRiskRequest
}

// Ranked on narrow columns like hot leads; accountsByIDQuery reads the page.
func (a atRiskQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT account_id FROM " + table(a.db, "account_current") + " FINAL WHERE churned = 0")
	if a.req.Owner != "" {
		q.add(" AND owner_id = ?", a.req.Owner)
	}
	if a.req.Tier != "" {
		q.add(" AND tier = ?", a.req.Tier)
	}
	if a.req.MinScore > 0 {
		q.add(" AND score >= ?", a.req.MinScore)
	}
	q.add(" ORDER BY score DESC, mrr DESC, account_id")
	q.page(a.req.Limit, a.req.Offset)
	return q.done()
}

type accountsByIDQuery struct {
	db       string
	accounts []string
}

func (a accountsByIDQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT " + accountCols + " FROM " + table(a.db, "account_current") + " FINAL WHERE ")
	q.in("account_id", a.accounts)
	return q.done()
}

type accountCurrentQuery struct{ db, account string }

func (a accountCurrentQuery) toSQL() (string, []any) {
	return "SELECT " + accountCols + " FROM " + table(a.db, "account_current") + " FINAL WHERE account_id = ?", []any{a.account}
}

type accountLeadsQuery struct {
	db, account string
	limit       int
}

func (a accountLeadsQuery) toSQL() (string, []any) {
	return "SELECT " + leadCols + " FROM " + table(a.db, "lead_current") +
		" FINAL WHERE account_id = ? ORDER BY score DESC, lead_id LIMIT ?", []any{a.account, a.limit}
}

const alertCols = "alert_id, kind, lead_id, account_id, owner_id, fired_at, event_time, status, score, reason, evidence, details, updated_at, version"

type alertsQuery struct {
	db  string
	req AlertsRequest
}

func (a alertsQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT " + alertCols + " FROM " + table(a.db, "alerts") + " FINAL WHERE 1 = 1")
	if a.req.Owner != "" {
		q.add(" AND owner_id = ?", a.req.Owner)
	}
	if a.req.Status != "" {
		q.add(" AND status = ?", a.req.Status)
	}
	if a.req.Kind != "" {
		q.add(" AND kind = ?", a.req.Kind)
	}
	if !a.req.From.IsZero() {
		q.add(" AND fired_at >= ?", a.req.From)
	}
	if !a.req.To.IsZero() {
		q.add(" AND fired_at < ?", a.req.To)
	}
	q.add(" ORDER BY fired_at DESC, alert_id")
	q.page(a.req.Limit, a.req.Offset)
	return q.done()
}

type alertQuery struct{ db, id string }

func (a alertQuery) toSQL() (string, []any) {
	return "SELECT " + alertCols + " FROM " + table(a.db, "alerts") + " FINAL WHERE alert_id = ?", []any{a.id}
}

// alertsSinceQuery feeds the live stream: alert states written at or after
// since. updated_at has second resolution, so the caller removes repeats.
type alertsSinceQuery struct {
	db    string
	since time.Time
	limit int
}

func (a alertsSinceQuery) toSQL() (string, []any) {
	return "SELECT " + alertCols + " FROM " + table(a.db, "alerts") +
		" FINAL WHERE updated_at >= ? ORDER BY updated_at, alert_id LIMIT ?", []any{a.since, a.limit}
}

type modelsQuery struct{ db string }

func (m modelsQuery) toSQL() (string, []any) {
	return "SELECT model, version, kind, created_at, status, metrics, updated_at FROM " + table(m.db, "models") +
		" FINAL ORDER BY model, created_at DESC, version LIMIT 500", nil
}

type championsQuery struct{ db string }

func (c championsQuery) toSQL() (string, []any) {
	return "SELECT model, argMax(version, seq) FROM " + table(c.db, "model_promotions") + " GROUP BY model", nil
}

type latestMetricsQuery struct{ db string }

func (l latestMetricsQuery) toSQL() (string, []any) {
	return "SELECT model, argMax(model_version, at), metric, argMax(value, at), max(at) FROM " +
		table(l.db, "model_metrics") + " GROUP BY model, metric ORDER BY model, metric", nil
}

type metricSeriesQuery struct {
	db  string
	req MetricsRequest
}

func (m metricSeriesQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT model, model_version, metric, "+bucketFuncs[m.req.Bucket]+"(at) AS t, avg(value), sum(n) FROM "+
		table(m.db, "model_metrics")+" WHERE at >= ? AND at < ?", m.req.From, m.req.To)
	if m.req.Model != "" {
		q.add(" AND model = ?", m.req.Model)
	}
	if m.req.Metric != "" {
		q.add(" AND metric = ?", m.req.Metric)
	}
	q.add(" GROUP BY model, model_version, metric, t ORDER BY model, metric, model_version, t LIMIT 20000")
	return q.done()
}

// Pipeline queries. Throughput filters on ingest time; the occurred_at bound
// lets ClickHouse skip old partitions (events older than a week at ingest are
// backfills, not live throughput).
type throughputQuery struct {
	db    string
	since time.Time
}

func (t throughputQuery) toSQL() (string, []any) {
	return "SELECT toStartOfMinute(ingested_at) AS t, count() FROM " + table(t.db, "events") +
		" WHERE ingested_at >= ? AND occurred_at >= ? GROUP BY t ORDER BY t", []any{t.since, t.since.Add(-7 * 24 * time.Hour)}
}

type ingestDelayQuery struct {
	db    string
	since time.Time
}

func (d ingestDelayQuery) toSQL() (string, []any) {
	return "SELECT count(), max(ingested_at), quantiles(0.5, 0.99)(toInt64(ingested_at) - toInt64(occurred_at)) FROM " +
		table(d.db, "events") + " WHERE ingested_at >= ? AND occurred_at >= ?", []any{d.since, d.since.Add(-7 * 24 * time.Hour)}
}

type lastScoreQuery struct{ db string }

func (l lastScoreQuery) toSQL() (string, []any) {
	return "SELECT count(), max(scored_at) FROM " + table(l.db, "lead_scores"), nil
}

type lateEventsQuery struct {
	db    string
	since time.Time
}

func (l lateEventsQuery) toSQL() (string, []any) {
	return "SELECT toStartOfMinute(received_at) AS t, count() FROM " + table(l.db, "late_events") +
		" WHERE received_at >= ? GROUP BY t ORDER BY t", []any{l.since}
}

type rejectsByOriginQuery struct {
	db    string
	since time.Time
}

func (r rejectsByOriginQuery) toSQL() (string, []any) {
	return "SELECT origin, count() FROM " + table(r.db, "rejects") +
		" WHERE received_at >= ? GROUP BY origin ORDER BY origin", []any{r.since}
}

type recentRejectsQuery struct {
	db    string
	since time.Time
	limit int
}

func (r recentRejectsQuery) toSQL() (string, []any) {
	return "SELECT received_at, origin, event_id, reason FROM " + table(r.db, "rejects") +
		" WHERE received_at >= ? ORDER BY received_at DESC, reject_id LIMIT ?", []any{r.since, r.limit}
}

type auditQuery struct {
	db    string
	user  string
	since time.Time
	limit int
}

func (a auditQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT at, user, role, method, path, query, status, duration_ms, remote FROM "+table(a.db, "audit_log")+" WHERE at >= ?", a.since)
	if a.user != "" {
		q.add(" AND user = ?", a.user)
	}
	q.add(" ORDER BY at DESC LIMIT ?", a.limit)
	return q.done()
}

// rollupGroupExprs are groupExprs over the funnel_minutes states.
var rollupGroupExprs = map[GroupBy]string{
	NoGroup:  "''",
	BySource: "argMinIfMerge(source)",
	ByCamp:   "argMinIfMerge(campaign)",
	ByOwner:  "argMaxIfMerge(owner)",
}

// funnelRollupQuery is funnelQuery's reached mode over the funnel_minutes
// rollup (sql/0006): it reads the range's rows only, in time order, and
// merges each lead's states over the range. Valid only for the default
// stages (the rollup's level) and minute-aligned ranges (its rows).
type funnelRollupQuery struct {
	db  string
	req FunnelRequest
}

func (f funnelRollupQuery) toSQL() (string, []any) {
	r := f.req
	q := &builder{}
	q.add("SELECT bucket, grp")
	for i := range r.Stages {
		q.add(", countIf(lvl >= " + strconv.Itoa(i+1) + ")")
	}
	q.add(" FROM (SELECT lead_id, " + bucketFuncs[r.Bucket] + "(minMerge(first_at)) AS bucket, " + rollupGroupExprs[r.GroupBy] + " AS grp, maxMerge(level) AS lvl FROM " + table(f.db, "funnel_minutes"))
	q.add(" WHERE minute >= ? AND minute < ?", r.From, r.To)
	if r.Owner != "" {
		q.add(" AND owner_id = ?", r.Owner)
	}
	q.add(" GROUP BY lead_id) GROUP BY bucket, grp ORDER BY bucket, grp")
	return q.done()
}

// rollupCovers reports whether funnelRollupQuery answers r exactly.
func rollupCovers(r FunnelRequest) bool {
	return !r.Ordered && r.From.Truncate(time.Minute).Equal(r.From) && r.To.Truncate(time.Minute).Equal(r.To) &&
		slices.EqualFunc(r.Stages, DefaultStages(), func(a, b Stage) bool { return a.Name == b.Name && slices.Equal(a.Match, b.Match) })
}

// hotCandidatesQuery is hotLeadsQuery without FINAL: a plain parallel scan
// and a top-n sort instead of merging 10⁶ keys. Rows may be stale versions;
// Reader.HotLeads checks the candidates against their current rows.
type hotCandidatesQuery struct {
	db  string
	req HotLeadsRequest
	n   int
}

func (h hotCandidatesQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT lead_id, score, event_time FROM " + table(h.db, "lead_current") + " PREWHERE converted = 0")
	if h.req.MinScore > 0 {
		q.add(" AND score >= ?", h.req.MinScore)
	}
	q.add(" WHERE 1 = 1")
	if h.req.Owner != "" {
		q.add(" AND owner_id = ?", h.req.Owner)
	}
	if h.req.Tier != "" {
		q.add(" AND tier = ?", h.req.Tier)
	}
	q.add(" ORDER BY score DESC, event_time DESC, lead_id LIMIT ?", h.n)
	return q.done()
}

// currentRankQuery reads the current ranking columns of some leads.
type currentRankQuery struct {
	db    string
	leads []string
}

func (c currentRankQuery) toSQL() (string, []any) {
	q := &builder{}
	q.add("SELECT lead_id, score, event_time, converted, owner_id, tier FROM " + table(c.db, "lead_current") + " FINAL WHERE ")
	q.in("lead_id", c.leads)
	return q.done()
}
