package scorer

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/windows"
)

// longLivedDays are the days (after lead_created) on which every lead of
// BenchmarkStateLongLived has an event: one between each of the lead
// model's sample ages (1, 3, 7, 14, 30 days), so each age is sampled with
// a vector of its own, and the last past 30 days, so the lead holds every
// sample its pending label can have (the wait's start and five ages).
var longLivedDays = [...]float64{0, 0.5, 2, 5, 10, 20, 31}

// longLivedEvent is event r (round r of longLivedDays) of lead i of n.
func longLivedEvent(n, r, i int) event.Event {
	types := [...]event.Type{event.LeadCreated, event.PageView, event.EmailOpen, event.FormSubmit, event.EmailClick, event.PageView, event.PageView}
	lead := fmt.Sprintf("lead-%07d", i)
	// Round r of every lead within the first hour of its day, leads in
	// order: the stream is in event time, as the Backfill engine wants.
	at := base.Add(time.Duration(longLivedDays[r]*24*float64(time.Hour)) + time.Duration(i)*time.Hour/time.Duration(n))
	ev := event.Event{
		ID: fmt.Sprintf("ev-%d-%07d", r, i), Type: types[r], OccurredAt: at,
		LeadID: lead, AccountID: "acc-" + lead[5:], OwnerID: "rep-1", Source: "web",
		SessionID:  fmt.Sprintf("s-%d-%d", i, r),
		Properties: event.Properties{{Key: "path", Kind: event.KindString, Str: fmt.Sprintf("/p/%d", (i+r)%17)}},
	}
	if r == 0 { // the profile the categorical features read
		ev.Contact = event.Contact{Email: fmt.Sprintf("l%d@acme.io", i), Title: "VP Sales", Company: "Acme", Country: "DE"}
		str := func(k, v string) event.Property { return event.Property{Key: k, Kind: event.KindString, Str: v} }
		ev.Properties = event.Properties{str("campaign", fmt.Sprintf("c%d", i%9)), str("company_size", "51-200"),
			str("industry", "software"), str("landing_page_id", fmt.Sprintf("lp%d", i%31)), str("origin", "paid_search"),
			str("seniority", "vp")}
	}
	return ev
}

// BenchmarkStateLongLived measures the heap held per lead, as cmd/scorer
// runs (models, alerts, daily re-scores), for leads aged past 30 days and
// not yet labelled: each holds the feature state and a pending label with
// all six of its training samples. 100 k leads, as BenchmarkStatePerKey, so
// that the models' weights and the worker's buffers (about 15 MB in all)
// weigh as little there (CRM_BENCH_KEYS to change);
// run with -benchtime=1x. pending-bytes/key is the encoded pending labels'
// share of bytes/key (their length, before size-class rounding).
// CRM_BENCH_HEAPPROFILE=file writes a heap profile while the leads are held.
func BenchmarkStateLongLived(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CRM_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		cfg := WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow,
			Models: testModels(b), Detector: benchDetector(b)}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w := NewWorker(cfg)
		off := int64(0)
		for r := range longLivedDays {
			for i := range n {
				ev := longLivedEvent(n, r, i)
				w.Process(off, &ev)
				off++
				if w.Pending() > 10000 {
					_ = w.Flush(context.Background(), discardSink{})
				}
			}
		}
		_ = w.Flush(context.Background(), discardSink{})
		runtime.GC()
		runtime.ReadMemStats(&after)
		if f := os.Getenv("CRM_BENCH_HEAPPROFILE"); f != "" {
			writeHeapProfile(b, f)
		}
		var pending, samples int
		for i := range n {
			s := w.eng.Get(fmt.Sprintf("lead-%07d", i))
			if s == nil || s.ML.Pending == nil {
				b.Fatalf("lead %d holds no pending label", i)
			}
			pending += len(s.ML.Pending)
			p, err := models.DecodePending(s.ML.Pending)
			if err != nil {
				b.Fatal(err)
			}
			samples += len(p.Samples)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/key")
		b.ReportMetric(float64(pending)/float64(n), "pending-bytes/key")
		var enc int
		_ = w.eng.Snapshot(func(_ string, v []byte) error { enc += len(v); return nil })
		b.ReportMetric(float64(enc)/float64(n), "changelog-bytes/key")
		b.ReportMetric(float64(samples)/float64(n), "samples/key")
		runtime.KeepAlive(w)
	}
}

// writeHeapProfile writes the live heap (after a GC) to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// TestStateSize: a key's State plus the engine's 56 bytes of bookkeeping
// fill one 352-byte size class (the next is 384): a field added here costs
// 32 bytes per key unless another goes.
func TestStateSize(t *testing.T) {
	if n := unsafe.Sizeof(State{}); n > 352-56 {
		t.Fatalf("State is %d bytes: with the engine's 56 the entry leaves the 352-byte size class", n)
	}
}
