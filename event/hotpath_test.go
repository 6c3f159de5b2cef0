package event

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func special8Slow(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}

// TestSpecial8 checks the word-at-a-time test against the byte-wise one:
// every byte value at every position among plain bytes (and among bytes
// just above the borrow-prone values), then random words.
func TestSpecial8(t *testing.T) {
	for _, fill := range []byte{'a', ' ', '!', '#', ']', 0x7f, '\\' + 1} {
		for pos := range 8 {
			for c := range 256 {
				b := []byte{fill, fill, fill, fill, fill, fill, fill, fill}
				b[pos] = byte(c)
				if got, want := special8(binary.LittleEndian.Uint64(b)), special8Slow(b); got != want {
					t.Fatalf("special8(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8)
	for range 1_000_000 {
		binary.LittleEndian.PutUint64(b, r.Uint64())
		for i := range b { // mostly printable ASCII, as real text
			if r.IntN(4) != 0 {
				b[i] = byte(0x20 + r.IntN(0x60))
			}
		}
		if got, want := special8(binary.LittleEndian.Uint64(b)), special8Slow(b); got != want {
			t.Fatalf("special8(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestCollapseSpace(t *testing.T) {
	for _, s := range []string{"", " ", "Ann", "Ann Lee", "Ann  Lee", " Ann Lee", "Ann Lee ", "Ann\tLee", "A\nB\vC\fD\rE",
		"Zoë Lee", "Ann\u00a0Lee", "Ann\u2003 Lee", "\u0085Ann", "a b c d", "  ", "a  ", "日本 語"} {
		if got, want := collapseSpace(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Errorf("collapseSpace(%q) = %q, want %q", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = collapseSpace("Ann Lee") }); n != 0 {
		t.Errorf("%v allocations for a tidy name", n)
	}
}

func TestLookupLower(t *testing.T) {
	m := map[string]string{"germany": "DE", "méxico": "MX", strings.Repeat("x", 70): "X"}
	for _, k := range []string{"Germany", "GERMANY", "germany", "MÉXICO", "México", strings.Repeat("X", 70), "Germany ", "", "ǅ"} {
		v, ok := lookupLower(m, k)
		wv, wok := m[strings.ToLower(k)]
		if v != wv || ok != wok {
			t.Errorf("lookupLower(%q) = %q %v, want %q %v", k, v, ok, wv, wok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = lookupLower(m, "Germany") }); n != 0 {
		t.Errorf("%v allocations for an ASCII key", n)
	}
}

// FuzzCollapseSpace: collapseSpace is strings.Join(strings.Fields(s), " ").
func FuzzCollapseSpace(f *testing.F) {
	f.Add("Ann  Lee")
	f.Add(" a\u00a0b\tc ")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := collapseSpace(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("collapseSpace(%q) = %q, want %q", s, got, want)
		}
	})
}

// FuzzValidUTF8: validUTF8 is utf8.ValidString.
func FuzzValidUTF8(f *testing.F) {
	f.Add("plain ascii text, long enough")
	f.Add("Zoë \xff \U0001F600 ✓ abcdefgh")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validUTF8(s), utf8.ValidString(s); got != want {
			t.Fatalf("validUTF8(%q) = %v, want %v", s, got, want)
		}
	})
}
