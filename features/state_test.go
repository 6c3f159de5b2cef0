package features_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/windows"
)

func mustLead(t testing.TB) *features.Set {
	s, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) // a Monday

func ev(id string, typ event.Type, at time.Duration, props ...event.Property) event.Event {
	return event.Event{ID: id, Type: typ, OccurredAt: t0.Add(at), LeadID: "lead-1", SessionID: "s1", Properties: props}
}

// TestLeadScenario walks a lead through a funnel and checks the features
// against values worked out by hand.
func TestLeadScenario(t *testing.T) {
	set := mustLead(t)
	st := set.NewState()
	evs := []event.Event{
		ev("e1", event.LeadCreated, 0, prop("landing_page_id", "lp9"), prop("origin", "paid_search")),
		ev("e2", event.PageView, time.Minute, prop("page_type", "pricing")),
		ev("e3", event.PageView, 2*time.Minute, prop("page_type", "blog")),
		ev("e4", event.EmailSent, 26*time.Hour),
		ev("e5", event.EmailClick, 27*time.Hour),
		ev("e6", event.DemoRequested, 50*time.Hour),
	}
	for i := range evs {
		st.Update(&evs[i])
	}
	var v features.Vector
	st.Vector(windows.SecOf(t0.Add(50*time.Hour)), &v)
	want := map[string]float64{
		"touches_1h": 1, "touches_24h": 2, "touches_7d": 4, "touches_30d": 4, // e-mails sent are not touches
		"page_views_7d": 2, "pricing_views_7d": 1, "emails_sent_30d": 1, "email_clicks_30d": 1,
		"intent_30d": 1, "page_views_total": 2, "sessions": 1, "days_since_touch": 0,
		"lead_age_days": 50.0 / 24, "funnel_stage": features.StageMQL, "email_ctr_30d": 1,
		"velocity": 7.0 * 2 / 4, "pages_per_session": 2, "unreachable": 0,
	}
	names := set.NumNames()
	for i, n := range names {
		w, ok := want[n]
		if !ok {
			continue
		}
		if math.Abs(v.Num[i]-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", n, v.Num[i], w)
		}
	}
	cats := map[string]string{}
	for i, n := range set.CatNames() {
		cats[n] = v.Cat[i]
	}
	if cats["origin"] != "paid_search" || cats["landing_page_id"] != "lp9" {
		t.Errorf("categorical: %v", cats)
	}
	// evidence: the demo request is the newest event behind intent_30d
	i, _ := set.Index("intent_30d")
	if ev := v.NumEvidence(i, nil); len(ev) != 1 || ev[0] != "e6" {
		t.Errorf("intent evidence %v, want [e6]", ev)
	}
	o := slicesIndex(set.CatNames(), "origin")
	if ev := v.CatEvidence(o, nil); len(ev) != 1 || ev[0] != "e1" {
		t.Errorf("origin evidence %v, want [e1]", ev)
	}
	// eight days later the windows have emptied, lifetime features remain
	st.Vector(windows.SecOf(t0.Add(58*24*time.Hour)), &v)
	for _, n := range []string{"touches_7d", "touches_30d", "pricing_views_7d"} {
		i, _ := set.Index(n)
		if v.Num[i] != 0 {
			t.Errorf("after 58 days %s = %v, want 0", n, v.Num[i])
		}
	}
	i, _ = set.Index("page_views_total")
	if v.Num[i] != 2 {
		t.Errorf("page_views_total = %v after windows passed", v.Num[i])
	}
}

func slicesIndex(xs []string, x string) int {
	for i := range xs {
		if xs[i] == x {
			return i
		}
	}
	return -1
}

// TestOutOfOrder checks that a late event lands in its own bucket and that
// a "last" value keeps the newest event time.
func TestOutOfOrder(t *testing.T) {
	set := mustLead(t)
	st := set.NewState()
	a := ev("a", event.LeadUpdated, 3*time.Hour, prop("seniority", "vp"))
	b := ev("b", event.LeadUpdated, 1*time.Hour, prop("seniority", "ic"))
	c := ev("c", event.PageView, 2*time.Hour)
	for _, e := range []*event.Event{&a, &b, &c} {
		st.Update(e)
	}
	var v features.Vector
	st.Vector(windows.SecOf(t0.Add(3*time.Hour)), &v)
	if got := v.Cat[slicesIndex(set.CatNames(), "seniority")]; got != "vp" {
		t.Errorf("seniority = %q, want vp (newest event time wins)", got)
	}
	i, _ := set.Index("touches_24h")
	if v.Num[i] != 1 {
		t.Errorf("late page view not counted: %v", v.Num[i])
	}
	// an event older than the longest window of its ring is not counted
	old := ev("old", event.PageView, -40*24*time.Hour)
	st.Update(&old)
	st.Vector(windows.SecOf(t0.Add(3*time.Hour)), &v)
	i, _ = set.Index("page_views_30d")
	if v.Num[i] != 1 {
		t.Errorf("page_views_30d = %v, want 1", v.Num[i])
	}
}

