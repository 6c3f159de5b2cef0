package simulator

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/crmstream/crmstream/event"
)

// world is what all entities of one generator share.
type world struct {
	cfg          Config
	end          time.Time // zero in live mode
	truth        Truth
	landingPages []landingPage
	lpWeights    []float64
	baseLogit    float64 // conversion log-odds of an average lead
	intentWeight float64 // weight of the hidden intent in the log-odds
	reps         []string
}

func (w *world) rep(r rng) string { return w.reps[r.IntN(len(w.reps))] }

// entity is a lead or an account: a day-by-day event source.
type entity interface {
	// step generates the next day into the builder's buffer and returns the
	// time before which all the entity's events have now been generated.
	step() (until time.Time, more bool)
	// observe sees each emitted event, in time order, to keep the truth.
	observe(e *event.Event)
	// finish closes the entity's truth; end is the stream end (zero: none).
	finish(end time.Time)
}

// cursor holds one entity's generated but not yet emitted events.
type cursor struct {
	ent   entity
	b     *builder
	order int // admission order: breaks ties deterministically
	head  int
	until time.Time
	done  bool
}

// fill generates until the earliest pending event is safe to emit (no
// later-generated event can precede it). It reports whether one is pending.
func (c *cursor) fill() bool {
	for !c.done && (c.head == len(c.b.buf) || !c.b.buf[c.head].OccurredAt.Before(c.until)) {
		if c.head == len(c.b.buf) {
			c.b.buf, c.head = c.b.buf[:0], 0
		} else if c.head > 64 && c.head > len(c.b.buf)/2 {
			n := copy(c.b.buf, c.b.buf[c.head:])
			c.b.buf, c.head = c.b.buf[:n], 0
		}
		until, more := c.ent.step()
		c.until, c.done = until, !more
		// Entities append in generation order (a session, then the
		// e-mail sent that morning): sort what is pending.
		if p := c.b.buf[c.head:]; !slices.IsSortedFunc(p, byTime) {
			slices.SortStableFunc(p, byTime)
		}
	}
	return c.head < len(c.b.buf)
}

func byTime(a, b event.Event) int { return a.OccurredAt.Compare(b.OccurredAt) }

func (c *cursor) peek() time.Time { return c.b.buf[c.head].OccurredAt }

// Generator produces the canonical event stream in event-time order and
// reports the ground truth as it goes. It generates lazily, one day of one
// entity at a time, so memory is bounded by the entities alive at once,
// not by the stream's length (live mode never ends).
//
// A Generator is not safe for concurrent use.
type Generator struct {
	w        *world
	heap     []heapItem // min-heap of live cursors by (next event time, order)
	order    int
	arrivals arrivals
	accounts []accountArrival
	nextAcct int
	finished bool
}

// heapItem caches the cursor's next event time so heap comparisons stay
// in one cache line.
type heapItem struct {
	at    int64 // unix nanoseconds of the cursor's next event
	order int
	c     *cursor
}

type accountArrival struct {
	at       time.Time
	idx      int
	existing bool
}

// New returns a generator for cfg. truth receives the ground truth (nil:
// discarded).
func New(cfg Config, truth Truth) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	if truth == nil {
		truth = discardTruth{}
	}
	w := &world{cfg: cfg, end: cfg.end(), truth: truth, baseLogit: -3.1, intentWeight: 1.6}
	wr := newRNG(cfg.Seed, 1<<61)
	w.landingPages = newLandingPages(wr)
	for _, lp := range w.landingPages {
		w.lpWeights = append(w.lpWeights, lp.weight)
	}
	for i := range cfg.Reps {
		w.reps = append(w.reps, fmt.Sprintf("rep-%02d", i+1))
	}
	g := &Generator{w: w}
	ar := newRNG(cfg.Seed, 1<<62)
	spread := cfg.Span
	if cfg.LeadsPerHour > 0 {
		spread = cfg.Ramp
	}
	times := make([]time.Time, cfg.Leads)
	for i := range times {
		times[i] = cfg.Start.Add(time.Duration(ar.Int64N(int64(spread)))).Truncate(time.Millisecond)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	fixed := &fixedArrivals{times: times}
	g.arrivals = fixed
	if cfg.LeadsPerHour > 0 {
		// Live: the initial leads over the ramp, then an endless stream.
		p := &poissonArrivals{r: ar, next: cfg.Start.Add(cfg.Ramp), meanGap: float64(time.Hour) / cfg.LeadsPerHour, n: cfg.Leads}
		p.advance()
		g.arrivals = &chainArrivals{first: fixed, then: p}
	}
	// 70 % of accounts are customers when the stream starts; the rest sign
	// up over the first half of the span.
	for i := range cfg.Accounts {
		a := accountArrival{idx: i, existing: ar.bernoulli(0.7)}
		if a.existing {
			a.at = cfg.Start.Add(time.Duration(ar.Int64N(int64(cfg.Ramp))))
		} else {
			half := min(cfg.Span/2, 120*day)
			a.at = cfg.Start.Add(time.Duration(ar.Int64N(int64(half))))
		}
		a.at = a.at.Truncate(time.Millisecond)
		g.accounts = append(g.accounts, a)
	}
	sort.SliceStable(g.accounts, func(i, j int) bool { return g.accounts[i].at.Before(g.accounts[j].at) })
	return g, nil
}

// End returns the end of the stream's event time (zero in live mode).
func (g *Generator) End() time.Time { return g.w.end }

