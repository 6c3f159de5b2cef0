package scorer

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"github.com/crmstream/crmstream/windows"
)

// benchEvent is event i of a steady stream over n leads: page views,
// e-mail opens and clicks, forms.
func benchEvent(n, i int) event.Event {
	types := [...]event.Type{event.PageView, event.PageView, event.EmailOpen, event.EmailClick, event.FormSubmit, event.PageView}
	lead := fmt.Sprintf("lead-%07d", (i*7919)%n)
	return event.Event{
		ID: fmt.Sprintf("ev-%09d", i), Type: types[i%len(types)], OccurredAt: base.Add(time.Duration(i) * 100 * time.Millisecond),
		LeadID: lead, AccountID: "acc-" + lead[5:], OwnerID: "rep-1", Source: "web",
		Properties: event.Properties{{Key: "path", Kind: event.KindString, Str: fmt.Sprintf("/p/%d", i%17)}},
	}
}

func benchEvents(n, count int) []event.Event {
	evs := make([]event.Event, count)
	for i := range evs {
		evs[i] = benchEvent(n, i)
	}
	return evs
}

// benchDetector is the alert detector with its default rules, as
// cmd/scorer runs it.
func benchDetector(b *testing.B) *alerts.Detector {
	d, err := alerts.New(alerts.DefaultConfig(), alerts.Options{Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func benchWorker(b *testing.B, learned, withAlerts bool) {
	const leads = 10_000
	evs := benchEvents(leads, 200_000)
	cfg := WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow}
	if learned {
		cfg.Models = testModels(b)
	}
	if withAlerts {
		cfg.Detector = benchDetector(b)
	}
	ids := make([]string, len(evs))
	for j := range evs {
		ids[j] = evs[j].ID
	}
	w := NewWorker(cfg)
	discard := discardSink{}
	i := 0
	var skip time.Duration // CPU spent preparing later laps, not counted
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		w.Process(int64(i), &evs[i%len(evs)])
		i++
		if i%len(evs) == 0 {
			// Next lap: later event times, same keys, fresh ids of one
			// length (as a source's UUIDs).
			t := benchcpu.Now()
			lap := fmt.Sprintf("-%04d", i/len(evs))
			for j := range evs {
				evs[j].OccurredAt = evs[j].OccurredAt.Add(6 * time.Hour)
				evs[j].ID = ids[j] + lap
			}
			skip += benchcpu.Now() - t
		}
		if w.Pending() >= 5000 {
			_ = w.Flush(context.Background(), discard)
		}
	}
	benchcpu.Report(b, cpu+skip, "events")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

type discardSink struct{}

func (discardSink) Write(context.Context, *Batch) error { return nil }

// BenchmarkWorkerRules: one worker, rule-based scores, 10 k leads.
func BenchmarkWorkerRules(b *testing.B) { benchWorker(b, false, false) }

// BenchmarkWorkerModels: one worker, features + learned models, 10 k leads.
func BenchmarkWorkerModels(b *testing.B) { benchWorker(b, true, false) }

// BenchmarkWorkerModelsAlerts: what cmd/scorer runs — models and the alert
// detector.
func BenchmarkWorkerModelsAlerts(b *testing.B) { benchWorker(b, true, true) }

// BenchmarkStatePerKey measures the heap held per lead by a worker (engine
// entry, windows, rules, alert state, features and pending label with
// models) at 100 k leads (CRM_BENCH_KEYS to change) with a few events each.
// Run with -benchtime=1x. alerts=true adds the detector, as cmd/scorer runs.
func BenchmarkStatePerKey(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CRM_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	for _, tc := range []struct{ learned, alerts bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		learned := tc.learned
		name := fmt.Sprintf("models=%v", learned)
		if tc.alerts {
			name += "/alerts=true"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				cfg := WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow}
				if learned {
					cfg.Models = testModels(b)
				}
				if tc.alerts {
					cfg.Detector = benchDetector(b)
				}
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				w := NewWorker(cfg)
				for i := range 4 * n {
					ev := benchEvent(n, i)
					w.Process(int64(i), &ev)
					if w.Pending() > 10000 {
						_ = w.Flush(context.Background(), discardSink{})
					}
				}
				_ = w.Flush(context.Background(), discardSink{})
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/key")
				var enc int
				_ = w.eng.Snapshot(func(_ string, v []byte) error { enc += len(v); return nil })
				b.ReportMetric(float64(enc)/float64(n), "changelog-bytes/key")
				runtime.KeepAlive(w)
			}
		})
	}
}
