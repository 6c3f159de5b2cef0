package models

import "math"

// FTRL holds the hyper-parameters of FTRL-Proximal (McMahan et al., "Ad
// Click Prediction: a View from the Trenches", KDD 2013): a per-coordinate
// adaptive learning rate alpha/(beta+sqrt(Σg²)) with L1 and L2
// regularization. L1 keeps rare hashed values at exactly zero until they
// have earned a weight.
type FTRL struct {
	Alpha float64 `json:"alpha"` // learning rate scale; default 0.1
	Beta  float64 `json:"beta"`  // learning rate smoothing; default 1
	L1    float64 `json:"l1"`    // L1 strength; default 0.5
	L2    float64 `json:"l2"`    // L2 strength; default 1
}

func (f FTRL) withDefaults() FTRL {
	if f.Alpha == 0 {
		f.Alpha = 0.1
	}
	if f.Beta == 0 {
		f.Beta = 1
	}
	if f.L1 == 0 {
		f.L1 = 0.5
	}
	if f.L2 == 0 {
		f.L2 = 1
	}
	return f
}

// weights is the FTRL state over a fixed index space: z (accumulated
// adjusted gradients) and n (accumulated squared gradients). The weight of a
// coordinate is derived from them on demand.
type weights struct {
	p    FTRL
	z, n []float64
	wc   []float64 // the weight of each coordinate, kept current by update: scoring reads it
}

func newWeights(p FTRL, size int) *weights {
	return &weights{p: p, z: make([]float64, size), n: make([]float64, size), wc: make([]float64, size)}
}

// w returns the current weight of coordinate i.
func (ws *weights) w(i int) float64 { return ws.wc[i] }

// weight derives the weight of coordinate i from z and n.
func (ws *weights) weight(i int) float64 {
	z := ws.z[i]
	if math.Abs(z) <= ws.p.L1 {
		return 0
	}
	s := 1.0
	if z < 0 {
		s = -1
	}
	return -(z - s*ws.p.L1) / ((ws.p.Beta+math.Sqrt(ws.n[i]))/ws.p.Alpha + ws.p.L2)
}

// update applies one logistic-loss gradient g = (p − y)·weight to the
// coordinates idx with inputs x.
func (ws *weights) update(idx []int32, x []float64, g float64) {
	for k, i := range idx {
		gi := g * x[k]
		if gi == 0 {
			continue
		}
		n := ws.n[i]
		sigma := (math.Sqrt(n+gi*gi) - math.Sqrt(n)) / ws.p.Alpha
		ws.z[i] += gi - sigma*ws.wc[i]
		ws.n[i] = n + gi*gi
		ws.wc[i] = ws.weight(int(i))
	}
}

// refresh recomputes every cached weight (after z and n were set in bulk).
func (ws *weights) refresh() {
	for i := range ws.wc {
		if ws.z[i] != 0 {
			ws.wc[i] = ws.weight(i)
		}
	}
}

// set makes coordinate i have weight w, as if n had accumulated n0: how a
// batch-trained artifact seeds the online learner, which then keeps
// learning at the rate n0 implies.
func (ws *weights) set(i int, w, n0 float64) {
	ws.n[i] = n0
	if w == 0 {
		ws.z[i] = 0
		return
	}
	s := 1.0
	if w < 0 {
		s = -1
	}
	ws.z[i] = -w*((ws.p.Beta+math.Sqrt(n0))/ws.p.Alpha+ws.p.L2) - s*ws.p.L1
	ws.wc[i] = ws.weight(i)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func logit(p float64) float64 {
	p = min(max(p, 1e-12), 1-1e-12)
	return math.Log(p / (1 - p))
}
