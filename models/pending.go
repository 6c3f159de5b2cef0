package models

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/windows"
)

// Pending is what a scorer keeps per key between a score and its label:
// the probability it served last, the event time at which a missing label
// turns negative, and the training samples taken so far
// (features.Vector.AppendBinary encodings).
//
// The samples are the vector scored at the start of the wait and the
// vector the key was served with at each of the model's sample ages
// (Config.SampleAges: 1, 3, 7, 14 and 30 days for leads): the last vector
// scored before that age, taken when the next event (or the label) shows
// that the age has passed. So the model is trained, and calibrated, on the
// vectors a reader of the scores sees at each age — a quiet lead's stale
// vector included — and not on the vector just after its next event (which
// over-represents leads that came back) or only on the vector just before
// the outcome (which teaches "hot just before converting").
//
// The scorer creates a Pending at a key's first score (NewPending), asks
// Model.Due at each later event and at the label which samples are due,
// adds them with Take, and updates the served probability in place with
// SetScored.
type Pending struct {
	Scored   float64
	Deadline windows.Sec
	// Start is when the wait started (the first sample's time): sample ages
	// count from it.
	Start windows.Sec
	// Taken is how many of the model's sample ages have been sampled.
	Taken   int
	Samples []Sample // the first is the wait's start
	// v3 marks a Pending of format 3, whose later samples were not learned
	// as negatives when taken.
	v3 bool
	// enc is the compact encoding of the first encN samples of a Pending
	// decoded from format 5, which AppendBinary copies instead of encoding
	// them again (a scorer re-encodes at every sample it takes) while the
	// first sample is the vector decoded (encFirst) and Start is unchanged.
	enc      []byte
	encN     int
	encFirst *byte
	encStart windows.Sec
}

// Sample is one training vector of a Pending.
type Sample struct {
	Vector []byte // features.Vector.AppendBinary
	// Weight is the number of sample ages the vector stands for (a key that
	// stayed quiet is served the same vector at several ages); 0 means 1.
	Weight uint8
}

// NewPending starts a wait at start with the vector first (its first
// sample) and the probability served for it.
func NewPending(scored float64, start, deadline windows.Sec, first []byte) Pending {
	return Pending{Scored: scored, Start: start, Deadline: deadline, Samples: []Sample{{Vector: first, Weight: 1}}}
}

// Take adds vector as the sample of the next n sample ages.
func (p *Pending) Take(vector []byte, n int) {
	if n <= 0 {
		return
	}
	p.Samples = append(p.Samples, Sample{Vector: vector, Weight: uint8(min(n, math.MaxUint8))})
	p.Taken += n
}

// Due reports the next sample the model wants from p before time t: at is
// the time as of which to take the key's vector and n the number of sample
// ages it stands for (0: none is due). still is the time from which the
// key's served vector no longer changes (its newest activity plus the
// scorer's re-score delay; 0 if it re-scores every day until t): a sample
// age after it gets the vector as of still, and every such age before t
// shares it.
func (m *Model) Due(p *Pending, t, still windows.Sec) (at windows.Sec, n int) {
	ages := m.cfg.SampleAges
	if p.Taken >= len(ages) {
		return 0, 0
	}
	b := p.Start.Add(ages[p.Taken])
	if b >= t || b >= p.Deadline {
		return 0, 0
	}
	if still == 0 || b < still {
		return b, 1
	}
	for k := p.Taken; k < len(ages); k++ {
		if bk := p.Start.Add(ages[k]); bk >= t || bk >= p.Deadline {
			break
		}
		n++
	}
	return still, n
}

// maxSamples bounds the samples of a decoded Pending.
const maxSamples = 16

// pendingFormat versions the encoding. Format 5 keeps the sample vectors
// compact (see appendCompact); format 4 (samples as
// features.Vector.AppendBinary bytes) and format 3 (samples without weights
// or start, ages 1, 7, 30 days after the first) still decode.
const (
	pendingFormat   = 5
	pendingFormatV4 = 4
	pendingFormatV3 = 3
)

