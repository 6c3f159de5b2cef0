package collector

import (
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

func TestSplit(t *testing.T) {
	cases := []struct {
		name string
		in   string
		f    Format
		want []string
	}{
		{"array", `[{"a":1}, {"b":[1,2,{"c":"]"}]} ]`, Array, []string{`{"a":1}`, `{"b":[1,2,{"c":"]"}]}`}},
		{"strings with brackets and escapes", `[{"a":"x\",]}"},{"b":"\\"}]`, Array, []string{`{"a":"x\",]}"}`, `{"b":"\\"}`}},
		{"empty array", ` [ ] `, Array, nil},
		{"empty element", `[1,,2]`, Array, []string{"1", "", "2"}},
		{"trailing comma", `[1,]`, Array, []string{"1", ""}},
		{"truncated", `[{"a":1},{"b":`, Array, []string{`{"a":1}`, `{"b":`}},
		{"unterminated string", `[{"a":"]`, Array, []string{`{"a":"]`}},
		{"trailing garbage", `[1] {"x":1}`, Array, []string{"1", `{"x":1}`}},
		{"stray closer", `[{"a":1}}, 2]`, Array, []string{`{"a":1}}`, "2"}},
		{"not an array", `hello`, Array, []string{"hello"}},
		{"ndjson", "{\"a\":1}\n\n  {\"b\":2}\r\n", NDJSON, []string{`{"a":1}`, `{"b":2}`}},
		{"ndjson no final newline", "1\n2", NDJSON, []string{"1", "2"}},
		{"ndjson blank", "\n \r\n", NDJSON, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			n, complete := Split([]byte(tc.in), tc.f, func(item []byte) bool { got = append(got, string(item)); return true })
			if !complete || n != len(got) {
				t.Fatalf("n=%d complete=%v items=%d", n, complete, len(got))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitStops(t *testing.T) {
	calls := 0
	n, complete := Split([]byte(`[1,2,3,4]`), Array, func([]byte) bool { calls++; return calls < 2 })
	if n != 2 || complete || calls != 2 {
		t.Fatalf("n=%d complete=%v calls=%d", n, complete, calls)
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		ct, body string
		want     Format
	}{
		{"application/json", " [1]", Array},
		{"application/json", `{"a":1}`, NDJSON},
		{"application/x-ndjson", "[1]\n[2]", NDJSON},
		{"Application/X-NDJSON; charset=utf-8", "{}", NDJSON},
		{"", "", NDJSON},
	} {
		if got := Detect(tc.ct, []byte(tc.body)); got != tc.want {
			t.Errorf("Detect(%q, %q) = %d, want %d", tc.ct, tc.body, got, tc.want)
		}
	}
}

// FuzzSplit: Split never panics; items are sub-slices of the input in order
// and never overlap; an array of valid JSON values splits into exactly the
// values json.Marshal wrote.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`[{"a":1},{"b":"]"}]`, "{\"a\":1}\n{\"b\":2}", `[1,,2`, `["\\"]`, `[[[[`, "\x00\xff"} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, array bool) {
		f := NDJSON
		if array {
			f = Array
		}
		last := -1
		n, complete := Split(b, f, func(item []byte) bool {
			if len(item) > 0 {
				off := offsetIn(b, item)
				if off < 0 {
					t.Fatalf("item %q is not a sub-slice of the input", item)
				}
				if off <= last {
					t.Fatalf("items out of order or overlapping")
				}
				last = off + len(item) - 1
			}
			return true
		})
		if !complete || n < 0 {
			t.Fatalf("n=%d complete=%v", n, complete)
		}
		// Re-split a well-formed array built from the items' JSON-valid subset.
		var vals []json.RawMessage
		Split(b, f, func(item []byte) bool {
			if json.Valid(item) {
				vals = append(vals, append(json.RawMessage(nil), item...))
			}
			return true
		})
		if len(vals) == 0 {
			return
		}
		arr, err := json.Marshal(vals)
		if err != nil {
			return
		}
		var got int
		Split(arr, Array, func(item []byte) bool {
			if got < len(vals) && !json.Valid(item) {
				t.Fatalf("element %d of a valid array is not valid JSON: %q", got, item)
			}
			got++
			return true
		})
		if got != len(vals) {
			t.Fatalf("valid array of %d values split into %d", len(vals), got)
		}
	})
}

// offsetIn returns where sub starts in b when it is a sub-slice of b, else -1.
func offsetIn(b, sub []byte) int {
	off := cap(b) - cap(sub)
	if len(sub) == 0 || off < 0 || off+len(sub) > len(b) || &b[off] != &sub[0] {
		return -1
	}
	return off
}
