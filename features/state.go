package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/go-faster/city"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// State is the streaming state of one key (a lead or an account): bucket
// counters of the windowed counts, one slot per lifetime aggregate, the
// categorical values and the ids of the latest events (evidence for
// reasons). Its layout comes from the Set: one byte buffer plus one packed
// string, so a key costs a few hundred bytes and two allocations, and a
// snapshot is a copy of both.
//
// The zero State is not usable; get one from Set.NewState or
// Set.RestoreState. Not safe for concurrent use: the scorer's partition
// worker owns it.
type State struct {
	set  *Set
	head windows.Sec // latest event time applied; window buckets end here
	// buf holds the fixed layout (Set.StateBytes: rings, lifetime slots,
	// evidence masks) followed by the packed strings, each as uvarint
	// length + bytes: the id of the event that last set a categorical value,
	// the categorical values in Set.CatNames order, then the recent event
	// ids newest first. One allocation per key instead of a dozen strings
	// saves their headers (16 B each). The source and categorical values are
	// never written in place (a change builds a new buffer), so those handed
	// out by Vector stay valid; the recent ids are shifted in place when
	// they fit (shiftRecent), so evidence ids are valid until the next
	// Update.
	buf []byte
}

// NewState returns an empty state for a key.
func (s *Set) NewState() *State {
	return &State{set: s, buf: make([]byte, s.size)}
}

// Head returns the latest event time applied to the state (0 if none).
func (st *State) Head() windows.Sec { return st.head }

// Empty reports whether no event has changed the state.
func (st *State) Empty() bool { return st.head == 0 }

// Update applies one event. Events may arrive out of order: windowed counts
// take an event as long as its bucket is still inside the longest window of
// its ring; "last" aggregates keep the value with the latest event time.
// Events that match no filter leave the state unchanged. Update allocates
// (the packed strings, once) only when the event changes a categorical
// value or its id does not fit where the oldest evidence id was.
func (st *State) Update(ev *event.Event) {
	t := windows.SecOf(ev.OccurredAt)
	if t == 0 {
		return
	}
	set := st.set
	m := set.match(ev)
	if m == 0 {
		return
	}
	// bucket numbers of t and of the head, once per granularity (not per
	// ring: divisions are most of the ring work)
	var tb, hb [maxGrans]uint64
	for gi, g := range set.grans {
		tb[gi], hb[gi] = uint64(t)/uint64(g), uint64(st.head)/uint64(g)
	}
	st.advance(t, &tb, &hb)
	for i := range set.rings {
		r := &set.rings[i]
		if m&(1<<r.filter) == 0 {
			continue
		}
		b, h := tb[r.gi], hb[r.gi]
		if b+uint64(r.n) <= h {
			continue // older than the longest window of this ring
		}
		p := r.off + int(b%uint64(r.n))*r.width
		if r.width == 1 {
			if st.buf[p] != math.MaxUint8 {
				st.buf[p]++
			}
		} else if c := binary.LittleEndian.Uint16(st.buf[p:]); c != math.MaxUint16 {
			binary.LittleEndian.PutUint16(st.buf[p:], c+1)
		}
	}
	var ps [maxParts]string
	st.parts(&ps)
	nc, cchanged := len(set.cats), false
	cats := ps[1 : 1+nc]
	for _, i := range set.life {
		d := &set.defs[i]
		p := set.slots[i]
		if d.Agg == MaxRank {
			cur := st.buf[p]
			for k, r := range d.Ranks {
				if m&set.rankBits[i][k] != 0 && r.Rank > cur {
					cur = r.Rank
				}
			}
			st.buf[p] = cur
			continue
		}
		if m&(1<<set.defFilter[i]) == 0 {
			continue
		}
		switch d.Agg {
		case Count:
			if c := binary.LittleEndian.Uint32(st.buf[p:]); c != math.MaxUint32 {
				binary.LittleEndian.PutUint32(st.buf[p:], c+1)
			}
		case Sum:
			if x, ok := ev.Properties.Number(d.Field); ok {
				f := math.Float64frombits(binary.LittleEndian.Uint64(st.buf[p:]))
				binary.LittleEndian.PutUint64(st.buf[p:], math.Float64bits(f+x))
			}
		case LastNum:
			if x, ok := ev.Properties.Number(d.Field); ok && t >= windows.Sec(binary.LittleEndian.Uint32(st.buf[p:])) {
				binary.LittleEndian.PutUint32(st.buf[p:], uint32(t))
				binary.LittleEndian.PutUint32(st.buf[p+4:], math.Float32bits(float32(x)))
			}
		case LastStr:
			if v := field(ev, d.Field); v != "" && t >= windows.Sec(binary.LittleEndian.Uint32(st.buf[p:])) {
				binary.LittleEndian.PutUint32(st.buf[p:], uint32(t))
				c := set.catOf[i]
				if cats[c] != v {
					cats[c], cchanged = v, true
				}
			}
		case Distinct:
			if v := field(ev, d.Field); v != "" {
				h := city.CH64(unsafe.Slice(unsafe.StringData(v), len(v)))
				i := h & 127
				w := p + 8*int(i>>6)
				binary.LittleEndian.PutUint64(st.buf[w:], binary.LittleEndian.Uint64(st.buf[w:])|1<<(i&63))
			}
		case SinceLast:
			if windows.Sec(binary.LittleEndian.Uint32(st.buf[p:])) < t {
				binary.LittleEndian.PutUint32(st.buf[p:], uint32(t))
			}
		case SinceFirst:
			if f := windows.Sec(binary.LittleEndian.Uint32(st.buf[p:])); f == 0 || t < f {
				binary.LittleEndian.PutUint32(st.buf[p:], uint32(t))
			}
		case Decay:
			at := windows.Sec(binary.LittleEndian.Uint32(st.buf[p:]))
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(st.buf[p+4:])))
			if t == at {
				v++ // 2^−0 = 1
			} else if t > at {
				v = v*math.Exp2(-float64(t-at)/float64(d.HalfLife)) + 1
				at = t
			} else {
				v += math.Exp2(-float64(at-t) / float64(d.HalfLife))
			}
			binary.LittleEndian.PutUint32(st.buf[p:], uint32(at))
			binary.LittleEndian.PutUint32(st.buf[p+4:], math.Float32bits(float32(v)))
		}
	}
	// evidence: shift the ring of recent ids and their filter masks
	ro := set.recentOff
	for j := recentIDs - 1; j > 0; j-- {
		copy(st.buf[ro+4*j:ro+4*j+4], st.buf[ro+4*(j-1):ro+4*j])
	}
	binary.LittleEndian.PutUint32(st.buf[ro:], m)
	if !cchanged && st.shiftRecent(ev.ID, &ps) {
		return
	}
	var recent [recentIDs]string
	copy(recent[:], ps[1+nc:])
	copy(recent[1:], recent[:])
	recent[0] = ev.ID
	source := ps[0]
	if cchanged {
		source = ev.ID
	}
	st.pack(source, cats, recent[:])
}

