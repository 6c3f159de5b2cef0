package eval

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/simulator"
)

// TestScorerAgainstTruth runs the scorer's Worker on a small world, clean
// with delivery noise, and live on a simulated clock, and holds it to what the issues promise that
// is not a model-quality question: every lead scored, abandonment alerts
// right (precision and recall ≥ 0.99), inactivity recall ≥ 0.99, behaviour
// ranking leads better than chance, and live alerts within 5 s.
func TestScorerAgainstTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a 150-day world")
	}
	for _, tc := range []struct {
		name            string
		late, dup, junk float64
		partitions      int
		live            bool
	}{
		{name: "clean", partitions: 1},
		{name: "noisy", late: 0.01, dup: 0.01, junk: 0.002, partitions: 2},
		{name: "live", late: 0.01, dup: 0.01, partitions: 2, live: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if raceEnabled && tc.name != "noisy" {
				t.Skip("under -race the noisy case alone covers the same code")
			}
			sim := simulator.DefaultConfig()
			sim.Seed = 5
			sim.Leads, sim.Accounts, sim.Span = 700, 10, 150*24*time.Hour
			sim.OutOfOrderRate, sim.DuplicateRate, sim.MalformedRate = tc.late, tc.dup, tc.junk
			sim.MaxLateness = time.Minute
			cfg := Config{Sim: sim, Warmup: 20 * 24 * time.Hour}
			p, err := NewScorerPipeline(ScorerConfig{Partitions: tc.partitions, Live: tc.live})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), cfg, p)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			rep.WriteTo(&b)
			t.Logf("\n%s", b.String())
			if l := rep.Lead.Snapshot; l.Missing != 0 || l.N < 150 {
				t.Errorf("lead snapshot: %d leads, %d without a score", l.N, l.Missing)
			}
			if auc := rep.Lead.Snapshot.Model.AUC; !(auc > 0.6) {
				t.Errorf("lead AUC %.3f: behaviour does not rank leads", auc)
			}
			if q := rep.Abandonment; q.Truth < 50 || q.Precision < GoalAlert || q.Recall < GoalAlert {
				t.Errorf("abandonment: %v", q)
			}
			if q := rep.Inactivity; q.Truth < 50 || q.Recall < GoalAlert {
				t.Errorf("inactivity: %v", q)
			}
			if tc.live {
				for _, q := range []alerts.Quality{rep.Abandonment, rep.Inactivity} {
					if q.WallDelay.N == 0 || q.WallDelay.P95 > GoalWallDelay {
						t.Errorf("live %s: wall delay %v, want p95 ≤ %v", q.Kind, q.WallDelay, GoalWallDelay)
					}
				}
			}
			if tc.junk > 0 && rep.Rejected == 0 {
				t.Error("junk records were not rejected")
			}
		})
	}
}
