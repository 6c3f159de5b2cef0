package retrain

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/evaluation"
	"github.com/sjwhitworth/golearn/trees"

	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
)

// discretizer maps feature values to the categorical attributes golearn's
// ID3 trees want (its trees score at chance on raw floats): numeric values
// to "0" or a quartile of the non-zero training values, categorical values
// to one of the 30 most frequent or "other".
type discretizer struct {
	names []string
	keep  []bool      // attributes with more than one value in training (the rest cannot split)
	edges [][]float64 // per numeric feature: quartile edges of non-zero values
	top   []map[string]bool
}

func newDiscretizer(set *features.Set, train []example) *discretizer {
	d := &discretizer{names: append(set.NumNames(), set.CatNames()...)}
	nNum, nCat := set.Len()
	for i := range nNum {
		var xs []float64
		for _, e := range train {
			if e.nums[i] != 0 {
				xs = append(xs, e.nums[i])
			}
		}
		slices.Sort(xs)
		var edges []float64
		if len(xs) > 0 {
			for _, q := range []float64{0.25, 0.5, 0.75} {
				edges = append(edges, xs[int(q*float64(len(xs)-1))])
			}
		}
		d.edges = append(d.edges, slices.Compact(edges))
	}
	for i := range nCat {
		count := map[string]int{}
		for _, e := range train {
			count[e.cats[i]]++
		}
		vals := make([]string, 0, len(count))
		for v := range count {
			vals = append(vals, v)
		}
		slices.SortFunc(vals, func(a, b string) int {
			if count[a] != count[b] {
				return count[b] - count[a]
			}
			if a < b {
				return -1
			}
			return 1
		})
		top := map[string]bool{}
		for _, v := range vals[:min(30, len(vals))] {
			top[v] = true
		}
		d.top = append(d.top, top)
	}
	d.keep = make([]bool, len(d.names))
	seen := make([]string, len(d.names))
	for k := range train {
		for i, v := range d.values(&train[k]) {
			if k == 0 {
				seen[i] = v
			} else if v != seen[i] {
				d.keep[i] = true
			}
		}
	}
	return d
}

func (d *discretizer) values(e *example) []string {
	out := make([]string, 0, len(d.names))
	for i, x := range e.nums {
		switch {
		case x == 0:
			out = append(out, "0")
		default:
			b := 0
			for b < len(d.edges[i]) && x > d.edges[i][b] {
				b++
			}
			out = append(out, "q"+strconv.Itoa(b))
		}
	}
	for i, c := range e.cats {
		switch {
		case c == "":
			out = append(out, "none")
		case d.top[i][c]:
			out = append(out, c)
		default:
			out = append(out, "other")
		}
	}
	return out
}

// instances builds golearn's table: one categorical attribute per feature
// and the class attribute "label" ("0"/"1").
func (d *discretizer) instances(exs []example) *base.DenseInstances {
	inst := base.NewDenseInstances()
	attrs := make([]*base.CategoricalAttribute, len(d.names))
	specs := make([]base.AttributeSpec, len(d.names))
	for i, n := range d.names {
		if !d.keep[i] {
			continue
		}
		attrs[i] = base.NewCategoricalAttribute()
		attrs[i].SetName(n)
		specs[i] = inst.AddAttribute(attrs[i])
	}
	cls := base.NewCategoricalAttribute()
	cls.SetName("label")
	clsSpec := inst.AddAttribute(cls)
	if err := inst.AddClassAttribute(cls); err != nil {
		panic(err) // guarded by the caller
	}
	if err := inst.Extend(len(exs)); err != nil {
		panic(err)
	}
	for r := range exs {
		for i, v := range d.values(&exs[r]) {
			if d.keep[i] {
				inst.Set(specs[i], r, attrs[i].GetSysValFromString(v))
			}
		}
		y := "0"
		if exs[r].label {
			y = "1"
		}
		inst.Set(clsSpec, r, cls.GetSysValFromString(y))
	}
	return inst
}

// leafProb walks the tree with an example's discretized values and returns
// the share of positives at its leaf: a probability for AUC (golearn's
// Predict gives hard classes only).
func leafProb(root *trees.DecisionTreeNode, names []string, vals []string) float64 {
	byName := make(map[string]string, len(names))
	for i, n := range names {
		byName[n] = vals[i]
	}
	cur := root
	for cur != nil {
		if cur.Children == nil || cur.SplitRule == nil || cur.SplitRule.SplitAttr == nil {
			break
		}
		next, ok := cur.Children[byName[cur.SplitRule.SplitAttr.GetName()]]
		if !ok {
			break // unseen value: the node's own distribution
		}
		cur = next
	}
	if cur == nil {
		return 0
	}
	total := 0
	for _, n := range cur.ClassDist {
		total += n
	}
	if total == 0 {
		return 0
	}
	return float64(cur.ClassDist["1"]) / float64(total)
}

// tree trains golearn's ID3 decision tree on discretized features, with
// its cross-validation on the training part, and evaluates it on the
// holdout. golearn panics on many inputs; a panic becomes a Note.
func (r *run) tree(set *features.Set, train, hold []example, folds int) (res Result) {
	res = Result{Name: "decision tree (golearn ID3)", Kind: models.KindTree}
	defer func() {
		if p := recover(); p != nil {
			res.Note = fmt.Sprintf("golearn failed: %v", p)
		}
	}()
	// golearn's ID3 is slow (tens of seconds for a few thousand rows on
	// this machine): train it on an even sample of at most maxRows
	if maxRows := r.cfg.TreeRows; len(train) > maxRows {
		sample := make([]example, 0, maxRows)
		for i := range maxRows {
			sample = append(sample, train[i*len(train)/maxRows])
		}
		train = sample
	}
	d := newDiscretizer(set, train)
	inst := d.instances(train)
	cms, err := evaluation.GenerateCrossFoldValidationConfusionMatrices(inst, trees.NewID3DecisionTree(0), folds)
	if err != nil {
		res.Note = fmt.Sprintf("cross-validation: %v", err)
		return res
	}
	res.CVAccuracy, _ = evaluation.GetCrossValidatedMetric(cms, evaluation.GetAccuracy)
	res.CVF1, _ = evaluation.GetCrossValidatedMetric(cms, func(c evaluation.ConfusionMatrix) float64 {
		f := evaluation.GetF1Score("1", c)
		if math.IsNaN(f) {
			return 0
		}
		return f
	})
	t := trees.NewID3DecisionTree(0)
	if err := t.Fit(inst); err != nil {
		res.Note = fmt.Sprintf("fit: %v", err)
		return res
	}
	probs := make([]float64, len(hold))
	labels := make([]bool, len(hold))
	for i := range hold {
		probs[i], labels[i] = leafProb(t.Root, d.names, d.values(&hold[i])), hold[i].label
	}
	res.Holdout = models.Evaluate(probs, labels)
	return res
}
