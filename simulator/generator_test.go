package simulator

import (
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
)

func smallConfig(seed uint64) Config {
	c := DefaultConfig()
	c.Seed = seed
	c.Leads = 300
	c.Accounts = 8
	c.Span = 150 * day
	return c
}

// heavy skips statistical tests under the race detector (they test no
// concurrency and would take minutes) and with -short.
func heavy(t *testing.T) {
	t.Helper()
	if raceEnabled || testing.Short() {
		t.Skip("statistical test: run without -race and -short (go test ./simulator)")
	}
}

// collect runs a generator to the end.
func collect(t testing.TB, cfg Config) ([]event.Event, *TruthSet) {
	t.Helper()
	ts := &TruthSet{}
	g, err := New(cfg, ts)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	var e event.Event
	for g.Next(&e) {
		out = append(out, e)
	}
	return out, ts
}

func digest(evs []event.Event, ts *TruthSet) string {
	h := sha256.New()
	var b []byte
	for i := range evs {
		b = evs[i].AppendJSON(b[:0])
		h.Write(b)
	}
	fmt.Fprintf(h, "%v", *ts)
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	cfg := smallConfig(7)
	cfg.Leads, cfg.Accounts, cfg.Span = 100, 3, 60*day
	a, ta := collect(t, cfg)
	b, tb := collect(t, cfg)
	cfg.Seed = 8
	c, tc := collect(t, cfg)
	if len(a) == 0 {
		t.Fatal("no events")
	}
	if digest(a, ta) != digest(b, tb) {
		t.Error("same seed, different streams")
	}
	if digest(a, ta) == digest(c, tc) {
		t.Error("different seeds, same stream")
	}
}

func TestEventsValidOrderedInSpan(t *testing.T) {
	cfg := smallConfig(3)
	cfg.Accounts = 30 // plan changes are rare: enough account-days to see every type
	evs, _ := collect(t, cfg)
	end := cfg.Start.Add(cfg.Span)
	seen := map[string]bool{}
	types := map[event.Type]int{}
	var b []byte
	for i := range evs {
		e := &evs[i]
		b = e.AppendJSON(b[:0])
		got, err := event.Parse(b)
		if err != nil {
			t.Fatalf("event %d does not parse: %v\n%s", i, err, b)
		}
		if got.ID != e.ID || got.Type != e.Type || !got.OccurredAt.Equal(e.OccurredAt) || got.Key() != e.Key() {
			t.Fatalf("round trip changed the event: %+v vs %+v", got, *e)
		}
		if i > 0 && e.OccurredAt.Before(evs[i-1].OccurredAt) {
			t.Fatalf("event %d at %v before previous at %v", i, e.OccurredAt, evs[i-1].OccurredAt)
		}
		if e.OccurredAt.Before(cfg.Start) || !e.OccurredAt.Before(end) {
			t.Fatalf("event %d at %v outside [%v, %v)", i, e.OccurredAt, cfg.Start, end)
		}
		if seen[e.ID] {
			t.Fatalf("duplicate event id %s", e.ID)
		}
		seen[e.ID] = true
		if e.OwnerID == "" {
			t.Fatalf("event %s has no owner", e.ID)
		}
		types[e.Type]++
	}
	// The stream exercises the whole schema except ad hoc custom types.
	for _, typ := range event.Types {
		if types[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
}

// TestContactNormalization: the varied spellings normalize to ISO codes and
// E.164 phones, as ingest will see them.
func TestContactNormalization(t *testing.T) {
	cfg := smallConfig(5)
	cfg.Accounts = 1
	evs, _ := collect(t, cfg)
	spellings := map[string]bool{}
	var b []byte
	for i := range evs {
		e := &evs[i]
		if e.Type != event.LeadCreated {
			continue
		}
		spellings[e.Contact.Country] = true
		b = e.AppendJSON(b[:0])
		got, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Contact.Country) != 2 {
			t.Errorf("country %q normalized to %q", e.Contact.Country, got.Contact.Country)
		}
		if got.Contact.Phone == "" || got.Contact.Phone[0] != '+' {
			t.Errorf("phone %q (%s) normalized to %q", e.Contact.Phone, e.Contact.Country, got.Contact.Phone)
		}
	}
	if len(spellings) < 8 {
		t.Errorf("only %d country spellings: normalization is not exercised", len(spellings))
	}
}

// TestAbandonmentTruth recomputes the abandonment episodes from the events
// alone and compares them with the truth the generator wrote.
func TestAbandonmentTruth(t *testing.T) {
	cfg := smallConfig(11)
	cfg.FlowTimeout = map[string]time.Duration{"checkout": 45 * time.Minute}
	evs, ts := collect(t, cfg)
	type key struct{ lead, flow string }
	type ep struct {
		start     time.Time
		flow      string
		abandoned bool
	}
	open := map[key]time.Time{}
	var got []ep
	closeEp := func(k key, completed time.Time) {
		st := open[k]
		delete(open, k)
		abandoned := completed.IsZero() || completed.Sub(st) > cfg.flowTimeout(k.flow)
		got = append(got, ep{st, k.flow, abandoned})
	}
	for i := range evs {
		e := &evs[i]
		k := key{e.LeadID, e.Properties.String("flow")}
		switch e.Type {
		case event.FlowStarted:
			if _, ok := open[k]; ok {
				closeEp(k, time.Time{})
			}
			open[k] = e.OccurredAt
		case event.FlowCompleted:
			if _, ok := open[k]; !ok {
				t.Fatalf("flow_completed %s without a start", e.ID)
			}
			closeEp(k, e.OccurredAt)
		}
	}
	for k := range open {
		closeEp(k, time.Time{})
	}
	var want []ep
	for _, a := range ts.Abandonments {
		want = append(want, ep{a.StartedAt, a.Flow, a.Abandoned})
		if a.Abandoned != !a.ConditionAt.IsZero() {
			t.Errorf("episode %+v: condition time inconsistent", a)
		}
	}
	cmp := func(a, b ep) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.flow, b.flow)
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if len(got) != len(want) {
		t.Fatalf("%d episodes in events, %d in truth", len(got), len(want))
	}
	abandoned := 0
	for i := range got {
		if !got[i].start.Equal(want[i].start) || got[i].flow != want[i].flow || got[i].abandoned != want[i].abandoned {
			t.Fatalf("episode %d: events say %+v, truth %+v", i, got[i], want[i])
		}
		if got[i].abandoned {
			abandoned++
		}
	}
	if abandoned == 0 || abandoned == len(got) {
		t.Errorf("%d of %d abandoned: want a mix", abandoned, len(got))
	}
}

