package windows

// TimerKind names one timer of a key: the handler decides what each kind
// means (inactivity, session close, abandonment, label horizon, window
// close, …). A key has at most one pending timer per kind: setting it again
// moves it.
type TimerKind uint8

// MaxTimers is the number of timer kinds a key can use (kinds 0 to
// MaxTimers−1). The engine keeps one more slot per key for idle eviction.
const MaxTimers = 7

const evictSlot = MaxTimers // internal: idle-key eviction

// Slots (MaxTimers kinds and the eviction slot) fit in a timerItem's 3 bits
// and keyMeta.armed's 8: this fails to compile otherwise.
const _ = uint(7 - evictSlot)

// timerItem is one entry of a partition's timer heap. Items are not removed
// when a timer moves; a stale item is skipped (or re-armed at its slot's due
// time) when popped: see keyMeta.armed and Engine.setSlot. Moving a timer
// later, the common case (inactivity timers move on every event), therefore
// pushes nothing.
type timerItem[S any] struct {
	e  *entry[S]
	at Sec
	// hs is the top 29 bits of the key's HashString, then the slot (3
	// bits): 16 bytes an item instead of 24 with a whole hash and a slot
	// byte, for the few items every key keeps in the heap.
	hs uint32
}

func newTimerItem[S any](en *entry[S], at Sec, slot uint8) timerItem[S] {
	return timerItem[S]{e: en, at: at, hs: uint32(HashString(en.key)>>32)&^7 | uint32(slot)}
}

func (it timerItem[S]) slot() uint8 { return uint8(it.hs & 7) }

// less orders by time, then key hash, key and slot, so timers due together
// fire in the same order live, in a replay and after a restore. Comparing the
// hash bits held in the item avoids touching the entries (cache misses) on
// ties; only when those agree are the whole hashes computed.
func (a timerItem[S]) less(b timerItem[S]) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.hs>>3 != b.hs>>3 {
		return a.hs < b.hs
	}
	if a.e != b.e {
		if ha, hb := HashString(a.e.key), HashString(b.e.key); ha != hb {
			return ha < hb
		}
		if a.e.key != b.e.key {
			return a.e.key < b.e.key
		}
	}
	return a.slot() < b.slot()
}

// timerHeap is a 4-ary min-heap: half the levels of a binary heap, so half
// the cache misses per push and pop when a partition holds 100 k+ timers.
// Hand-written so push and pop do not allocate (container/heap boxes items
// in interfaces).
type timerHeap[S any] []timerItem[S]

func (h *timerHeap[S]) push(it timerItem[S]) {
	*h = append(*h, it)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap[S]) pop() timerItem[S] {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = timerItem[S]{}
	s = s[:n]
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if s[k].less(s[m]) {
				m = k
			}
		}
		if !s[m].less(s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
