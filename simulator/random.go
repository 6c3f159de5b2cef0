package simulator

import (
	"math"
	"math/rand/v2"
	"time"
)

// rng wraps a PCG source with the few distributions the behaviour model
// needs. Each entity owns one, seeded from (Config.Seed, entity), so an
// entity's behaviour does not depend on how its events interleave with
// others'.
type rng struct{ *rand.Rand }

func newRNG(seed uint64, stream uint64) rng {
	return rng{rand.New(rand.NewPCG(seed, stream*0x9e3779b97f4a7c15+0x632be59bd9b4e019))}
}

func (r rng) bernoulli(p float64) bool { return r.Float64() < p }

// uniform returns a uniform value in [lo, hi).
func (r rng) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// dur returns a uniform duration in [lo, hi).
func (r rng) dur(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// poisson draws a Poisson count; a normal approximation above λ = 30.
func (r rng) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		n := int(math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64()))
		return max(n, 0)
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// gamma draws Gamma(shape, scale) with Marsaglia and Tsang's method.
func (r rng) gamma(shape, scale float64) float64 {
	if shape < 1 {
		return r.gamma(shape+1, scale) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * scale
		}
	}
}

// pick returns an index drawn with the given (unnormalized) weights.
func (r rng) pick(w []float64) int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	u := r.Float64() * total
	for i, x := range w {
		u -= x
		if u < 0 {
			return i
		}
	}
	return len(w) - 1
}

// workTime returns an offset into a day, weighted to office hours (UTC;
// the model has no time zones).
func (r rng) workTime() time.Duration {
	var h float64
	if r.bernoulli(0.8) {
		h = r.uniform(8, 19)
	} else {
		h = r.uniform(0, 24)
	}
	return time.Duration(h * float64(time.Hour))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
