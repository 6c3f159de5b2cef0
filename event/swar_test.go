package event

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
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
