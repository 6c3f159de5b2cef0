package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/crmstream/crmstream/windows"
)

// Vector is the value of every feature of a Set for one key at one time:
// what a model scores and learns from, and what reasons cite.
//
// A Vector is reusable: State.Vector and Set.FromRow overwrite it and reuse
// its slices, so a scorer that keeps one Vector per worker scores without
// allocating. Its strings are shared with the State: categorical values
// stay valid after the State changes, evidence ids (NumEvidence,
// CatEvidence) only until the State's next Update (copy them to keep them).
// Not safe for concurrent use.
type Vector struct {
	Set     *Set
	At      windows.Sec // the time the features are "as of"
	Num     []float64   // raw numeric values in Set.NumNames order
	Cat     []string    // categorical values in Set.CatNames order; "" = unknown
	CatHash []uint64    // stable hash of name=value per categorical feature; 0 = unknown
	In      []float64   // model inputs: Num after each feature's Transform (computed once per vector)

	recent     [recentIDs]string // ids of the latest events that matched a filter, newest first
	recentMask [recentIDs]uint32 // the filters each matched
	source     string            // id of the event that last set a categorical value
	raw        []raw

	// the categorical values last hashed and their hashes, for hashSet's
	// categorical features: a worker's Vector goes from key to key, and
	// keys share values (industry, company size, country…)
	hashSet *Set
	hashed  []string
	hashes  []uint64
}

// raw is one definition's aggregate before finalization: the common ground
// of the streaming state and a ClickHouse row.
type raw struct {
	f float64
	s string
	b [2]uint64
	t windows.Sec
}

func (v *Vector) reset(set *Set, at windows.Sec) {
	v.Set, v.At = set, at
	v.Num = resize(v.Num, len(set.nums))
	v.Cat = resize(v.Cat, len(set.cats))
	v.CatHash = resize(v.CatHash, len(set.cats))
	v.In = resize(v.In, len(set.nums))
	v.raw = resize(v.raw, len(set.defs)) // not cleared: its writers set every field finalize reads
	v.recent = [recentIDs]string{}
	v.recentMask = [recentIDs]uint32{}
	v.source = ""
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// finalize turns raw aggregates into feature values as of v.At.
func (v *Vector) finalize() {
	s := v.Set
	for i := range s.nums {
		nf := &s.nums[i]
		if nf.def < 0 {
			d := &s.derived[nf.derived]
			a, b := v.Num[nf.a], v.Num[nf.b]
			switch d.Op {
			case Ratio:
				sc := d.Scale
				if sc == 0 {
					sc = 1
				}
				if b != 0 {
					v.Num[i] = sc * a / b
				} else {
					v.Num[i] = 0
				}
			case Diff:
				v.Num[i] = a - b
			}
			continue
		}
		r := &v.raw[nf.def]
		switch s.defs[nf.def].Agg {
		case Distinct:
			v.Num[i] = distinctEstimate[bits.OnesCount64(r.b[0])+bits.OnesCount64(r.b[1])]
		case Decay:
			if r.t == 0 || r.t >= v.At { // at its own time 2^−0 = 1: no Exp2
				v.Num[i] = r.f
			} else {
				v.Num[i] = r.f * math.Exp2(-float64(v.At-r.t)/float64(s.defs[nf.def].HalfLife))
			}
		case SinceLast, SinceFirst:
			if r.t == 0 || r.t > v.At {
				v.Num[i] = -1
			} else {
				v.Num[i] = float64(v.At-r.t) / float64(windows.Day)
			}
		default:
			v.Num[i] = r.f
		}
	}
	v.inputs()
	for i := range s.cats {
		c := &s.cats[i]
		val := v.raw[c.def].s
		v.Cat[i] = val
		switch {
		case val == "":
			v.CatHash[i] = 0
		case v.hashSet == s && v.hashed[i] == val:
			v.CatHash[i] = v.hashes[i]
		default:
			v.CatHash[i] = catHashFrom(c.prefix, val)
			if v.hashSet != s {
				v.hashSet = s
				v.hashed = resize(v.hashed, len(s.cats))
				v.hashes = resize(v.hashes, len(s.cats))
				clear(v.hashed)
			}
			v.hashed[i], v.hashes[i] = val, v.CatHash[i]
		}
	}
}

// CatHash is the stable 64-bit hash of the categorical value name=value
// (FNV-1a and a splitmix64 finalizer; never 0). Models index their weights
// by it.
func CatHash(name, value string) uint64 { return catHashFrom(catPrefix(name), value) }

// catPrefix is the FNV-1a state after "name=" (precomputed per feature).
func catPrefix(name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return (h ^ '=') * 1099511628211
}

func catHashFrom(h uint64, value string) uint64 {
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * 1099511628211
	}
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
	h = (h ^ (h >> 27)) * 0x94d049bb133111eb
	h ^= h >> 31
	if h == 0 {
		h = 1
	}
	return h
}

// log1pTable holds log(1+n) for small n (immutable).
var log1pTable = func() (t [256]float64) {
	for i := range t {
		t[i] = math.Log1p(float64(i))
	}
	return t
}()

// fresh is a Fresh transform of x ≤ 0: 0 for "never" (−1), 1 for now.
func fresh(x float64) float64 {
	if x < 0 {
		return 0
	}
	return 1
}

