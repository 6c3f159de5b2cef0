package models

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/windows"
)

// Config configures a Model. Zero fields take the defaults noted.
type Config struct {
	Name       string        // "lead" or "churn"; default the Set's name
	Set        *features.Set // required: the features the model reads
	Version    string        // version before any artifact is loaded; default Name+"-cold"
	Bits       uint          // log2 of the hashed buckets for categorical values; default 18 (262,144)
	FTRL       FTRL          // online learner; defaults in FTRL
	Tiers      Tiers         // score thresholds; default hot ≥ 80, warm ≥ 50
	Rule       Rule          // cold-start rule; default none (bias 0 = 50 %): use LeadRule or ChurnRule
	Confidence float64       // labels at which the learned model gets half the weight; default 200
	// CalibrationRate is the SGD step of an online Platt calibration
	// (p = σ(a·logit + b)) learned from the delayed labels; 0 (the default)
	// keeps a and b fixed at those of the loaded artifact (1 and 0 when cold).
	// Off by default because labels arrive in outcome order (fast positives,
	// negatives at the horizon): on the Olist replay an online Platt at 0.01
	// raised the calibration error from 0.003 to 0.05 and cost 0.02 AUC.
	CalibrationRate float64
	// FakeNegatives handles delayed labels by the fake-negative method
	// (Ktena et al., "Addressing Delayed Feedback for Continuous Training
	// with Neural Networks in CTR Prediction", RecSys 2019): the scorer calls
	// Provisional when it starts waiting for a label, which learns the
	// vector as a negative at once; a positive label later is learned as a
	// positive and a negative one is only evaluated. Recent data then keeps
	// its negatives instead of showing only its fast positives, at the cost
	// of a known bias (q = p/(1+p)) that the monotone calibration absorbs.
	FakeNegatives bool
	// SampleAges are the ages of a pending label's wait (after its start)
	// at which the scorer samples the vector it serves, for training (see
	// Pending). Default none: only the vector at the start of the wait.
	SampleAges []windows.Span
	// Shuffle is the size of the shuffle buffer weight updates pass
	// through (see shuffle.go): the learner sees them in a locally random
	// order, each delayed by about Shuffle updates. 0 learns each at once.
	Shuffle int
	Drift   DriftConfig
	// OnDrift is called (synchronously, outside the model's lock) when a
	// drift detector fires: the scorer turns it into a model_drift alert.
	OnDrift    func(Drift)
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics
	Now        func() time.Time      // nil: time.Now
}

// DriftConfig configures the Page-Hinkley detectors on the log loss of
// labels and on the inputs of key features.
type DriftConfig struct {
	Delta    float64  // default 0.005
	Lambda   float64  // default 50 for log loss
	MinN     uint64   // default 200
	Features []string // numeric features whose input distribution is watched (on labelled vectors)
	// FeatureLambda is the threshold for feature detectors; default 100.
	FeatureLambda float64
}

// Drift describes a detected change.
type Drift struct {
	Model     string
	Version   string
	Signal    string  // "log_loss" or a feature name
	Direction int     // +1 the signal's mean rose, −1 it fell
	Labels    uint64  // labels seen when it fired
	Mean      float64 // the signal's mean before the change
	At        time.Time
}

// LeadConfig returns the default configuration of the lead-conversion model.
func LeadConfig(set *features.Set) Config {
	return Config{Name: "lead", Set: set, Rule: LeadRule(), FakeNegatives: true, SampleAges: LeadSampleAges, Shuffle: leadShuffle,
		Drift: DriftConfig{Features: []string{"touches_7d", "pricing_views_7d", "intent_30d"}}}
}

// ChurnConfig returns the default configuration of the churn model. Its
// rule keeps much of the weight (the learned model gets half at 3,000
// labels, not 200): on the simulator (seeds 1–3) the blend ranks accounts
// better than either part and is better calibrated; the learner alone
// trails the rule (churn AUC 0.88/0.88/0.86 of the oracle's, the blend
// 0.98/0.975/0.94).
func ChurnConfig(set *features.Set) Config {
	return Config{Name: "churn", Set: set, Rule: ChurnRule(), FakeNegatives: true, Confidence: churnConfidence,
		SampleAges: ChurnSampleAges, Shuffle: churnShuffle, Drift: DriftConfig{Features: []string{"logins_7d", "login_trend", "tickets_30d"}}}
}

// LeadSampleAges are LeadConfig's Config.SampleAges: the ages at which
// lead scores are read (the first day, the first week, the first month).
var LeadSampleAges = []windows.Span{windows.Day, 3 * windows.Day, 7 * windows.Day, 14 * windows.Day, 30 * windows.Day}

