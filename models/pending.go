package models

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/windows"
)

// Pending is what a scorer keeps per key between a score and its label:
// the probability it served, the event time at which a missing label turns
// negative, and the scored vector (features.Vector.AppendBinary). A lead's
// Pending is created at lead_created (Deadline = created + horizon) and its
// Scored and Vector are overwritten by each later score, so the model learns
// from the latest vector before the outcome.
type Pending struct {
	Scored   float64
	Deadline windows.Sec
	Vector   []byte
}

const pendingFormat = 1

// AppendBinary appends the encoding of p (for the scorer's timers and
// changelog).
func (p *Pending) AppendBinary(dst []byte) []byte {
	dst = append(dst, pendingFormat)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Scored))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(p.Deadline))
	return append(dst, p.Vector...)
}

// DecodePending decodes what AppendBinary wrote. The Vector aliases b.
func DecodePending(b []byte) (Pending, error) {
	if len(b) < 13 || b[0] != pendingFormat {
		return Pending{}, fmt.Errorf("decode pending: %w", features.ErrCorrupt)
	}
	return Pending{
		Scored:   math.Float64frombits(binary.LittleEndian.Uint64(b[1:])),
		Deadline: windows.Sec(binary.LittleEndian.Uint32(b[9:])),
		Vector:   b[13:],
	}, nil
}

// LearnPending learns the label of a pending score: it decodes the stored
// vector into scratch (reused; no allocation once grown) and calls Learn.
func (m *Model) LearnPending(p Pending, positive bool, scratch *features.Vector) error {
	if err := m.set.DecodeVector(p.Vector, scratch); err != nil {
		return fmt.Errorf("learn %s: %w", m.cfg.Name, err)
	}
	m.Learn(Label{Vector: scratch, Positive: positive, Scored: p.Scored})
	return nil
}