// distinctEstimate is windows.Distinct.Estimate by the number of bits set
// (all it depends on), as a float64: a lookup instead of a logarithm.
var distinctEstimate = func() (t [129]float64) {
	for n := range t {
		var d windows.Distinct
		for i := range n {
			d.B[i>>6] |= 1 << (i & 63)
		}
		t[n] = float64(d.Estimate())
	}
	return t
}()

func apply(t Transform, x float64) float64 {
	switch t {
	case Log1p:
		if x >= 0 && x < float64(len(log1pTable)) && x == float64(int(x)) { // int(x) truncates: no Trunc call
			return log1pTable[int(x)] // counts: most inputs are small integers
		}
		return math.Log1p(max(x, 0))
	case Fresh7:
		if x <= 0 { // e^−0 = 1: the vector at the event's own time
			return fresh(x)
		}
		return math.Exp(-x / 7)
	case Fresh30:
		if x <= 0 {
			return fresh(x)
		}
		return math.Exp(-x / 30)
	case Clip01:
		return min(max(x, 0), 1)
	case Clip10:
		return min(max(x, 0), 10)
	}
	return x
}

func (v *Vector) inputs() {
	for i := range v.Num {
		v.In[i] = apply(v.Set.nums[i].transform, v.Num[i])
	}
}

// Input returns the model input of numeric feature i (the raw value after
// the feature's Transform).
func (v *Vector) Input(i int) float64 {
	if len(v.In) == len(v.Num) {
		return v.In[i]
	}
	return apply(v.Set.nums[i].transform, v.Num[i])
}

// NumEvidence appends to dst the ids of the recent events behind numeric
// feature i (newest first; at most the State's evidence ring) and returns
// dst. With a dst of sufficient capacity it does not allocate.
func (v *Vector) NumEvidence(i int, dst []string) []string {
	m := v.Set.nums[i].mask
	for j := range v.recent {
		if v.recent[j] != "" && v.recentMask[j]&m != 0 {
			dst = append(dst, v.recent[j])
		}
	}
	return dst
}

// CatEvidence appends the id of the event that set categorical feature i.
func (v *Vector) CatEvidence(i int, dst []string) []string {
	if v.source != "" && v.Cat[i] != "" {
		dst = append(dst, v.source)
	}
	return dst
}

// vectorFormat versions the binary encoding of a Vector.
const vectorFormat = 1

// AppendBinary appends a compact encoding of the values a model learns from
// (numeric values as float32, categorical hashes, the time): what a scorer
// keeps with a pending label. Categorical strings and evidence are not
// encoded.
func (v *Vector) AppendBinary(dst []byte) []byte {
	dst = append(dst, vectorFormat)
	dst = binary.AppendUvarint(dst, uint64(v.At))
	n := 0
	for _, x := range v.Num {
		if x != 0 {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for i, x := range v.Num {
		if x != 0 {
			dst = binary.AppendUvarint(dst, uint64(i))
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(x)))
		}
	}
	n = 0
	for _, h := range v.CatHash {
		if h != 0 {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for i, h := range v.CatHash {
		if h != 0 {
			dst = binary.AppendUvarint(dst, uint64(i))
			dst = binary.LittleEndian.AppendUint64(dst, h)
		}
	}
	return dst
}

// ErrCorrupt is returned (wrapped) when encoded data cannot be decoded.
var ErrCorrupt = errors.New("corrupt encoding")

// DecodeVector decodes what AppendBinary wrote for the same Set into dst.
// It never panics; out-of-range indexes or truncated input return an error
// wrapping ErrCorrupt.
func (s *Set) DecodeVector(b []byte, dst *Vector) error {
	if len(b) == 0 || b[0] != vectorFormat {
		return fmt.Errorf("decode vector: format: %w", ErrCorrupt)
	}
	b = b[1:]
	at, b, err := uvarint(b)
	if err != nil || at > math.MaxUint32 {
		return fmt.Errorf("decode vector: time: %w", ErrCorrupt)
	}
	dst.reset(s, windows.Sec(at))
	clear(dst.Num)
	clear(dst.Cat)
	clear(dst.CatHash)
	n, b, err := uvarint(b)
	if err != nil || n > uint64(len(s.nums)) {
		return fmt.Errorf("decode vector: numeric count: %w", ErrCorrupt)
	}
	for range n {
		var i uint64
		if i, b, err = uvarint(b); err != nil || i >= uint64(len(s.nums)) || len(b) < 4 {
			return fmt.Errorf("decode vector: numeric: %w", ErrCorrupt)
		}
		dst.Num[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		b = b[4:]
	}
	if n, b, err = uvarint(b); err != nil || n > uint64(len(s.cats)) {
		return fmt.Errorf("decode vector: categorical count: %w", ErrCorrupt)
	}
	for range n {
		var i uint64
		if i, b, err = uvarint(b); err != nil || i >= uint64(len(s.cats)) || len(b) < 8 {
			return fmt.Errorf("decode vector: categorical: %w", ErrCorrupt)
		}
		dst.CatHash[i] = binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	if len(b) != 0 {
		return fmt.Errorf("decode vector: %d trailing bytes: %w", len(b), ErrCorrupt)
	}
	dst.inputs()
	return nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, ErrCorrupt
	}
	return v, b[n:], nil
}