// leadShuffle is LeadConfig's Config.Shuffle. On the simulator (6,000
// leads over 300 days, seeds 1–3) the 7-day lead AUC over the oracle's goes
// from 0.938/0.943/0.945 without a buffer to 0.946/0.959/0.962 with 3,000
// (0.948/0.956/0.963 with 10,000); the Olist replay, too small to fill it,
// is unchanged.
const leadShuffle = 3000

// ChurnSampleAges are ChurnConfig's Config.SampleAges.
var ChurnSampleAges = []windows.Span{windows.Day, 7 * windows.Day}

// churnShuffle is ChurnConfig's Config.Shuffle: simulator churn AUC over
// the oracle's 0.981/0.975/0.942 → 0.987/0.976/0.946 (seeds 1–3), ECE
// 0.011/0.023/0.020 → 0.009/0.023/0.017.
const churnShuffle = 1000

// churnConfidence is ChurnConfig's Config.Confidence (see ChurnConfig).
const churnConfidence = 3000

// maxInputs bounds the active inputs of one vector (numeric + categorical +
// bias), so an example fits in fixed arrays on the stack.
const maxInputs = 40

// Model is an online logistic regression (FTRL-Proximal over the numeric
// inputs and hashed categorical values of a feature Set), calibrated
// online, blended with a cold-start Rule by a confidence that grows with the
// labels seen, and evaluated progressively.
//
// Safe for concurrent use: Score takes a read lock, Learn and Load a write
// lock. Score and Learn do not allocate.
type Model struct {
	cfg     Config
	set     *features.Set
	logger  *slog.Logger
	nNum    int
	nCat    int
	bias    int // index of the bias weight
	catBase int // first index of the hashed categorical buckets
	shift   uint
	rule    compiledRule
	now     func() time.Time

	mu       sync.RWMutex
	w        *weights
	ca, cb   float64 // Platt: p = σ(ca·logit + cb)
	labels   uint64
	version  string
	kind     string
	eval     Eval
	phLoss   *PageHinkley
	phFeat   []*PageHinkley
	featIdx  []int
	metrics  *modelMetrics
	loadedAt time.Time
	shuffle  *shuffler // nil: updates are learned at once
}

// New builds a model with no learned weights: it scores by its Rule until
// labels arrive or an artifact is loaded.
func New(cfg Config) (*Model, error) {
	if cfg.Set == nil {
		return nil, errors.New("models: Config.Set is required")
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Set.Name()
	}
	if cfg.Version == "" {
		cfg.Version = cfg.Name + "-cold"
	}
	if cfg.Bits == 0 {
		cfg.Bits = 18
	}
	if cfg.Bits > 26 {
		return nil, fmt.Errorf("models: Bits %d: at most 26", cfg.Bits)
	}
	cfg.FTRL = cfg.FTRL.withDefaults()
	cfg.Tiers = cfg.Tiers.withDefaults()
	if cfg.Tiers.Warm > cfg.Tiers.Hot || cfg.Tiers.Hot > 100 {
		return nil, fmt.Errorf("models: tiers warm %d, hot %d: want warm ≤ hot ≤ 100", cfg.Tiers.Warm, cfg.Tiers.Hot)
	}
	if cfg.Confidence == 0 {
		cfg.Confidence = 200
	}
	d := &cfg.Drift
	if d.Delta == 0 {
		d.Delta = 0.005
	}
	if d.Lambda == 0 {
		d.Lambda = 50
	}
	if d.FeatureLambda == 0 {
		d.FeatureLambda = 100
	}
	if d.MinN == 0 {
		d.MinN = 200
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	nNum, nCat := cfg.Set.Len()
	if nNum+nCat+1 > maxInputs {
		return nil, fmt.Errorf("models: %d features: at most %d", nNum+nCat, maxInputs-1)
	}
	rule, err := cfg.Rule.compile(cfg.Set)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	m := &Model{
		cfg: cfg, set: cfg.Set, logger: cfg.Logger.With("component", "models", "model", cfg.Name),
		nNum: nNum, nCat: nCat, bias: nNum, catBase: nNum + 1, shift: 64 - cfg.Bits,
		rule: rule, now: cfg.Now,
		ca: 1, version: cfg.Version, kind: KindFTRL,
		phLoss: NewPageHinkley(d.Delta, d.Lambda, d.MinN),
	}
	m.w = newWeights(cfg.FTRL, m.size())
	if cfg.Shuffle > 0 {
		m.shuffle = newShuffler(cfg.Shuffle)
	}
	for _, name := range d.Features {
		i, ok := cfg.Set.Index(name)
		if !ok {
			return nil, fmt.Errorf("models: drift feature %q unknown", name)
		}
		m.featIdx = append(m.featIdx, i)
		m.phFeat = append(m.phFeat, NewPageHinkley(d.Delta, d.FeatureLambda, d.MinN))
	}
	if cfg.Registerer != nil {
		m.metrics, err = newModelMetrics(m, cfg.Registerer)
		if err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
	}
	return m, nil
}

func (m *Model) size() int { return m.catBase + 1<<(64-m.shift) }

// Name returns the model's name ("lead", "churn").
func (m *Model) Name() string { return m.cfg.Name }

// Set returns the feature set the model reads.
func (m *Model) Set() *features.Set { return m.set }

// Version returns the version serving now.
func (m *Model) Version() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.version
}

