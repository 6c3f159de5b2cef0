package scorer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/windows"
)

// TestCHSinkIdempotent writes a worker's batch to a fresh ClickHouse
// database twice (a retry after a crash) and reads every table back: each
// row once, lead_current holding the newest score.
func TestCHSinkIdempotent(t *testing.T) {
	store := chtest.New(t)
	ctx := context.Background()
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow, Features: true})
	w.Process(0, ev("e1", event.PageView, "L1", 0))
	w.Process(1, ev("e2", event.DemoRequested, "L1", time.Minute))
	w.Process(2, ev("e3", event.PageView, "L2", 10*time.Minute))
	w.Process(3, ev("e0", event.PageView, "L1", -10*time.Minute)) // beyond the lateness
	w.Process(4, &event.Event{ID: "a1", Type: event.Login, AccountID: "A1", OccurredAt: base.Add(11 * time.Minute)})
	sink := &CHSink{Conn: store.Conn, DB: store.DB, Metrics: NewMetrics(nil)}
	b := w.out
	for range 2 {
		if err := sink.Write(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := store.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for q, want := range map[string]uint64{
		"SELECT count() FROM " + store.DB + ".lead_scores FINAL":     3,
		"SELECT count() FROM " + store.DB + ".lead_current FINAL":    2,
		"SELECT count() FROM " + store.DB + ".churn_scores FINAL":    1,
		"SELECT count() FROM " + store.DB + ".account_current FINAL": 1,
		"SELECT count() FROM " + store.DB + ".late_events FINAL":     1,
		"SELECT count() FROM " + store.DB + ".features FINAL":        3,
	} {
		if got := count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	var score uint8
	var tier, reasons string
	if err := store.Conn.QueryRow(ctx, "SELECT score, tier, reasons FROM "+store.DB+".lead_current FINAL WHERE lead_id = 'L1'").Scan(&score, &tier, &reasons); err != nil {
		t.Fatal(err)
	}
	if want := b.Leads[1]; score != want.Score || tier != want.Tier || reasons != want.Reasons {
		t.Errorf("lead_current L1 = %d %s %s, want the demo-request row %d %s", score, tier, reasons, want.Score, want.Tier)
	}
}

// TestCHSinkGroupCommit: concurrent Writes (one per partition worker) are
// group-committed; every row of every batch lands once, each Write returns
// only after its rows are queryable, and the callers' batches may be reused
// as soon as Write returns.
func TestCHSinkGroupCommit(t *testing.T) {
	store := chtest.New(t)
	ctx := context.Background()
	sink := &CHSink{Conn: store.Conn, DB: store.DB, Metrics: NewMetrics(nil)}
	const writers, rounds = 4, 6
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var b Batch
			for r := range rounds {
				b.Reset()
				for i := range 5 {
					id := fmt.Sprintf("L%d-%d", w, i)
					b.Leads = append(b.Leads, LeadScore{LeadID: id, EventID: fmt.Sprintf("e%d", r), EventTime: base.Add(time.Duration(r) * time.Minute),
						ScoredAt: fixedNow(), Score: uint8(10*r + i), Tier: "cold", ModelVersion: "m", Reasons: "[]", Version: uint64(r)})
					b.Features = append(b.Features, FeatureRow{Entity: "lead", EntityID: id, EventID: fmt.Sprintf("e%d", r), EventTime: base, Names: []string{"x"}, Values: []float64{float64(r)}})
				}
				b.Churn = append(b.Churn, ChurnScore{AccountID: fmt.Sprintf("A%d", w), EventID: fmt.Sprintf("e%d", r), EventTime: base.Add(time.Duration(r) * time.Minute), ScoredAt: fixedNow(), Score: uint8(r), Tier: "cold", Version: uint64(r)})
				if err := sink.Write(ctx, &b); err != nil {
					errs <- err
					return
				}
				// Durable on return: this writer's newest score is there.
				var n uint64
				q := fmt.Sprintf("SELECT count() FROM %s.lead_scores WHERE lead_id = 'L%d-0' AND event_id = 'e%d'", store.DB, w, r)
				if err := store.Conn.QueryRow(ctx, q).Scan(&n); err != nil || n == 0 {
					errs <- fmt.Errorf("round %d of writer %d not queryable after Write: %d %v", r, w, n, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]uint64{
		"SELECT count() FROM " + store.DB + ".lead_scores FINAL":                                          writers * rounds * 5,
		"SELECT count() FROM " + store.DB + ".features FINAL":                                             writers * rounds * 5,
		"SELECT count() FROM " + store.DB + ".churn_scores FINAL":                                         writers * rounds,
		"SELECT count() FROM " + store.DB + ".lead_current FINAL":                                         writers * 5,
		"SELECT count() FROM " + store.DB + ".account_current FINAL":                                      writers,
		"SELECT count() FROM " + store.DB + ".lead_current FINAL WHERE version = " + fmt.Sprint(rounds-1): writers * 5,
	} {
		var n uint64
		if err := store.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
}

// TestCHSinkBlocks: a group larger than one block goes in several blocks
// of one INSERT; every row arrives whole, each array beside its own row.
func TestCHSinkBlocks(t *testing.T) {
	store := chtest.New(t)
	ctx := context.Background()
	const n = 2*blockRows + 7
	var b Batch
	var wantScores, wantValues uint64
	for i := range n {
		id := fmt.Sprintf("L%05d", i)
		b.Leads = append(b.Leads, LeadScore{LeadID: id, EventID: "e", EventTime: base, ScoredAt: fixedNow(), Score: uint8(i % 101),
			Tier: "cold", ModelVersion: "m", Reasons: fmt.Sprintf(`{"i":%d}`, i), Version: 1})
		b.Features = append(b.Features, FeatureRow{Entity: "lead", EntityID: id, EventID: "e", EventTime: base,
			Names: []string{"a", "b", "c"}[:1+i%3], Values: []float64{float64(i), 1, 2}[:1+i%3]})
		wantScores += uint64(i % 101)
		wantValues += uint64(i) + uint64(i%3) // values sum: i, then 1, then 2
		if i%3 == 2 {
			wantValues += 1
		}
	}
	sink := &CHSink{Conn: store.Conn, DB: store.DB}
	if err := sink.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	var rows, scores, current uint64
	q := "SELECT count(), sum(score), (SELECT count() FROM " + store.DB + ".lead_current WHERE reasons = concat('{\"i\":', toString(toUInt32(substring(lead_id, 2))), '}')) FROM " + store.DB + ".lead_scores"
	if err := store.Conn.QueryRow(ctx, q).Scan(&rows, &scores, &current); err != nil {
		t.Fatal(err)
	}
	if rows != n || scores != wantScores || current != n {
		t.Errorf("lead_scores %d rows, score sum %d, lead_current matching rows %d; want %d, %d, %d", rows, scores, current, n, wantScores, n)
	}
	var frows, fvalues, mismatched uint64
	q = "SELECT count(), toUInt64(sum(arraySum(values))), countIf(length(names) != length(values) OR values[1] != toFloat64(toUInt32(substring(entity_id, 2))) OR names != arraySlice(['a', 'b', 'c'], 1, length(values))) FROM " + store.DB + ".features_named"
	if err := store.Conn.QueryRow(ctx, q).Scan(&frows, &fvalues, &mismatched); err != nil {
		t.Fatal(err)
	}
	if frows != n || fvalues != wantValues || mismatched != 0 {
		t.Errorf("features %d rows, values sum %d, %d rows mismatched; want %d, %d, 0", frows, fvalues, mismatched, n, wantValues)
	}
}

// TestCHSinkFeatureSets: feature rows carry their set's id and no names;
// each set's names are written once (per sink, and collapsed across sinks),
// and features_named shows every row with its names. A group that fails
// does not count its sets as written: the retry writes them.
func TestCHSinkFeatureSets(t *testing.T) {
	store := chtest.New(t)
	ctx := context.Background()
	lead, account := []string{"fit", "engagement"}, []string{"logins_7d", "seats", "nps"}
	row := func(entity, id, ev string, names []string) FeatureRow {
		vs := make([]float64, len(names))
		for i := range vs {
			vs[i] = float64(len(id) + i)
		}
		return FeatureRow{Entity: entity, EntityID: id, EventID: ev, EventTime: base, Names: names, Values: vs}
	}
	var b Batch
	b.Features = append(b.Features, row("lead", "L1", "e1", lead), row("lead", "L22", "e2", lead), row("account", "A1", "e3", account),
		row("lead", "L1", "e4", slices.Clone(lead))) // same names, another slice: the same set
	sink := &CHSink{Conn: store.Conn, DB: store.DB, Metrics: NewMetrics(nil)}
	if err := sink.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	b.Features = append(b.Features[:0], row("lead", "L3", "e5", lead))
	if err := sink.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	// A second process: its first group writes the set again; merged, once.
	other := &CHSink{Conn: store.Conn, DB: store.DB}
	b.Features = append(b.Features[:0], row("account", "A2", "e6", account))
	if err := other.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	// A failed group (cancelled): its new set is written by the retry.
	third := &CHSink{Conn: store.Conn, DB: store.DB}
	b.Features = append(b.Features[:0], row("lead", "L4", "e7", []string{"x"}))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := third.Write(cctx, &b); err == nil {
		t.Fatal("write with a cancelled context succeeded")
	}
	if err := third.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	var m dto.Metric
	if err := sink.Metrics.rows.WithLabelValues("feature_sets").Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetCounter().GetValue(); n != 2 {
		t.Errorf("first sink wrote %v feature_sets rows, want 2 (each set once)", n)
	}
	var sets, setRows, named, emptyNames, zeroIDs uint64
	q := "SELECT (SELECT uniqExact(set_id) FROM " + store.DB + ".feature_sets), (SELECT count() FROM " + store.DB + ".feature_sets FINAL), " +
		"(SELECT count() FROM " + store.DB + ".features_named WHERE length(names) = length(values) AND length(names) > 0), " +
		"countIf(notEmpty(names)), countIf(set_id = 0) FROM " + store.DB + ".features"
	if err := store.Conn.QueryRow(ctx, q).Scan(&sets, &setRows, &named, &emptyNames, &zeroIDs); err != nil {
		t.Fatal(err)
	}
	if sets != 3 || setRows != 3 || named != 7 || emptyNames != 0 || zeroIDs != 0 {
		t.Errorf("%d sets in %d rows, %d named feature rows, %d rows with names, %d without a set; want 3, 3, 7, 0, 0", sets, setRows, named, emptyNames, zeroIDs)
	}
	var names []string
	if err := store.Conn.QueryRow(ctx, "SELECT names FROM "+store.DB+".features_named WHERE event_id = 'e6'").Scan(&names); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, account) {
		t.Errorf("e6 names %v, want %v", names, account)
	}
}

// BenchmarkCHSinkWrite: one flush (op) of the rows 5,000 events of 1,000
// leads produce with the learned models and feature rows, history thinned
// (as cmd/scorer runs), into the local ClickHouse. cpu-ns/event is this
// process's CPU (the server's is not counted).
func BenchmarkCHSinkWrite(b *testing.B) {
	store := chtest.New(b)
	const events = 5000
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow, Models: testModels(b), Features: true})
	evs := benchEvents(1000, events)
	for i := range evs {
		w.Process(int64(i), &evs[i])
	}
	batch := w.out
	newHistory(DefaultHistoryEvery).mark(&batch)
	sink := &CHSink{Conn: store.Conn, DB: store.DB}
	ctx := context.Background()
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		if err := sink.Write(ctx, &batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((benchcpu.Now()-cpu).Nanoseconds())/float64(b.N*events), "cpu-ns/event")
}

// BenchmarkPipeline is the scorer's per-event work end to end without
// Kafka: decode a canonical record in place (as the service does), apply
// it with the learned models, the alert detector and feature rows (as
// cmd/scorer runs), and flush every 5,000 pending rows through the history
// thinning into the local ClickHouse, then checkpoint (changelog-B/op: the
// bytes of state records per event). 50,000 leads; op = one event.
// cpu-ns/op is this process's CPU (the server's is not counted).
func BenchmarkPipeline(b *testing.B) {
	store := chtest.New(b)
	const leads, lap = 50_000, 100_000
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow,
		Models: testModels(b), Detector: benchDetector(b), Features: true})
	sink := historySink{h: newHistory(DefaultHistoryEvery), next: &CHSink{Conn: store.Conn, DB: store.DB}}
	ctx := context.Background()
	recs := make([][]byte, lap)
	encode := func(k int) { // lap k: the same keys, later event times and fresh ids
		for i := range recs {
			e := benchEvent(leads, k*lap+i)
			recs[i] = e.AppendJSON(recs[i][:0])
		}
	}
	encode(0)
	var ev event.Event
	var skip time.Duration // CPU spent encoding later laps, not counted
	changelog := 0
	b.ReportAllocs()
	cpu := benchcpu.Now()
	i := 0
	for b.Loop() {
		if i > 0 && i%lap == 0 {
			t := benchcpu.Now()
			encode(i / lap)
			skip += benchcpu.Now() - t
		}
		if err := event.DecodeView(&ev, recs[i%lap]); err != nil {
			b.Fatal(err)
		}
		w.Process(int64(i), &ev)
		i++
		if w.Pending() >= 5000 {
			if err := w.Flush(ctx, sink); err != nil {
				b.Fatal(err)
			}
			// The checkpoint the service produces to the changelog after
			// each flush: its size per event.
			if err := w.Checkpoint(func(k string, v []byte) error { changelog += len(k) + len(v); return nil },
				func(v []byte) error { changelog += len(v); return nil }); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64((benchcpu.Now()-cpu-skip).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(changelog)/float64(b.N), "changelog-B/op")
}
