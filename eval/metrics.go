package eval

import (
	"math"
	"slices"
	"time"
)

// AUCStdErr is the Hanley–McNeil (1982) standard error of an AUC measured
// on pos positives and neg negatives: enough to tell a real gap from the
// noise of a few hundred labels.
func AUCStdErr(auc float64, pos, neg int) float64 {
	if pos == 0 || neg == 0 || math.IsNaN(auc) {
		return math.NaN()
	}
	q1 := auc / (2 - auc)
	q2 := 2 * auc * auc / (1 + auc)
	p, n := float64(pos), float64(neg)
	v := (auc*(1-auc) + (p-1)*(q1-auc*auc) + (n-1)*(q2-auc*auc)) / (p * n)
	return math.Sqrt(max(v, 0))
}

// Quantile returns the q-quantile (0..1) of ds by the nearest-rank method;
// 0 for none. ds is sorted in place.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
