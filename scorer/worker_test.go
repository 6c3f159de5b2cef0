package scorer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

var base = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func ev(id string, typ event.Type, lead string, at time.Duration) *event.Event {
	e := &event.Event{ID: id, Type: typ, OccurredAt: base.Add(at), LeadID: lead, AccountID: "acc-" + lead, OwnerID: "rep-1", Source: "web"}
	return e
}

func fixedNow() time.Time { return base.Add(1000 * time.Hour) }

// TestLeadScoreRules checks the rule score moves the way a rep expects: a
// senior contact on a company domain who requests a demo is hot; a quiet
// lead fades through daily re-scores; a conversion is 100.
func TestLeadScoreRules(t *testing.T) {
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow})
	created := ev("e1", event.LeadCreated, "L1", 0)
	created.Contact = event.Contact{Email: "ana@acme.io", Title: "VP Sales", Company: "Acme", Phone: "+4915112345678"}
	w.Process(0, created)
	w.Process(1, ev("e2", event.PageView, "L1", time.Minute))
	w.Process(2, ev("e3", event.DemoRequested, "L1", 2*time.Minute))
	w.Process(3, ev("e4", event.MeetingScheduled, "L1", 3*time.Minute))
	w.Process(4, ev("e5", event.MeetingHeld, "L1", 4*time.Minute))
	w.Process(5, ev("e6", event.FormSubmit, "L1", 5*time.Minute))
	rows := w.out.Leads
	if len(rows) != 6 {
		t.Fatalf("%d rows", len(rows))
	}
	if rows[0].Score != 35 || rows[0].Tier != "cold" { // fit only: 15+10+5+5
		t.Errorf("fit-only score %d %s", rows[0].Score, rows[0].Tier)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].Score < rows[i-1].Score {
			t.Errorf("score fell on engagement: %d → %d", rows[i-1].Score, rows[i].Score)
		}
	}
	last := rows[len(rows)-1]
	if last.Tier != "hot" || last.ModelVersion != RulesVersion || last.AccountID != "acc-L1" || last.OwnerID != "rep-1" {
		t.Errorf("last row %+v", last)
	}
	// Two weeks of silence: daily re-scores, fading, until below warm.
	w.AdvanceTo(base.Add(30 * 24 * time.Hour))
	var rescored []LeadScore
	for _, r := range w.out.Leads[6:] {
		rescored = append(rescored, r)
	}
	if len(rescored) < 2 {
		t.Fatalf("%d re-scores", len(rescored))
	}
	for i, r := range rescored {
		if i > 0 && r.Score > rescored[i-1].Score {
			t.Errorf("re-score rose: %d → %d", rescored[i-1].Score, r.Score)
		}
		if r.Version <= last.Version {
			t.Errorf("re-score version %d not above the event's %d", r.Version, last.Version)
		}
	}
	if end := rescored[len(rescored)-1]; end.Score >= WarmAt {
		t.Errorf("still warm after a month of silence: %d", end.Score)
	}
	w.Process(6, ev("e7", event.DealWon, "L1", 31*24*time.Hour))
	if r := w.out.Leads[len(w.out.Leads)-1]; r.Score != 100 || !r.Converted {
		t.Errorf("converted lead: %+v", r)
	}
}

// TestDuplicatesCountOnce: the same batch twice gives the rows of one.
func TestDuplicatesCountOnce(t *testing.T) {
	batch := []*event.Event{
		ev("a1", event.PageView, "L1", 0), ev("a2", event.EmailClick, "L1", time.Minute),
		ev("a3", event.FormSubmit, "L1", 2*time.Minute), ev("b1", event.PageView, "L2", 3*time.Minute),
	}
	once := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow})
	twice := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow})
	for _, e := range batch {
		once.Process(-1, e)
		twice.Process(-1, e)
	}
	for _, e := range batch {
		twice.Process(-1, e) // a client retried the batch
	}
	if !slices.Equal(once.out.Leads, twice.out.Leads) {
		t.Fatalf("rows differ:\n%v\n%v", once.out.Leads, twice.out.Leads)
	}
	if a, b := once.eng.Get("L1"), twice.eng.Get("L1"); *a.Lead != *b.Lead || a.Seen != b.Seen {
		t.Fatal("state differs")
	}
}

// TestErasure: an erasure tombstone forgets the key and writes nothing.
func TestErasure(t *testing.T) {
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow})
	w.Process(0, ev("a1", event.PageView, "L1", 0))
	n := len(w.out.Leads)
	w.Process(1, &event.Event{ID: "x", Type: event.Erased, LeadID: "L1", OccurredAt: base.Add(time.Minute)})
	if w.Keys() != 0 || len(w.out.Leads) != n {
		t.Fatalf("keys %d, rows %d→%d", w.Keys(), n, len(w.out.Leads))
	}
	var tomb []string
	_ = w.Checkpoint(func(k string, v []byte) error {
		if v == nil {
			tomb = append(tomb, k)
		}
		return nil
	}, func([]byte) error { return nil })
	if !slices.Equal(tomb, []string{"L1"}) {
		t.Fatalf("tombstones %q", tomb)
	}
}