// Labels returns the number of labels the model has learned from
// (including those behind a loaded artifact).
func (m *Model) Labels() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.labels
}

// example is one vector as model inputs: indexes and values, with the
// feature each came from (≥ 0 numeric, < 0 categorical −1−i, fromBias,
// fromRule) and its contribution to the rule's log-odds.
type example struct {
	n    int
	idx  [maxInputs]int32
	x    [maxInputs]float64
	from [maxInputs]int32
	rc   [maxInputs]float64 // rule contribution of each input
	rl   float64            // the rule's log-odds (Σ rc)
	kr   int                // position of the rule input, −1 if absent (rl = 0)
}

const (
	fromBias = -(1 << 20)
	fromRule = -(1 << 20) - 1
)

func (m *Model) encode(v *features.Vector, ex *example) {
	// n is local (ex.n would be a store and a reload per input).
	n := 0
	in := v.In
	if len(in) != len(v.Num) { // a Vector filled by hand
		in = nil
	}
	rl := 0.0 // the rule's log-odds, Σ rc
	for i := 0; i < m.nNum && i < len(v.Num); i++ {
		var x float64
		if in != nil {
			x = in[i]
		} else {
			x = v.Input(i)
		}
		if x == 0 || x-x != 0 { // zero, NaN or ±Inf
			continue
		}
		rc := m.rule.num[i] * x
		ex.idx[n], ex.x[n], ex.from[n], ex.rc[n] = int32(i), x, int32(i), rc
		rl += rc
		n++
	}
	ex.idx[n], ex.x[n], ex.from[n], ex.rc[n] = int32(m.bias), 1, fromBias, m.rule.bias
	rl += m.rule.bias
	n++
	for i := 0; i < m.nCat && i < len(v.CatHash); i++ {
		h := v.CatHash[i]
		if h == 0 {
			continue
		}
		rc := m.rule.catWeight(h)
		ex.idx[n], ex.x[n], ex.from[n], ex.rc[n] = int32(m.catBase+int(h>>m.shift)), 1, int32(-1-i), rc
		rl += rc
		n++
	}
	// The rule's log-odds is not an input of the learner. (Feeding it as
	// one more input was tried: no gain on the simulator, −0.006 AUC on
	// Olist.)
	ex.n, ex.kr, ex.rl = n, -1, rl
}

// unbias maps the learner's log-odds to the log-odds of the label: under
// fake negatives the learner estimates q = p/(1+p), so p = q/(1−q).
func (m *Model) unbias(ml float64) float64 {
	if !m.cfg.FakeNegatives {
		return ml
	}
	// q = σ(ml) and p = q/(1−q) give logit(p) = −log(e^(−ml) − 1), for
	// q < ½ (ml < 0); the learner cannot express p ≥ 1 beyond that.
	return -math.Log(math.Expm1(-min(ml, -1e-6)))
}

// confidence is the weight of the learned model: labels/(labels+K).
func (m *Model) confidence() float64 {
	return float64(m.labels) / (float64(m.labels) + m.cfg.Confidence)
}

// Score scores a vector: the blend in log-odds of the rule and the
// calibrated model, (1−c)·rule + c·(a·model + b), with c the confidence;
// each feature's contribution is its share of that sum, so the reasons add
// up to the score. Does not allocate.
func (m *Model) Score(v *features.Vector) Score {
	var s Score
	m.ScoreInto(v, &s)
	return s
}