// nextArrival returns the next entity to admit and its start, or false.
func (g *Generator) nextArrival() (time.Time, bool) {
	lt, lok := g.arrivals.peek()
	var at time.Time
	aok := g.nextAcct < len(g.accounts)
	if aok {
		at = g.accounts[g.nextAcct].at
	}
	switch {
	case lok && aok:
		if at.Before(lt) {
			return at, true
		}
		return lt, true
	case lok:
		return lt, true
	case aok:
		return at, true
	}
	return time.Time{}, false
}

func (g *Generator) admit() {
	lt, lok := g.arrivals.peek()
	aok := g.nextAcct < len(g.accounts)
	var c *cursor
	if aok && (!lok || g.accounts[g.nextAcct].at.Before(lt)) {
		a := g.accounts[g.nextAcct]
		g.nextAcct++
		acc := newAccount(g.w, a.idx, a.at, a.existing)
		c = &cursor{ent: acc, b: &acc.b}
	} else {
		idx := g.arrivals.pop()
		l := newLead(g.w, idx, lt)
		c = &cursor{ent: l, b: &l.b}
	}
	c.order = g.order
	g.order++
	if c.fill() {
		g.push(heapItem{at: c.peek().UnixNano(), order: c.order, c: c})
	} else {
		c.ent.finish(g.w.end)
	}
}

// Next stores the next event of the stream in *e and reports whether there
// was one. After the last event it closes the ground truth of every
// entity still alive.
func (g *Generator) Next(e *event.Event) bool {
	for {
		if g.finished {
			return false
		}
		// Admit every entity that starts before the earliest pending event.
		for {
			at, ok := g.nextArrival()
			if !ok || (len(g.heap) > 0 && g.heap[0].at < at.UnixNano()) {
				break
			}
			if !g.w.end.IsZero() && !at.Before(g.w.end) {
				g.arrivals.stop()
				g.nextAcct = len(g.accounts)
				break
			}
			g.admit()
		}
		if len(g.heap) == 0 {
			if _, ok := g.nextArrival(); ok {
				continue
			}
			g.finished = true
			return false
		}
		c := g.heap[0].c
		if !g.w.end.IsZero() && !c.peek().Before(g.w.end) {
			g.finish()
			return false
		}
		*e = c.b.buf[c.head]
		c.b.buf[c.head] = event.Event{} // drop references for the GC
		c.head++
		c.ent.observe(e)
		if c.fill() {
			g.heap[0].at = c.peek().UnixNano()
			g.fix()
		} else {
			g.pop()
			c.ent.finish(g.w.end)
		}
		return true
	}
}

// finish ends the stream: the truth of every live entity is closed.
func (g *Generator) finish() {
	for _, it := range g.heap {
		it.c.ent.finish(g.w.end)
	}
	g.heap = nil
	g.finished = true
}

// Heap of cursors by (next event time, admission order).
func (g *Generator) less(i, j int) bool {
	a, b := &g.heap[i], &g.heap[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.order < b.order
}

func (g *Generator) push(it heapItem) {
	g.heap = append(g.heap, it)
	i := len(g.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !g.less(i, p) {
			break
		}
		g.heap[i], g.heap[p] = g.heap[p], g.heap[i]
		i = p
	}
}

func (g *Generator) pop() {
	n := len(g.heap) - 1
	g.heap[0] = g.heap[n]
	g.heap[n] = heapItem{}
	g.heap = g.heap[:n]
	g.fix()
}

// fix restores the heap after the root changed.
func (g *Generator) fix() {
	i, n := 0, len(g.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && g.less(r, l) {
			m = r
		}
		if !g.less(m, i) {
			return
		}
		g.heap[i], g.heap[m] = g.heap[m], g.heap[i]
		i = m
	}
}

// arrivals yields lead creation times in order.
type arrivals interface {
	peek() (time.Time, bool)
	pop() int // the lead's index
	stop()
}

type fixedArrivals struct {
	times []time.Time
	i     int
}

func (a *fixedArrivals) peek() (time.Time, bool) {
	if a.i >= len(a.times) {
		return time.Time{}, false
	}
	return a.times[a.i], true
}
func (a *fixedArrivals) pop() int { a.i++; return a.i - 1 }
func (a *fixedArrivals) stop()    { a.i = len(a.times) }

// chainArrivals yields first's arrivals, then then's.
type chainArrivals struct {
	first *fixedArrivals
	then  *poissonArrivals
}

func (a *chainArrivals) peek() (time.Time, bool) {
	if t, ok := a.first.peek(); ok {
		return t, true
	}
	return a.then.peek()
}

func (a *chainArrivals) pop() int {
	if _, ok := a.first.peek(); ok {
		return a.first.pop()
	}
	return a.then.pop()
}

func (a *chainArrivals) stop() { a.first.stop(); a.then.stop() }

// poissonArrivals is the endless arrival stream of live mode; indexes
// continue from n.
type poissonArrivals struct {
	r       rng
	next    time.Time
	meanGap float64 // nanoseconds
	n       int
	stopped bool
}

func (a *poissonArrivals) advance() {
	gap := -math.Log(1-a.r.Float64()) * a.meanGap
	a.next = a.next.Add(time.Duration(gap)).Truncate(time.Millisecond)
}

func (a *poissonArrivals) peek() (time.Time, bool) { return a.next, !a.stopped }
func (a *poissonArrivals) pop() int {
	a.n++
	a.advance()
	return a.n - 1
}
func (a *poissonArrivals) stop() { a.stopped = true }
