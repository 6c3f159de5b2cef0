package windows

import (
	"testing"
)

// FuzzRestore feeds arbitrary bytes to Restore and RestoreMeta, as a
// corrupted or hostile changelog record would. Invariant: never panics;
// every input is either restored or rejected with an error wrapping
// ErrCorrupt; a restored key re-encodes to a record that restores again.
func FuzzRestore(f *testing.F) {
	h := &testHandler{}
	e := New[testState, testEvent](Config{Mode: Backfill}, h, testCodec{})
	for i, ts := range []Sec{t0, t0 + 60, t0 + 4000} {
		e.Process("k", ts, testEvent{Key: "k", T: ts, V: float64(i)})
	}
	_ = e.Snapshot(func(_ string, v []byte) error { f.Add(append([]byte(nil), v...)); return nil })
	f.Add(e.Meta())
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e := New[testState, testEvent](Config{Mode: Backfill}, &testHandler{}, testCodec{})
		_ = e.RestoreMeta(b)
		if err := e.Restore("k", b); err != nil {
			return
		}
		var again []byte
		_ = e.Snapshot(func(_ string, v []byte) error { again = append([]byte(nil), v...); return nil })
		e2 := New[testState, testEvent](Config{Mode: Backfill}, &testHandler{}, testCodec{})
		if err := e2.Restore("k", again); err != nil {
			t.Fatalf("re-encoded record does not restore: %v", err)
		}
		// A restored engine keeps working.
		e2.Process("k", t0+9000, testEvent{Key: "k", T: t0 + 9000, V: 1})
		e2.AdvanceTo(t0 + 90000)
	})
}