// TestInactivityTruth recomputes the inactivity episodes from the events.
func TestInactivityTruth(t *testing.T) {
	cfg := smallConfig(13)
	evs, ts := collect(t, cfg)
	end := cfg.Start.Add(cfg.Span)
	type st struct {
		last           time.Time
		eligible, done bool
		engaged        int
		reported       bool
		kind, key      string
	}
	keys := map[string]*st{}
	var got []Inactivity
	check := func(s *st, now time.Time) {
		if s.eligible && !s.reported {
			if c := s.last.Add(map[string]time.Duration{InactiveLead: cfg.LeadQuiet, InactiveAccount: cfg.AccountQuiet}[s.kind]); c.Before(now) {
				got = append(got, Inactivity{Kind: s.kind, Key: s.key, ConditionAt: c})
				s.reported = true
			}
		}
	}
	for i := range evs {
		e := &evs[i]
		s := keys[e.Key()]
		if s == nil {
			s = &st{key: e.Key(), kind: InactiveAccount}
			if e.LeadID != "" {
				s.kind = InactiveLead
			}
			keys[e.Key()] = s
		}
		if s.done {
			continue
		}
		switch {
		case s.kind == InactiveAccount && e.Type == event.SubscriptionStarted && !s.eligible:
			s.eligible, s.last = true, e.OccurredAt
		case s.kind == InactiveAccount && e.Type == event.SubscriptionCancelled,
			s.kind == InactiveLead && e.Type.IsConversion():
			check(s, e.OccurredAt)
			s.eligible, s.done = false, true
		case s.kind == InactiveAccount && IsAccountActivity(e.Type) && s.eligible,
			s.kind == InactiveLead && IsLeadActivity(e.Type) && s.eligible:
			check(s, e.OccurredAt)
			s.last, s.reported = e.OccurredAt, false
		case s.kind == InactiveLead && IsLeadEngagement(e.Type):
			s.engaged++
			if s.engaged >= cfg.EngagedEvents {
				s.eligible, s.last = true, e.OccurredAt
			}
		}
	}
	for _, s := range keys {
		check(s, end)
	}
	want := make([]Inactivity, len(ts.Inactivities))
	for i, x := range ts.Inactivities {
		want[i] = Inactivity{Kind: x.Kind, Key: x.Key, ConditionAt: x.ConditionAt}
	}
	cmp := func(a, b Inactivity) int {
		if c := a.ConditionAt.Compare(b.ConditionAt); c != 0 {
			return c
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Fatalf("inactivity: %d episodes from events, %d in truth (first diff near %v)", len(got), len(want), firstDiff(got, want))
	}
	kinds := map[string]int{}
	for _, x := range want {
		kinds[x.Kind]++
	}
	if kinds[InactiveLead] == 0 || kinds[InactiveAccount] == 0 {
		t.Errorf("episodes by kind %v: want both kinds", kinds)
	}
}

func firstDiff(a, b []Inactivity) any {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return [2]Inactivity{a[i], b[i]}
		}
	}
	return nil
}