// shiftRecent pushes id onto the recent ids in place, when the source and
// categorical values are unchanged and the new ids fit the buffer's
// capacity (ids of one length, as most sources send, always do): most
// events then allocate nothing. Only the recent-id bytes are rewritten, so
// the categorical values and source a Vector holds stay valid; its
// evidence ids do not outlive the next Update. It reports false when the
// strings must be rebuilt (pack).
func (st *State) shiftRecent(id string, ps *[maxParts]string) bool {
	size := st.set.size
	if len(st.buf) == size {
		return false // no packed strings yet
	}
	off := size // start of the recent ids
	for _, p := range ps[:1+len(st.set.cats)] {
		off += uvarintLen(len(p)) + len(p)
	}
	keep := 0 // bytes of the ids that stay: all but the oldest
	for _, r := range ps[1+len(st.set.cats) : len(st.set.cats)+recentIDs] {
		keep += uvarintLen(len(r)) + len(r)
	}
	head := uvarintLen(len(id)) + len(id)
	n := off + head + keep
	if n > cap(st.buf) {
		return false
	}
	st.buf = st.buf[:n]
	copy(st.buf[off+head:], st.buf[off:off+keep]) // memmove: the ranges overlap
	copy(st.buf[binary.PutUvarint(st.buf[off:], uint64(len(id)))+off:], id)
	return true
}

