package retrain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"gonum.org/v1/gonum/optimize"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/windows"
)

// Config configures one retraining run. Zero fields take the defaults noted.
type Config struct {
	Conn driver.Conn // ClickHouse connection (chstore.Store.Conn)
	DB   string      // database (chstore.Store.DB)

	Model string // "lead" (default) or "churn"
	// Since and Until bound the start times of the examples (lead_created,
	// subscription_started); default: everything until now.
	Since, Until time.Time
	// Offsets are the as-of times of each key's examples after its start;
	// default 0, 1 day and 7 days (leads) or 0, 30, 60, 90 days (churn).
	Offsets []time.Duration
	Holdout float64 // latest fraction of examples (by as-of time) held out; default 0.3
	L2      float64 // L2 strength of the batch logistic regression; default 1
	Folds   int     // cross-validation folds of the decision tree; default 5
	// TreeRows caps the training rows of the decision tree (an even sample
	// of the training part); default 2,000.
	TreeRows int
	// Promote registers the logistic regression and promotes it when it
	// beats the champion's holdout AUC (or there is no usable champion).
	Promote bool
	Actor   string // recorded with the promotion; default "crmctl"
	Version string // version name; default <model>-<UTC time>-logreg

	Progress io.Writer // progress lines while it runs; nil: none
	Logger   *slog.Logger
	Now      func() time.Time
}

// Result is one model's evaluation on the holdout.
type Result struct {
	Name    string
	Kind    string
	Version string
	Holdout models.Metrics
	// CVAccuracy and CVF1 are the decision tree's cross-validated figures
	// on the training part (golearn's evaluation); 0 for other kinds.
	CVAccuracy, CVF1 float64
	Note             string
}

// Report is the outcome of a run.
type Report struct {
	Examples, Positives int
	Train, Holdout      int
	Split               time.Time // as-of time where the holdout starts
	Challengers         []Result
	Champion            *Result // the current champion on the same holdout; nil if none
	Registered          string  // version registered ("" when not)
	Promoted            bool
	Decision            string // why it was or was not promoted
}

type run struct {
	cfg   Config
	start time.Time
	log   *slog.Logger
}

func (r *run) progress(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.log.Info(msg)
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), msg)
	}
}

// example is one training row: the encoded inputs and the vector kept for
// evaluation through the serving code.
type example struct {
	asof  windows.Sec
	label bool
	vec   []byte // features.Vector.AppendBinary
	cats  []string
	nums  []float64
}