// pendingHeader is the length of the fixed header of formats 4 and 5:
// format, scored (float64), deadline, start (uint32), taken, samples.
const pendingHeader = 19

// Encode returns the encoding of p (AppendBinary) in a slice of its own
// whose capacity is its length: what a scorer keeps per key, where the
// slack of a growing append would be held by every waiting key.
func (p *Pending) Encode() []byte {
	var buf [512]byte
	b := p.AppendBinary(buf[:0])
	return append(make([]byte, 0, len(b)), b...)
}

// AppendBinary appends the encoding of p to dst: format 5 when every sample
// is a format-1 features vector (as features.Vector.AppendBinary writes
// them), else format 4, which keeps the vectors as they are.
func (p *Pending) AppendBinary(dst []byte) []byte {
	if p.v3 {
		return p.appendV3(dst) // keeps saying its samples were not learned yet
	}
	n := len(dst)
	dst = p.appendHeader(dst, pendingFormat)
	prev := []byte(nil)
	from := 0
	if p.encN > 0 && p.encN <= len(p.Samples) && len(p.Samples[0].Vector) > 0 &&
		&p.Samples[0].Vector[0] == p.encFirst && p.Start == p.encStart {
		dst = append(dst, p.enc...)
		from, prev = p.encN, p.Samples[p.encN-1].Vector
	}
	for _, s := range p.Samples[from:] {
		var ok bool
		if dst, ok = appendCompact(dst, s.Weight, prev, s.Vector, p.Start); !ok {
			return p.appendV4(dst[:n])
		}
		prev = s.Vector
	}
	return dst
}

func (p *Pending) appendHeader(dst []byte, format byte) []byte {
	dst = append(dst, format)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Scored))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Deadline))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Start))
	return append(dst, byte(min(p.Taken, math.MaxUint8)), byte(len(p.Samples)))
}

// appendV4 appends the format-4 encoding of p: each sample's weight and
// length-prefixed vector bytes.
func (p *Pending) appendV4(dst []byte) []byte {
	dst = p.appendHeader(dst, pendingFormatV4)
	for _, s := range p.Samples {
		dst = append(dst, s.Weight)
		dst = binary.AppendUvarint(dst, uint64(len(s.Vector)))
		dst = append(dst, s.Vector...)
	}
	return dst
}

// appendV3 appends the format-3 encoding of a Pending decoded from it:
// format, scored, deadline, then the length-prefixed vectors.
func (p *Pending) appendV3(dst []byte) []byte {
	dst = append(dst, pendingFormatV3)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Scored))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Deadline))
	dst = append(dst, byte(len(p.Samples)))
	for _, s := range p.Samples {
		dst = binary.AppendUvarint(dst, uint64(len(s.Vector)))
		dst = append(dst, s.Vector...)
	}
	return dst
}

// SetScored overwrites the served probability of an encoded Pending in
// place (the scorer does it at every score), without decoding it.
func SetScored(b []byte, p float64) bool {
	if len(b) < 9 || (b[0] != pendingFormat && b[0] != pendingFormatV4 && b[0] != pendingFormatV3) {
		return false
	}
	binary.LittleEndian.PutUint64(b[1:], math.Float64bits(p))
	return true
}

