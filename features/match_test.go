package features

import (
	"testing"

	"github.com/crmstream/crmstream/event"
)

// TestMatchTable: the per-type table gives the filters Filter.Match gives,
// for every built-in type, a custom one, an empty one, with and without
// the properties the filters test.
func TestMatchTable(t *testing.T) {
	lead, err := Lead()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := Account()
	if err != nil {
		t.Fatal(err)
	}
	odd, err := NewSet("odd", "lead_id", []Filter{{Name: "all"}, {Name: "empty", Types: []event.Type{""}},
		{Name: "any_pricing", Prop: "page_type", Values: []string{"pricing"}}},
		[]Def{{Name: "n", Agg: Count, Filter: "all"}, {Name: "e", Agg: Count, Filter: "empty"}, {Name: "p", Agg: Count, Filter: "any_pricing"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	types := append([]event.Type{"", "custom.thing", "page_vie", "page_viewx"}, event.Types...)
	propSets := []event.Properties{nil,
		{{Key: "page_type", Kind: event.KindString, Str: "pricing"}},
		{{Key: "stage", Kind: event.KindString, Str: "mql"}},
		{{Key: "page_type", Kind: event.KindString, Str: "blog"}, {Key: "stage", Kind: event.KindString, Str: "lead"}}}
	for _, s := range []*Set{lead, acct, odd} {
		for _, typ := range types {
			for _, props := range propSets {
				ev := event.Event{Type: typ, Properties: props}
				var want uint32
				for i := range s.filters {
					if s.filters[i].Match(&ev) {
						want |= 1 << i
					}
				}
				if got := s.match(&ev); got != want {
					t.Errorf("%s: %q %v: mask %b, want %b", s.name, typ, props, got, want)
				}
			}
		}
	}
}

// TestRingSums: the word-at-a-time sums equal the plain ones at every
// length, with saturated counters.
func TestRingSums(t *testing.T) {
	for n := range 80 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(255 - i*37%7) // mostly near saturation
		}
		var want1, want2 uint64
		for _, c := range b {
			want1 += uint64(c)
		}
		for i := 0; i+1 < n; i += 2 {
			want2 += uint64(b[i]) | uint64(b[i+1])<<8
		}
		if got := sumBytes(b); got != want1 {
			t.Errorf("sumBytes(%d bytes) = %d, want %d", n, got, want1)
		}
		if got := sumUint16s(b[:n&^1]); got != want2 {
			t.Errorf("sumUint16s(%d bytes) = %d, want %d", n, got, want2)
		}
		if n > 0 {
			if got := ringSum(b, 1, 5, n); got != want1 {
				t.Errorf("ringSum(whole %d) = %d, want %d", n, got, want1)
			}
		}
	}
}

func TestCatIndex(t *testing.T) {
	acct, err := Account()
	if err != nil {
		t.Fatal(err)
	}
	for want, name := range acct.CatNames() {
		if i, ok := acct.CatIndex(name); !ok || i != want {
			t.Errorf("CatIndex(%q) = %d, %v; want %d", name, i, ok, want)
		}
	}
	if i, ok := acct.CatIndex("mrr"); ok {
		t.Errorf("CatIndex(mrr) = %d: mrr is numeric", i)
	}
}
