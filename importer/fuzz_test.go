package importer

import (
	"bytes"
	"os"
	"testing"
)

// The readers take files from outside: for any bytes they never panic,
// and every row is either an accepted, valid event or a reject with a
// line and a reason.
func FuzzReadNDJSON(f *testing.F) {
	if b, err := os.ReadFile("testdata/history.ndjson"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ReadNDJSON(bytes.NewReader(body), "fuzz")
		if err != nil {
			t.Fatalf("in-memory read failed: %v", err)
		}
		check(t, b)
	})
}

func FuzzReadCSV(f *testing.F) {
	if b, err := os.ReadFile("testdata/leads.csv"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := ReadCSV(bytes.NewReader(body), "fuzz")
		if err != nil {
			return // a bad header fails the file, with a reason
		}
		check(t, b)
	})
}

func check(t *testing.T, b Batch) {
	t.Helper()
	for _, it := range b.Items {
		if err := it.Event.Validate(); err != nil || it.Line < 1 {
			t.Fatalf("accepted invalid row at line %d: %v", it.Line, err)
		}
	}
	for _, r := range b.Rejects {
		if r.Reason == "" || r.Line < 1 {
			t.Fatalf("reject without line or reason: %+v", r)
		}
	}
}
