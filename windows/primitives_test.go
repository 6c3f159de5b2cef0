package windows

import (
	"fmt"
	"math"
	"testing"
)

const t0 Sec = 1_767_225_600 // 2026-01-01T00:00:00Z

func TestStats(t *testing.T) {
	var s Stats
	s.Add(t0+10, 5)
	s.Add(t0+5, -1) // out of order
	s.Add(t0+20, 2)
	if s.Count != 3 || s.Sum != 6 || s.Min != -1 || s.Max != 5 || s.First != t0+5 || s.Last != t0+20 {
		t.Fatalf("got %+v", s)
	}
	var m Stats
	m.Merge(s)
	m.Merge(Stats{})
	var o Stats
	o.Add(t0+1, 10)
	m.Merge(o)
	if m.Count != 4 || m.Max != 10 || m.First != t0+1 || m.Mean() != 4 {
		t.Fatalf("merge: got %+v", m)
	}
}

func TestLastFirst(t *testing.T) {
	var l Last
	var f First
	for _, x := range []struct {
		t Sec
		v float64
	}{{t0 + 5, 1}, {t0 + 9, 2}, {t0 + 2, 3}, {t0 + 9, 4}} {
		l.Add(x.t, x.v)
		f.Add(x.t, x.v)
	}
	if l.At != t0+9 || l.V != 4 {
		t.Errorf("last = %+v", l)
	}
	if f.At != t0+2 || f.V != 3 {
		t.Errorf("first = %+v", f)
	}
}

func TestDistinctAccuracy(t *testing.T) {
	for _, n := range []int{0, 1, 5, 20, 50, 100} {
		// Average relative error over many independent item sets.
		var errSum float64
		const trials = 200
		for tr := range trials {
			var d Distinct
			for i := range n {
				d.AddString(fmt.Sprintf("page-%d-%d", tr, i))
				d.AddString(fmt.Sprintf("page-%d-%d", tr, i)) // duplicates do not count
			}
			errSum += math.Abs(float64(d.Estimate()) - float64(n))
		}
		mean := errSum / trials
		if limit := 0.12*float64(n) + 0.5; mean > limit {
			t.Errorf("n=%d: mean abs error %.2f > %.2f", n, mean, limit)
		}
	}
	var full Distinct
	for i := range 5000 {
		full.AddHash(Hash(uint64(i)))
	}
	if full.Estimate() != Saturated {
		t.Errorf("saturated estimate = %d", full.Estimate())
	}
}

func TestTumbling(t *testing.T) {
	var w Tumbling
	size := Hour
	steps := []struct {
		t  Sec
		ok bool
	}{
		{t0 + 10, true},
		{t0 + 3599, true},
		{t0 + 3600, true},   // opens hour 1; hour 0 becomes Prev
		{t0 + 100, true},    // out of order into Prev
		{t0 + 7300, true},   // hour 2
		{t0 + 3700, true},   // hour 1 is Prev
		{t0 + 200, false},   // hour 0 no longer kept
		{t0 + 4*3600, true}, // hour 4
		{t0 + 3*3600, true}, // hour 3: between Prev(2) and Cur(4): replaces Prev
	}
	for i, s := range steps {
		if got := w.Add(size, s.t, 1); got != s.ok {
			t.Fatalf("step %d: Add(%d) = %v, want %v", i, s.t-t0, got, s.ok)
		}
	}
	if w.Start != t0+4*3600 || w.Cur.Count != 1 || w.PrevStart != t0+3*3600 || w.Prev.Count != 1 {
		t.Fatalf("got %+v", w)
	}
	if w.End(size) != t0+5*3600 {
		t.Fatalf("end = %d", w.End(size)-t0)
	}
	if w.At(size, t0+3*3600+5).Count != 1 || w.At(size, t0).Count != 0 {
		t.Fatal("At")
	}
}