// TestStateSize measures the bytes per lead for a lead with a full profile
// and 36-character event ids, and checks the 512-byte goal.
func TestStateSize(t *testing.T) {
	set := mustLead(t)
	st := set.NewState()
	id := func(i int) string { return fmt.Sprintf("%08x-1d2c-4e7a-9b3f-%012d", i, i) }
	e := ev(id(0), event.LeadCreated, 0, prop("campaign", "spring-launch-2026"), prop("company_size", "201-1000"),
		prop("industry", "software"), prop("landing_page_id", "88740e65d5d6b056e0cda098e1ea6313"), prop("origin", "paid_search"),
		prop("seniority", "director"))
	e.Contact.Country = "DE"
	st.Update(&e)
	types := []event.Type{event.PageView, event.EmailOpen, event.EmailClick, event.EmailSent, event.FormSubmit, event.MeetingHeld}
	for i := 1; i < 200; i++ {
		e := ev(id(i), types[i%len(types)], time.Duration(i)*47*time.Minute, prop("page_type", "pricing"))
		st.Update(&e)
	}
	size := st.Size()
	snap := len(st.AppendBinary(nil))
	var v features.Vector
	st.Vector(st.Head(), &v)
	t.Logf("lead state: %d bytes in memory (buffer %d), snapshot %d bytes; its encoded vector %d bytes",
		size, set.StateBytes(), snap, len(v.AppendBinary(nil)))
	if size > 512 {
		t.Errorf("state %d bytes, goal ≤ 512", size)
	}
}

func TestRestoreRejects(t *testing.T) {
	set := mustLead(t)
	acct, err := features.Account()
	if err != nil {
		t.Fatal(err)
	}
	st := set.NewState()
	e := ev("x", event.PageView, 0)
	st.Update(&e)
	b := st.AppendBinary(nil)
	if _, err := acct.RestoreState(b); !errors.Is(err, features.ErrCorrupt) {
		t.Errorf("restore into another set: %v", err)
	}
	for n := range len(b) {
		if _, err := set.RestoreState(b[:n]); err == nil {
			t.Errorf("truncated to %d bytes: accepted", n)
		}
	}
	if _, err := set.RestoreState(b); err != nil {
		t.Fatal(err)
	}
}

func TestNewSetErrors(t *testing.T) {
	fs := []features.Filter{{Name: "pv", Types: []event.Type{event.PageView}}}
	for _, tc := range []struct {
		name string
		defs []features.Def
		der  []features.Derived
	}{
		{"unknown filter", []features.Def{{Name: "a", Agg: features.Count, Filter: "nope"}}, nil},
		{"duplicate", []features.Def{{Name: "a", Agg: features.Count, Filter: "pv"}, {Name: "a", Agg: features.Count, Filter: "pv"}}, nil},
		{"windowed sum", []features.Def{{Name: "a", Agg: features.Sum, Field: "x", Filter: "pv", Window: features.Week}}, nil},
		{"bad window", []features.Def{{Name: "a", Agg: features.Count, Filter: "pv", Window: features.Window{Size: 100, Gran: 30}}}, nil},
		{"missing field", []features.Def{{Name: "a", Agg: features.LastStr, Filter: "pv"}}, nil},
		{"unknown derived input", []features.Def{{Name: "a", Agg: features.Count, Filter: "pv"}}, []features.Derived{{Name: "r", Op: features.Ratio, A: "a", B: "b"}}},
	} {
		if _, err := features.NewSet("t", "lead_id", fs, tc.defs, tc.der); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// FuzzDecode: DecodeVector and RestoreState never panic; every input is
// accepted or rejected with an error.
func FuzzDecode(f *testing.F) {
	set := mustLead(f)
	st := set.NewState()
	e := ev("x", event.LeadCreated, 0, prop("origin", "email"))
	st.Update(&e)
	var v features.Vector
	st.Vector(windows.SecOf(t0), &v)
	f.Add(v.AppendBinary(nil))
	f.Add(st.AppendBinary(nil))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v features.Vector
		_ = set.DecodeVector(b, &v)
		if st, err := set.RestoreState(b); err == nil {
			st.Vector(windows.SecOf(t0), &v)
			e := ev("y", event.PageView, time.Hour)
			st.Update(&e)
		}
	})
}