// DecodePending decodes what AppendBinary wrote (and the format-4 and
// format-3 encodings of earlier releases; format 3's samples are all
// taken). Sample vectors of format 4 and 3 alias b; those of format 5 are
// rebuilt in one new buffer, byte for byte as they were taken.
func DecodePending(b []byte) (Pending, error) {
	var p Pending
	var rest []byte
	var n int
	switch {
	case len(b) >= pendingHeader && (b[0] == pendingFormat || b[0] == pendingFormatV4):
		p.Start = windows.Sec(binary.LittleEndian.Uint32(b[13:]))
		p.Taken = int(b[17])
		n, rest = int(b[18]), b[pendingHeader:]
	case len(b) >= 14 && b[0] == pendingFormatV3:
		p.Taken = math.MaxUint8 // its ages differ: take no more
		p.v3 = true
		n, rest = int(b[13]), b[14:]
	default:
		return Pending{}, fmt.Errorf("decode pending: %w", features.ErrCorrupt)
	}
	if n > maxSamples {
		return Pending{}, fmt.Errorf("decode pending: %d samples: %w", n, features.ErrCorrupt)
	}
	p.Scored = math.Float64frombits(binary.LittleEndian.Uint64(b[1:]))
	p.Deadline = windows.Sec(binary.LittleEndian.Uint32(b[9:]))
	if n > 0 {
		p.Samples = make([]Sample, 0, n)
	}
	if b[0] == pendingFormat {
		var err error
		if p.Samples, err = decodeCompact(rest, n, p.Start, p.Samples); err != nil {
			return Pending{}, fmt.Errorf("decode pending: %w", err)
		}
		if n > 0 { // every rebuilt vector has its format byte
			p.enc, p.encN, p.encFirst, p.encStart = rest, n, &p.Samples[0].Vector[0], p.Start
		}
		return p, nil
	}
	for range n {
		w := uint8(1)
		if b[0] == pendingFormatV4 {
			if len(rest) == 0 {
				return Pending{}, fmt.Errorf("decode pending: sample weight: %w", features.ErrCorrupt)
			}
			w, rest = rest[0], rest[1:]
		}
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return Pending{}, fmt.Errorf("decode pending: sample: %w", features.ErrCorrupt)
		}
		p.Samples = append(p.Samples, Sample{Vector: rest[k : k+int(l) : k+int(l)], Weight: w})
		rest = rest[k+int(l):]
	}
	if len(rest) != 0 {
		return Pending{}, fmt.Errorf("decode pending: %d trailing bytes: %w", len(rest), features.ErrCorrupt)
	}
	return p, nil
}

// LearnPending learns the label of a pending score from its samples,
// decoding them into scratch (reused). Progressive validation compares the
// label with p.Scored, once per Pending.
//
// With fake negatives every sample was learned as a negative by
// Provisional when it was taken, and gets its positive now if the label is
// positive. Without fake negatives every sample is learned with the label.
// Each sample counts as many times as its Weight.
func (m *Model) LearnPending(p Pending, positive bool, scratch *features.Vector) error {
	if len(p.Samples) == 0 {
		return fmt.Errorf("learn %s: pending without samples: %w", m.cfg.Name, features.ErrCorrupt)
	}
	for i, s := range p.Samples {
		if err := m.set.DecodeVector(s.Vector, scratch); err != nil {
			return fmt.Errorf("learn %s: %w", m.cfg.Name, err)
		}
		wt := float64(max(s.Weight, 1))
		switch {
		case i == 0:
			m.Learn(Label{Vector: scratch, Positive: positive, Scored: p.Scored})
		case m.cfg.FakeNegatives && p.v3:
			m.learnSample(scratch, positive, wt) // not learned as a negative yet
		case m.cfg.FakeNegatives:
			if positive {
				m.learnOnly(scratch, true, wt)
			}
		default:
			m.learnOnly(scratch, positive, wt)
		}
	}
	return nil
}

// SampleDue reports whether an encoded Pending has a sample due before t
// (Due would return n > 0), reading only its header: the scorer asks at
// every event and decodes only when it is.
func (m *Model) SampleDue(b []byte, t windows.Sec) bool {
	if len(b) < pendingHeader || (b[0] != pendingFormat && b[0] != pendingFormatV4) {
		return false
	}
	taken := int(b[17])
	if taken >= len(m.cfg.SampleAges) {
		return false
	}
	start := windows.Sec(binary.LittleEndian.Uint32(b[13:]))
	deadline := windows.Sec(binary.LittleEndian.Uint32(b[9:]))
	at := start.Add(m.cfg.SampleAges[taken])
	return at < t && at < deadline
}

