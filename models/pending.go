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
// turns negative, the training samples taken so far, and the latest vector
// scored (features.Vector.AppendBinary encodings).
//
// The samples are the vectors scored at the start of the wait and at the
// first score after each of SampleAges (1, 7 and 30 days later): snapshots
// across the key's life, so that the model is trained, and calibrated, for
// every age at which it scores, not only for the moment of the outcome
// (learning only the last vector before a conversion teaches "hot just
// before converting" and over-scores every engaged lead).
//
// The scorer creates a Pending at a key's first score with Vector set and
// overwrites Scored and Vector at each later score, keeping the rest:
// decode, change, AppendBinary. AppendBinary takes the new samples.
type Pending struct {
	Scored   float64
	Deadline windows.Sec
	Samples  [][]byte // taken samples; the first is the wait's start
	// Vector is the latest vector scored, set by the scorer before
	// AppendBinary; it becomes a sample when one is due and is not stored
	// otherwise (DecodePending leaves it nil).
	Vector []byte
}

// SampleAges are the ages (after the first sample) at which a Pending
// takes another sample: the first vector scored at or after each.
var SampleAges = [...]windows.Span{windows.Day, 7 * windows.Day, 30 * windows.Day}

// MaxSamples is the most samples a Pending holds.
const MaxSamples = 1 + len(SampleAges)

const pendingFormat = 3

// vectorAt reads the time of an encoded vector (features.Vector.AppendBinary
// starts with a format byte and the uvarint time).
func vectorAt(b []byte) (windows.Sec, bool) {
	if len(b) < 2 {
		return 0, false
	}
	t, n := binary.Uvarint(b[1:])
	return windows.Sec(t), n > 0 && t <= math.MaxUint32
}

// AppendBinary appends the encoding of p, first taking Vector as a sample
// when it is the first one or the next age is reached. dst may be the
// buffer p was decoded from: samples keep their offsets and are copied onto
// themselves.
func (p *Pending) AppendBinary(dst []byte) []byte {
	samples := p.Samples
	take := len(samples) == 0
	if !take && len(samples) < MaxSamples && len(p.Vector) > 0 {
		t0, ok0 := vectorAt(samples[0])
		t, ok := vectorAt(p.Vector)
		take = ok0 && ok && t >= t0.Add(SampleAges[len(samples)-1])
	}
	dst = append(dst, pendingFormat)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Scored))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Deadline))
	n := len(samples)
	if take && len(p.Vector) > 0 {
		n++
	}
	dst = append(dst, byte(n))
	for _, s := range samples {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	if n > len(samples) {
		dst = binary.AppendUvarint(dst, uint64(len(p.Vector)))
		dst = append(dst, p.Vector...)
	}
	return dst
}

// DecodePending decodes what AppendBinary wrote. Samples alias b (a new
// slice of at most MaxSamples); Vector is nil.
func DecodePending(b []byte) (Pending, error) {
	if len(b) < 14 || b[0] != pendingFormat || int(b[13]) > MaxSamples {
		return Pending{}, fmt.Errorf("decode pending: %w", features.ErrCorrupt)
	}
	p := Pending{
		Scored:   math.Float64frombits(binary.LittleEndian.Uint64(b[1:])),
		Deadline: windows.Sec(binary.LittleEndian.Uint32(b[9:])),
	}
	n := int(b[13])
	rest := b[14:]
	if n > 0 {
		p.Samples = make([][]byte, 0, n)
	}
	for range n {
		l, w := binary.Uvarint(rest)
		if w <= 0 || l > uint64(len(rest)-w) {
			return Pending{}, fmt.Errorf("decode pending: sample: %w", features.ErrCorrupt)
		}
		p.Samples = append(p.Samples, rest[w:w+int(l):w+int(l)])
		rest = rest[w+int(l):]
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
// With fake negatives the first sample was learned as a negative by
// Provisional when the wait started, and gets its positive now if the label
// is positive; the later samples are learned now, each as a negative plus
// a positive if the label is positive. Without fake negatives every sample
// is learned with the label. A Pending without samples learns its Vector.
func (m *Model) LearnPending(p Pending, positive bool, scratch *features.Vector) error {
	samples := p.Samples
	if len(samples) == 0 {
		if len(p.Vector) == 0 {
			return fmt.Errorf("learn %s: pending without vectors: %w", m.cfg.Name, features.ErrCorrupt)
		}
		samples = [][]byte{p.Vector}
	}
	for i, s := range samples {
		if err := m.set.DecodeVector(s, scratch); err != nil {
			return fmt.Errorf("learn %s: %w", m.cfg.Name, err)
		}
		switch {
		case i == 0:
			m.Learn(Label{Vector: scratch, Positive: positive, Scored: p.Scored})
		case m.cfg.FakeNegatives:
			m.learnSample(scratch, positive)
		default:
			m.learnOnly(scratch, positive)
		}
	}
	return nil
}
