package scorer

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/windows"
)

func testModels(t testing.TB) *Models {
	t.Helper()
	ls, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	as, err := features.Account()
	if err != nil {
		t.Fatal(err)
	}
	lead, err := models.New(models.LeadConfig(ls))
	if err != nil {
		t.Fatal(err)
	}
	churn, err := models.New(models.ChurnConfig(as))
	if err != nil {
		t.Fatal(err)
	}
	return &Models{Lead: lead, Churn: churn}
}

// TestLearnedScoring: with models plugged in, rows carry the model's
// version, reasons and feature vectors, and the delayed labels reach the
// models — a conversion as a positive, the horizon as a negative.
func TestLearnedScoring(t *testing.T) {
	mm := testModels(t)
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow, Models: mm, Features: true})
	created := ev("c1", event.LeadCreated, "L1", 0)
	created.Contact = event.Contact{Email: "ana@acme.io", Title: "VP Sales", Company: "Acme"}
	w.Process(0, created)
	w.Process(1, ev("c2", event.DemoRequested, "L1", time.Hour))
	w.Process(2, ev("c3", event.LeadCreated, "L2", time.Hour))
	w.Process(3, ev("c4", event.DealWon, "L1", 48*time.Hour)) // L1 converts: positive label
	w.Process(4, &event.Event{ID: "a1", Type: event.Login, AccountID: "A1", OccurredAt: base.Add(49 * time.Hour)})
	if got := mm.Lead.Labels(); got != 1 {
		t.Fatalf("lead labels after a conversion: %d, want 1", got)
	}
	// L2 never converts: its label turns negative at the 90-day horizon.
	w.AdvanceTo(base.Add(91 * 24 * time.Hour))
	if got := mm.Lead.Labels(); got != 2 {
		t.Fatalf("lead labels after the horizon: %d, want 2", got)
	}
	if len(w.out.Leads) < 4 || len(w.out.Churn) < 1 {
		t.Fatalf("%d lead rows, %d churn rows", len(w.out.Leads), len(w.out.Churn))
	}
	r := w.out.Leads[1]
	if !strings.HasPrefix(r.ModelVersion, "lead") || r.Tier == "" {
		t.Errorf("row %+v", r)
	}
	var reasons struct {
		Positive []struct{ Feature string } `json:"positive"`
	}
	if err := json.Unmarshal([]byte(r.Reasons), &reasons); err != nil || len(reasons.Positive) == 0 {
		t.Errorf("reasons %q: %v", r.Reasons, err)
	}
	if len(w.out.Features) == 0 || len(w.out.Features[0].Names) != len(w.out.Features[0].Values) {
		t.Errorf("feature rows %+v", w.out.Features)
	}
	if !w.eng.Get("L1").LabelDone || w.eng.Get("L1").ML.Pending != nil {
		t.Error("converted lead still waits for a label")
	}
}

// TestLearnedStateRoundTrip: a key's learned state survives the changelog
// encoding byte for byte.
func TestLearnedStateRoundTrip(t *testing.T) {
	mm := testModels(t)
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow, Models: mm})
	for i, e := range []*event.Event{ev("c1", event.LeadCreated, "L1", 0), ev("c2", event.PageView, "L1", time.Minute), ev("c3", event.FormSubmit, "L1", 2*time.Minute)} {
		w.Process(int64(i), e)
	}
	codec := stateCodec{m: mm}
	var e1 windows.Enc
	codec.Encode(&e1, w.eng.Get("L1"))
	var st State
	if err := codec.Decode(&windows.Dec{B: e1.B}, &st); err != nil {
		t.Fatal(err)
	}
	var e2 windows.Enc
	codec.Encode(&e2, &st)
	if !bytes.Equal(e1.B, e2.B) || st.ML.F == nil || st.ML.Pending == nil {
		t.Fatalf("round trip differs (%d vs %d bytes)", len(e1.B), len(e2.B))
	}
	t.Logf("encoded state of a lead with 3 events: %d bytes", len(e1.B))
}
