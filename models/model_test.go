package models_test

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/windows"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func leadSet(t testing.TB) *features.Set {
	s, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func str(k, v string) event.Property { return event.Property{Key: k, Kind: event.KindString, Str: v} }

// synthLead builds the vector of a lead: engaged leads view pricing and
// request demos; origin matters too. It returns the true probability.
func synthLead(r *rand.Rand, set *features.Set, i int, v *features.Vector) float64 {
	st := set.NewState()
	origins := []string{"paid_search", "organic_search", "email", "social"}
	o := r.IntN(len(origins))
	at := t0.Add(time.Duration(i) * time.Minute)
	e := event.Event{ID: "c", Type: event.LeadCreated, OccurredAt: at, LeadID: "l", Properties: event.Properties{str("origin", origins[o])}}
	st.Update(&e)
	engaged := r.Float64()
	n := int(engaged * 6)
	for k := range n {
		e := event.Event{ID: "p", Type: event.PageView, OccurredAt: at.Add(time.Duration(k+1) * time.Minute), LeadID: "l",
			Properties: event.Properties{str("page_type", "pricing")}}
		st.Update(&e)
	}
	if engaged > 0.8 {
		e := event.Event{ID: "d", Type: event.DemoRequested, OccurredAt: at.Add(10 * time.Minute), LeadID: "l"}
		st.Update(&e)
	}
	st.Vector(windows.SecOf(at.Add(10*time.Minute)), v)
	logit := -3 + 3*engaged + []float64{1, 0, 0.5, -1}[o]
	return 1 / (1 + math.Exp(-logit))
}

func TestColdStartIsTheRule(t *testing.T) {
	set := leadSet(t)
	m, err := models.New(models.LeadConfig(set))
	if err != nil {
		t.Fatal(err)
	}
	st := set.NewState()
	for i, typ := range []event.Type{event.LeadCreated, event.DemoRequested, event.PageView} {
		e := event.Event{ID: string(rune('a' + i)), Type: typ, OccurredAt: t0.Add(time.Duration(i) * time.Minute), LeadID: "l",
			Properties: event.Properties{str("page_type", "pricing")}}
		st.Update(&e)
	}
	var v features.Vector
	st.Vector(windows.SecOf(t0.Add(5*time.Minute)), &v)
	s := m.Score(&v)
	if s.Confidence != 0 || s.Probability != s.Rule {
		t.Fatalf("cold model: confidence %v, p %v, rule %v", s.Confidence, s.Probability, s.Rule)
	}
	if s.Version != "lead-cold" || s.NPositive == 0 {
		t.Fatalf("version %q, %d positive reasons", s.Version, s.NPositive)
	}
	found := false
	for _, r := range s.Positive[:s.NPositive] {
		if r.Feature == "intent_30d" {
			found = r.NEvidence == 1 && r.Evidence[0] == "b" && r.Value == 1
		}
	}
	if !found {
		t.Errorf("positive reasons %+v: want intent_30d = 1 citing the demo request b", s.Positive)
	}
	// reasons and bias add up to the logit
	sum := models.LeadRule().Bias
	pos, neg := s.Reasons()
	for _, r := range append(pos, neg...) {
		sum += r.Contribution
	}
	if s.NPositive < models.MaxReasons && math.Abs(sum-s.Logit) > 1e-9 {
		t.Errorf("reasons sum to %v, logit %v", sum, s.Logit)
	}
	js := string(s.AppendReasonsJSON(nil))
	if js[0] != '{' || js[len(js)-1] != '}' {
		t.Errorf("reasons JSON %s", js)
	}
	if s.Tier != (models.Tiers{Hot: 80, Warm: 50}).Of(s.Score) {
		t.Errorf("tier %s for score %d", s.Tier, s.Score)
	}
}

