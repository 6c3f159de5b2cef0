package replay_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/scorer"
	"github.com/crmstream/crmstream/windows"
)

// TestOlistThroughScorer replays the Olist funnel through the scorer's own
// partition worker (windows engine, event-time label timers, re-scores)
// with the learned models, and checks the same figure as
// TestOlistFirstScoreAUC: the first score of each of the latest 30 % of
// leads ranks the leads that later closed at AUC ≥ 0.67.
func TestOlistThroughScorer(t *testing.T) {
	leads := loadOlist(t)
	set, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	lead, err := models.New(models.LeadConfig(set))
	if err != nil {
		t.Fatal(err)
	}
	w := scorer.NewWorker(scorer.WorkerConfig{
		Windows: windows.Config{Mode: windows.Backfill, Lateness: time.Hour},
		Models:  &scorer.Models{Lead: lead},
		Now:     func() time.Time { return time.Unix(0, 0) },
	})
	var evs []event.Event
	for _, l := range leads {
		props := event.Properties{{Key: "landing_page_id", Kind: event.KindString, Str: l.landing}}
		if l.origin != "" {
			props = append(props, event.Property{Key: "origin", Kind: event.KindString, Str: l.origin})
		}
		evs = append(evs, event.Event{ID: "created-" + l.id, Type: event.LeadCreated, OccurredAt: l.created,
			LeadID: l.id, Source: "olist", Properties: props})
		if !l.won.IsZero() {
			evs = append(evs, event.Event{ID: "won-" + l.id, Type: event.DealWon, OccurredAt: l.won, LeadID: l.id, Source: "olist"})
		}
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(string(b.Type), string(a.Type)) // lead_created before deal_won
	})
	first := map[string]float64{}
	var sink scorer.MemorySink
	ctx := context.Background()
	for i := range evs {
		w.Process(int64(i), &evs[i])
		if i%1000 == 999 || i == len(evs)-1 {
			if err := w.Flush(ctx, &sink); err != nil {
				t.Fatal(err)
			}
			for _, r := range sink.Leads {
				if _, ok := first[r.LeadID]; !ok && strings.HasPrefix(r.EventID, "created-") {
					first[r.LeadID] = r.Probability
				}
			}
			sink = scorer.MemorySink{}
		}
	}
	byFirst := slices.Clone(leads)
	slices.SortStableFunc(byFirst, func(a, b *olistLead) int { return a.created.Compare(b.created) })
	test := byFirst[len(byFirst)*7/10:]
	scores := make([]float64, len(test))
	closed := make([]bool, len(test))
	for i, l := range test {
		p, ok := first[l.id]
		if !ok {
			t.Fatalf("lead %s: no first score", l.id)
		}
		scores[i], closed[i] = p, !l.won.IsZero()
	}
	auc := models.AUC(scores, closed)
	pm := lead.Metrics()
	t.Logf("through scorer.Worker: first-score AUC on the latest 30%% %.4f; labels %d; progressive AUC %.4f, log loss %.4f, ECE %.4f",
		auc, lead.Labels(), pm.AUC, pm.LogLoss, pm.ECE)
	if auc < 0.67 {
		t.Errorf("first-score AUC %.4f, want ≥ 0.67", auc)
	}
}