func TestHopping(t *testing.T) {
	var h Hopping[[6]uint16]
	hop := Minute
	add := func(min Sec, ok bool) {
		t.Helper()
		if got := h.Add(hop, t0+min*60, 1); got != ok {
			t.Fatalf("Add(min %d) = %v", min, got)
		}
	}
	add(0, true)
	add(1, true)
	add(1, true)
	add(5, true)
	add(0, true) // still in the ring (minutes 0..5)
	add(8, true) // ring slides to minutes 3..8
	add(2, false)
	cases := []struct {
		now Sec
		k   int
		n   uint32
	}{
		{8, 6, 2},  // minutes 3..8: 5 and 8
		{8, 1, 1},  // minute 8 only
		{5, 6, 1},  // as of minute 5: minutes 0..5 but 0..2 were cleared
		{9, 6, 2},  // minutes 4..9
		{13, 6, 1}, // minutes 8..13
		{14, 6, 0},
		{4, 6, 0}, // as of minute 4: 3..4 hold nothing
	}
	for _, c := range cases {
		if got := h.Sum(hop, t0+c.now*60, c.k); got != c.n {
			t.Errorf("Sum(now=%d, k=%d) = %d, want %d", c.now, c.k, got, c.n)
		}
	}
	// A jump longer than the ring clears all of it.
	add(1000, true)
	if got := h.Total(hop, t0+1000*60); got != 1 {
		t.Errorf("after jump total = %d", got)
	}
}

func TestSession(t *testing.T) {
	gap := 30 * Minute
	m := func(x Sec) Sec { return t0 + x*60 }
	var s Session
	s.Add(gap, m(0))
	s.Add(gap, m(20))
	s.Add(gap, m(100)) // new session; [0,20] becomes Prev
	if s.Start != m(100) || s.PrevStart != m(0) || s.PrevEnd != m(20) || s.PrevEvents != 2 {
		t.Fatalf("got %+v", s)
	}
	s.Add(gap, m(60)) // out of order: 40 after prev, 40 before latest: own session between
	if s.Count() != 3 || s.Done != 1 || s.PrevStart != m(60) {
		t.Fatalf("between: got %+v", s)
	}
	s.Add(gap, m(80)) // within gap of both Prev (60) and latest (100): merges them
	if s.Start != m(60) || s.End != m(100) || s.Events != 3 || s.PrevStart != 0 || s.Count() != 2 {
		t.Fatalf("merge: got %+v", s)
	}
	if s.Closes(gap) != m(130) || !s.Open(gap, m(129)) || s.Open(gap, m(130)) {
		t.Fatalf("closes %d", s.Closes(gap))
	}
	if s.Duration() != 40*60 || s.DoneSec != 20*60 {
		t.Fatalf("durations %d %d", s.Duration(), s.DoneSec)
	}
}

func TestPrimitiveCodecRoundTrip(t *testing.T) {
	type all struct {
		St Stats
		L  Last
		F  First
		D  Distinct
		T  Tumbling
		H  Hopping[[60]uint16]
		S  Session
	}
	var a all
	for i := range 500 {
		ts := t0 + Sec(i*37%9000)
		a.St.Add(ts, float64(i))
		a.L.Add(ts, float64(i))
		a.F.Add(ts, float64(i))
		a.D.AddHash(Hash(uint64(i % 40)))
		a.T.Add(Hour, ts, 1)
		a.H.Add(Minute, ts, 1)
		a.S.Add(5*Minute, ts)
	}
	var e Enc
	a.St.Encode(&e)
	a.L.Encode(&e)
	a.F.Encode(&e)
	a.D.Encode(&e)
	a.T.Encode(&e)
	a.H.Encode(&e)
	a.S.Encode(&e)
	var b all
	d := Dec{B: e.B}
	b.St.Decode(&d)
	b.L.Decode(&d)
	b.F.Decode(&d)
	b.D.Decode(&d)
	b.T.Decode(&d)
	b.H.Decode(&d)
	b.S.Decode(&d)
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("round trip differs:\n%+v\n%+v", a, b)
	}
	// Every truncation is an error, never a panic.
	for n := range len(e.B) {
		d := Dec{B: e.B[:n]}
		var c all
		c.St.Decode(&d)
		c.L.Decode(&d)
		c.F.Decode(&d)
		c.D.Decode(&d)
		c.T.Decode(&d)
		c.H.Decode(&d)
		c.S.Decode(&d)
		if d.Done() == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
}