// TestOutcomesMatchEvents: the labels in the truth are the ones the
// events show.
func TestOutcomesMatchEvents(t *testing.T) {
	cfg := smallConfig(17)
	cfg.Accounts = 30 // enough for some, not all, to churn in 150 days
	evs, ts := collect(t, cfg)
	conv := map[string]time.Time{}
	cancelled := map[string]time.Time{}
	for i := range evs {
		e := &evs[i]
		if e.LeadID != "" && e.Type.IsConversion() {
			if _, ok := conv[e.LeadID]; !ok {
				conv[e.LeadID] = e.OccurredAt
			}
		}
		if e.LeadID == "" {
			if at, ok := cancelled[e.AccountID]; ok && e.Type != event.TicketResolved {
				t.Fatalf("account %s: %s at %v after its cancellation at %v", e.AccountID, e.Type, e.OccurredAt, at)
			}
			if e.Type == event.SubscriptionCancelled {
				cancelled[e.AccountID] = e.OccurredAt
			}
		}
	}
	n, pos := 0, 0
	for _, l := range ts.Leads {
		if l.Censored {
			continue
		}
		n++
		at, ok := conv[l.LeadID]
		inHorizon := ok && at.Sub(l.CreatedAt) <= cfg.ConversionHorizon
		if inHorizon != l.Converted {
			t.Fatalf("lead %s: truth converted=%v, events say %v", l.LeadID, l.Converted, inHorizon)
		}
		if l.Converted {
			pos++
			if !at.Equal(l.ConvertedAt) {
				t.Errorf("lead %s converted at %v, truth %v", l.LeadID, at, l.ConvertedAt)
			}
		}
	}
	if rate := float64(pos) / float64(n); rate < 0.05 || rate > 0.25 {
		t.Errorf("conversion rate %.3f outside 5–25 %%", rate)
	}
	churned := 0
	for _, a := range ts.Accounts {
		at, ok := cancelled[a.AccountID]
		if ok != a.Churned || (ok && !at.Equal(a.ChurnedAt)) {
			t.Fatalf("account %s: truth churned=%v at %v, events %v at %v", a.AccountID, a.Churned, a.ChurnedAt, ok, at)
		}
		if ok {
			churned++
		}
	}
	if churned == 0 || churned == len(ts.Accounts) {
		t.Errorf("%d of %d accounts churned", churned, len(ts.Accounts))
	}
}

// TestNoLabelLeakage: in the first five days, before any sales process
// starts, converters and non-converters of the same intent behave alike.
// Within intent bins, the difference in early activity is not significant.
func TestNoLabelLeakage(t *testing.T) {
	heavy(t)
	cfg := smallConfig(19)
	cfg.Leads = 3000
	cfg.Accounts = 1
	evs, ts := collect(t, cfg)
	early := map[string]float64{}
	created := map[string]time.Time{}
	for _, l := range ts.Leads {
		created[l.LeadID] = l.CreatedAt
	}
	for i := range evs {
		e := &evs[i]
		if c, ok := created[e.LeadID]; ok && e.OccurredAt.Sub(c) < 5*day && IsLeadActivity(e.Type) {
			early[e.LeadID]++
		}
	}
	// Pooled z-test of mean difference within intent bins.
	type acc struct{ n, s, ss float64 }
	var num, den float64
	bins := map[int]*[2]acc{}
	for _, l := range ts.Leads {
		b := int(math.Floor(l.Intent * 2))
		if bins[b] == nil {
			bins[b] = &[2]acc{}
		}
		k := 0
		if l.Converted {
			k = 1
		}
		x := math.Log1p(early[l.LeadID])
		a := &bins[b][k]
		a.n++
		a.s += x
		a.ss += x * x
	}
	for _, b := range bins {
		c, n := b[1], b[0]
		if c.n < 5 || n.n < 5 {
			continue
		}
		mc, mn := c.s/c.n, n.s/n.n
		vc, vn := c.ss/c.n-mc*mc, n.ss/n.n-mn*mn
		se2 := vc/c.n + vn/n.n
		num += (mc - mn) / se2
		den += 1 / se2
	}
	z := num / math.Sqrt(den)
	if math.Abs(z) > 3.5 {
		t.Errorf("early activity differs by outcome at equal intent: z = %.2f", z)
	}
	t.Logf("leakage z = %.2f", z)
}

// TestLiveArrivals: live mode replays the initial leads over the ramp, then
// keeps new leads coming at the configured rate, without end.
func TestLiveArrivals(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Leads, cfg.Accounts, cfg.LeadsPerHour, cfg.Ramp = 30, 3, 60, time.Hour
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !g.End().IsZero() {
		t.Fatalf("live stream has an end: %v", g.End())
	}
	created := map[string]time.Time{}
	var e event.Event
	limit := cfg.Start.Add(cfg.Ramp + 10*time.Hour)
	for g.Next(&e) && e.OccurredAt.Before(limit) {
		if e.Type == event.LeadCreated {
			created[e.LeadID] = e.OccurredAt
		}
	}
	initial, later := 0, 0
	for _, at := range created {
		if at.Before(cfg.Start.Add(cfg.Ramp)) {
			initial++
		} else {
			later++
		}
	}
	if initial != cfg.Leads {
		t.Errorf("%d leads during the ramp, want %d", initial, cfg.Leads)
	}
	// 10 hours at 60 an hour: 600 ± 4σ.
	if later < 500 || later > 700 {
		t.Errorf("%d leads in 10 live hours, want about 600", later)
	}
}
