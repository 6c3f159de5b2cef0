package models

import "math"

// Weight updates can go through a shuffle buffer (Config.Shuffle) before
// they reach the learner. The order in which a scorer produces updates is
// far from random: a lead's samples get their positive all at once when it
// converts, negatives of new keys come in bursts, and conversions arrive
// weeks before the negatives of the same cohort. FTRL's per-coordinate
// rates shrink with every update, so what it learns first weighs most: on
// the simulator, learning the same updates in label-time order instead of a
// random one cost 0.08 of lead AUC (0.99 → 0.91 of the oracle's). The
// buffer keeps the last Shuffle updates and learns a random one of them
// each time a new one arrives (a reservoir shuffle): the learner sees a
// locally random order, each update delayed by Shuffle updates on average.
// Until the model has seen 8×Shuffle updates the buffer is smaller (an
// eighth of them), so a young model learns without waiting for it to fill.

// queued is one weight update waiting in the shuffle buffer: the inputs of
// an example and its label and weight.
type queued struct {
	n   uint8
	y   bool
	wt  float64
	idx [maxInputs]int32
	x   [maxInputs]float64
}

type shuffler struct {
	buf   []queued
	n     int    // slots filled
	seen  uint64 // updates so far
	state uint64 // splitmix64: deterministic, no allocation
}

// shuffleFraction: the buffer holds at most 1/shuffleFraction of the
// updates seen.
const shuffleFraction = 8

func newShuffler(size int) *shuffler {
	return &shuffler{buf: make([]queued, size), state: 0x9e3779b97f4a7c15}
}

func (s *shuffler) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// update learns the example ex with label y and weight wt, now or, with a
// shuffle buffer, in its place: a random buffered update is learned and ex
// takes its slot. The caller holds m.mu.
func (m *Model) update(ex *example, y bool, wt float64) {
	s := m.shuffle
	if s == nil {
		m.apply(ex.idx[:ex.n], ex.x[:ex.n], y, wt)
		return
	}
	// The buffer holds at most an eighth of the updates so far: a young
	// model (or a small stream) is not kept waiting for a full buffer.
	s.seen++
	var q *queued
	if s.n < len(s.buf) && uint64(s.n) < 1+s.seen/shuffleFraction {
		q = &s.buf[s.n]
		s.n++
	} else {
		q = &s.buf[s.next()%uint64(s.n)]
		m.applyQueued(q)
	}
	q.n, q.y, q.wt = uint8(ex.n), y, wt
	copy(q.idx[:], ex.idx[:ex.n])
	copy(q.x[:], ex.x[:ex.n])
}

func (m *Model) applyQueued(q *queued) { m.apply(q.idx[:q.n], q.x[:q.n], q.y, q.wt) }

// apply is one logistic-loss FTRL step on the current weights.
func (m *Model) apply(idx []int32, x []float64, y bool, wt float64) {
	var ml float64
	for k, i := range idx {
		ml += m.w.w(int(i)) * x[k]
	}
	g := sigmoid(ml)
	if y {
		g--
	}
	if g*wt == 0 || math.IsNaN(g) {
		return
	}
	m.w.update(idx, x, g*wt)
}

// Flush learns every update waiting in the shuffle buffer (in a random
// order), so that the weights reflect every label given so far: before
// taking an Artifact meant to replace the model, or in tests.
func (m *Model) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.shuffle
	if s == nil {
		return
	}
	for s.n > 0 {
		i := int(s.next() % uint64(s.n))
		q := s.buf[i]
		s.buf[i] = s.buf[s.n-1]
		s.n--
		m.applyQueued(&q)
	}
}