// randomEvents makes a mixed stream of lead and account events, partly out
// of order, some duplicated.
func randomEvents(r *rand.Rand, n int) []*event.Event {
	types := []event.Type{event.PageView, event.EmailOpen, event.EmailClick, event.FormSubmit, event.DemoRequested, event.MeetingHeld, event.DealWon}
	acct := []event.Type{event.Login, event.FeatureUsed, event.TicketOpened, event.TicketResolved, event.NPSSubmitted, event.PlanDowngraded, event.SubscriptionCancelled}
	var out []*event.Event
	at := time.Duration(0)
	for i := range n {
		at += time.Duration(r.IntN(600)) * time.Second
		jitter := time.Duration(r.IntN(900)) * time.Second // some beyond the 5-min lateness
		var e *event.Event
		if r.IntN(3) == 0 {
			e = &event.Event{ID: fmt.Sprintf("ev-%d", i), Type: acct[r.IntN(len(acct))], OccurredAt: base.Add(at - jitter), AccountID: fmt.Sprintf("A%d", r.IntN(5)), OwnerID: "rep"}
			e.Properties = event.Properties{{Key: "score", Kind: event.KindNumber, Num: float64(r.IntN(11))}}
		} else {
			e = ev(fmt.Sprintf("ev-%d", i), types[r.IntN(len(types))], fmt.Sprintf("L%d", r.IntN(20)), at-jitter)
		}
		out = append(out, e)
		if r.IntN(20) == 0 {
			out = append(out, e) // duplicate delivery
		}
	}
	return out
}

// TestRestoreEqualsUninterrupted: a worker checkpointed and restored into a
// new worker at random points — replaying from the checkpoint's offset, as
// the runtime does after a crash — writes the same rows as one that ran
// through. Rows are compared as sets (a replay rewrites rows; ClickHouse
// collapses them by key).
func TestRestoreEqualsUninterrupted(t *testing.T) {
	for seed := range 20 {
		r := rand.New(rand.NewPCG(uint64(seed), 3))
		evs := randomEvents(r, 400)
		cfg := WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow, Features: true}
		ref := NewWorker(cfg)
		for i, e := range evs {
			ref.Process(int64(i), e)
		}
		ref.AdvanceTo(base.Add(100 * 24 * time.Hour))

		changelog := map[string][]byte{}
		var meta []byte
		var sink MemorySink
		// The runtime's order: rows durable first, then the checkpoint.
		ckpt := func(w *Worker) {
			_ = w.Flush(context.Background(), &sink)
			if err := w.Checkpoint(func(k string, v []byte) error {
				if v == nil {
					delete(changelog, k)
				} else {
					changelog[k] = slices.Clone(v)
				}
				return nil
			}, func(v []byte) error { meta = slices.Clone(v); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		w := NewWorker(cfg)
		for i := 0; i < len(evs); {
			w.Process(int64(i), evs[i])
			i++
			if r.IntN(50) == 0 {
				ckpt(w)
			}
			if r.IntN(70) == 0 && meta != nil {
				// Crash: rows since the last flush may or may not have been
				// written; state since the checkpoint is lost.
				if r.IntN(2) == 0 {
					_ = w.Flush(context.Background(), &sink)
				}
				w = NewWorker(cfg)
				if err := w.RestoreMeta(meta); err != nil {
					t.Fatal(err)
				}
				for k, v := range changelog {
					if err := w.Restore(k, v); err != nil {
						t.Fatal(err)
					}
				}
				i = int(w.NextOffset())
				continue
			}
			if r.IntN(10) == 0 {
				_ = w.Flush(context.Background(), &sink)
			}
		}
		w.AdvanceTo(base.Add(100 * 24 * time.Hour))
		_ = w.Flush(context.Background(), &sink)
		want, got := leadSet(ref.out.Leads), leadSet(sink.Leads)
		if !mapsEqual(want, got) {
			t.Fatalf("seed %d: lead rows differ: %d vs %d keys", seed, len(want), len(got))
		}
		if !mapsEqual(churnSet(ref.out.Churn), churnSet(sink.Churn)) {
			t.Fatalf("seed %d: churn rows differ", seed)
		}
		if len(ref.out.Late) == 0 {
			t.Fatalf("seed %d: no late events: the stream does not test lateness", seed)
		}
	}
}

// leadSet keys rows the way crm.lead_scores does; the value is the row
// without its wall-clock time.
func leadSet(rows []LeadScore) map[string]LeadScore {
	m := map[string]LeadScore{}
	for _, r := range rows {
		r.ScoredAt = time.Time{}
		m[r.LeadID+"|"+r.EventTime.String()+"|"+r.EventID] = r
	}
	return m
}

func churnSet(rows []ChurnScore) map[string]ChurnScore {
	m := map[string]ChurnScore{}
	for _, r := range rows {
		r.ScoredAt = time.Time{}
		m[r.AccountID+"|"+r.EventTime.String()+"|"+r.EventID] = r
	}
	return m
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCopyValues: feature rows' values carved from one chunk stay
// independent — a later copy, or an append to an earlier row, never changes
// another row.
func TestCopyValues(t *testing.T) {
	w := NewWorker(WorkerConfig{})
	var rows [][]float64
	for i := range 3 * valsChunk / 7 {
		v := []float64{float64(i), float64(i) + 0.5, -float64(i), 1, 2, 3, 4}
		rows = append(rows, w.copyValues(v))
	}
	_ = append(rows[0], 99) // capacity is the length: must not write into rows[1]
	for i, r := range rows {
		if len(r) != 7 || r[0] != float64(i) || r[1] != float64(i)+0.5 || r[2] != -float64(i) || r[6] != 4 {
			t.Fatalf("row %d = %v", i, r)
		}
	}
}
