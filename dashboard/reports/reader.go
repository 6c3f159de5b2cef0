package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config configures a Reader.
type Config struct {
	Conn           driver.Conn         // required; owned by the caller
	Database       string              // required; [A-Za-z0-9_]+
	MaxConcurrent  int                 // queries in flight; default 16 (match the pool's MaxOpenConns)
	ObserveAcquire func(time.Duration) // optional: time each query waited for a slot
	// MaxThreads caps ClickHouse's threads per dashboard query (setting
	// max_threads); 0 keeps the server's default (one per core). On a small
	// shared machine 1 keeps a long report from taking every core from the
	// server that answers cached requests.
	MaxThreads int
	Now        func() time.Time // clock; default time.Now
	// RawFunnel reads every funnel from crm.events, never from the
	// funnel_minutes rollup: for comparisons (tests, the benchmark).
	RawFunnel bool
}

// Reader runs the dashboard's queries. Safe for concurrent use.
type Reader struct {
	conn    driver.Conn
	db      string
	slots   chan struct{}
	observe func(time.Duration)
	now     func() time.Time
	opts    []clickhouse.QueryOption
	rawOnly bool
}

var dbName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// New returns a Reader for cfg.
func New(cfg Config) (*Reader, error) {
	if cfg.Conn == nil {
		return nil, errors.New("reports: Conn is required")
	}
	if !dbName.MatchString(cfg.Database) {
		return nil, fmt.Errorf("reports: invalid database name %q", cfg.Database)
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 16
	}
	if cfg.ObserveAcquire == nil {
		cfg.ObserveAcquire = func(time.Duration) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Reader{conn: cfg.Conn, db: cfg.Database, slots: make(chan struct{}, cfg.MaxConcurrent), observe: cfg.ObserveAcquire, now: cfg.Now, rawOnly: cfg.RawFunnel}
	if cfg.MaxThreads > 0 {
		r.opts = append(r.opts, clickhouse.WithSettings(clickhouse.Settings{"max_threads": cfg.MaxThreads}))
	}
	return r, nil
}

// Database is the database the Reader reads.
func (r *Reader) Database() string { return r.db }

// acquire takes a query slot, recording how long it waited.
func (r *Reader) acquire(ctx context.Context) (func(), error) {
	start := time.Now()
	select {
	case r.slots <- struct{}{}:
		r.observe(time.Since(start))
		return func() { <-r.slots }, nil
	default:
	}
	select {
	case r.slots <- struct{}{}:
		r.observe(time.Since(start))
		return func() { <-r.slots }, nil
	case <-ctx.Done():
		r.observe(time.Since(start))
		return nil, fmt.Errorf("wait for clickhouse connection: %w", ctx.Err())
	}
}

type sqler interface{ toSQL() (string, []any) }

// query runs q and calls scan for each row.
func (r *Reader) query(ctx context.Context, name string, q sqler, scan func(driver.Rows) error) error {
	release, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	sql, args := q.toSQL()
	if len(r.opts) > 0 {
		ctx = clickhouse.Context(ctx, r.opts...)
	}
	rows, err := r.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("%s: scan: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Ping checks that ClickHouse answers.
func (r *Reader) Ping(ctx context.Context) error {
	release, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return r.conn.Ping(ctx)
}

// Funnel computes a funnel. The request must be valid (see the API layer).
func (r *Reader) Funnel(ctx context.Context, req FunnelRequest) (Funnel, error) {
	if req.Window <= 0 {
		req.Window = 30 * 24 * time.Hour
	}
	out := Funnel{From: req.From, To: req.To, Bucket: req.Bucket, GroupBy: req.GroupBy, Mode: "reached", Series: []FunnelPoint{}}
	if req.Ordered {
		out.Mode = "ordered"
	}
	var q sqler = funnelQuery{r.db, req}
	if !r.rawOnly && rollupCovers(req) {
		q = funnelRollupQuery{r.db, req}
	}
	f, err := r.funnel(ctx, req, out, q)
	var ex *clickhouse.Exception
	if _, rollup := q.(funnelRollupQuery); rollup && errors.As(err, &ex) && ex.Code == unknownTable {
		// A database migrated before sql/0006: the raw query still answers.
		f, err = r.funnel(ctx, req, out, funnelQuery{r.db, req})
	}
	return f, err
}

// unknownTable is ClickHouse's UNKNOWN_TABLE error code.
const unknownTable = 60

func (r *Reader) funnel(ctx context.Context, req FunnelRequest, out Funnel, q sqler) (Funnel, error) {
	n := len(req.Stages)
	totals := make([]uint64, n)
	groups := map[string][]uint64{}
	var order []string
	err := r.query(ctx, "funnel", q, func(rows driver.Rows) error {
		var p FunnelPoint
		counts := make([]uint64, n)
		dest := []any{&p.Bucket, &p.Group}
		for i := range counts {
			dest = append(dest, &counts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		p.Bucket = p.Bucket.UTC()
		p.Counts = counts
		out.Series = append(out.Series, p)
		g, ok := groups[p.Group]
		if !ok {
			g = make([]uint64, n)
			groups[p.Group] = g
			order = append(order, p.Group)
		}
		for i, c := range counts {
			totals[i] += c
			g[i] += c
		}
		return nil
	})
	if err != nil {
		return Funnel{}, err
	}
	out.Stages = stageCounts(req.Stages, totals)
	slices.Sort(order)
	out.Groups = []FunnelGroup{}
	if req.GroupBy != NoGroup {
		for _, g := range order {
			out.Groups = append(out.Groups, FunnelGroup{Group: g, Stages: stageCounts(req.Stages, groups[g])})
		}
	}
	return out, nil
}

func stageCounts(stages []Stage, counts []uint64) []StageCount {
	out := make([]StageCount, len(stages))
	for i, s := range stages {
		out[i] = StageCount{Stage: s.Name, Count: counts[i], Conversion: 1, FromStart: 1}
		if i > 0 {
			out[i].Conversion = ratio(counts[i], counts[i-1])
			out[i].FromStart = ratio(counts[i], counts[0])
		}
	}
	return out
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// ParseReasons reads the scorer's reasons JSON leniently: an array of
// objects with a label (or reason/text/description/feature), a weight (or
// contribution/impact) and evidence (strings, or objects with event_id).
// Text that is not JSON becomes one reason with that label.
func ParseReasons(s string) []Reason {
	s = strings.TrimSpace(s)
	if s == "" {
		return []Reason{}
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		var obj map[string]any
		if json.Unmarshal([]byte(s), &obj) == nil {
			for _, k := range []string{"reasons", "positive", "negative"} {
				arr, _ := obj[k].([]any)
				for _, a := range arr {
					if m, ok := a.(map[string]any); ok {
						if k == "negative" {
							m["_negative"] = true
						}
						raw = append(raw, m)
					}
				}
			}
		} else {
			return []Reason{{Label: s, Evidence: []string{}}}
		}
	}
	out := make([]Reason, 0, len(raw))
	for _, m := range raw {
		rs := Reason{Feature: str(m, "feature", "name"), Evidence: []string{}}
		rs.Label = str(m, "label", "reason", "text", "description")
		if rs.Label == "" {
			rs.Label = humanize(str(m, "feature", "name"))
			if v, ok := m["value"]; ok && rs.Label != "" {
				rs.Label += fmt.Sprintf(": %v", v)
			}
		}
		for _, k := range []string{"weight", "contribution", "impact"} {
			if f, ok := m[k].(float64); ok {
				rs.Weight = f
				break
			}
		}
		if m["_negative"] == true && rs.Weight > 0 {
			rs.Weight = -rs.Weight // listed as a negative reason
		}
		if ev, ok := m["evidence"].([]any); ok {
			for _, e := range ev {
				switch e := e.(type) {
				case string:
					rs.Evidence = append(rs.Evidence, e)
				case map[string]any:
					if id := str(e, "event_id", "id"); id != "" {
						rs.Evidence = append(rs.Evidence, id)
					}
				}
			}
		} else if ev, ok := m["evidence"].(string); ok && ev != "" {
			rs.Evidence = append(rs.Evidence, ev)
		}
		out = append(out, rs)
	}
	return out
}

// humanize turns a feature name into words: pricing_views_7d → "Pricing views 7d".
func humanize(f string) string {
	f = strings.TrimSpace(strings.ReplaceAll(f, "_", " "))
	if f == "" {
		return ""
	}
	return strings.ToUpper(f[:1]) + f[1:]
}

func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func topReason(reasons string) string {
	rs := ParseReasons(reasons)
	if len(rs) == 0 {
		return ""
	}
	return rs[0].Label
}

func scanLead(rows driver.Rows) (Lead, string, error) {
	var l Lead
	var reasons string
	var converted uint8
	err := rows.Scan(&l.LeadID, &l.AccountID, &l.OwnerID, &l.EventTime, &l.Score, &l.Probability, &l.Tier, &l.ModelVersion, &reasons, &converted)
	l.Converted = converted != 0
	l.EventTime = l.EventTime.UTC()
	l.TopReason = topReason(reasons)
	return l, reasons, err
}

func nextPage(limit, offset, got int) Page {
	p := Page{Limit: limit, Offset: offset}
	if got > limit {
		n := offset + limit
		p.NextOffset = &n
	}
	return p
}

// ids runs a ranking query that returns one id column.
func (r *Reader) ids(ctx context.Context, name string, q sqler) ([]string, error) {
	var ids []string
	err := r.query(ctx, name, q, func(rows driver.Rows) error {
		var id string
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	})
	return ids, err
}

// HotLeads lists unconverted leads by descending score.
func (r *Reader) HotLeads(ctx context.Context, req HotLeadsRequest) (HotLeads, error) {
	ids, ok, err := r.hotRanking(ctx, req)
	if err == nil && !ok {
		// Too many stale rows among the candidates: rank with FINAL.
		ids, err = r.ids(ctx, "hot leads", hotLeadsQuery{r.db, req})
	}
	if err != nil {
		return HotLeads{}, err
	}
	out := HotLeads{Leads: []Lead{}, Page: nextPage(req.Limit, req.Offset, len(ids))}
	ids = ids[:min(len(ids), req.Limit)]
	if len(ids) == 0 {
		return out, nil
	}
	byID := map[string]Lead{}
	err = r.query(ctx, "hot leads rows", leadsByIDQuery{r.db, ids}, func(rows driver.Rows) error {
		l, _, err := scanLead(rows)
		byID[l.LeadID] = l
		return err
	})
	if err != nil {
		return HotLeads{}, err
	}
	for _, id := range ids { // keep the ranking's order
		if l, ok := byID[id]; ok {
			out.Leads = append(out.Leads, l)
		}
	}
	if err := r.fillNames(ctx, out.Leads); err != nil {
		return HotLeads{}, err
	}
	return out, nil
}

// rankKey orders hot leads: score desc, event time desc, lead id.
type rankKey struct {
	id    string
	score uint8
	at    time.Time
}

func (a rankKey) before(b rankKey) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if !a.at.Equal(b.at) {
		return a.at.After(b.at)
	}
	return a.id < b.id
}

// hotRanking ranks hot leads without FINAL over the whole table (which
// merges every lead's key, 0.4–1.8 s at 1.2 M leads): the top n rows of a
// plain scan with the same filters are candidates, then only their current
// rows are read with FINAL. A lead missing from the candidates has its
// current row at or below the n-th candidate row, so every current,
// matching candidate ranked strictly above that row is in its exact place.
// ok is false when fewer than offset+limit+1 of them are: stale versions
// crowded the candidates, and the caller ranks with FINAL.
func (r *Reader) hotRanking(ctx context.Context, req HotLeadsRequest) (ids []string, ok bool, err error) {
	need := req.Offset + req.Limit + 1
	n := max(4*need, 100)
	var rows []rankKey
	err = r.query(ctx, "hot leads candidates", hotCandidatesQuery{r.db, req, n}, func(rs driver.Rows) error {
		var k rankKey
		err := rs.Scan(&k.id, &k.score, &k.at)
		rows = append(rows, k)
		return err
	})
	if err != nil || len(rows) == 0 {
		return nil, err == nil, err
	}
	var cand []string
	seen := map[string]bool{}
	for _, k := range rows {
		if !seen[k.id] {
			seen[k.id] = true
			cand = append(cand, k.id)
		}
	}
	var cur []rankKey
	err = r.query(ctx, "hot leads current", currentRankQuery{r.db, cand}, func(rs driver.Rows) error {
		var k rankKey
		var converted uint8
		var owner, tier string
		if err := rs.Scan(&k.id, &k.score, &k.at, &converted, &owner, &tier); err != nil {
			return err
		}
		if converted == 0 && (req.Owner == "" || owner == req.Owner) && (req.Tier == "" || tier == req.Tier) && k.score >= req.MinScore {
			cur = append(cur, k)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	slices.SortFunc(cur, func(a, b rankKey) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	exact := len(cur)
	if len(rows) == n { // more rows may exist below the last candidate row
		last := rows[len(rows)-1]
		exact = 0
		for exact < len(cur) && cur[exact].before(last) {
			exact++
		}
	}
	if exact < need && len(rows) == n {
		return nil, false, nil
	}
	for _, k := range cur[min(req.Offset, len(cur)):min(need, len(cur))] {
		ids = append(ids, k.id)
	}
	return ids, true, nil
}

func (r *Reader) fillNames(ctx context.Context, leads []Lead) error {
	if len(leads) == 0 {
		return nil
	}
	ids := make([]string, len(leads))
	for i, l := range leads {
		ids[i] = l.LeadID
	}
	names := map[string][2]string{}
	err := r.query(ctx, "lead names", namesQuery{r.db, ids}, func(rows driver.Rows) error {
		var id, name, company string
		if err := rows.Scan(&id, &name, &company); err != nil {
			return err
		}
		names[id] = [2]string{name, company}
		return nil
	})
	for i := range leads {
		n := names[leads[i].LeadID]
		leads[i].Name, leads[i].Company = n[0], n[1]
	}
	return err
}

func (r *Reader) profile(ctx context.Context, by, id string) (Profile, error) {
	var p Profile
	err := r.query(ctx, "profile", profileQuery{r.db, by, id}, func(rows driver.Rows) error {
		return rows.Scan(&p.OwnerID, &p.AccountID, &p.Email, &p.Phone, &p.Name, &p.Company, &p.Country, &p.Title, &p.Source, &p.FirstSeen, &p.LastSeen, &p.EventsCount)
	})
	p.FirstSeen, p.LastSeen = p.FirstSeen.UTC(), p.LastSeen.UTC()
	if by == "account_id" {
		p.AccountID = ""
	}
	return p, err
}

func (r *Reader) history(ctx context.Context, by, id string) ([]ScorePoint, error) {
	out := []ScorePoint{}
	err := r.query(ctx, "score history", historyQuery{r.db, by, id, 500}, func(rows driver.Rows) error {
		var p ScorePoint
		err := rows.Scan(&p.EventTime, &p.Score, &p.Probability, &p.Tier, &p.ModelVersion)
		p.EventTime = p.EventTime.UTC()
		out = append(out, p)
		return err
	})
	slices.Reverse(out) // oldest first for charts
	return out, err
}

func (r *Reader) timeline(ctx context.Context, by, id string, limit int) ([]TimelineEvent, error) {
	out := []TimelineEvent{}
	err := r.query(ctx, "timeline", timelineQuery{r.db, by, id, limit}, func(rows driver.Rows) error {
		var e TimelineEvent
		var props string
		err := rows.Scan(&e.EventID, &e.Type, &e.OccurredAt, &e.LeadID, &e.Source, &props)
		e.OccurredAt = e.OccurredAt.UTC()
		e.Properties = rawJSON(props)
		out = append(out, e)
		return err
	})
	return out, err
}

// rawJSON passes stored JSON through, and anything else as a JSON string.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// Lead returns the lead page. owner, when set, must own the lead, else
// ErrNotFound (a rep cannot tell someone else's lead from a missing one).
func (r *Reader) Lead(ctx context.Context, id, owner string) (LeadDetail, error) {
	d := LeadDetail{LeadID: id}
	var reasons string
	found := false
	err := r.query(ctx, "lead current", leadCurrentQuery{r.db, id}, func(rows driver.Rows) error {
		l, rs, err := scanLead(rows)
		found = true
		reasons = rs
		d.Current = &Score{Score: l.Score, Probability: l.Probability, Tier: l.Tier, ModelVersion: l.ModelVersion, EventTime: l.EventTime}
		d.Converted = l.Converted
		d.Profile.OwnerID = l.OwnerID
		d.Profile.AccountID = l.AccountID
		return err
	})
	if err != nil {
		return LeadDetail{}, err
	}
	if owner != "" && found && d.Profile.OwnerID != owner {
		return LeadDetail{}, ErrNotFound
	}
	scoredOwner, scoredAccount := d.Profile.OwnerID, d.Profile.AccountID
	if d.Profile, err = r.profile(ctx, "lead_id", id); err != nil {
		return LeadDetail{}, err
	}
	if d.Profile.EventsCount == 0 && !found {
		return LeadDetail{}, ErrNotFound
	}
	if found { // the scorer's view of ownership is the current one
		d.Profile.OwnerID, d.Profile.AccountID = scoredOwner, cmp(scoredAccount, d.Profile.AccountID)
	}
	if owner != "" && d.Profile.OwnerID != owner {
		return LeadDetail{}, ErrNotFound
	}
	if d.Current != nil {
		d.Current.Reasons = ParseReasons(reasons)
	}
	if d.History, err = r.history(ctx, "lead_id", id); err != nil {
		return LeadDetail{}, err
	}
	if d.Timeline, err = r.timeline(ctx, "lead_id", id, 200); err != nil {
		return LeadDetail{}, err
	}
	return d, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func scanAccount(rows driver.Rows) (Account, string, bool, error) {
	var a Account
	var reasons string
	var churned uint8
	err := rows.Scan(&a.AccountID, &a.OwnerID, &a.EventTime, &a.Score, &a.Probability, &a.Tier, &a.ModelVersion, &reasons, &a.Plan, &a.MRR, &churned)
	a.EventTime = a.EventTime.UTC()
	a.TopReason = topReason(reasons)
	return a, reasons, churned != 0, err
}

// AtRisk lists accounts that have not churned by descending churn score.
func (r *Reader) AtRisk(ctx context.Context, req AtRiskRequest) (AtRisk, error) {
	ids, err := r.ids(ctx, "at-risk accounts", atRiskQuery{r.db, req})
	if err != nil {
		return AtRisk{}, err
	}
	out := AtRisk{Accounts: []Account{}, Page: nextPage(req.Limit, req.Offset, len(ids))}
	ids = ids[:min(len(ids), req.Limit)]
	if len(ids) == 0 {
		return out, nil
	}
	byID := map[string]Account{}
	err = r.query(ctx, "at-risk rows", accountsByIDQuery{r.db, ids}, func(rows driver.Rows) error {
		a, _, _, err := scanAccount(rows)
		byID[a.AccountID] = a
		return err
	})
	if err != nil {
		return AtRisk{}, err
	}
	for _, id := range ids {
		if a, ok := byID[id]; ok {
			out.Accounts = append(out.Accounts, a)
		}
	}
	return out, nil
}

// Account returns the account page, scoped like Lead.
func (r *Reader) Account(ctx context.Context, id, owner string) (AccountDetail, error) {
	d := AccountDetail{AccountID: id}
	var reasons, scoredOwner string
	found := false
	err := r.query(ctx, "account current", accountCurrentQuery{r.db, id}, func(rows driver.Rows) error {
		a, rs, churned, err := scanAccount(rows)
		found, reasons, scoredOwner = true, rs, a.OwnerID
		d.Current = &Score{Score: a.Score, Probability: a.Probability, Tier: a.Tier, ModelVersion: a.ModelVersion, EventTime: a.EventTime}
		d.Plan, d.MRR, d.Churned = a.Plan, a.MRR, churned
		return err
	})
	if err != nil {
		return AccountDetail{}, err
	}
	if owner != "" && found && scoredOwner != owner {
		return AccountDetail{}, ErrNotFound
	}
	if d.Profile, err = r.profile(ctx, "account_id", id); err != nil {
		return AccountDetail{}, err
	}
	if d.Profile.EventsCount == 0 && !found {
		return AccountDetail{}, ErrNotFound
	}
	if found {
		d.Profile.OwnerID = scoredOwner
	}
	if owner != "" && d.Profile.OwnerID != owner {
		return AccountDetail{}, ErrNotFound
	}
	if d.Current != nil {
		d.Current.Reasons = ParseReasons(reasons)
	}
	if d.History, err = r.history(ctx, "account_id", id); err != nil {
		return AccountDetail{}, err
	}
	d.Leads = []Lead{}
	err = r.query(ctx, "account leads", accountLeadsQuery{r.db, id, 50}, func(rows driver.Rows) error {
		l, _, err := scanLead(rows)
		d.Leads = append(d.Leads, l)
		return err
	})
	if err != nil {
		return AccountDetail{}, err
	}
	if err := r.fillNames(ctx, d.Leads); err != nil {
		return AccountDetail{}, err
	}
	if d.Timeline, err = r.timeline(ctx, "account_id", id, 100); err != nil {
		return AccountDetail{}, err
	}
	return d, nil
}

func scanAlert(rows driver.Rows) (Alert, error) {
	var a Alert
	var details string
	err := rows.Scan(&a.AlertID, &a.Kind, &a.LeadID, &a.AccountID, &a.OwnerID, &a.FiredAt, &a.EventTime, &a.Status, &a.Score, &a.Reason, &a.Evidence, &details, &a.UpdatedAt, &a.Version)
	a.FiredAt, a.EventTime, a.UpdatedAt = a.FiredAt.UTC(), a.EventTime.UTC(), a.UpdatedAt.UTC()
	if a.Evidence == nil {
		a.Evidence = []string{}
	}
	a.Details = rawJSON(details)
	return a, err
}

// Alerts lists the newest state of alerts, newest first.
func (r *Reader) Alerts(ctx context.Context, req AlertsRequest) (Alerts, error) {
	out := Alerts{Alerts: []Alert{}}
	err := r.query(ctx, "alerts", alertsQuery{r.db, req}, func(rows driver.Rows) error {
		a, err := scanAlert(rows)
		out.Alerts = append(out.Alerts, a)
		return err
	})
	if err != nil {
		return Alerts{}, err
	}
	out.Page = nextPage(req.Limit, req.Offset, len(out.Alerts))
	if len(out.Alerts) > req.Limit {
		out.Alerts = out.Alerts[:req.Limit]
	}
	return out, nil
}

// Alert returns one alert, scoped to owner when set.
func (r *Reader) Alert(ctx context.Context, id, owner string) (Alert, error) {
	var a Alert
	found := false
	err := r.query(ctx, "alert", alertQuery{r.db, id}, func(rows driver.Rows) error {
		var err error
		a, err = scanAlert(rows)
		found = true
		return err
	})
	if err != nil {
		return Alert{}, err
	}
	if !found || (owner != "" && a.OwnerID != owner) {
		return Alert{}, ErrNotFound
	}
	return a, nil
}

// AlertsSince returns alert states written at or after since, oldest first.
func (r *Reader) AlertsSince(ctx context.Context, since time.Time, limit int) ([]Alert, error) {
	var out []Alert
	err := r.query(ctx, "alerts since", alertsSinceQuery{r.db, since, limit}, func(rows driver.Rows) error {
		a, err := scanAlert(rows)
		out = append(out, a)
		return err
	})
	return out, err
}

// Acknowledge writes a new state of the alert with status "acknowledged" and
// the next version, so FINAL reads see it. Acknowledging twice is a no-op;
// a retracted alert cannot be acknowledged (ErrConflict).
func (r *Reader) Acknowledge(ctx context.Context, id, owner string) (Alert, error) {
	a, err := r.Alert(ctx, id, owner)
	if err != nil {
		return Alert{}, err
	}
	switch a.Status {
	case "acknowledged":
		return a, nil
	case "retracted":
		return Alert{}, fmt.Errorf("alert %s is retracted: %w", id, ErrConflict)
	}
	a.Status = "acknowledged"
	a.Version++
	a.UpdatedAt = r.now().UTC().Truncate(time.Second)
	release, err := r.acquire(ctx)
	if err != nil {
		return Alert{}, err
	}
	defer release()
	batch, err := r.conn.PrepareBatch(ctx, "INSERT INTO "+table(r.db, "alerts")+" ("+alertCols+")")
	if err != nil {
		return Alert{}, fmt.Errorf("acknowledge: %w", err)
	}
	defer batch.Close()
	if err := batch.Append(a.AlertID, a.Kind, a.LeadID, a.AccountID, a.OwnerID, a.FiredAt, a.EventTime, a.Status, a.Score, a.Reason, a.Evidence, string(a.Details), a.UpdatedAt, a.Version); err != nil {
		return Alert{}, fmt.Errorf("acknowledge: %w", err)
	}
	if err := batch.Send(); err != nil {
		return Alert{}, fmt.Errorf("acknowledge: %w", err)
	}
	return a, nil
}

// IsDrift reports whether a metric name measures drift (psi, drift, ks).
func IsDrift(metric string) bool {
	m := strings.ToLower(metric)
	return strings.Contains(m, "drift") || strings.Contains(m, "psi") || strings.HasPrefix(m, "ks")
}

// Models returns the registry, champions and newest metric values.
func (r *Reader) Models(ctx context.Context) (Models, error) {
	champions := map[string]string{}
	if err := r.query(ctx, "champions", championsQuery{r.db}, func(rows driver.Rows) error {
		var m, v string
		err := rows.Scan(&m, &v)
		champions[m] = v
		return err
	}); err != nil {
		return Models{}, err
	}
	out := Models{Versions: []ModelVersion{}, Latest: []MetricValue{}}
	if err := r.query(ctx, "models", modelsQuery{r.db}, func(rows driver.Rows) error {
		var m ModelVersion
		var metrics string
		err := rows.Scan(&m.Model, &m.Version, &m.Kind, &m.CreatedAt, &m.Status, &metrics, &m.UpdatedAt)
		m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
		m.Metrics = rawJSON(metrics)
		m.Champion = champions[m.Model] == m.Version
		out.Versions = append(out.Versions, m)
		return err
	}); err != nil {
		return Models{}, err
	}
	err := r.query(ctx, "latest metrics", latestMetricsQuery{r.db}, func(rows driver.Rows) error {
		var v MetricValue
		err := rows.Scan(&v.Model, &v.ModelVersion, &v.Metric, &v.Value, &v.At)
		v.At = v.At.UTC()
		v.Drift = IsDrift(v.Metric)
		out.Latest = append(out.Latest, v)
		return err
	})
	return out, err
}

// MetricSeries returns metric series bucketed over time.
func (r *Reader) MetricSeries(ctx context.Context, req MetricsRequest) ([]MetricSeries, error) {
	out := []MetricSeries{}
	err := r.query(ctx, "metric series", metricSeriesQuery{r.db, req}, func(rows driver.Rows) error {
		var model, version, metric string
		var p MetricPoint
		if err := rows.Scan(&model, &version, &metric, &p.At, &p.Value, &p.N); err != nil {
			return err
		}
		p.At = p.At.UTC()
		if k := len(out) - 1; k < 0 || out[k].Model != model || out[k].ModelVersion != version || out[k].Metric != metric {
			out = append(out, MetricSeries{Model: model, ModelVersion: version, Metric: metric, Drift: IsDrift(metric)})
		}
		out[len(out)-1].Points = append(out[len(out)-1].Points, p)
		return nil
	})
	return out, err
}

func optTime(t time.Time) *time.Time {
	if t.Unix() <= 0 {
		return nil
	}
	t = t.UTC()
	return &t
}

// Pipeline returns ingest and scoring health since the given time.
func (r *Reader) Pipeline(ctx context.Context, since time.Time) (Pipeline, error) {
	p := Pipeline{Since: since, Throughput: []CountPoint{}, RejectsByOrigin: []OriginCount{}, RecentRejects: []Reject{}, LateEventsByMinute: []CountPoint{}}
	counts := func(dst *[]CountPoint, total *uint64) func(driver.Rows) error {
		return func(rows driver.Rows) error {
			var c CountPoint
			err := rows.Scan(&c.At, &c.Count)
			c.At = c.At.UTC()
			*dst = append(*dst, c)
			*total += c.Count
			return err
		}
	}
	var ignored uint64
	if err := r.query(ctx, "throughput", throughputQuery{r.db, since}, counts(&p.Throughput, &ignored)); err != nil {
		return Pipeline{}, err
	}
	var lastIngest, lastScore time.Time
	if err := r.query(ctx, "ingest delay", ingestDelayQuery{r.db, since}, func(rows driver.Rows) error {
		var q []float64
		err := rows.Scan(&p.EventsTotal, &lastIngest, &q)
		if len(q) == 2 && p.EventsTotal > 0 {
			p.IngestDelayP50, p.IngestDelayP99 = q[0], q[1]
		}
		return err
	}); err != nil {
		return Pipeline{}, err
	}
	var scored uint64
	if err := r.query(ctx, "last score", lastScoreQuery{r.db}, func(rows driver.Rows) error {
		return rows.Scan(&scored, &lastScore)
	}); err != nil {
		return Pipeline{}, err
	}
	p.LastIngestedAt, p.LastScoredAt = optTime(lastIngest), optTime(lastScore)
	if p.LastIngestedAt != nil && p.LastScoredAt != nil && lastIngest.After(lastScore) {
		p.ScoringLagSeconds = lastIngest.Sub(lastScore).Seconds()
	}
	if err := r.query(ctx, "late events", lateEventsQuery{r.db, since}, counts(&p.LateEventsByMinute, &p.LateEvents)); err != nil {
		return Pipeline{}, err
	}
	if err := r.query(ctx, "rejects by origin", rejectsByOriginQuery{r.db, since}, func(rows driver.Rows) error {
		var o OriginCount
		err := rows.Scan(&o.Origin, &o.Count)
		p.RejectsByOrigin = append(p.RejectsByOrigin, o)
		p.Rejects += o.Count
		return err
	}); err != nil {
		return Pipeline{}, err
	}
	err := r.query(ctx, "recent rejects", recentRejectsQuery{r.db, since, 20}, func(rows driver.Rows) error {
		var j Reject
		err := rows.Scan(&j.ReceivedAt, &j.Origin, &j.EventID, &j.Reason)
		j.ReceivedAt = j.ReceivedAt.UTC()
		p.RecentRejects = append(p.RecentRejects, j)
		return err
	})
	return p, err
}

// Audit returns the newest audit entries.
func (r *Reader) Audit(ctx context.Context, user string, since time.Time, limit int) ([]AuditEntry, error) {
	out := []AuditEntry{}
	err := r.query(ctx, "audit", auditQuery{r.db, user, since, limit}, func(rows driver.Rows) error {
		var a AuditEntry
		err := rows.Scan(&a.At, &a.User, &a.Role, &a.Method, &a.Path, &a.Query, &a.Status, &a.DurationMS, &a.Remote)
		a.At = a.At.UTC()
		out = append(out, a)
		return err
	})
	return out, err
}

// WriteAudit inserts audit entries in one batch.
func (r *Reader) WriteAudit(ctx context.Context, entries []AuditEntry) error {
	release, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	batch, err := r.conn.PrepareBatch(ctx, "INSERT INTO "+table(r.db, "audit_log")+" (at, user, role, method, path, query, status, duration_ms, remote)")
	if err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	defer batch.Close()
	for _, a := range entries {
		if err := batch.Append(a.At, a.User, a.Role, a.Method, a.Path, a.Query, a.Status, a.DurationMS, a.Remote); err != nil {
			return fmt.Errorf("write audit: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	return nil
}
