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

// pendingFormat versions the encoding; pendingFormatV3 (samples without
// weights or start, ages 1, 7, 30 days after the first) still decodes.
const (
	pendingFormat   = 4
	pendingFormatV3 = 3
)

// AppendBinary appends the encoding of p to dst.
func (p *Pending) AppendBinary(dst []byte) []byte {
	dst = append(dst, pendingFormat)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Scored))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Deadline))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Start))
	dst = append(dst, byte(min(p.Taken, math.MaxUint8)), byte(len(p.Samples)))
	for _, s := range p.Samples {
		dst = append(dst, s.Weight)
		dst = binary.AppendUvarint(dst, uint64(len(s.Vector)))
		dst = append(dst, s.Vector...)
	}
	return dst
}

// SetScored overwrites the served probability of an encoded Pending in
// place (the scorer does it at every score), without decoding it.
func SetScored(b []byte, p float64) bool {
	if len(b) < 9 || (b[0] != pendingFormat && b[0] != pendingFormatV3) {
		return false
	}
	binary.LittleEndian.PutUint64(b[1:], math.Float64bits(p))
	return true
}

// DecodePending decodes what AppendBinary wrote (and the format-3
// encoding of earlier releases, whose samples are all taken). Sample
// vectors alias b.
func DecodePending(b []byte) (Pending, error) {
	var p Pending
	var rest []byte
	var n int
	switch {
	case len(b) >= 19 && b[0] == pendingFormat:
		p.Start = windows.Sec(binary.LittleEndian.Uint32(b[13:]))
		p.Taken = int(b[17])
		n, rest = int(b[18]), b[19:]
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
	for range n {
		w := uint8(1)
		if b[0] == pendingFormat {
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
	if len(b) < 19 || b[0] != pendingFormat {
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