// Run builds the point-in-time training set, trains the challengers,
// evaluates them and the champion on a time-split holdout, registers the
// logistic regression and promotes it if it wins.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Conn == nil || cfg.DB == "" {
		return nil, errors.New("retrain: Conn and DB are required")
	}
	if cfg.Model == "" {
		cfg.Model = "lead"
	}
	if cfg.Holdout <= 0 || cfg.Holdout >= 1 {
		cfg.Holdout = 0.3
	}
	if cfg.L2 <= 0 {
		cfg.L2 = 1
	}
	if cfg.Folds < 2 {
		cfg.Folds = 5
	}
	if cfg.TreeRows <= 0 {
		cfg.TreeRows = 2000
	}
	if cfg.Actor == "" {
		cfg.Actor = "crmctl"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &run{cfg: cfg, start: time.Now(), log: cfg.Logger.With("component", "retrain", "model", cfg.Model)}

	var set *features.Set
	var mcfg func(*features.Set) models.Config
	var label features.Label
	var startType event.Type
	var offsets []time.Duration
	var err error
	switch cfg.Model {
	case "lead":
		set, err = features.Lead()
		mcfg, label, startType = models.LeadConfig, features.LeadLabel(), event.LeadCreated
		offsets = []time.Duration{0, 24 * time.Hour, 7 * 24 * time.Hour}
	case "churn":
		set, err = features.Account()
		mcfg, label, startType = models.ChurnConfig, features.ChurnLabel(), event.SubscriptionStarted
		offsets = []time.Duration{0, 30 * 24 * time.Hour, 60 * 24 * time.Hour, 90 * 24 * time.Hour}
	default:
		return nil, fmt.Errorf("retrain: unknown model %q (lead or churn)", cfg.Model)
	}
	if err != nil {
		return nil, fmt.Errorf("retrain: %w", err)
	}
	if len(cfg.Offsets) > 0 {
		offsets = cfg.Offsets
	}
	now := cfg.Now()
	until := cfg.Until
	if until.IsZero() {
		until = now
	}
	q := features.Query{Set: set, DB: cfg.DB, StartType: startType, From: windows.SecOf(cfg.Since), To: windows.SecOf(until),
		Cutoff: windows.SecOf(now), Label: &label}
	if cfg.Since.IsZero() {
		q.From = 1
	}
	for _, o := range offsets {
		q.Offsets = append(q.Offsets, windows.SpanOf(o))
	}

	r.progress("building the %s training set from %s.events (as of start + %v, label %v within %v)", cfg.Model, cfg.DB, offsets, label.Types, label.Horizon.Duration())
	var exs []example
	err = q.Read(ctx, cfg.Conn, func(e *features.Example) error {
		exs = append(exs, example{asof: e.AsOf, label: e.Label, vec: e.Vector.AppendBinary(nil),
			cats: slices.Clone(e.Vector.Cat), nums: slices.Clone(e.Vector.Num)})
		if len(exs)%10000 == 0 {
			r.progress("… %d examples", len(exs))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("retrain: %w", err)
	}
	rep := &Report{Examples: len(exs)}
	for _, e := range exs {
		if e.label {
			rep.Positives++
		}
	}
	r.progress("training set: %d examples, %d positive", rep.Examples, rep.Positives)
	if len(exs) < 20 || rep.Positives < 2 || rep.Positives == len(exs) {
		return rep, fmt.Errorf("retrain: %d examples with %d positive: %w", len(exs), rep.Positives, ErrTooFewExamples)
	}
	// time split: examples are in as-of order
	cut := int(float64(len(exs)) * (1 - cfg.Holdout))
	train, hold := exs[:cut], exs[cut:]
	rep.Train, rep.Holdout, rep.Split = len(train), len(hold), hold[0].asof.Time()
	r.progress("time split at %s: %d train, %d holdout", rep.Split.Format(time.RFC3339), len(train), len(hold))

	proto, err := models.New(mcfg(set))
	if err != nil {
		return nil, fmt.Errorf("retrain: %w", err)
	}
	version := cfg.Version
	if version == "" {
		version = fmt.Sprintf("%s-%s-logreg", cfg.Model, now.UTC().Format("20060102T150405Z"))
	}
	art, err := r.logreg(ctx, proto, set, train, version, mcfg(set).FakeNegatives)
	if err != nil {
		return nil, err
	}
	lr := Result{Name: "logistic regression (L-BFGS)", Kind: models.KindLogReg, Version: version}
	if lr.Holdout, err = evaluate(mcfg(set), art, set, hold); err != nil {
		return nil, fmt.Errorf("retrain: evaluate: %w", err)
	}
	art.Metrics = map[string]float64{"holdout_auc": lr.Holdout.AUC, "holdout_log_loss": lr.Holdout.LogLoss,
		"holdout_ece": lr.Holdout.ECE, "holdout_n": float64(lr.Holdout.N), "train_n": float64(len(train))}
	r.progress("logistic regression: holdout AUC %.4f, log loss %.4f, ECE %.4f", lr.Holdout.AUC, lr.Holdout.LogLoss, lr.Holdout.ECE)
	rep.Challengers = append(rep.Challengers, lr)

	r.progress("decision tree (golearn ID3 on discretized features, %d-fold cross-validation)", cfg.Folds)
	tr := r.tree(set, train, hold, cfg.Folds)
	rep.Challengers = append(rep.Challengers, tr)
	if tr.Note != "" {
		r.progress("decision tree: %s", tr.Note)
	} else {
		r.progress("decision tree: holdout AUC %.4f; cross-validated accuracy %.4f, F1 %.4f", tr.Holdout.AUC, tr.CVAccuracy, tr.CVF1)
	}

	reg := models.NewRegistry(cfg.Conn, cfg.DB, cfg.Logger, cfg.Now)
	champ, err := r.champion(ctx, reg, mcfg(set), set, hold)
	if err != nil {
		return rep, err
	}
	rep.Champion = champ

	status := models.StatusRegistered
	win := champ == nil || !(champ.Holdout.AUC >= lr.Holdout.AUC)
	switch {
	case champ == nil:
		rep.Decision = "no usable champion"
	case win:
		rep.Decision = fmt.Sprintf("holdout AUC %.4f beats the champion %s's %.4f", lr.Holdout.AUC, champ.Version, champ.Holdout.AUC)
	default:
		rep.Decision = fmt.Sprintf("holdout AUC %.4f does not beat the champion %s's %.4f", lr.Holdout.AUC, champ.Version, champ.Holdout.AUC)
		status = models.StatusRejected
	}
	if err := reg.Register(ctx, art, status); err != nil {
		return rep, fmt.Errorf("retrain: %w", err)
	}
	rep.Registered = version
	r.progress("registered %s (%s)", version, status)
	if cfg.Promote && win {
		if err := reg.Promote(ctx, cfg.Model, version, cfg.Actor); err != nil {
			return rep, fmt.Errorf("retrain: %w", err)
		}
		rep.Promoted = true
		r.progress("promoted %s: %s", version, rep.Decision)
	} else {
		r.progress("not promoted: %s", map[bool]string{true: "promotion not requested (" + rep.Decision + ")", false: rep.Decision}[win])
	}
	return rep, nil
}

// ErrTooFewExamples is returned (wrapped) when the training set cannot
// train anything.
var ErrTooFewExamples = errors.New("too few examples")

// evaluate scores the holdout through the serving code: a Model loaded
// with the artifact.
func evaluate(mc models.Config, a *models.Artifact, set *features.Set, hold []example) (models.Metrics, error) {
	m, err := models.New(mc)
	if err != nil {
		return models.Metrics{}, err
	}
	if err := m.Load(a); err != nil {
		return models.Metrics{}, err
	}
	var v features.Vector
	probs := make([]float64, len(hold))
	labels := make([]bool, len(hold))
	for i, e := range hold {
		if err := set.DecodeVector(e.vec, &v); err != nil {
			return models.Metrics{}, err
		}
		probs[i], labels[i] = m.Score(&v).Probability, e.label
	}
	return models.Evaluate(probs, labels), nil
}

// champion evaluates the current champion on the holdout; nil when there
// is none or it cannot be loaded (another feature schema).
func (r *run) champion(ctx context.Context, reg *models.Registry, mc models.Config, set *features.Set, hold []example) (*Result, error) {
	version, _, err := reg.Champion(ctx, r.cfg.Model)
	if errors.Is(err, models.ErrNoChampion) {
		r.progress("no champion yet")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("retrain: %w", err)
	}
	a, _, err := reg.Get(ctx, r.cfg.Model, version)
	if err != nil {
		return nil, fmt.Errorf("retrain: champion: %w", err)
	}
	met, err := evaluate(mc, a, set, hold)
	if errors.Is(err, models.ErrIncompatible) {
		r.progress("champion %s cannot score these features (%v): not comparable", version, err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("retrain: champion: %w", err)
	}
	r.progress("champion %s: holdout AUC %.4f, log loss %.4f", version, met.AUC, met.LogLoss)
	return &Result{Name: "champion", Kind: a.Kind, Version: version, Holdout: met}, nil
}

// logreg trains a logistic regression over the model's own input encoding
// with L-BFGS (gonum/optimize), so its weights load into the online model.
// With fake negatives, every example is also a negative, as online.
func (r *run) logreg(ctx context.Context, proto *models.Model, set *features.Set, train []example, version string, fakeNeg bool) (*models.Artifact, error) {
	type row struct {
		idx []int32
		x   []float64
		y   bool
	}
	compact := map[int32]int32{}
	var orig []uint32
	rows := make([]row, 0, len(train))
	var v features.Vector
	var idx [40]int32
	var x [40]float64
	for _, e := range train {
		if err := set.DecodeVector(e.vec, &v); err != nil {
			return nil, fmt.Errorf("retrain: %w", err)
		}
		n := proto.Encode(&v, idx[:], x[:])
		rw := row{idx: make([]int32, n), x: slices.Clone(x[:n]), y: e.label}
		for k := range n {
			c, ok := compact[idx[k]]
			if !ok {
				c = int32(len(orig))
				compact[idx[k]] = c
				orig = append(orig, uint32(idx[k]))
			}
			rw.idx[k] = c
		}
		rows = append(rows, rw)
	}
	dim := len(orig)
	nNum, _ := set.Len()
	bias := int32(-1)
	if c, ok := compact[int32(nNum)]; ok {
		bias = c
	}
	l2 := r.cfg.L2
	evals := 0
	// loss and gradient in one pass; gonum asks for them separately, so
	// cache the last point
	var lastB []float64
	var lastF float64
	lastG := make([]float64, dim)
	eval := func(b []float64) {
		if lastB != nil && slices.Equal(lastB, b) {
			return
		}
		evals++
		if evals%25 == 0 {
			r.progress("… L-BFGS evaluation %d, loss %.5f", evals, lastF)
		}
		clear(lastG)
		f := 0.0
		for _, rw := range rows {
			z := 0.0
			for k, i := range rw.idx {
				z += b[i] * rw.x[k]
			}
			p := 1 / (1 + math.Exp(-z))
			// negative part (always under fake negatives, else when y = 0)
			g := 0.0
			if fakeNeg || !rw.y {
				f -= math.Log(max(1e-12, 1-p))
				g += p
			}
			if rw.y {
				f -= math.Log(max(1e-12, p))
				g += p - 1
			}
			for k, i := range rw.idx {
				lastG[i] += g * rw.x[k]
			}
		}
		for i := range b {
			if int32(i) != bias {
				f += 0.5 * l2 * b[i] * b[i]
				lastG[i] += l2 * b[i]
			}
		}
		lastF = f
		lastB = append(lastB[:0], b...)
	}
	prob := optimize.Problem{
		Func: func(b []float64) float64 { eval(b); return lastF },
		Grad: func(g, b []float64) { eval(b); copy(g, lastG) },
	}
	r.progress("logistic regression: %d examples, %d weights, L2 %g, L-BFGS", len(rows), dim, l2)
	res, err := optimize.Minimize(prob, make([]float64, dim), &optimize.Settings{MajorIterations: 300,
		GradientThreshold: 1e-5, Converger: &optimize.FunctionConverge{Absolute: 1e-7, Iterations: 20}}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("retrain: L-BFGS: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.progress("L-BFGS: %v after %d iterations, %d evaluations, loss %.5f", res.Status, res.Stats.MajorIterations, evals, res.F)
	a := &models.Artifact{Format: models.ArtifactFormat, Model: r.cfg.Model, Version: version, Kind: models.KindLogReg,
		Features: set.Fingerprint(), Bits: proto.Bits(), CreatedAt: r.cfg.Now().UTC(), Index: orig, W: res.X,
		CalibA: 1, Labels: uint64(len(rows)), FakeNegatives: fakeNeg,
		Description: fmt.Sprintf("batch logistic regression, L2 %g, %d examples until %s", l2, len(rows), train[len(train)-1].asof.Time().Format(time.RFC3339))}
	return a, nil
}
