package notifier

import "sync"

// dedupe remembers, for the most recent alert ids, the highest status rank
// delivered, so that a state delivered once is not delivered again (a
// replayed alert, a duplicate record) and an older state never follows a
// newer one. Bounded: the oldest ids are forgotten first. Safe for
// concurrent use.
type dedupe struct {
	mu    sync.Mutex
	rank  map[string]uint64
	ring  []string // insertion order, for eviction
	next  int
	limit int
}

func newDedupe(limit int) *dedupe {
	return &dedupe{rank: make(map[string]uint64, limit), ring: make([]string, limit), limit: limit}
}

// seen reports whether a state of rank r (or higher) of id was delivered.
func (d *dedupe) seen(id string, r uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	got, ok := d.rank[id]
	return ok && got >= r
}

// done records the delivery of id at rank r.
func (d *dedupe) done(id string, r uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if got, ok := d.rank[id]; ok {
		d.rank[id] = max(got, r)
		return
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.rank, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % d.limit
	d.rank[id] = r
}