// TestLearnsFromDelayedLabels: labels drawn from a known model; after
// learning with fake negatives the progressive AUC approaches the oracle's.
func TestLearnsFromDelayedLabels(t *testing.T) {
	set := leadSet(t)
	reg := prometheus.NewRegistry()
	cfg := models.LeadConfig(set)
	cfg.Registerer = reg
	m, err := models.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var v, scratch features.Vector
	type pend struct {
		p models.Pending
		y bool
	}
	var queue []pend
	var truth []float64
	var labels []bool
	for i := range 20000 {
		p := synthLead(r, set, i, &v)
		y := r.Float64() < p
		s := m.Score(&v)
		m.Provisional(&v)
		queue = append(queue, pend{models.NewPending(s.Probability, v.At, v.At.Add(90*windows.Day), v.AppendBinary(nil)), y})
		if i >= 10000 {
			truth, labels = append(truth, p), append(labels, y)
		}
		if i == 10000 {
			m.ResetMetrics() // warm-up over
		}
		if len(queue) > 500 { // labels arrive 500 leads later
			q := queue[0]
			queue = queue[1:]
			if err := m.LearnPending(q.p, q.y, &scratch); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := m.Metrics()
	oracle := models.AUC(truth, labels)
	t.Logf("progressive AUC %.4f (oracle %.4f), log loss %.4f, ECE %.4f, n %d", got.AUC, oracle, got.LogLoss, got.ECE, got.N)
	if got.AUC < 0.95*oracle {
		t.Errorf("AUC %.4f < 0.95 × oracle %.4f", got.AUC, oracle)
	}
	if got.ECE > 0.05 {
		t.Errorf("calibration error %.4f", got.ECE)
	}
	if m.Labels() < 19000 {
		t.Errorf("labels %d", m.Labels())
	}
	n, err := reg.Gather()
	if err != nil || len(n) < 5 {
		t.Errorf("metrics: %d families, %v", len(n), err)
	}
}

func TestArtifactRoundTrip(t *testing.T) {
	set := leadSet(t)
	m, _ := models.New(models.LeadConfig(set))
	r := rand.New(rand.NewPCG(3, 4))
	var v features.Vector
	for i := range 3000 {
		p := synthLead(r, set, i, &v)
		m.Learn(models.Label{Vector: &v, Positive: r.Float64() < p})
	}
	a := m.Artifact("lead-test-1")
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a2, err := models.UnmarshalArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := models.New(models.LeadConfig(set))
	if err := m2.Load(a2); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		synthLead(r, set, i, &v)
		s1, s2 := m.Score(&v), m2.Score(&v)
		if math.Abs(s1.Probability-s2.Probability) > 1e-12 || s2.Version != "lead-test-1" {
			t.Fatalf("loaded model scores %v (%s), original %v", s2.Probability, s2.Version, s1.Probability)
		}
	}
	// another feature schema is refused and leaves the model as it was
	acct, _ := features.Account()
	a2.Features = acct.Fingerprint()
	if err := m2.Load(a2); !errors.Is(err, models.ErrIncompatible) {
		t.Errorf("load with another schema: %v", err)
	}
	if m2.Version() != "lead-test-1" {
		t.Errorf("version changed to %s", m2.Version())
	}
	// batch weights: a logreg artifact seeds the learner with exactly its weights
	lr := &models.Artifact{Format: models.ArtifactFormat, Model: "lead", Version: "lr-1", Kind: models.KindLogReg,
		Features: set.Fingerprint(), Bits: 18, Index: []uint32{0}, W: []float64{-1.5}, Labels: 1e9, FakeNegatives: true}
	nNum, _ := set.Len()
	lr.Index[0] = uint32(nNum) // the bias
	if err := m2.Load(lr); err != nil {
		t.Fatal(err)
	}
	s := m2.Score(&v)
	q := 1 / (1 + math.Exp(1.5))
	if math.Abs(s.Learned-q/(1-q)) > 1e-9 {
		t.Errorf("learned p %v with bias weight −1.5 under fake negatives, want %v", s.Learned, q/(1-q))
	}
	lr.FakeNegatives = false
	if err := m2.Load(lr); !errors.Is(err, models.ErrIncompatible) {
		t.Errorf("artifact without fake negatives loaded into a fake-negative model: %v", err)
	}
}

func TestPageHinkley(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ph := models.NewPageHinkley(0.005, 20, 100)
	for i := range 2000 {
		if ph.Add(0.3+0.05*r.NormFloat64()) != 0 {
			t.Fatalf("false alarm at %d", i)
		}
	}
	fired := -1
	for i := range 2000 {
		if ph.Add(0.6+0.05*r.NormFloat64()) == 1 {
			fired = i
			break
		}
	}
	if fired < 0 || fired > 200 {
		t.Errorf("shift detected after %d observations", fired)
	}
}

func TestDriftCallback(t *testing.T) {
	set := leadSet(t)
	var got []models.Drift
	cfg := models.LeadConfig(set)
	cfg.FakeNegatives = false // Learn is called directly, with every label
	cfg.OnDrift = func(d models.Drift) { got = append(got, d) }
	m, _ := models.New(cfg)
	r := rand.New(rand.NewPCG(7, 8))
	var v features.Vector
	for i := range 6000 {
		p := synthLead(r, set, i, &v)
		if i > 3000 {
			p = 1 - p // the world flips
		}
		m.Learn(models.Label{Vector: &v, Positive: r.Float64() < p})
	}
	var after []models.Drift
	for _, d := range got {
		if d.Signal == "log_loss" && d.Labels > 3000 {
			after = append(after, d)
		}
		if d.Signal == "log_loss" && d.Labels <= 3000 && d.Direction > 0 && d.Labels > 1000 {
			t.Errorf("log-loss drift before the change: %+v", d)
		}
	}
	if len(after) == 0 || after[0].Model != "lead" || after[0].Labels > 3500 {
		t.Fatalf("the flip at 3000 labels was not reported within 500: %+v", got)
	}
	t.Logf("first drift: %+v", got[0])
}

func TestEvalAUCMatchesExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var e models.Eval
	var ps []float64
	var ys []bool
	for range 5000 {
		p := r.Float64()
		y := r.Float64() < p
		e.Observe(p, y)
		ps, ys = append(ps, p), append(ys, y)
	}
	if d := math.Abs(e.Metrics().AUC - models.AUC(ps, ys)); d > 0.002 {
		t.Errorf("histogram AUC off by %v", d)
	}
	if got := models.AUC([]float64{0.1, 0.2, 0.3}, []bool{false, true, true}); got != 1 {
		t.Errorf("AUC = %v, want 1", got)
	}
	if got := models.AUC([]float64{0.5, 0.5}, []bool{false, true}); got != 0.5 {
		t.Errorf("ties: AUC = %v, want 0.5", got)
	}
}