// The compact sample encoding of format 5. A pending label's samples are
// what a scorer holds longest for a key (a lead may wait 90 days for its
// label with six of them), so each is written as its changes from the
// sample before it, losslessly:
//
//	weight byte
//	zigzag varint: vector time − Pending.Start
//	numeric changes, ascending index: uvarint 1 + (gap<<3 | kind), where
//	  gap is the index less the previous change's index, less 1 (the
//	  first: the index), and kind is
//	  0: absent (zero) now; 1: uvarint of a whole value ≥ 0 follows;
//	  2: uvarint of −value, a whole value < 0, follows; 3: float32 bits
//	  (4 bytes) follow; 4, 5, 6, 7: the value 1, −1, 2 or 3
//	0
//	categorical changes, ascending index: uvarint 1 + (gap<<1 | absent),
//	  then, unless absent, the hash (8 bytes)
//	0
//
// An entry costs one byte for the commonest values (counts of 1 to 3,
// "never" = −1, gone), two for other small whole numbers, five for a
// fraction, instead of five; the categorical hashes, which rarely change,
// are written once.
// Decoding rebuilds each sample's features vector byte for byte, so a
// model learns exactly what it would from format 4.

// vectorFormat is the features.Vector.AppendBinary format the compact
// encoding reads and rebuilds. Samples of any other format are kept as
// they are (format 4).
const vectorFormat = 1

// maxIndex bounds the feature indexes of a decoded sample.
const maxIndex = 1 << 12

// vecReader iterates over the entries of a format-1 features vector.
type vecReader struct {
	b  []byte
	n  uint64 // entries left in the current section
	ok bool
}

// openVector reads a vector's time and positions r at its first numeric
// entry.
func openVector(b []byte) (at uint64, r vecReader, ok bool) {
	if len(b) == 0 || b[0] != vectorFormat {
		return 0, vecReader{}, false
	}
	at, k := binary.Uvarint(b[1:])
	if k <= 0 || at > math.MaxUint32 {
		return 0, vecReader{}, false
	}
	r = vecReader{b: b[1+k:], ok: true}
	r.n, r.ok = r.count()
	return at, r, r.ok
}

func (r *vecReader) count() (uint64, bool) {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)) {
		return 0, false
	}
	r.b = r.b[k:]
	return n, true
}

// next returns the section's next entry (index, value bits; size 4 or 8),
// or index −1 at its end.
func (r *vecReader) next(size int) (int, uint64) {
	if !r.ok || r.n == 0 {
		return -1, 0
	}
	i, k := binary.Uvarint(r.b)
	if k <= 0 || i >= maxIndex || len(r.b)-k < size {
		r.ok = false
		return -1, 0
	}
	v := r.b[k : k+size]
	r.b = r.b[k+size:]
	r.n--
	if size == 4 {
		return int(i), uint64(binary.LittleEndian.Uint32(v))
	}
	return int(i), binary.LittleEndian.Uint64(v)
}

// cats moves r from the (consumed) numeric section to the categorical one.
func (r *vecReader) cats() {
	if r.ok && r.n == 0 {
		r.n, r.ok = r.count()
	} else {
		r.ok = false
	}
}

// done reports whether r read a whole, well-formed vector.
func (r *vecReader) done() bool { return r.ok && r.n == 0 && len(r.b) == 0 }

// appendCompact appends sample cur (weight w) as its changes from prev
// (nil: the first sample). ok is false when either vector is not a
// well-formed format-1 vector with ascending indexes.
func appendCompact(dst []byte, w uint8, prev, cur []byte, start windows.Sec) ([]byte, bool) {
	at, c, ok := openVector(cur)
	if !ok {
		return dst, false
	}
	p := vecReader{ok: true} // no previous sample: every entry is new
	if prev != nil {
		if _, p, ok = openVector(prev); !ok {
			return dst, false
		}
	}
	dst = append(dst, w)
	dst = binary.AppendVarint(dst, int64(at)-int64(start))
	if dst, ok = appendChanges(dst, &p, &c, 4); !ok {
		return dst, false
	}
	if prev != nil {
		p.cats()
	}
	c.cats()
	if dst, ok = appendChanges(dst, &p, &c, 8); !ok {
		return dst, false
	}
	return dst, c.done() && p.done()
}