// strs is the packed-string region of buf, as a string (no copy).
func (st *State) strs() string {
	b := st.buf[st.set.size:]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func field(ev *event.Event, name string) string {
	if len(name) > 0 && name[0] == '$' {
		if f := columns[name]; f != nil {
			return f(ev)
		}
		return ""
	}
	return ev.Properties.String(name)
}

// advance moves the head to t, zeroing the buckets that leave the rings.
// tb and hb hold the bucket numbers of t and of the head per granularity;
// hb is moved to the new head's.
func (st *State) advance(t windows.Sec, tb, hb *[maxGrans]uint64) {
	if t <= st.head {
		return
	}
	for i := range st.set.rings {
		r := &st.set.rings[i]
		ob, nb := hb[r.gi], tb[r.gi]
		if ob == nb && st.head != 0 {
			continue
		}
		if st.head == 0 || nb-ob >= uint64(r.n) {
			clear(st.buf[r.off : r.off+r.n*r.width])
			continue
		}
		for b := ob + 1; b <= nb; b++ {
			p := r.off + int(b%uint64(r.n))*r.width
			clear(st.buf[p : p+r.width])
		}
	}
	*hb = *tb
	st.head = t
}

// Vector computes every feature as of now into dst (reusing its slices; no
// allocation once dst has grown). A now earlier than Head is taken as Head:
// the state cannot forget events it has applied.
func (st *State) Vector(now windows.Sec, dst *Vector) {
	set := st.set
	now = max(now, st.head)
	dst.reset(set, now)
	var ps [maxParts]string
	st.parts(&ps)
	// bucket numbers of now and of the head, once per granularity
	var nbs, hbs [maxGrans]uint64
	for gi, g := range set.grans {
		nbs[gi], hbs[gi] = uint64(now)/uint64(g), uint64(st.head)/uint64(g)
	}
	for i := range set.defs {
		d := &set.defs[i]
		r := &dst.raw[i] // not cleared by reset: each case sets what finalize reads
		p := set.slots[i]
		if wd := set.wins[i]; wd.buckets != 0 {
			r.f = 0
			if st.head == 0 {
				continue
			}
			rg := &set.rings[wd.ring]
			n := uint64(rg.n)
			nb, hb := nbs[rg.gi], hbs[rg.gi]
			lo := max(nb+1, uint64(wd.buckets)) - uint64(wd.buckets)
			lo = max(lo, max(hb+1, n)-n)
			hi := min(nb, hb)
			if lo > hi {
				continue
			}
			// at most n buckets (lo > hb−n): the whole ring (the usual
			// case: a window as long as its ring, as of its head), or a walk
			// from lo's slot with a wrap instead of a division per bucket
			ring := st.buf[rg.off : rg.off+rg.n*rg.width]
			sum := ringSum(ring, rg.width, lo, int(hi-lo+1))
			r.f = float64(sum)
			continue
		}
		switch d.Agg {
		case Count:
			r.f = float64(binary.LittleEndian.Uint32(st.buf[p:]))
		case Sum:
			r.f = math.Float64frombits(binary.LittleEndian.Uint64(st.buf[p:]))
		case LastNum:
			r.f = float64(math.Float32frombits(binary.LittleEndian.Uint32(st.buf[p+4:])))
		case LastStr:
			r.s = ps[1+set.catOf[i]]
		case Distinct:
			r.b = [2]uint64{binary.LittleEndian.Uint64(st.buf[p:]), binary.LittleEndian.Uint64(st.buf[p+8:])}
		case SinceLast, SinceFirst:
			r.t = windows.Sec(binary.LittleEndian.Uint32(st.buf[p:]))
		case Decay:
			r.t = windows.Sec(binary.LittleEndian.Uint32(st.buf[p:]))
			r.f = float64(math.Float32frombits(binary.LittleEndian.Uint32(st.buf[p+4:])))
		case MaxRank:
			r.f = float64(st.buf[p])
		}
	}
	dst.finalize()
	copy(dst.recent[:], ps[1+len(set.cats):])
	for j := range dst.recentMask {
		dst.recentMask[j] = binary.LittleEndian.Uint32(st.buf[set.recentOff+4*j:])
	}
	dst.source = ps[0]
}

// ringSum sums the cnt counters of width bytes (1 or 2) of a ring from the
// slot of bucket lo, wrapping.
func ringSum(ring []byte, width int, lo uint64, cnt int) uint64 {
	n := len(ring) / width
	if cnt == n {
		if width == 1 {
			return sumBytes(ring)
		}
		return sumUint16s(ring)
	}
	k := int(lo % uint64(n))
	var sum uint64
	if width == 1 {
		for ; cnt > 0; cnt-- {
			sum += uint64(ring[k])
			if k++; k == n {
				k = 0
			}
		}
		return sum
	}
	for ; cnt > 0; cnt-- {
		sum += uint64(binary.LittleEndian.Uint16(ring[2*k:]))
		if k++; k == n {
			k = 0
		}
	}
	return sum
}

// sumBytes adds the bytes of b, eight at a time: pairs into four 16-bit
// lanes (≤ 510 each), whose sum (≤ 2040) a multiply gathers in the top lane.
func sumBytes(b []byte) uint64 {
	const pairs, lanes = 0x00ff00ff00ff00ff, 0x0001000100010001
	var sum uint64
	for ; len(b) >= 8; b = b[8:] {
		x := binary.LittleEndian.Uint64(b)
		x = x&pairs + x>>8&pairs
		sum += x * lanes >> 48
	}
	for _, c := range b {
		sum += uint64(c)
	}
	return sum
}

// sumUint16s adds the little-endian uint16s of b, four at a time.
func sumUint16s(b []byte) uint64 {
	const pairs = 0x0000ffff0000ffff
	var sum uint64
	for ; len(b) >= 8; b = b[8:] {
		x := binary.LittleEndian.Uint64(b)
		x = x&pairs + x>>16&pairs
		sum += x&0xffffffff + x>>32
	}
	for ; len(b) >= 2; b = b[2:] {
		sum += uint64(binary.LittleEndian.Uint16(b))
	}
	return sum
}

// maxParts bounds the packed strings: source, categorical values, recent ids.
const maxParts = 1 + maxCats + recentIDs

// parts splits the packed strings in one pass (absent ones are "").
func (st *State) parts(dst *[maxParts]string) {
	s := st.strs()
	for k := 0; k < maxParts && len(s) > 0; k++ {
		n, w := uint64(s[0]), 1 // lengths under 128 take one byte
		if n >= 0x80 {
			n, w = binary.Uvarint(unsafe.Slice(unsafe.StringData(s), len(s)))
		}
		if w <= 0 || uint64(len(s)-w) < n {
			return
		}
		dst[k] = s[w : w+int(n)]
		s = s[w+int(n):]
	}
}

// pack rebuilds strs in one allocation.
func (st *State) pack(source string, cats []string, recent []string) {
	n := 0
	add := func(s string) { n += uvarintLen(len(s)) + len(s) }
	add(source)
	for _, c := range cats {
		add(c)
	}
	for _, r := range recent {
		add(r)
	}
	b := make([]byte, st.set.size, st.set.size+n)
	copy(b, st.buf[:st.set.size])
	b = appendPart(b, source)
	for _, c := range cats {
		b = appendPart(b, c)
	}
	for _, r := range recent {
		b = appendPart(b, r)
	}
	st.buf = b
}

func appendPart(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// Size returns the bytes the state holds: the struct and its buffer
// (fixed layout and packed strings). This is what "state per key" means in
// the package doc; the allocator rounds the buffer up to its size class.
func (st *State) Size() int {
	return int(unsafe.Sizeof(*st)) + cap(st.buf)
}

// stateFormat versions the snapshot encoding.
const stateFormat = 1

// AppendBinary appends a snapshot of the state (for the scorer's changelog).
func (st *State) AppendBinary(dst []byte) []byte {
	dst = append(dst, stateFormat)
	dst = binary.AppendUvarint(dst, uint64(st.head))
	dst = binary.AppendUvarint(dst, uint64(st.set.hashID))
	dst = binary.AppendUvarint(dst, uint64(len(st.buf)))
	return append(dst, st.buf...)
}

// RestoreState decodes a snapshot written by State.AppendBinary for this
// Set. A snapshot of another feature schema or a damaged one returns an
// error wrapping ErrCorrupt; it never panics.
func (s *Set) RestoreState(b []byte) (*State, error) {
	if len(b) == 0 || b[0] != stateFormat {
		return nil, fmt.Errorf("restore state: format: %w", ErrCorrupt)
	}
	b = b[1:]
	head, b, err := uvarint(b)
	if err != nil || head > math.MaxUint32 {
		return nil, fmt.Errorf("restore state: head: %w", ErrCorrupt)
	}
	id, b, err := uvarint(b)
	if err != nil || id != uint64(s.hashID) {
		return nil, fmt.Errorf("restore state: feature schema differs: %w", ErrCorrupt)
	}
	n, b, err := uvarint(b)
	if err != nil || n < uint64(s.size) || uint64(len(b)) != n {
		return nil, fmt.Errorf("restore state: buffer: %w", ErrCorrupt)
	}
	st := &State{set: s, head: windows.Sec(head), buf: append([]byte(nil), b...)}
	rest := b[s.size:]
	if len(rest) == 0 {
		return st, nil // never matched an event
	}
	// the packed strings must hold exactly source, cats and recent ids
	for range 1 + len(s.cats) + recentIDs {
		l, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < l {
			return nil, fmt.Errorf("restore state: packed strings: %w", ErrCorrupt)
		}
		rest = rest[w+int(l):]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("restore state: packed strings: %w", ErrCorrupt)
	}
	return st, nil
}
