package models

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf8"
)

// refFloat is how the reasons JSON formatted numbers before the fast path:
// the rounded value in strconv's shortest 'g' form.
func refFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	return strconv.AppendFloat(dst, math.Round(f*1e4)/1e4, 'g', -1, 64)
}

// refString is the rune-by-rune JSON string encoding appendString keeps for
// input that is not plain ASCII.
func refString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

func checkFloat(t *testing.T, f float64) {
	t.Helper()
	if got, want := appendFloat(nil, f), refFloat(nil, f); string(got) != string(want) {
		t.Fatalf("appendFloat(%v) = %s, want %s", f, got, want)
	}
}

// TestAppendFloatMatchesStrconv: the reasons JSON is byte for byte what it
// was (readers and stored rows compare equal), over the values reasons
// carry and every magnitude around the fast path's edges.
func TestAppendFloatMatchesStrconv(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), -0.00004, 0.00004, 0.00005, -0.00005, 1e-4, 0.1, 0.5, 1, -1,
		0.12345, 2.5, 3, 1234.56785, 99999.99995, 999999.99994, 999999.99995, 1e6, -1e6, 1e7 + 0.5, 123456789.123,
		1e21, -1e21, 1e300, 5e-324, math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		checkFloat(t, f)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		f := (r.Float64()*2 - 1) * math.Pow(10, float64(r.IntN(16)-6))
		checkFloat(t, f)
		checkFloat(t, math.Round(f*1e4)/1e4) // exact ten-thousandths
		checkFloat(t, float64(r.IntN(2_000_000))-1e6)
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, x := range []float64{0, -0.00004, 0.7123, 1e6, 123456.5} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) { checkFloat(t, x) })
}

func TestAppendStringMatchesRunes(t *testing.T) {
	for _, s := range []string{"", "ev-1", "pricing_views_7d", `a"b`, `a\b`, "tab\there", "\x00\x1f", "café", "\xff\xfe",
		"日本", "x\u2028y", "0123456789abcdef-0123-4567-89ab-cdef01234567"} {
		if got, want := appendString([]byte("pre"), s), refString([]byte("pre"), s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"ev-1", `q"`, "é\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendString(nil, s), refString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestPlainWord: every word with a byte to escape or outside ASCII is
// caught, at every position, beside plain bytes of every value.
func TestPlainWord(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			for _, fill := range []byte{' ', 'a', '~', '!', '#', '[', ']', 0x7f} {
				var b [8]byte
				for i := range b {
					b[i] = fill
				}
				b[pos] = byte(c)
				want := plainJSON[c] && plainJSON[fill]
				if got := plainWord(binary.LittleEndian.Uint64(b[:])); got != want {
					t.Fatalf("plainWord(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}