// ScoreInto is Score writing into s (which it overwrites): it saves copying
// the Score on the hot path.
func (m *Model) ScoreInto(v *features.Vector, s *Score) {
	var ex example
	m.encode(v, &ex)
	var mc [maxInputs]float64
	m.mu.RLock()
	var ml float64
	for k := 0; k < ex.n; k++ {
		mc[k] = m.w.w(int(ex.idx[k])) * ex.x[k]
		ml += mc[k]
	}
	a, b, conf, version := m.ca, m.cb, m.confidence(), m.version
	m.mu.RUnlock()
	// contributions are shares of the learner's log-odds; the unbiasing is
	// monotone and spread over them in proportion
	if u := m.unbias(ml); ml != 0 && u != ml {
		r := u / ml
		for k := 0; k < ex.n; k++ {
			mc[k] *= r
		}
		ml = u
	}

	// every field is set below; reason slots past NPositive/NNegative keep
	// stale values nobody reads (zeroing the whole Score costs more)
	rl := ex.rl
	// the learner's weight on the rule input is spread over the features
	// in proportion to their rule contributions, so reasons stay per feature
	var share float64
	if ex.kr >= 0 {
		share = mc[ex.kr] / rl
	}
	var tot [maxInputs]float64
	for k := 0; k < ex.n; k++ {
		tot[k] = (1-conf)*ex.rc[k] + conf*a*(mc[k]+share*ex.rc[k])
	}
	if ex.kr >= 0 {
		tot[ex.kr] = 0
	}
	learned := sigmoid(a*ml + b)
	s.Logit = (1-conf)*rl + conf*(a*ml+b)
	s.Probability = sigmoid(s.Logit)
	s.Score = uint8(math.Round(100 * s.Probability))
	s.Tier = m.cfg.Tiers.Of(s.Score)
	s.Version, s.Confidence, s.Rule, s.Learned = version, conf, sigmoid(rl), learned
	m.reasons(v, &ex, &tot, s)
}

// reasons keeps the MaxReasons largest positive and negative contributions.
func (m *Model) reasons(v *features.Vector, ex *example, tot *[maxInputs]float64, s *Score) {
	var pos, neg [MaxReasons]int
	var pv, nv [MaxReasons]float64 // their |contribution|, descending
	np, nn := 0, 0
	for k := 0; k < ex.n; k++ {
		c := tot[k]
		if ex.from[k] == fromBias || ex.from[k] == fromRule || math.Abs(c) < 1e-4 {
			continue
		}
		if c > 0 {
			np = insertTop(&pos, &pv, np, k, c)
		} else {
			nn = insertTop(&neg, &nv, nn, k, -c)
		}
	}
	for j := range np {
		m.fill(v, ex, tot, &s.Positive[j], pos[j])
	}
	for j := range nn {
		m.fill(v, ex, tot, &s.Negative[j], neg[j])
	}
	s.NPositive, s.NNegative = np, nn
}

func (m *Model) fill(v *features.Vector, ex *example, tot *[maxInputs]float64, r *Reason, k int) {
	r.Contribution = tot[k]
	// evidence is written straight into r.Evidence (the vector keeps at
	// most MaxEvidence recent ids, so the append never reallocates)
	var ev []string
	r.Category = ""
	if f := ex.from[k]; f >= 0 {
		r.Feature, r.Value = m.set.NumName(int(f)), v.Num[f]
		ev = v.NumEvidence(int(f), r.Evidence[:0])
	} else {
		i := int(-1 - f)
		r.Feature, r.Value = m.set.CatName(i), 1
		if i < len(v.Cat) {
			r.Category = v.Cat[i]
		}
		if r.Category == "" {
			r.Category = "#" // the vector was decoded: only the hash is known
		}
		ev = v.CatEvidence(i, r.Evidence[:0])
	}
	r.NEvidence = min(len(ev), MaxEvidence)
}

// insertTop inserts item k with value x into the top list (length n, kept
// in descending x) and returns the new length.
func insertTop(top *[MaxReasons]int, val *[MaxReasons]float64, n, k int, x float64) int {
	if n == MaxReasons && x <= val[n-1] {
		return n
	}
	if n < MaxReasons {
		n++
	}
	j := n - 1
	for j > 0 && x > val[j-1] {
		top[j], val[j] = top[j-1], val[j-1]
		j--
	}
	top[j], val[j] = k, x
	return n
}

// Label is a delayed label for a vector scored earlier.
type Label struct {
	Vector   *features.Vector // the vector as it was scored (decoded from the scorer's timer)
	Positive bool             // the lead converted / the account churned within the horizon
	// Scored is the probability served when the vector was scored, for
	// progressive validation; 0 means unknown, and the current model's
	// probability is used.
	Scored float64
	Weight float64 // importance weight of the example; 0 means 1
}

