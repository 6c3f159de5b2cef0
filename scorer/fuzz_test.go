package scorer

import (
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// FuzzChangelogRecord feeds arbitrary keys and values to the restore path of
// a worker with learned models, as a corrupted changelog would. Invariant:
// never panics; a record is restored or rejected with an error; the worker
// keeps processing afterwards.
func FuzzChangelogRecord(f *testing.F) {
	mm := testModels(f)
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow, Models: mm})
	w.Process(0, ev("c1", event.LeadCreated, "L1", 0))
	w.Process(1, ev("c2", event.PageView, "L1", time.Minute))
	w.Process(2, &event.Event{ID: "a1", Type: event.Login, AccountID: "A1", OccurredAt: base})
	_ = w.Checkpoint(func(k string, v []byte) error {
		f.Add(stateKey(0, k), append([]byte(nil), v...))
		return nil
	}, func(v []byte) error { f.Add(metaKey(0), append([]byte(nil), v...)); return nil })
	f.Add([]byte("0/x"), []byte{})
	f.Add([]byte("x#meta"), []byte{1, 2})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow, Models: mm})
		p, k, meta, err := parseKey(key)
		if err != nil {
			return
		}
		if meta {
			_ = w.RestoreMeta(value)
		} else if w.Restore(k, value) == nil && p == 0 {
			// A restored key accepts new events and timers.
			w.Process(-1, ev("n1", event.FormSubmit, k, 2*time.Minute))
			w.AdvanceTo(base.Add(200 * 24 * time.Hour))
		}
	})
}