func TestTiersConfig(t *testing.T) {
	set := leadSet(t)
	cfg := models.LeadConfig(set)
	cfg.Tiers = models.Tiers{Hot: 40, Warm: 60}
	if _, err := models.New(cfg); err == nil {
		t.Error("warm above hot accepted")
	}
	tiers := models.Tiers{Hot: 70, Warm: 30}
	for s, want := range map[uint8]models.Tier{0: models.Cold, 29: models.Cold, 30: models.Warm, 69: models.Warm, 70: models.Hot, 100: models.Hot} {
		if got := tiers.Of(s); got != want {
			t.Errorf("score %d: %s, want %s", s, got, want)
		}
	}
}

func FuzzDecodePending(f *testing.F) {
	set, _ := features.Lead()
	var v features.Vector
	st := set.NewState()
	st.Vector(1, &v)
	p := models.NewPending(0.3, 1, 99, v.AppendBinary(nil))
	f.Add(p.AppendBinary(nil))
	p.Take(v.AppendBinary(nil), 2)
	f.Add(p.AppendBinary(nil))
	f.Add(pendingV3(v.AppendBinary(nil), v.AppendBinary(nil)))
	m, _ := models.New(models.LeadConfig(set))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := models.DecodePending(b)
		if err != nil {
			return
		}
		var scratch features.Vector
		_ = m.LearnPending(p, true, &scratch)
		m.Due(&p, p.Deadline, 0)
		m.SampleDue(b, p.Deadline)
	})
}