// Learn evaluates the served probability against the label (progressive
// validation), then updates the calibration and the weights. Does not
// allocate unless a drift detector fires.
func (m *Model) Learn(l Label) {
	var ex example
	m.encode(l.Vector, &ex)
	y := 0.0
	if l.Positive {
		y = 1
	}
	wt := l.Weight
	if wt <= 0 {
		wt = 1
	}
	var drifts [4]Drift
	nd := 0
	m.mu.Lock()
	rl := ex.rl
	served := l.Scored
	known := served > 0 && served < 1
	// the learner's log-odds of this example are needed only to evaluate
	// a score not given or to calibrate (the update computes its own)
	var ml float64
	if !known || m.cfg.CalibrationRate > 0 {
		for k := 0; k < ex.n; k++ {
			ml += m.w.w(int(ex.idx[k])) * ex.x[k]
		}
		ml = m.unbias(ml)
	}
	if !known {
		c := m.confidence()
		served = sigmoid((1-c)*rl + c*(m.ca*ml+m.cb))
	}
	loss := m.eval.Observe(served, l.Positive)
	if dir := m.phLoss.Add(loss); dir > 0 {
		drifts[nd] = Drift{Signal: "log_loss", Direction: dir, Mean: m.eval.logLoss / float64(m.eval.n)}
		nd++
	}
	for j, i := range m.featIdx {
		if dir := m.phFeat[j].Add(l.Vector.In[i]); dir != 0 && nd < len(drifts) {
			drifts[nd] = Drift{Signal: m.set.NumName(i), Direction: dir}
			nd++
		}
	}
	if r := m.cfg.CalibrationRate; r > 0 {
		g := (sigmoid(m.ca*ml+m.cb) - y) * wt
		m.ca -= r * g * ml
		m.cb -= r * g
		m.ca = max(m.ca, 0.05) // keep the calibration monotone increasing
	}
	if !m.cfg.FakeNegatives || l.Positive {
		m.update(&ex, l.Positive, wt)
	}
	m.labels++
	labels, version := m.labels, m.version
	m.mu.Unlock()

	if m.metrics != nil {
		m.metrics.labels.Inc()
		if l.Positive {
			m.metrics.positives.Inc()
		}
	}
	for j := range nd {
		d := &drifts[j]
		d.Model, d.Version, d.Labels, d.At = m.cfg.Name, version, labels, m.now()
		m.logger.Warn("drift detected", "signal", d.Signal, "direction", d.Direction, "labels", labels)
		if m.metrics != nil {
			m.metrics.drift.WithLabelValues(d.Signal).Inc()
		}
		if m.cfg.OnDrift != nil {
			m.cfg.OnDrift(*d)
		}
	}
}

// Provisional learns v as a negative example right away, without
// evaluating it, when Config.FakeNegatives is set (else it does nothing).
// Call it once per sample of a pending label, when the sample is taken
// (the first when the wait starts).
func (m *Model) Provisional(v *features.Vector) { m.ProvisionalN(v, 1) }

// ProvisionalN is Provisional for a sample of weight n (Pending.Take).
func (m *Model) ProvisionalN(v *features.Vector, n int) {
	if !m.cfg.FakeNegatives || n <= 0 {
		return
	}
	var ex example
	m.encode(v, &ex)
	m.mu.Lock()
	m.update(&ex, false, float64(n))
	m.mu.Unlock()
}

// learnSample learns one fake-negative sample whose label is known now: a
// negative and, if positive, a positive, each with weight wt. Not
// evaluated.
func (m *Model) learnSample(v *features.Vector, positive bool, wt float64) {
	var ex example
	m.encode(v, &ex)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update(&ex, false, wt)
	if positive {
		m.update(&ex, true, wt)
	}
}

// learnOnly learns v with label y and weight wt, without evaluation or
// drift detection.
func (m *Model) learnOnly(v *features.Vector, positive bool, wt float64) {
	var ex example
	m.encode(v, &ex)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.update(&ex, positive, wt)
}

// Metrics returns the progressive-validation metrics since the model was
// built or ResetMetrics was called.
func (m *Model) Metrics() Metrics {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.eval.Metrics()
}

// ResetMetrics restarts progressive validation (e.g. after a warm-up).
func (m *Model) ResetMetrics() {
	m.mu.Lock()
	m.eval = Eval{}
	m.mu.Unlock()
}

// Bits returns log2 of the model's hashed categorical buckets.
func (m *Model) Bits() uint { return m.cfg.Bits }
