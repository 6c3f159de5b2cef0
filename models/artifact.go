package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/crmstream/crmstream/features"
)

// Artifact kinds.
const (
	KindFTRL   = "ftrl"   // online FTRL-Proximal state (z and n per coordinate)
	KindLogReg = "logreg" // batch logistic regression weights (L-BFGS)
	KindTree   = "tree"   // decision tree / forest: evaluated, not servable by Model
)

// ArtifactFormat is the version of the artifact encoding.
const ArtifactFormat = 2

// Artifact is a serialized model version: its weights over the model's
// index space and what is needed to check it fits the features it is
// loaded with. Stored as JSON in crm.models.artifact.
type Artifact struct {
	Format    int       `json:"format"`
	Model     string    `json:"model"`   // lead, churn
	Version   string    `json:"version"` // unique per model
	Kind      string    `json:"kind"`
	Features  string    `json:"features"` // features.Set fingerprint
	Bits      uint      `json:"bits"`
	CreatedAt time.Time `json:"created_at"`
	FTRL      FTRL      `json:"ftrl"`
	// Sparse weights: Index[i] has weight W[i]; for KindFTRL, Z and N give
	// the learner's state instead.
	Index []uint32  `json:"index"`
	W     []float64 `json:"w,omitempty"`
	Z     []float64 `json:"z,omitempty"`
	N     []float64 `json:"n,omitempty"`
	// FakeNegatives: the weights estimate q = p/(1+p) (trained with every
	// example also as a negative, see Config.FakeNegatives). Must match the
	// model it is loaded into.
	FakeNegatives bool               `json:"fake_negatives"`
	CalibA        float64            `json:"calib_a"`
	CalibB        float64            `json:"calib_b"`
	Labels        uint64             `json:"labels"` // examples behind the weights (sets the blend confidence)
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	Description   string             `json:"description,omitempty"`
}

// Marshal encodes the artifact.
func (a *Artifact) Marshal() ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("marshal artifact %s: %w", a.Version, err)
	}
	return b, nil
}

// UnmarshalArtifact decodes and checks an artifact.
func UnmarshalArtifact(b []byte) (*Artifact, error) {
	var a Artifact
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("unmarshal artifact: %w", err)
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return &a, nil
}

// ErrIncompatible is returned (wrapped) by Load when an artifact does not
// fit the model: another feature schema, hash size or a kind it cannot serve.
var ErrIncompatible = errors.New("incompatible artifact")

func (a *Artifact) check() error {
	if a.Format != ArtifactFormat {
		return fmt.Errorf("artifact %s: format %d: %w", a.Version, a.Format, ErrIncompatible)
	}
	if a.Version == "" || a.Model == "" {
		return fmt.Errorf("artifact: empty model or version: %w", ErrIncompatible)
	}
	switch a.Kind {
	case KindFTRL:
		if len(a.Z) != len(a.Index) || len(a.N) != len(a.Index) {
			return fmt.Errorf("artifact %s: z/n length: %w", a.Version, ErrIncompatible)
		}
	case KindLogReg:
		if len(a.W) != len(a.Index) {
			return fmt.Errorf("artifact %s: w length: %w", a.Version, ErrIncompatible)
		}
	case KindTree:
	default:
		return fmt.Errorf("artifact %s: kind %q: %w", a.Version, a.Kind, ErrIncompatible)
	}
	return nil
}

// Artifact snapshots the model's current state as an FTRL artifact with the
// given version (the model's own version if empty).
func (m *Model) Artifact(version string) *Artifact {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if version == "" {
		version = m.version
	}
	a := &Artifact{Format: ArtifactFormat, Model: m.cfg.Name, Version: version, Kind: KindFTRL,
		Features: m.set.Fingerprint(), Bits: m.cfg.Bits, CreatedAt: m.now().UTC(), FTRL: m.cfg.FTRL,
		CalibA: m.ca, CalibB: m.cb, Labels: m.labels, FakeNegatives: m.cfg.FakeNegatives}
	for i := range m.w.z {
		if m.w.z[i] != 0 || m.w.n[i] != 0 {
			a.Index = append(a.Index, uint32(i))
			a.Z = append(a.Z, m.w.z[i])
			a.N = append(a.N, m.w.n[i])
		}
	}
	return a
}

// IndexSize returns the number of weights of the model (numeric inputs,
// bias and hashed categorical buckets).
func (m *Model) IndexSize() int { return m.size() }

// seedN is the squared-gradient sum a batch weight is seeded with: the
// online learner continues from it at rate alpha/(beta+sqrt(seedN)).
const seedN = 4

// Load swaps the model to an artifact, live: scores after Load use it.
// Artifacts of another feature schema, hash size or an unservable kind are
// refused with an error wrapping ErrIncompatible and the model is unchanged.
func (m *Model) Load(a *Artifact) error {
	if err := a.check(); err != nil {
		return err
	}
	if a.Model != m.cfg.Name {
		return fmt.Errorf("load %s: artifact of model %q into %q: %w", a.Version, a.Model, m.cfg.Name, ErrIncompatible)
	}
	if a.Features != m.set.Fingerprint() || a.Bits != m.cfg.Bits {
		return fmt.Errorf("load %s: features %s/%d bits, model has %s/%d: %w", a.Version, a.Features, a.Bits,
			m.set.Fingerprint(), m.cfg.Bits, ErrIncompatible)
	}
	if a.FakeNegatives != m.cfg.FakeNegatives {
		return fmt.Errorf("load %s: fake negatives %v, model %v: %w", a.Version, a.FakeNegatives, m.cfg.FakeNegatives, ErrIncompatible)
	}
	if a.Kind == KindTree {
		return fmt.Errorf("load %s: kind %s is not servable: %w", a.Version, a.Kind, ErrIncompatible)
	}
	size := m.size()
	w := newWeights(m.cfg.FTRL, size)
	for k, i := range a.Index {
		if int(i) >= size {
			return fmt.Errorf("load %s: index %d out of range: %w", a.Version, i, ErrIncompatible)
		}
		switch a.Kind {
		case KindFTRL:
			w.z[i], w.n[i] = a.Z[k], a.N[k]
		case KindLogReg:
			if math.IsNaN(a.W[k]) || math.IsInf(a.W[k], 0) {
				return fmt.Errorf("load %s: weight %d not finite: %w", a.Version, i, ErrIncompatible)
			}
			w.set(int(i), a.W[k], seedN)
		}
	}
	w.refresh()
	ca := a.CalibA
	if ca <= 0 {
		ca = 1
	}
	m.mu.Lock()
	m.w, m.ca, m.cb, m.labels, m.version, m.kind = w, ca, a.CalibB, a.Labels, a.Version, a.Kind
	m.loadedAt = m.now()
	m.mu.Unlock()
	m.logger.Info("model loaded", "version", a.Version, "kind", a.Kind, "weights", len(a.Index), "labels", a.Labels)
	return nil
}

// Encode writes the model inputs of v (weight index and input value per
// active input, the bias included) into idx and x and returns how many it
// wrote; idx and x need room for 40 entries. The inputs are the numeric
// features, the bias and the hashed categorical values. Batch trainers use it so that
// their weights load into the model unchanged.
func (m *Model) Encode(v *features.Vector, idx []int32, x []float64) int {
	var ex example
	m.encode(v, &ex)
	n := copy(idx, ex.idx[:ex.n])
	copy(x, ex.x[:n])
	return n
}