// appendChanges merges one section (numeric: size 4, categorical: size 8)
// of the previous and the current vector and appends the entries that
// differ, then the 0 that ends the section.
func appendChanges(dst []byte, p, c *vecReader, size int) ([]byte, bool) {
	pi, pv := p.next(size)
	ci, cv := c.next(size)
	last, prev := -1, -1 // last index read; last index written
	for pi >= 0 || ci >= 0 {
		switch {
		case ci >= 0 && (pi < 0 || ci < pi): // new entry
			if ci <= last {
				return dst, false
			}
			dst, last, prev = appendEntry(dst, ci-prev-1, cv, size), ci, ci
			ci, cv = c.next(size)
		case pi >= 0 && (ci < 0 || pi < ci): // gone
			if pi <= last {
				return dst, false
			}
			dst, last, prev = appendAbsent(dst, pi-prev-1, size), pi, pi
			pi, pv = p.next(size)
		default: // both: written when changed
			if ci <= last {
				return dst, false
			}
			if cv != pv {
				dst, prev = appendEntry(dst, ci-prev-1, cv, size), ci
			}
			last = ci
			pi, pv = p.next(size)
			ci, cv = c.next(size)
		}
	}
	return append(dst, 0), p.ok && c.ok
}

// Kinds of a numeric change (see the format above).
const (
	kindAbsent = iota
	kindWhole
	kindNegative
	kindFloat
	kindSmall // kindSmall+k: the value smallValues[k]
)

var smallValues = [4]float32{1, -1, 2, 3}

func appendAbsent(dst []byte, gap, size int) []byte {
	if size == 4 {
		return binary.AppendUvarint(dst, 1+(uint64(gap)<<3|kindAbsent))
	}
	return binary.AppendUvarint(dst, 1+(uint64(gap)<<1|1))
}

func appendEntry(dst []byte, gap int, v uint64, size int) []byte {
	if size == 8 {
		dst = binary.AppendUvarint(dst, 1+uint64(gap)<<1)
		return binary.LittleEndian.AppendUint64(dst, v)
	}
	h := uint64(gap) << 3 // the header is 1 + (h | kind)
	for k, x := range smallValues {
		if uint64(math.Float32bits(x)) == v {
			return binary.AppendUvarint(dst, 1+(h|uint64(kindSmall+k)))
		}
	}
	// A whole number is written as one, when it converts back to the very
	// same float32 bits.
	f := math.Float32frombits(uint32(v))
	if f > -1<<24 && f < 1<<24 {
		if n := int64(f); math.Float32bits(float32(n)) == uint32(v) {
			if n >= 0 {
				return binary.AppendUvarint(binary.AppendUvarint(dst, 1+(h|kindWhole)), uint64(n))
			}
			return binary.AppendUvarint(binary.AppendUvarint(dst, 1+(h|kindNegative)), uint64(-n))
		}
	}
	return binary.LittleEndian.AppendUint32(binary.AppendUvarint(dst, 1+(h|kindFloat)), uint32(v))
}

// entry is one numeric (float32 bits) or categorical (hash) value of a
// vector being decoded.
type entry struct {
	i int
	v uint64
}

