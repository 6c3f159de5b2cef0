package windows

// Buckets is the set of bucket arrays a Hopping window can use: the length
// is the number of hops the window spans. Pick the smallest that covers the
// feature (60 × 1 minute = 1 hour sliding by the minute, 24 × 1 hour, 7 or 14
// or 30 × 1 day, …); each bucket costs 2 bytes.
type Buckets interface {
	~[4]uint16 | ~[6]uint16 | ~[7]uint16 | ~[8]uint16 | ~[12]uint16 |
		~[14]uint16 | ~[24]uint16 | ~[28]uint16 | ~[30]uint16 | ~[48]uint16 |
		~[60]uint16 | ~[90]uint16
}

// Hopping is a hopping (sliding) count window: a ring of len(B) buckets of
// one hop each, so it answers "how many in the last len(B) hops", sliding by
// one hop, and "how many in the last k hops" for any k ≤ len(B). The hop is
// passed to each call (store it once in the feature set, not per key). Counts
// saturate at 65535 per bucket. Size: 4 + 2·len(B) bytes.
//
// Observations may arrive out of order: one older than the ring is refused
// (Add returns false). Reads never modify the ring. The ring holds the len(B)
// hops ending with the newest observation, so read it as of the key's newest
// event time (the current state); a read as of an older time misses the hops
// the ring has already slid past.
type Hopping[B Buckets] struct {
	Head uint32 // index (t / hop) of the newest bucket; 0 when empty
	B    B      // counts; bucket of index i lives at B[i % len(B)]
}

// Add counts n observations at t. It reports false, and counts nothing, when
// t is older than the oldest bucket in the ring.
func (h *Hopping[B]) Add(hop Span, t Sec, n uint16) bool {
	if hop == 0 {
		hop = 1
	}
	idx := uint32(t) / uint32(hop)
	size := uint32(len(h.B))
	switch {
	case h.Head == 0:
		h.Head = idx
	case idx > h.Head:
		// Clear the buckets the ring slides past, at most the whole ring.
		for i, steps := h.Head+1, uint32(0); i <= idx && steps < size; i, steps = i+1, steps+1 {
			h.B[i%size] = 0
		}
		h.Head = idx
	case h.Head-idx >= size:
		return false
	}
	b := &h.B[idx%size]
	if s := uint32(*b) + uint32(n); s > 0xffff {
		*b = 0xffff
	} else {
		*b = uint16(s)
	}
	return true
}

// Sum returns the count in the window of k hops ending with the hop that holds
// now: buckets with index in (now/hop − k, now/hop]. k is clamped to len(B).
// Buckets newer than now are not counted (an event-time read "as of now").
func (h *Hopping[B]) Sum(hop Span, now Sec, k int) uint32 {
	if h.Head == 0 {
		return 0
	}
	if hop == 0 {
		hop = 1
	}
	size := uint32(len(h.B))
	if k <= 0 {
		return 0
	}
	kk := uint32(k)
	if kk > size {
		kk = size
	}
	cur := uint32(now) / uint32(hop)
	var total uint32
	for j := uint32(0); j < size; j++ {
		if j > h.Head {
			break // ring not yet filled back to index 0
		}
		idx := h.Head - j
		if idx > cur {
			continue
		}
		if cur-idx >= kk {
			break
		}
		total += uint32(h.B[idx%size])
	}
	return total
}

// Total returns the count over the whole ring ending at now: Sum(hop, now, len(B)).
func (h *Hopping[B]) Total(hop Span, now Sec) uint32 { return h.Sum(hop, now, len(h.B)) }
