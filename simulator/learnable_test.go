package simulator

import (
	"github.com/crmstream/crmstream/models"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
)

// TestLearnable checks the simulator is neither hopeless nor trivial: a
// plain logistic regression on what a lead showed in its first week
// (counts by event and page type, firmographics), fitted with hindsight on
// half the leads, ranks the other half close to the oracle (the true
// probabilities) but not above it.
func TestLearnable(t *testing.T) {
	heavy(t)
	cfg := DefaultConfig()
	cfg.Leads, cfg.Accounts, cfg.Seed = 6000, 1, 99
	evs, ts := collect(t, cfg)
	week := 7 * day
	type row struct {
		x      map[string]float64
		y      bool
		oracle float64
	}
	created := map[string]time.Time{}
	rows := map[string]*row{}
	var ids []string
	for _, l := range ts.Leads {
		if l.Censored {
			continue
		}
		created[l.LeadID] = l.CreatedAt
		rows[l.LeadID] = &row{x: map[string]float64{}, y: l.Converted, oracle: l.Probability}
		ids = append(ids, l.LeadID)
	}
	for i := range evs {
		e := &evs[i]
		r, ok := rows[e.LeadID]
		if !ok || e.OccurredAt.Sub(created[e.LeadID]) >= week {
			continue
		}
		if e.Type == event.LeadCreated {
			for _, p := range e.Properties {
				r.x[p.Key+"="+p.Str] = 1
			}
			continue
		}
		r.x[string(e.Type)]++
		if pt := e.Properties.String("page_type"); pt != "" {
			r.x["page:"+pt]++
		}
	}
	var names []string
	seen := map[string]bool{}
	for _, id := range ids {
		for k, v := range rows[id].x {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
			if !isOneHot(k) {
				rows[id].x[k] = math.Log1p(v)
			}
		}
	}
	slices.Sort(names)
	vec := func(r *row) []float64 {
		x := make([]float64, len(names)+1)
		x[0] = 1
		for i, n := range names {
			x[i+1] = r.x[n]
		}
		return x
	}
	var trainX, testX [][]float64
	var trainY, testY []bool
	var oracle []float64
	for i, id := range ids {
		r := rows[id]
		if i%2 == 0 {
			trainX, trainY = append(trainX, vec(r)), append(trainY, r.y)
		} else {
			testX, testY, oracle = append(testX, vec(r)), append(testY, r.y), append(oracle, r.oracle)
		}
	}
	w := fitLogistic(trainX, trainY, 0.01, 300)
	pred := make([]float64, len(testX))
	for i, x := range testX {
		pred[i] = dot(w, x)
	}
	auc, oracleAUC := models.AUC(pred, testY), models.AUC(oracle, testY)
	t.Logf("hindsight 7-day logistic regression AUC %.4f, oracle %.4f, ratio %.3f (%d test leads)", auc, oracleAUC, auc/oracleAUC, len(testY))
	if oracleAUC < 0.75 || oracleAUC > 0.95 {
		t.Errorf("oracle AUC %.3f outside [0.75, 0.95]", oracleAUC)
	}
	if auc/oracleAUC < 0.93 {
		t.Errorf("first-week behaviour ranks at %.3f of the oracle: too little signal", auc/oracleAUC)
	}
	if auc > oracleAUC+0.02 {
		t.Errorf("first-week behaviour beats the oracle (%.3f > %.3f): the label leaks", auc, oracleAUC)
	}
}

func isOneHot(k string) bool { return slices.Contains([]byte(k), '=') }

func dot(w, x []float64) float64 {
	s := 0.0
	for i := range w {
		s += w[i] * x[i]
	}
	return s
}

// fitLogistic is full-batch gradient descent with L2: small and enough for
// a few thousand rows.
func fitLogistic(X [][]float64, y []bool, l2 float64, iters int) []float64 {
	w := make([]float64, len(X[0]))
	g := make([]float64, len(w))
	lr := 0.5
	for range iters {
		clear(g)
		for i, x := range X {
			p := 1 / (1 + math.Exp(-dot(w, x)))
			yv := 0.0
			if y[i] {
				yv = 1
			}
			for j := range x {
				g[j] += (p - yv) * x[j]
			}
		}
		for j := range w {
			w[j] -= lr * (g[j]/float64(len(X)) + l2*w[j])
		}
	}
	return w
}
