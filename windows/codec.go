package windows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is returned (wrapped) by decoders for input that is truncated or
// malformed. Snapshots come from a Kafka topic: never trust them to be whole.
var ErrCorrupt = errors.New("windows: corrupt state encoding")

// Enc appends a compact little-endian binary encoding to B. The zero value
// is ready to use; reuse one Enc (B = B[:0]) to encode without allocating.
type Enc struct{ B []byte }

// U8 appends v.
func (e *Enc) U8(v uint8) { e.B = append(e.B, v) }

// U16 appends v.
func (e *Enc) U16(v uint16) { e.B = binary.LittleEndian.AppendUint16(e.B, v) }

// U32 appends v.
func (e *Enc) U32(v uint32) { e.B = binary.LittleEndian.AppendUint32(e.B, v) }

// U64 appends v.
func (e *Enc) U64(v uint64) { e.B = binary.LittleEndian.AppendUint64(e.B, v) }

// Uvarint appends v as a varint (small counts in 1–2 bytes).
func (e *Enc) Uvarint(v uint64) { e.B = binary.AppendUvarint(e.B, v) }

// F32 appends v.
func (e *Enc) F32(v float32) { e.U32(math.Float32bits(v)) }

// F64 appends v.
func (e *Enc) F64(v float64) { e.U64(math.Float64bits(v)) }

// Sec appends v.
func (e *Enc) Sec(v Sec) { e.U32(uint32(v)) }

// Bytes appends a length-prefixed byte string.
func (e *Enc) Bytes(b []byte) { e.Uvarint(uint64(len(b))); e.B = append(e.B, b...) }

// String appends a length-prefixed string.
func (e *Enc) String(s string) { e.Uvarint(uint64(len(s))); e.B = append(e.B, s...) }

// Dec reads what Enc wrote. Errors are sticky: after the first short read
// every method returns zero values and Err reports ErrCorrupt, so a decoder
// can read a whole struct and check once.
type Dec struct {
	B   []byte
	err error
}

// Err returns the first error, wrapping ErrCorrupt.
func (d *Dec) Err() error { return d.err }

// Done returns Err, or an error if input is left over.
func (d *Dec) Done() error {
	if d.err == nil && len(d.B) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.B))
	}
	return d.err
}

func (d *Dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.B) < n {
		d.err = fmt.Errorf("%w: need %d bytes, have %d", ErrCorrupt, n, len(d.B))
		d.B = nil
		return nil
	}
	b := d.B[:n]
	d.B = d.B[n:]
	return b
}

// U8 reads a byte.
func (d *Dec) U8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

// U16 reads a uint16.
func (d *Dec) U16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

// U32 reads a uint32.
func (d *Dec) U32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// U64 reads a uint64.
func (d *Dec) U64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Uvarint reads a varint.
func (d *Dec) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		d.B = nil
		return 0
	}
	d.B = d.B[n:]
	return v
}

// F32 reads a float32.
func (d *Dec) F32() float32 { return math.Float32frombits(d.U32()) }

// F64 reads a float64.
func (d *Dec) F64() float64 { return math.Float64frombits(d.U64()) }

// Sec reads a Sec.
func (d *Dec) Sec() Sec { return Sec(d.U32()) }

// Bytes reads a length-prefixed byte string; the result aliases the input.
func (d *Dec) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.B)) {
		d.err = fmt.Errorf("%w: length %d exceeds input", ErrCorrupt, n)
		d.B = nil
		return nil
	}
	return d.take(int(n))
}

// String reads a length-prefixed string (a copy).
func (d *Dec) String() string { return string(d.Bytes()) }

// Encode appends s to e.
func (s *Stats) Encode(e *Enc) {
	e.F64(s.Sum)
	e.U32(s.Count)
	e.F32(s.Min)
	e.F32(s.Max)
	e.Sec(s.First)
	e.Sec(s.Last)
}

// Decode reads s from d.
func (s *Stats) Decode(d *Dec) {
	s.Sum, s.Count, s.Min, s.Max, s.First, s.Last = d.F64(), d.U32(), d.F32(), d.F32(), d.Sec(), d.Sec()
}

// Encode appends l to e.
func (l *Last) Encode(e *Enc) { e.Sec(l.At); e.F32(l.V) }

// Decode reads l from d.
func (l *Last) Decode(d *Dec) { l.At, l.V = d.Sec(), d.F32() }

// Encode appends f to e.
func (f *First) Encode(e *Enc) { e.Sec(f.At); e.F32(f.V) }

// Decode reads f from d.
func (f *First) Decode(d *Dec) { f.At, f.V = d.Sec(), d.F32() }

// Encode appends x to e.
func (x *Distinct) Encode(e *Enc) { e.U64(x.B[0]); e.U64(x.B[1]) }

// Decode reads x from d.
func (x *Distinct) Decode(d *Dec) { x.B[0], x.B[1] = d.U64(), d.U64() }

// Encode appends w to e.
func (w *Tumbling) Encode(e *Enc) {
	e.Sec(w.Start)
	e.Sec(w.PrevStart)
	w.Cur.Encode(e)
	w.Prev.Encode(e)
}

// Decode reads w from d.
func (w *Tumbling) Decode(d *Dec) {
	w.Start, w.PrevStart = d.Sec(), d.Sec()
	w.Cur.Decode(d)
	w.Prev.Decode(d)
}

// Encode appends h to e: the head, then the buckets as varints (most are 0
// or small, so a 60-bucket ring usually takes ~65 bytes, not 124).
func (h *Hopping[B]) Encode(e *Enc) {
	e.U32(h.Head)
	for i := range len(h.B) {
		e.Uvarint(uint64(h.B[i]))
	}
}

// Decode reads h from d.
func (h *Hopping[B]) Decode(d *Dec) {
	h.Head = d.U32()
	for i := range len(h.B) {
		v := d.Uvarint()
		if v > 0xffff {
			v = 0xffff
		}
		h.B[i] = uint16(v)
	}
}

// Encode appends s to e.
func (s *Session) Encode(e *Enc) {
	e.Sec(s.Start)
	e.Sec(s.End)
	e.Sec(s.PrevStart)
	e.Sec(s.PrevEnd)
	e.Uvarint(uint64(s.Events))
	e.Uvarint(uint64(s.PrevEvents))
	e.Uvarint(uint64(s.Done))
	e.Uvarint(uint64(s.DoneSec))
}

// Decode reads s from d.
func (s *Session) Decode(d *Dec) {
	s.Start, s.End, s.PrevStart, s.PrevEnd = d.Sec(), d.Sec(), d.Sec(), d.Sec()
	s.Events = uint32(d.Uvarint())
	s.PrevEvents = uint32(d.Uvarint())
	s.Done = uint32(d.Uvarint())
	s.DoneSec = uint32(d.Uvarint())
}
