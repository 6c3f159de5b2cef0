package windows

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// TestKeyIndexMatchesMap puts, replaces, looks up and deletes random keys
// in a keyIndex and in a plain map, with a real hash and with one that
// sends every key to a few hashes (clashes on every put), and checks they
// always agree.
func TestKeyIndexMatchesMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(string) uint64
	}{
		{"maphash", nil},
		{"clashing", func(s string) uint64 { return uint64(len(s) % 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newKeyIndex[int]()
			if tc.hash != nil {
				x.hash = tc.hash
			}
			ref := map[string]*entry[int]{}
			r := rand.New(rand.NewPCG(3, 4))
			for i := range 20000 {
				k := fmt.Sprintf("k%d", r.IntN(300))
				switch r.IntN(3) {
				case 0, 1:
					en := &entry[int]{keyMeta: keyMeta{key: k}, state: i}
					x.put(en)
					ref[k] = en
				case 2:
					if en := ref[k]; en != nil {
						x.del(en)
						delete(ref, k)
					}
				}
				if got := x.get(k); got != ref[k] {
					t.Fatalf("step %d: get %s = %v, want %v", i, k, got, ref[k])
				}
				if x.len() != len(ref) {
					t.Fatalf("step %d: len %d, want %d", i, x.len(), len(ref))
				}
			}
			seen := map[string]*entry[int]{}
			_ = x.all(func(en *entry[int]) error { seen[en.key] = en; return nil })
			if !maps.Equal(seen, ref) {
				t.Fatalf("all: %d entries, want %d", len(seen), len(ref))
			}
			for k, en := range ref {
				if x.get(k) != en {
					t.Fatalf("get %s", k)
				}
			}
		})
	}
}
