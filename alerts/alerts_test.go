package alerts

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
)

func TestEpisodeID(t *testing.T) {
	a := EpisodeID(Abandonment, "l1", "checkout", "e1")
	if a != EpisodeID(Abandonment, "l1", "checkout", "e1") {
		t.Fatal("not deterministic")
	}
	for _, other := range []string{
		EpisodeID(Abandonment, "l1", "checkout", "e2"),
		EpisodeID(Abandonment, "l1", "checkoute1"),
		EpisodeID(Inactivity, "l1", "checkout", "e1"),
		EpisodeID(Abandonment, "l1c", "heckout", "e1"),
	} {
		if other == a {
			t.Fatalf("collision: %s", a)
		}
	}
	if !strings.HasPrefix(a, "abandonment-") || len(a) != len("abandonment-")+24 {
		t.Fatalf("id %q", a)
	}
}

func TestVersionOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	later := t0.Add(365 * 24 * time.Hour)
	// A state of higher rank wins whatever the times: a replayed "fired"
	// written later never replaces a retraction.
	if !(Version(Fired, later) < Version(Acknowledged, t0) && Version(Acknowledged, later) < Version(Retracted, t0)) {
		t.Fatal("rank does not dominate time")
	}
	if !(Version(Fired, t0) < Version(Fired, later)) {
		t.Fatal("time does not order one state")
	}
}

func TestAlertJSONRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	a := Alert{ID: "abandonment-x", Kind: Abandonment, LeadID: "l1", AccountID: "acme", OwnerID: "rep-7",
		FiredAt: t0.Add(time.Second), EventTime: t0, Status: Fired, Score: 71, Reason: "r",
		Evidence: []string{"e1", "e2"}, Details: Details{Flow: "checkout", Step: "payment", CartValue: 129, Currency: "EUR", StartedAt: t0.Add(-30 * time.Minute)},
		UpdatedAt: t0.Add(time.Second)}
	b, err := a.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, a)
	}
	if !strings.Contains(a.DetailsJSON(), `"cart_value":129`) || strings.Contains(a.DetailsJSON(), "detected_at") {
		t.Fatalf("details %s", a.DetailsJSON())
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":   `{`,
		"no id":      `{"kind":"abandonment","status":"fired","event_time":"2026-11-02T09:00:00Z"}`,
		"bad kind":   `{"alert_id":"x","kind":"spam","status":"fired","event_time":"2026-11-02T09:00:00Z"}`,
		"bad status": `{"alert_id":"x","kind":"abandonment","status":"sent","event_time":"2026-11-02T09:00:00Z"}`,
		"no time":    `{"alert_id":"x","kind":"abandonment","status":"fired"}`,
		"array":      `[]`,
	} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"alert_id":"x","kind":"abandonment","status":"fired","event_time":"2026-11-02T09:00:00Z","evidence":["a"],"details":{"flow":"checkout"}}`))
	f.Add([]byte(`{"alert_id":"x","kind":"hot_lead","status":"retracted","event_time":"2026-11-02T09:00:00Z","score":1e308}`))
	f.Add([]byte(`nul`))
	// Invariant: never panics; accepted alerts are valid and re-encode.
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted invalid alert: %v", err)
		}
		if _, err := a.AppendJSON(nil); err != nil {
			t.Fatalf("accepted alert does not encode: %v", err)
		}
	})
}

// busyState drives a detector through a mix of events and returns a state
// with every kind of field set.
func busyState(t testing.TB) (*Detector, *State) {
	d, err := New(DefaultConfig(), Options{Now: func() time.Time { return day0 }})
	if err != nil {
		t.Fatal(err)
	}
	st := &State{}
	var out Output
	ev := func(min int, typ event.Type, id string, props ...event.Property) {
		e := &event.Event{ID: id, Type: typ, OccurredAt: day0.Add(time.Duration(min) * time.Minute),
			LeadID: "l1", AccountID: "acme", OwnerID: "rep-7", Properties: props}
		d.OnEvent(st, e, e.OccurredAt, &out)
	}
	flow := event.Property{Key: "flow", Kind: event.KindString, Str: "checkout"}
	ev(0, event.FormSubmit, "e0")
	ev(1, event.FlowStarted, "e1", event.Property{Key: "cart_value", Kind: event.KindNumber, Num: 99.5}, flow)
	ev(2, event.FlowStep, "e2", flow, event.Property{Key: "step", Kind: event.KindString, Str: "payment"})
	ev(40, event.FlowStarted, "e3", event.Property{Key: "flow", Kind: event.KindString, Str: "signup"})
	ev(41, event.SubscriptionStarted, "e4")
	d.OnLeadScore(st, Score{EventID: "e5", EventTime: day0.Add(42 * time.Minute), Value: 50}, day0.Add(42*time.Minute), &out)
	d.OnChurnScore(st, Score{EventID: "e6", EventTime: day0.Add(43 * time.Minute), Value: 0.9}, day0.Add(43*time.Minute), &out)
	return d, st
}

func TestStateRoundTrip(t *testing.T) {
	_, st := busyState(t)
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got State
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, st) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, *st)
	}
	t.Logf("snapshot %d bytes, %d flows", len(b), len(st.rx().flows))
	// A version 1 snapshot (no firstScore at the end) still decodes.
	v1 := append([]byte{1}, b[1:len(b)-binary.PutVarint(make([]byte, 10), st.firstScore)]...)
	var old State
	if err := old.UnmarshalBinary(v1); err != nil || old.firstScore != 0 || old.score != st.score {
		t.Fatalf("version 1: %v", err)
	}
	// Every truncation is rejected, none panics.
	for i := range b {
		if err := new(State).UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated at %d accepted", i)
		}
	}
}

func FuzzState(f *testing.F) {
	_, st := busyState(f)
	b, _ := st.MarshalBinary()
	f.Add(b)
	f.Add([]byte{stateVersion})
	f.Add([]byte{})
	// Invariant: never panics; an accepted snapshot re-encodes to one that
	// decodes to the same state.
	f.Fuzz(func(t *testing.T, b []byte) {
		var s State
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		b2, _ := s.MarshalBinary()
		var s2 State
		if err := s2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoded snapshot rejected: %v", err)
		}
		b3, _ := s2.MarshalBinary()
		if !bytes.Equal(b2, b3) {
			t.Fatal("encoding not stable")
		}
	})
}

// TestStateBounded: a key that starts flows forever keeps at most MaxFlows
// attempts, and finished ones go once the retract window has passed.
func TestStateBounded(t *testing.T) {
	d, err := New(DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := &State{}
	var out Output
	at := day0
	for i := range 500 {
		at = at.Add(time.Minute)
		typ := event.FlowStarted
		if i%3 == 2 {
			typ = event.FlowCompleted
		}
		e := &event.Event{ID: fmt.Sprint("e", i), Type: typ, LeadID: "l1", OccurredAt: at,
			Properties: event.Properties{{Key: "flow", Kind: event.KindString, Str: fmt.Sprint("f", i%20)}}}
		d.OnEvent(st, e, at, &out)
		if len(st.rx().flows) > d.cfg.MaxFlows {
			t.Fatalf("event %d: %d flows kept", i, len(st.rx().flows))
		}
	}
	d.OnTimer(st, at.Add(3*time.Hour), &out)
	if len(st.rx().flows) != 0 {
		t.Fatalf("%d flows kept after every attempt finished and the retract window passed", len(st.rx().flows))
	}
	b, _ := st.MarshalBinary()
	if len(b) > 200 {
		t.Fatalf("snapshot of an idle key is %d bytes", len(b))
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.FlowTimeout = 0
	c.HotThreshold = 120
	c.Cooldown = map[Kind]time.Duration{"spam": time.Hour}
	err := c.Validate()
	for _, want := range []string{"flow timeout", "hot threshold", "unknown kind"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := New(c, Options{}); err == nil {
		t.Fatal("New accepted a bad config")
	}
}

func TestModelDrift(t *testing.T) {
	now := day0.Add(time.Hour)
	a := NewModelDrift("lead", "v3", "auc", 0.55, 0.6, day0, now, "")
	b := NewModelDrift("lead", "v3", "auc", 0.52, 0.6, day0.Add(time.Minute), now, "")
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || a.Kind != ModelDrift || !strings.Contains(a.Reason, "auc is 0.550") {
		t.Fatalf("drift alert %+v", a)
	}
}

func TestEvaluate(t *testing.T) {
	at := func(m int) time.Time { return day0.Add(time.Duration(m) * time.Minute) }
	alert := func(id string, k Kind, key, flow string, cond int, st Status, delay time.Duration) Alert {
		return Alert{ID: id, Kind: k, LeadID: key, Status: st, EventTime: at(cond),
			FiredAt: at(cond).Add(delay), Details: Details{Flow: flow, DetectedAt: at(cond).Add(delay)}}
	}
	truth := []Truth{
		{Kind: Abandonment, Key: "l1", Flow: "checkout", ConditionAt: at(30)},
		{Kind: Abandonment, Key: "l2", Flow: "checkout", ConditionAt: at(30)},
		{Kind: Abandonment, Key: "l3", Flow: "signup", ConditionAt: at(30)},
		{Kind: Inactivity, Key: "a1", Subject: "account", ConditionAt: at(10080)},
	}
	as := []Alert{
		alert("1", Abandonment, "l1", "checkout", 30, Fired, time.Second),
		alert("1", Abandonment, "l1", "checkout", 30, Acknowledged, time.Second), // same episode, later state
		alert("2", Abandonment, "l2", "signup", 30, Fired, 2*time.Second),        // wrong flow: FP, and l2 is a FN
		alert("3", Abandonment, "l3", "signup", 35, Fired, 3*time.Second),        // 5 min off: outside tolerance
		alert("4", Abandonment, "l4", "checkout", 30, Fired, 0),                  // no truth: FP
		alert("4", Abandonment, "l4", "checkout", 30, Retracted, 0),              // … but retracted: not counted
		{ID: "5", Kind: Inactivity, AccountID: "a1", Status: Fired, EventTime: at(10080), FiredAt: at(10080).Add(4 * time.Second),
			Details: Details{Subject: "account", DetectedAt: at(10080)}},
	}
	qs := Evaluate(truth, as, EvalOptions{})
	if len(qs) != 2 || qs[0].Kind != Abandonment || qs[1].Kind != Inactivity {
		t.Fatalf("kinds %v", qs)
	}
	ab, in := qs[0], qs[1]
	if ab.Truth != 3 || ab.Alerts != 3 || ab.Retracted != 1 || ab.TP != 1 || ab.FP != 2 || ab.FN != 2 {
		t.Fatalf("abandonment %v", ab)
	}
	if fmt.Sprintf("%.3f %.3f", ab.Precision, ab.Recall) != "0.333 0.333" {
		t.Fatalf("abandonment %v", ab)
	}
	if ab.WallDelay.N != 1 || ab.WallDelay.Max != time.Second {
		t.Fatalf("delay %v", ab.WallDelay)
	}
	if in.TP != 1 || in.Precision != 1 || in.Recall != 1 || in.WallDelay.P50 != 4*time.Second || in.EventDelay.Max != 0 {
		t.Fatalf("inactivity %v", in)
	}
	// Wider tolerance matches l3.
	qs = Evaluate(truth, as, EvalOptions{Tolerance: 10 * time.Minute})
	if qs[0].TP != 2 {
		t.Fatalf("tolerance: %v", qs[0])
	}
}

func BenchmarkOnEvent(b *testing.B) {
	d, err := New(DefaultConfig(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	const keys = 10000
	states := make([]State, keys)
	evs := make([]event.Event, keys)
	types := []event.Type{event.PageView, event.FlowStarted, event.FlowStep, event.FlowCompleted, event.Login, event.EmailClick}
	var out Output
	flow := event.Properties{{Key: "flow", Kind: event.KindString, Str: "checkout"}, {Key: "step", Kind: event.KindString, Str: "cart"}}
	t := day0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % keys
		e := &evs[k]
		e.ID, e.LeadID = "e", "lead"
		e.Type = types[(i/keys)%len(types)]
		e.Properties = flow
		t = t.Add(time.Millisecond)
		e.OccurredAt = t
		d.OnEvent(&states[k], e, t, &out)
		out.Reset()
		i++
	}
}

func BenchmarkSnapshot(b *testing.B) {
	_, st := busyState(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = st.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes/state")
}
