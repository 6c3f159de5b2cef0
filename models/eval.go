package models

import (
	"math"
	"slices"
)

// Eval accumulates progressive-validation metrics: each label is compared
// with the probability served before it was known. AUC comes from a
// histogram of 4,096 equal probability bins (ties inside a bin count
// half): constant memory (64 KiB) and no logarithm per label. Not safe for
// concurrent use; Model guards its own.
type Eval struct {
	n, pos  uint64
	logLoss float64
	brier   float64
	hp, hn  [aucBins]uint64
	cp, cy  [calBins]float64 // per probability decile: Σp, Σy
	cn      [calBins]uint64
}

const (
	aucBins = 4096
	calBins = 10
)

// Observe records one label y for the served probability p and returns
// its log loss.
func (e *Eval) Observe(p float64, y bool) float64 {
	p = min(max(p, 1e-7), 1-1e-7)
	yv, loss := 0.0, 0.0
	if y {
		yv = 1
		e.pos++
		loss = -math.Log(p)
	} else {
		loss = -math.Log(1 - p)
	}
	e.logLoss += loss
	e.n++
	e.brier += (p - yv) * (p - yv)
	b := min(int(p*aucBins), aucBins-1)
	if y {
		e.hp[b]++
	} else {
		e.hn[b]++
	}
	c := min(int(p*calBins), calBins-1)
	e.cp[c] += p
	e.cy[c] += yv
	e.cn[c]++
	return loss
}

// Metrics is a snapshot of an Eval.
type Metrics struct {
	N        uint64  `json:"n"`         // labels observed
	Positive uint64  `json:"positive"`  // positive labels
	AUC      float64 `json:"auc"`       // area under the ROC curve; NaN with one class only
	LogLoss  float64 `json:"log_loss"`  // mean negative log-likelihood
	Brier    float64 `json:"brier"`     // mean squared error of the probability
	ECE      float64 `json:"ece"`       // expected calibration error over 10 equal-width bins
	BaseRate float64 `json:"base_rate"` // Positive/N
}

// Metrics computes the current figures.
func (e *Eval) Metrics() Metrics {
	m := Metrics{N: e.n, Positive: e.pos, AUC: math.NaN()}
	if e.n == 0 {
		return m
	}
	n := float64(e.n)
	m.LogLoss, m.Brier, m.BaseRate = e.logLoss/n, e.brier/n, float64(e.pos)/n
	var negBelow, area float64
	for b := range aucBins {
		hp, hn := float64(e.hp[b]), float64(e.hn[b])
		area += hp * (negBelow + hn/2)
		negBelow += hn
	}
	if e.pos > 0 && e.pos < e.n {
		m.AUC = area / (float64(e.pos) * float64(e.n-e.pos))
	}
	for c := range calBins {
		if e.cn[c] > 0 {
			m.ECE += math.Abs(e.cp[c]-e.cy[c]) / n
		}
	}
	return m
}

// AUC returns the exact area under the ROC curve of scores against labels
// (ties count half), or NaN when only one class is present.
func AUC(scores []float64, labels []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	var pos, neg, area, negBelow float64
	for i := 0; i < len(idx); {
		j := i
		var tp, tn float64
		for ; j < len(idx) && scores[idx[j]] == scores[idx[i]]; j++ {
			if labels[idx[j]] {
				tp++
			} else {
				tn++
			}
		}
		area += tp * (negBelow + tn/2)
		negBelow += tn
		pos, neg = pos+tp, neg+tn
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return area / (pos * neg)
}

// Evaluate computes Metrics exactly (AUC by sorting) for probabilities and
// labels: what a retrain reports for a holdout.
func Evaluate(probs []float64, labels []bool) Metrics {
	var e Eval
	for i, p := range probs {
		e.Observe(p, labels[i])
	}
	m := e.Metrics()
	m.AUC = AUC(probs, labels)
	return m
}
