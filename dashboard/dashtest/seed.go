package dashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options shape the seeded world.
type Options struct {
	Events    int           // approximate number of events; default 5,000
	Owners    int           // reps rep-1..rep-N; default 6
	Now       time.Time     // newest event time; default time.Now()
	Span      time.Duration // events spread over [Now-Span, Now); default 7 days
	Seed      uint64        // random seed; same seed, same rows
	BatchSize int           // rows per insert; default 100,000
	Progress  func(events int)
}

func (o *Options) defaults() {
	if o.Events <= 0 {
		o.Events = 5000
	}
	if o.Owners <= 0 {
		o.Owners = 6
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	if o.Span <= 0 {
		o.Span = 7 * 24 * time.Hour
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100_000
	}
}

// Summary counts what Seed wrote.
type Summary struct {
	Events, Leads, Accounts, Scores, Alerts int
}

var (
	first     = []string{"Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kira", "Luca", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara"}
	last      = []string{"Silva", "Okafor", "Martin", "Novak", "Schmidt", "Haddad", "Kim", "Tanaka", "Dubois", "Berg", "Rossi", "Patel", "Costa", "Weber", "Lind", "Moreau"}
	companies = []string{"Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark Industries", "Wayne Enterprises", "Wonka", "Soylent", "Tyrell", "Cyberdyne", "Aperture", "Monarch", "Oscorp", "Nakatomi"}
	sources   = []string{"web", "email", "hubspot", "salesforce", "ads"}
	campaigns = []string{"spring-launch", "webinar-q4", "retargeting", "partner-referral"}
	pages     = []string{"home", "product", "pricing", "docs", "blog"}
	plans     = []string{"starter", "team", "business", "enterprise"}
)

type eventRow struct {
	id, typ                                                 string
	at                                                      time.Time
	lead, account, owner, session, source                   string
	email, phone, name, company, country, title, properties string
}

type seeder struct {
	conn                             driver.Conn
	db                               string
	o                                Options
	rng                              *rand.Rand
	evs                              []eventRow
	sum                              Summary
	scores, current, churn, accounts [][]any
}

// Seed writes the world described by o into db.
func Seed(ctx context.Context, conn driver.Conn, db string, o Options) (Summary, error) {
	o.defaults()
	s := &seeder{conn: conn, db: db, o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
	for lead := 0; s.sum.Events < o.Events; lead++ {
		s.lead(lead)
		if len(s.evs) >= o.BatchSize {
			if err := s.flushEvents(ctx); err != nil {
				return s.sum, err
			}
		}
		if len(s.scores) >= o.BatchSize {
			if err := s.flushScores(ctx); err != nil {
				return s.sum, err
			}
		}
	}
	if err := s.flushEvents(ctx); err != nil {
		return s.sum, err
	}
	if err := s.flushScores(ctx); err != nil {
		return s.sum, err
	}
	if err := s.rest(ctx); err != nil {
		return s.sum, err
	}
	return s.sum, nil
}

func (s *seeder) pick(xs []string) string { return xs[s.rng.IntN(len(xs))] }

// Owner returns the owner of account number i (lead number 3i..3i+2).
func Owner(i, owners int) string { return "rep-" + strconv.Itoa(i%owners+1) }

func (s *seeder) lead(i int) {
	o := s.o
	s.sum.Leads++
	leadID := fmt.Sprintf("lead-%07d", i)
	acct := fmt.Sprintf("acct-%06d", i/3)
	owner := Owner(i/3, o.Owners) // one owner per account
	src := s.pick(sources)
	camp := s.pick(campaigns)
	fn, ln := s.pick(first), s.pick(last)
	company := companies[(i/3)%len(companies)]
	name := fn + " " + ln
	email := fmt.Sprintf("%s.%s.%d@example.com", lower(fn), lower(ln), i)
	start := o.Now.Add(-time.Duration(s.rng.Int64N(int64(o.Span))))
	t := start
	n := 0
	add := func(typ, props string) {
		t = t.Add(time.Duration(1+s.rng.IntN(90)) * time.Minute)
		if !t.Before(o.Now) {
			t = o.Now.Add(-time.Duration(s.rng.IntN(60)+1) * time.Second)
		}
		n++
		e := eventRow{id: fmt.Sprintf("%s-e%03d", leadID, n), typ: typ, at: t, lead: leadID, account: acct, owner: owner,
			session: fmt.Sprintf("s-%d-%d", i, n/5), source: src, properties: props}
		if typ == "lead_created" || typ == "form_submit" {
			e.email, e.name, e.company, e.country, e.title = email, name, company, "DE", "Head of Sales"
			e.phone = "+4930" + strconv.Itoa(1000000+i%9000000)
		}
		s.evs = append(s.evs, e)
	}
	views := 1 + s.rng.IntN(5)
	pricing := 0
	for range views {
		p := s.pick(pages)
		if p == "pricing" {
			pricing++
		}
		add("page_view", `{"page_type":"`+p+`","campaign":"`+camp+`","url":"https://example.com/`+p+`"}`)
	}
	stage := 0
	if s.rng.Float64() < 0.6 {
		stage = 1
		add("lead_created", `{"origin":"`+src+`","campaign":"`+camp+`"}`)
		for range s.rng.IntN(4) {
			add("email_open", `{"campaign":"`+camp+`"}`)
		}
		if s.rng.Float64() < 0.45 {
			stage = 2
			switch s.rng.IntN(3) {
			case 0:
				add("form_submit", `{"url":"https://example.com/contact"}`)
			case 1:
				add("demo_requested", `{}`)
			default:
				add("lead_qualified", `{"stage":"mql"}`)
			}
			if s.rng.Float64() < 0.4 {
				stage = 3
				add("meeting_held", `{}`)
				add("deal_created", `{"deal_id":"d-`+leadID+`","amount":`+strconv.Itoa(5000+s.rng.IntN(50000))+`}`)
				if s.rng.Float64() < 0.35 {
					stage = 4
					add("deal_won", `{"deal_id":"d-`+leadID+`"}`)
				}
			}
		}
	}
	s.sum.Events += n
	if stage == 0 {
		return
	}
	// Scores: one per lead_created and later milestone; the newest is current.
	score := 0
	var last eventRow
	for _, e := range s.evs[len(s.evs)-n:] {
		if e.typ == "page_view" || e.typ == "email_open" {
			continue
		}
		score = min(99, 20+stage*15+pricing*6+s.rng.IntN(15))
		last = e
		s.scores = append(s.scores, []any{leadID, acct, owner, e.id, e.at, e.at.Add(2 * time.Second), uint8(score), float64(score) / 100, tier(score), "lead-v2", reasons(pricing, stage, leadID, e.id)})
		s.sum.Scores++
	}
	converted := uint8(0)
	if stage == 4 {
		converted = 1
	}
	s.current = append(s.current, []any{leadID, acct, owner, last.at, uint8(score), float64(score) / 100, tier(score), "lead-v2", reasons(pricing, stage, leadID, last.id), converted, uint64(last.at.UnixMilli())})
	if i%3 == 0 {
		s.sum.Accounts++
		risk := s.rng.IntN(100)
		mrr := float64(200 + s.rng.IntN(40)*100)
		r := fmt.Sprintf(`[{"label":"Logins down %d%% over 14 days","feature":"login_trend_14d","weight":0.%02d,"evidence":["%s"]},{"label":"%d support tickets opened this month","feature":"tickets_30d","weight":0.12,"evidence":[]}]`, 20+risk/2, 10+risk/3, last.id, 1+risk/25)
		s.accounts = append(s.accounts, []any{acct, owner, last.at, uint8(risk), float64(risk) / 100, tier(risk), "churn-v1", r, plans[i%len(plans)], mrr, uint8(0), uint64(last.at.UnixMilli())})
		s.churn = append(s.churn, []any{acct, owner, last.id, last.at, last.at.Add(time.Second), uint8(risk), float64(risk) / 100, tier(risk), "churn-v1", r})
	}
}

func lower(s string) string {
	b := []rune(s)
	for i, r := range b {
		if r >= 'A' && r <= 'Z' {
			b[i] = r + 32
		}
	}
	return string(b)
}

func tier(score int) string {
	switch {
	case score >= 70:
		return "hot"
	case score >= 40:
		return "warm"
	}
	return "cold"
}

func reasons(pricing, stage int, lead, evidence string) string {
	type reason struct {
		Label    string   `json:"label"`
		Feature  string   `json:"feature"`
		Weight   float64  `json:"weight"`
		Evidence []string `json:"evidence"`
	}
	rs := []reason{{Label: fmt.Sprintf("Reached funnel stage %d of 5", stage+1), Feature: "funnel_stage", Weight: 0.1 * float64(stage+1), Evidence: []string{evidence}}}
	if pricing > 0 {
		rs = append(rs, reason{Label: fmt.Sprintf("Viewed pricing %d× this week", pricing), Feature: "pricing_views_7d", Weight: 0.08 * float64(pricing), Evidence: []string{lead + "-e001"}})
	}
	rs = append(rs, reason{Label: "Company size fits the ideal customer profile", Feature: "icp_fit", Weight: 0.05, Evidence: []string{}})
	b, _ := json.Marshal(rs)
	return string(b)
}

func (s *seeder) insert(ctx context.Context, stmt string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer batch.Close()
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

func (s *seeder) flushEvents(ctx context.Context) error {
	if len(s.evs) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO `"+s.db+"`.events (event_id, type, occurred_at, occurred_ms, lead_id, account_id, owner_id, session_id, source, email, phone, name, company, country, title, properties, ingested_at, version)")
	if err != nil {
		return fmt.Errorf("seed events: %w", err)
	}
	defer batch.Close()
	for _, e := range s.evs {
		if err := batch.Append(e.id, e.typ, e.at, uint16(0), e.lead, e.account, e.owner, e.session, e.source, e.email, e.phone, e.name, e.company, e.country, e.title, e.properties, e.at.Add(2*time.Second), uint64(1)); err != nil {
			return fmt.Errorf("seed events: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("seed events: %w", err)
	}
	s.evs = s.evs[:0]
	if s.o.Progress != nil {
		s.o.Progress(s.sum.Events)
	}
	return nil
}

func (s *seeder) flushScores(ctx context.Context) error {
	for _, x := range []struct {
		stmt string
		rows *[][]any
	}{
		{"INSERT INTO `" + s.db + "`.lead_scores (lead_id, account_id, owner_id, event_id, event_time, scored_at, score, probability, tier, model_version, reasons)", &s.scores},
		{"INSERT INTO `" + s.db + "`.lead_current (lead_id, account_id, owner_id, event_time, score, probability, tier, model_version, reasons, converted, version)", &s.current},
		{"INSERT INTO `" + s.db + "`.account_current (account_id, owner_id, event_time, score, probability, tier, model_version, reasons, plan, mrr, churned, version)", &s.accounts},
		{"INSERT INTO `" + s.db + "`.churn_scores (account_id, owner_id, event_id, event_time, scored_at, score, probability, tier, model_version, reasons)", &s.churn},
	} {
		if err := s.insert(ctx, x.stmt, *x.rows); err != nil {
			return err
		}
		*x.rows = (*x.rows)[:0]
	}
	return nil
}

// AlertRow is an alert as the detector writes it, for tests to insert.
type AlertRow struct {
	ID, Kind, LeadID, AccountID, OwnerID, Status, Reason string
	FiredAt                                              time.Time
	Score                                                float64
	Evidence                                             []string
	Version                                              uint64
}

// InsertAlerts writes alert rows (updated_at = fired_at).
func InsertAlerts(ctx context.Context, conn driver.Conn, db string, alerts ...AlertRow) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO `"+db+"`.alerts (alert_id, kind, lead_id, account_id, owner_id, fired_at, event_time, status, score, reason, evidence, details, updated_at, version)")
	if err != nil {
		return fmt.Errorf("insert alerts: %w", err)
	}
	defer batch.Close()
	for _, a := range alerts {
		ev := a.Evidence
		if ev == nil {
			ev = []string{}
		}
		if err := batch.Append(a.ID, a.Kind, a.LeadID, a.AccountID, a.OwnerID, a.FiredAt, a.FiredAt, a.Status, a.Score, a.Reason, ev, `{"source":"seed"}`, a.FiredAt, a.Version); err != nil {
			return fmt.Errorf("insert alerts: %w", err)
		}
	}
	return batch.Send()
}

func (s *seeder) rest(ctx context.Context) error {
	now := s.o.Now
	var alerts []AlertRow
	kinds := []struct{ kind, reason string }{
		{"hot_lead", "Score jumped to %d after a pricing visit"},
		{"abandoned_checkout", "Checkout started 40 min ago and not completed (cart %d EUR)"},
		{"churn_risk", "Churn score %d: logins dropped sharply this week"},
	}
	for i := range min(60, s.sum.Leads) {
		k := kinds[i%len(kinds)]
		status := "fired"
		if i%7 == 3 {
			status = "acknowledged"
		}
		lead := i * max(1, s.sum.Leads/60)
		alerts = append(alerts, AlertRow{
			ID: fmt.Sprintf("alert-%04d", i), Kind: k.kind, LeadID: fmt.Sprintf("lead-%07d", lead), AccountID: fmt.Sprintf("acct-%06d", lead/3),
			OwnerID: Owner(lead/3, s.o.Owners), Status: status, Reason: fmt.Sprintf(k.reason, 70+i%30), Score: float64(70 + i%30),
			FiredAt: now.Add(-time.Duration(i*37) * time.Minute), Evidence: []string{fmt.Sprintf("lead-%07d-e001", lead)}, Version: 1,
		})
	}
	if err := InsertAlerts(ctx, s.conn, s.db, alerts...); err != nil {
		return err
	}
	s.sum.Alerts = len(alerts)
	var models, promos, metrics, late, rejects [][]any
	for _, m := range []struct {
		model, version, status string
		auc                    float64
		age                    time.Duration
	}{{"lead", "lead-v1", "retired", 0.66, 96 * time.Hour}, {"lead", "lead-v2", "champion", 0.71, 40 * time.Hour}, {"lead", "lead-v3", "challenger", 0.70, 6 * time.Hour}, {"churn", "churn-v1", "champion", 0.74, 80 * time.Hour}} {
		created := now.Add(-m.age)
		models = append(models, []any{m.model, m.version, "logistic", created, m.status, fmt.Sprintf(`{"auc":%.3f,"log_loss":%.3f,"n_train":5600}`, m.auc, 0.9-m.auc), "models/" + m.version + ".json", created, uint64(1)})
		if m.status == "champion" {
			promos = append(promos, []any{m.model, m.version, "promote", created, uint64(m.age.Hours()), "data-1"})
		}
		for h := range int(min(m.age.Hours(), 48)) {
			at := now.Add(-time.Duration(h) * time.Hour).Truncate(time.Hour)
			wave := float64(h%12) / 400
			metrics = append(metrics,
				[]any{m.model, m.version, at, "auc", m.auc - wave, uint64(500 + h)},
				[]any{m.model, m.version, at, "log_loss", 0.9 - m.auc + wave, uint64(500 + h)},
				[]any{m.model, m.version, at, "psi_drift", 0.02 + float64(48-h)/800, uint64(500 + h)})
		}
	}
	for i := range 12 {
		at := now.Add(-time.Duration(i*4) * time.Minute)
		late = append(late, []any{fmt.Sprintf("late-%d", i), fmt.Sprintf("lead-%07d", i), "page_view", at.Add(-3 * time.Hour), at.Add(-time.Hour), int32(i % 4), at})
		rejects = append(rejects, []any{fmt.Sprintf("rej-%d", i), []string{"collector", "relay", "webhook:hubspot"}[i%3], at, fmt.Sprintf("bad-%d", i), []string{"occurred_at: not RFC 3339", "type: unknown event type", "lead_id: required (or account_id)"}[i%3], "{}"})
	}
	for _, x := range []struct {
		stmt string
		rows [][]any
	}{
		{"INSERT INTO `" + s.db + "`.models (model, version, kind, created_at, status, metrics, artifact, updated_at, revision)", models},
		{"INSERT INTO `" + s.db + "`.model_promotions (model, version, action, at, seq, actor)", promos},
		{"INSERT INTO `" + s.db + "`.model_metrics (model, model_version, at, metric, value, n)", metrics},
		{"INSERT INTO `" + s.db + "`.late_events (event_id, key, type, occurred_at, watermark, partition, received_at)", late},
		{"INSERT INTO `" + s.db + "`.rejects (reject_id, origin, received_at, event_id, reason, payload)", rejects},
	} {
		if err := s.insert(ctx, x.stmt, x.rows); err != nil {
			return err
		}
	}
	return nil
}
