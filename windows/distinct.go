package windows

import (
	"math"
	"math/bits"
)

// Distinct estimates the number of distinct items added to it (pages
// visited, features used, e-mail campaigns clicked) by linear counting over a
// 128-bit bitmap: 16 bytes, no allocation, mergeable by OR.
//
// The estimate is −m·ln(z/m) with m = 128 bits and z the zero bits. Its
// relative standard error is below 5 % up to about 100 distinct items and
// grows beyond; once every bit is set the estimate saturates at Saturated.
// Per-lead distinct counts in a CRM rarely reach that range; use an exact
// count or a bigger sketch elsewhere if they do.
type Distinct struct {
	B [2]uint64
}

// Saturated is the largest estimate Distinct returns (m·ln m for m = 128).
const Saturated = 621

// AddHash adds an item by its 64-bit hash. Use Hash or HashString so that
// estimates and snapshots are the same in every process.
func (d *Distinct) AddHash(h uint64) {
	i := h & 127
	d.B[i>>6] |= 1 << (i & 63)
}

// AddString adds the item s.
func (d *Distinct) AddString(s string) { d.AddHash(HashString(s)) }

// Merge adds the items of o.
func (d *Distinct) Merge(o Distinct) {
	d.B[0] |= o.B[0]
	d.B[1] |= o.B[1]
}

// Estimate returns the estimated number of distinct items, rounded.
func (d Distinct) Estimate() uint32 {
	set := bits.OnesCount64(d.B[0]) + bits.OnesCount64(d.B[1])
	zeros := 128 - set
	if zeros == 0 {
		return Saturated
	}
	return uint32(math.Round(-128 * math.Log(float64(zeros)/128)))
}

// Empty reports whether nothing was added.
func (d Distinct) Empty() bool { return d.B == [2]uint64{} }

// HashString is a stable 64-bit hash (FNV-1a followed by the splitmix64
// finalizer) of s. Stable means the same value in every process and release,
// which snapshots restored elsewhere depend on; maphash is seeded per process
// and would not do.
func HashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// Hash is HashString for a number (e.g. an enum or an id already numeric).
func Hash(v uint64) uint64 { return mix64(v + 0x9e3779b97f4a7c15) }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