// decodeCompact decodes n compact samples from b, appending them to dst.
// Their vectors are rebuilt in one buffer.
func decodeCompact(b []byte, n int, start windows.Sec, dst []Sample) ([]Sample, error) {
	// The vectors being merged: on the stack for any feature set's size.
	var nb, cb, xb [64]entry
	nums, cats, next := nb[:0], cb[:0], xb[:0]
	// A rebuilt entry takes at most 10 bytes more than its change (a
	// categorical hash with its index), a vector at most 12 more than its
	// entries: one allocation for all but rare vectors.
	buf := make([]byte, 0, 10*len(b)+16*n)
	for range n {
		if len(b) == 0 {
			return nil, fmt.Errorf("sample weight: %w", features.ErrCorrupt)
		}
		w := b[0]
		d, k := binary.Varint(b[1:])
		at := int64(start) + d
		if k <= 0 || at < 0 || at > math.MaxUint32 {
			return nil, fmt.Errorf("sample time: %w", features.ErrCorrupt)
		}
		b = b[1+k:]
		var err error
		if nums, next, b, err = applyChanges(nums, next, b, 4); err != nil {
			return nil, fmt.Errorf("numeric: %w", err)
		}
		if cats, next, b, err = applyChanges(cats, next, b, 8); err != nil {
			return nil, fmt.Errorf("categorical: %w", err)
		}
		from := len(buf)
		buf = append(buf, vectorFormat)
		buf = binary.AppendUvarint(buf, uint64(at))
		buf = binary.AppendUvarint(buf, uint64(len(nums)))
		for _, e := range nums {
			buf = binary.AppendUvarint(buf, uint64(e.i))
			buf = binary.LittleEndian.AppendUint32(buf, uint32(e.v))
		}
		buf = binary.AppendUvarint(buf, uint64(len(cats)))
		for _, e := range cats {
			buf = binary.AppendUvarint(buf, uint64(e.i))
			buf = binary.LittleEndian.AppendUint64(buf, e.v)
		}
		// Should buf grow later, this slice keeps the bytes it has.
		dst = append(dst, Sample{Vector: buf[from:len(buf):len(buf)], Weight: w})
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes: %w", len(b), features.ErrCorrupt)
	}
	return dst, nil
}

// applyChanges reads one section of changes from b and merges them into
// cur (ascending by index). It returns the merged entries, cur's storage
// for the next merge, and the rest of b.
func applyChanges(cur, spare []entry, b []byte, size int) (out, free []entry, rest []byte, err error) {
	out = spare[:0]
	j, last := 0, -1
	for {
		h, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, nil, features.ErrCorrupt
		}
		b = b[k:]
		if h == 0 {
			break
		}
		h--
		var gap, kind uint64
		if size == 4 {
			gap, kind = h>>3, h&7
		} else {
			gap, kind = h>>1, h&1 // kind 1: absent
		}
		if gap >= maxIndex || last+1+int(gap) >= maxIndex {
			return nil, nil, nil, features.ErrCorrupt
		}
		last += 1 + int(gap)
		for j < len(cur) && cur[j].i < last {
			out = append(out, cur[j])
			j++
		}
		if j < len(cur) && cur[j].i == last {
			j++ // replaced or gone
		}
		if size == 4 && kind == kindAbsent || size == 8 && kind == 1 {
			continue
		}
		var v uint64
		if v, b, err = entryValue(kind, b, size); err != nil {
			return nil, nil, nil, err
		}
		out = append(out, entry{last, v})
	}
	out = append(out, cur[j:]...)
	return out, cur, b, nil
}

// entryValue reads the value of a present entry of the kind given.
func entryValue(kind uint64, b []byte, size int) (uint64, []byte, error) {
	switch {
	case size == 8:
		if len(b) < 8 {
			return 0, nil, features.ErrCorrupt
		}
		return binary.LittleEndian.Uint64(b), b[8:], nil
	case kind == kindFloat:
		if len(b) < 4 {
			return 0, nil, features.ErrCorrupt
		}
		return uint64(binary.LittleEndian.Uint32(b)), b[4:], nil
	case kind >= kindSmall:
		return uint64(math.Float32bits(smallValues[kind-kindSmall])), b, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n >= 1<<24 {
		return 0, nil, features.ErrCorrupt
	}
	f := float32(n)
	if kind == kindNegative {
		f = -f
	}
	return uint64(math.Float32bits(f)), b[k:], nil
}