// pendingV3 encodes a Pending as format 3 (releases before sample ages
// were exact): format, scored, deadline, count, then length-prefixed
// vectors.
func pendingV3(vs ...[]byte) []byte {
	b := []byte{3}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(0.25))
	b = binary.LittleEndian.AppendUint32(b, 1000)
	b = append(b, byte(len(vs)))
	for _, v := range vs {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// TestPendingSamples follows the scorer's pattern — at each event, ask Due
// for the samples due before it and take them as of the time Due gives —
// and checks which vectors become samples: the vector served at each age,
// and one shared sample for the ages a quiet lead slept through.
func TestPendingSamples(t *testing.T) {
	set := leadSet(t)
	cfg := models.LeadConfig(set)
	m, err := models.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := set.NewState()
	var v features.Vector
	at := func(h float64) windows.Sec { return windows.SecOf(t0.Add(time.Duration(h * float64(time.Hour)))) }
	vecAt := func(s windows.Sec) []byte {
		st.Vector(s, &v)
		return v.AppendBinary(nil)
	}
	p := models.NewPending(0.1, at(0), at(90*24), vecAt(at(0)))
	buf := p.AppendBinary(nil)
	head := at(0)
	type sample struct {
		hours  float64
		weight uint8
	}
	// events at these hours; re-scores stop 24 h after the newest event
	for _, h := range []float64{1, 12, 30, 60, 100, 2000} {
		if !m.SampleDue(buf, at(h)) {
			head = at(h)
			models.SetScored(buf, h/1e4)
			continue
		}
		q, err := models.DecodePending(buf)
		if err != nil {
			t.Fatal(err)
		}
		for {
			s, n := m.Due(&q, at(h), head.Add(windows.Day))
			if n == 0 {
				break
			}
			q.Take(vecAt(s), n)
		}
		buf = q.AppendBinary(nil)
		head = at(h)
		if !models.SetScored(buf, h/1e4) {
			t.Fatal("SetScored refused its own encoding")
		}
	}
	// the deadline: samples due before it
	q, err := models.DecodePending(buf)
	if err != nil {
		t.Fatal(err)
	}
	for {
		s, n := m.Due(&q, q.Deadline, head.Add(windows.Day))
		if n == 0 {
			break
		}
		q.Take(vecAt(s), n)
	}
	buf = q.AppendBinary(nil)
	q, err = models.DecodePending(buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pending with %d samples of an engaged-free lead: %d bytes", len(q.Samples), len(buf))
	var got []sample
	for _, s := range q.Samples {
		if err := set.DecodeVector(s.Vector, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, sample{float64(v.At.Time().Sub(t0)) / float64(time.Hour), s.Weight})
	}
	// the start; 1 d and 3 d as of the age (the lead was re-scored until
	// then: 24 h < 12 h + 24 h, 72 h < 60 h + 24 h); 7, 14 and 30 d slept
	// through after 100 h: one sample as of its last re-score (124 h),
	// weight 3
	want := []sample{{0, 1}, {24, 1}, {72, 1}, {124, 3}}
	if len(got) != len(want) {
		t.Fatalf("samples (hour, weight) %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("samples (hour, weight) %v, want %v", got, want)
		}
	}
	if q.Scored != 0.2 || q.Deadline != p.Deadline || q.Taken != len(models.LeadSampleAges) {
		t.Errorf("scored %v deadline %v taken %d", q.Scored, q.Deadline, q.Taken)
	}
	if err := m.LearnPending(q, true, &v); err != nil {
		t.Fatal(err)
	}
	if m.Labels() != 1 || m.Metrics().N != 1 {
		t.Errorf("one pending = one label: labels %d, evaluated %d", m.Labels(), m.Metrics().N)
	}
	for n := range len(buf) {
		if _, err := models.DecodePending(buf[:n]); err == nil {
			t.Errorf("%d of %d bytes decoded", n, len(buf))
		}
	}
}

// TestPendingV3 decodes a Pending written by an earlier release: its
// samples are learned, no new one is taken, and its served probability
// can still be updated in place.
func TestPendingV3(t *testing.T) {
	set := leadSet(t)
	m, _ := models.New(models.LeadConfig(set))
	var v features.Vector
	set.NewState().Vector(windows.SecOf(t0), &v)
	b := pendingV3(v.AppendBinary(nil), v.AppendBinary(nil))
	if !models.SetScored(b, 0.5) {
		t.Fatal("SetScored refused format 3")
	}
	p, err := models.DecodePending(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Samples) != 2 || p.Scored != 0.5 || p.Deadline != 1000 {
		t.Fatalf("decoded %+v", p)
	}
	if m.SampleDue(b, 999) {
		t.Error("format 3 takes new samples")
	}
	if _, n := m.Due(&p, 999, 0); n != 0 {
		t.Error("format 3 has samples due")
	}
	if err := m.LearnPending(p, true, &v); err != nil || m.Labels() != 1 {
		t.Errorf("learn: %v, labels %d", err, m.Labels())
	}
}
