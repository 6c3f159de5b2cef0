package features_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/windows"
)

// insertEvents writes events into the store's events table the way the
// ingest sink does (properties as canonical JSON text).
func insertEvents(t *testing.T, st *chstore.Store, evs []event.Event) {
	t.Helper()
	ctx := context.Background()
	batch, err := st.Conn.PrepareBatch(ctx, "INSERT INTO "+st.DB+".events (event_id, type, occurred_at, occurred_ms, lead_id, account_id, owner_id, session_id, source, email, phone, name, company, country, title, properties, ingested_at, version)")
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	for i := range evs {
		e := &evs[i]
		if err := batch.Append(e.ID, string(e.Type), e.OccurredAt, uint16(e.OccurredAt.Nanosecond()/1e6), e.LeadID, e.AccountID,
			e.OwnerID, e.SessionID, e.Source, e.Contact.Email, e.Contact.Phone, e.Contact.Name, e.Contact.Company,
			e.Contact.Country, e.Contact.Title, string(e.Properties.AppendJSON(nil)), time.Now().UTC(), uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

func prop(k, v string) event.Property { return event.Property{Key: k, Kind: event.KindString, Str: v} }
func num(k string, v float64) event.Property {
	return event.Property{Key: k, Kind: event.KindNumber, Num: v}
}

// genEvents makes a deterministic mixed stream for nLeads leads in a few
// accounts over 60 days. Each key's events have distinct seconds, so "last
// value" aggregates have no ties.
func genEvents(seed uint64, nLeads int, start time.Time) []event.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	var evs []event.Event
	id := 0
	for l := range nLeads {
		lead := fmt.Sprintf("lead-%03d", l)
		acct := fmt.Sprintf("acct-%d", l%5)
		t := start.Add(time.Duration(r.IntN(86400*10)) * time.Second)
		n := 5 + r.IntN(60)
		for k := range n {
			id++
			e := event.Event{ID: fmt.Sprintf("ev-%05d", id), OccurredAt: t, LeadID: lead, AccountID: acct, Source: "web",
				SessionID: fmt.Sprintf("s-%s-%d", lead, k/4)}
			switch {
			case k == 0:
				e.Type = event.LeadCreated
				e.Properties = event.Properties{prop("campaign", pick("spring", "summer")), prop("company_size", pick("1-10", "201-1000", "1000+")),
					prop("industry", pick("retail", "saas")), prop("landing_page_id", pick("lp1", "lp2", "lp3")), prop("origin", pick("paid_search", "organic_search", "email"))}
				e.Contact.Country = pick("DE", "FR", "US")
			default:
				switch x := r.IntN(100); {
				case x < 35:
					e.Type = event.PageView
					e.Properties = event.Properties{prop("page_type", pick("pricing", "blog", "docs", "home", "pricing"))}
				case x < 45:
					e.Type = event.EmailSent
				case x < 53:
					e.Type = event.EmailOpen
				case x < 58:
					e.Type = event.EmailClick
					e.Properties = event.Properties{prop("campaign", pick("autumn", "winter"))}
				case x < 62:
					e.Type = event.Type(pick(string(event.FormSubmit), string(event.DemoRequested), string(event.WebinarAttended)))
				case x < 65:
					e.Type = event.LeadUpdated
					e.Properties = event.Properties{prop("seniority", pick("vp", "director", "ic"))}
				case x < 67:
					e.Type = event.LeadQualified
					e.Properties = event.Properties{prop("stage", "mql")}
				case x < 69:
					e.Type = event.DealCreated
				case x < 70:
					e.Type = event.EmailUnsubscribe
				case x < 80:
					e.Type = event.Login
				case x < 86:
					e.Type = event.FeatureUsed
					e.Properties = event.Properties{prop("feature", pick("reports", "export", "api", "sso", "alerts"))}
				case x < 88:
					e.Type = event.TicketOpened
				case x < 90:
					e.Type = event.NPSSubmitted
					e.Properties = event.Properties{num("score", float64(r.IntN(11)))}
				case x < 92:
					e.Type = event.PlanUpgraded
					e.Properties = event.Properties{num("mrr", float64(100+r.IntN(900))), prop("plan", pick("pro", "team")), num("seats", float64(1+r.IntN(40)))}
				case x < 93:
					e.Type = event.PlanDowngraded
					e.Properties = event.Properties{num("mrr", float64(50+r.IntN(100))), prop("plan", "basic")}
				default:
					e.Type = event.CallLogged
				}
			}
			evs = append(evs, e)
			// bursts of seconds to minutes, sometimes days
			gap := time.Duration(1+r.IntN(900)) * time.Second
			if r.IntN(8) == 0 {
				gap = time.Duration(1+r.IntN(6*86400)) * time.Second
			}
			t = t.Add(gap)
		}
	}
	return evs
}

// TestStreamingMatchesSQL checks that the streaming extractor and the
// generated ClickHouse SQL compute the same features, for leads and
// accounts, at many points in time, on a real server.
func TestStreamingMatchesSQL(t *testing.T) {
	store := chtest.New(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	evs := genEvents(1, 40, start)
	insertEvents(t, store, evs)
	ctx := context.Background()

	lead, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := features.Account()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		set *features.Set
		key func(*event.Event) string
	}{
		{lead, func(e *event.Event) string { return e.LeadID }},
		{acct, func(e *event.Event) string { return e.AccountID }},
	} {
		t.Run(tc.set.Name(), func(t *testing.T) {
			byKey := map[string][]event.Event{}
			for _, e := range evs {
				byKey[tc.key(&e)] = append(byKey[tc.key(&e)], e)
			}
			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			r := rand.New(rand.NewPCG(2, 3))
			// as-of points: after a random prefix of each key's events, plus a
			// time a while after it (windows sliding past events)
			type point struct {
				key  string
				asof windows.Sec
				want features.Vector
			}
			var points []point
			for _, k := range keys {
				kevs := byKey[k]
				slices.SortFunc(kevs, func(a, b event.Event) int { return a.OccurredAt.Compare(b.OccurredAt) })
				for range 4 {
					n := 1 + r.IntN(len(kevs))
					prefix := slices.Clone(kevs[:n])
					// mild disorder: swap neighbours (the stream is out of order)
					for i := 1; i < len(prefix); i += 3 {
						prefix[i-1], prefix[i] = prefix[i], prefix[i-1]
					}
					st := tc.set.NewState()
					for i := range prefix {
						st.Update(&prefix[i])
					}
					last := windows.SecOf(kevs[n-1].OccurredAt)
					// a later as-of time, before the key's next event: windows
					// slide past the prefix
					gap := windows.Span(r.IntN(3 * 86400))
					if n < len(kevs) {
						gap = min(gap, windows.Span(windows.SecOf(kevs[n].OccurredAt)-last-1))
					}
					for _, later := range []windows.Span{0, gap} {
						p := point{key: k, asof: last.Add(later)}
						st.Vector(p.asof, &p.want)
						// restore from a snapshot too: the same vector
						st2, err := tc.set.RestoreState(st.AppendBinary(nil))
						if err != nil {
							t.Fatal(err)
						}
						var v2 features.Vector
						st2.Vector(p.asof, &v2)
						if !slices.Equal(v2.Num, p.want.Num) || !slices.Equal(v2.Cat, p.want.Cat) {
							t.Fatalf("%s: restored state differs", k)
						}
						points = append(points, p)
					}
				}
			}
			q := features.Query{Set: tc.set, DB: store.DB}
			for _, p := range points {
				q.Keys = append(q.Keys, p.key)
				q.AsOf = append(q.AsOf, p.asof)
			}
			got := map[string]features.Vector{}
			err := q.Read(ctx, store.Conn, func(ex *features.Example) error {
				got[fmt.Sprint(ex.Key, "@", ex.AsOf)] = features.Vector{Num: slices.Clone(ex.Vector.Num), Cat: slices.Clone(ex.Vector.Cat)}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			names, cnames := tc.set.NumNames(), tc.set.CatNames()
			mismatch, nonzero := 0, 0
			for _, p := range points {
				g, ok := got[fmt.Sprint(p.key, "@", p.asof)]
				if !ok {
					t.Fatalf("%s@%d: no SQL row", p.key, p.asof)
				}
				for i := range names {
					if p.want.Num[i] != 0 {
						nonzero++
					}
					if math.Abs(g.Num[i]-p.want.Num[i]) > 1e-5*max(1, math.Abs(p.want.Num[i])) { // decayed sums: float32 state
						mismatch++
						t.Errorf("%s@%d %s: stream %v, sql %v", p.key, p.asof, names[i], p.want.Num[i], g.Num[i])
					}
				}
				for i := range cnames {
					if g.Cat[i] != p.want.Cat[i] {
						mismatch++
						t.Errorf("%s@%d %s: stream %q, sql %q", p.key, p.asof, cnames[i], p.want.Cat[i], g.Cat[i])
					}
				}
			}
			t.Logf("%s: %d points × %d features compared, %d non-zero numeric values, %d mismatches",
				tc.set.Name(), len(points), len(names)+len(cnames), nonzero, mismatch)
			if nonzero < len(points) {
				t.Fatalf("test data too sparse: %d non-zero values", nonzero)
			}
		})
	}
}

// TestQuerySQL pins the shape of the generated SQL: what runs on 18.16
// (-If combinators, visitParamExtract*, no window functions or
// JSONExtract) and the arguments of an explicit spine.
func TestQuerySQL(t *testing.T) {
	set, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	label := features.LeadLabel()
	for _, tc := range []struct {
		name     string
		q        features.Query
		contains []string
		args     int
	}{
		{"explicit spine", features.Query{Set: set, DB: "crm", Keys: []string{"a", "b"}, AsOf: []windows.Sec{10, 20}},
			[]string{"FROM crm.events FINAL", "arrayJoin(arrayMap((k, t) -> (k, t), ?, ?))", "ALL INNER JOIN",
				"USING lead_id", "intDiv(ts, 3600) + 24 > intDiv(_asof, 3600)", "visitParamExtractString(properties, 'page_type') IN ('pricing')",
				"cityHash64(session_id) % 128 < 64", "argMaxIf(visitParamExtractString(properties, 'origin'), ts"}, 2},
		{"spine from lead_created with label", features.Query{Set: set, DB: "crm", StartType: event.LeadCreated, From: 1, To: 100,
			Offsets: []windows.Span{0, 86400}, Cutoff: 50, Label: &label},
			[]string{"WHERE type = 'lead_created'", "ARRAY JOIN [0, 86400] AS _off", "WHERE _start + _off <= 50",
				"ts > _asof AND ts <= _start + 7776000) AS _label", "HAVING _done = 0 AND (_label = 1 OR _start + 7776000 <= 50)"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sql, args, err := tc.q.SQL()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.contains {
				if !strings.Contains(sql, c) {
					t.Errorf("SQL lacks %q:\n%s", c, sql)
				}
			}
			for _, banned := range []string{"JSONExtract", " OVER ", "toStartOfInterval"} {
				if strings.Contains(sql, banned) {
					t.Errorf("SQL uses %s, missing on ClickHouse 18.16", banned)
				}
			}
			if len(args) != tc.args {
				t.Errorf("%d args, want %d", len(args), tc.args)
			}
		})
	}
	if _, _, err := (&features.Query{Set: set, DB: "crm; DROP"}).SQL(); err == nil {
		t.Error("invalid database name accepted")
	}
	if _, _, err := (&features.Query{Set: set, DB: "crm"}).SQL(); err == nil {
		t.Error("query without a spine accepted")
	}
}
