package retrain_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/retrain"
	"github.com/crmstream/crmstream/windows"
)

var base = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

func str(k, v string) event.Property { return event.Property{Key: k, Kind: event.KindString, Str: v} }

// synth makes n leads whose conversion depends on engagement (pricing
// views, demo requests) and origin, with deal_won 3–60 days after creation.
func synth(seed uint64, n int) []event.Event {
	r := rand.New(rand.NewPCG(seed, 1))
	origins := []string{"paid_search", "organic_search", "email", "social"}
	effect := []float64{0.8, 0, 0.4, -0.8}
	var evs []event.Event
	for i := range n {
		lead := fmt.Sprintf("lead-%05d", i)
		at := base.Add(time.Duration(i) * 4 * time.Hour)
		o := r.IntN(len(origins))
		id := 0
		add := func(t event.Type, d time.Duration, props ...event.Property) {
			id++
			evs = append(evs, event.Event{ID: fmt.Sprintf("%s-%d", lead, id), Type: t, OccurredAt: at.Add(d), LeadID: lead,
				SessionID: lead + "-s1", Source: "web", Properties: props})
		}
		add(event.LeadCreated, 0, str("origin", origins[o]))
		engaged := r.Float64()
		for k := range int(engaged * 8) {
			pt := "blog"
			if r.Float64() < engaged {
				pt = "pricing"
			}
			add(event.PageView, time.Duration(k+1)*37*time.Minute, str("page_type", pt))
		}
		if engaged > 0.75 {
			add(event.DemoRequested, 20*time.Hour)
		}
		p := 1 / (1 + math.Exp(-(-3 + 3.5*engaged + effect[o])))
		if r.Float64() < p {
			add(event.DealWon, time.Duration(3+r.IntN(57))*24*time.Hour)
		}
	}
	return evs
}

func insertEvents(t *testing.T, st *chstore.Store, evs []event.Event) {
	t.Helper()
	ctx := context.Background()
	batch, err := st.Conn.PrepareBatch(ctx, "INSERT INTO "+st.DB+".events (event_id, type, occurred_at, occurred_ms, lead_id, account_id, owner_id, session_id, source, email, phone, name, company, country, title, properties, ingested_at, version)")
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Close()
	for i := range evs {
		e := &evs[i]
		if err := batch.Append(e.ID, string(e.Type), e.OccurredAt, uint16(0), e.LeadID, e.AccountID, e.OwnerID, e.SessionID,
			e.Source, "", "", "", "", "", "", string(e.Properties.AppendJSON(nil)), time.Now().UTC(), uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// TestRetrainPromoteWatchRollback: a retrain against ClickHouse registers
// and promotes a version, a watching model swaps to it live, a second
// promotion swaps again, and a rollback returns to the first.
func TestRetrainPromoteWatchRollback(t *testing.T) {
	store := chtest.New(t)
	evs := synth(1, 1500)
	insertEvents(t, store, evs)
	now := base.Add(400 * 24 * time.Hour) // every horizon has passed

	set, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	live, err := models.New(models.LeadConfig(set))
	if err != nil {
		t.Fatal(err)
	}
	reg := models.NewRegistry(store.Conn, store.DB, nil, func() time.Time { return now })
	w, err := models.NewWatcher(reg, live, models.WatcherConfig{Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitVersion := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for live.Version() != want {
			if time.Now().After(deadline) {
				t.Fatalf("live model serves %s, want %s", live.Version(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	var progress bytes.Buffer
	rep, err := retrain.Run(context.Background(), retrain.Config{Conn: store.Conn, DB: store.DB, Model: "lead",
		Promote: true, Actor: "test", Version: "lead-v1", Progress: &progress, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("retrain: %v\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())
	lr := rep.Challengers[0]
	t.Logf("examples %d (%d positive), train %d, holdout %d; logreg AUC %.4f log loss %.4f ECE %.4f; tree AUC %.4f CV acc %.4f F1 %.4f %s",
		rep.Examples, rep.Positives, rep.Train, rep.Holdout, lr.Holdout.AUC, lr.Holdout.LogLoss, lr.Holdout.ECE,
		rep.Challengers[1].Holdout.AUC, rep.Challengers[1].CVAccuracy, rep.Challengers[1].CVF1, rep.Challengers[1].Note)
	if !rep.Promoted || rep.Registered != "lead-v1" {
		t.Fatalf("first retrain not promoted: %+v", rep)
	}
	if lr.Holdout.AUC < 0.7 {
		t.Errorf("logistic regression holdout AUC %.4f on data with a strong signal", lr.Holdout.AUC)
	}
	if !strings.Contains(progress.String(), "L-BFGS") {
		t.Error("no progress shown")
	}
	waitVersion("lead-v1")

	// the live model now scores with the artifact's weights
	st := set.NewState()
	e := event.Event{ID: "x1", Type: event.LeadCreated, OccurredAt: now, LeadID: "new", Properties: event.Properties{str("origin", "paid_search")}}
	st.Update(&e)
	var v features.Vector
	st.Vector(windows.SecOf(now), &v)
	s1 := live.Score(&v)
	if s1.Version != "lead-v1" || s1.Confidence < 0.9 {
		t.Errorf("score after the swap: version %s, confidence %.3f", s1.Version, s1.Confidence)
	}

	// a second version: retrained (not promoted automatically: same data, not better), promoted by hand
	rep2, err := retrain.Run(context.Background(), retrain.Config{Conn: store.Conn, DB: store.DB, Model: "lead",
		Promote: true, Version: "lead-v2", L2: 30, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Champion == nil || rep2.Champion.Version != "lead-v1" {
		t.Fatalf("champion not evaluated: %+v", rep2.Champion)
	}
	t.Logf("second retrain: %s", rep2.Decision)
	if rep2.Promoted {
		waitVersion("lead-v2")
	} else {
		if err := reg.Promote(context.Background(), "lead", "lead-v2", "test"); err != nil {
			t.Fatal(err)
		}
		waitVersion("lead-v2")
	}
	if s := live.Score(&v); s.Probability == s1.Probability {
		t.Error("v2 scores like v1")
	}

	// rollback: back to v1, live, with v1's scores
	prev, err := reg.Rollback(context.Background(), "lead", "test")
	if err != nil {
		t.Fatal(err)
	}
	if prev != "lead-v1" {
		t.Fatalf("rollback to %s, want lead-v1", prev)
	}
	waitVersion("lead-v1")
	if s := live.Score(&v); math.Abs(s.Probability-s1.Probability) > 1e-12 {
		t.Errorf("after rollback p = %v, v1 gave %v", s.Probability, s1.Probability)
	}
	if _, err := reg.Rollback(context.Background(), "lead", "test"); err == nil {
		t.Error("rollback past the first champion accepted")
	}
	list, err := reg.List(context.Background(), "lead")
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, e := range list {
		status[e.Version] = e.Status
	}
	if status["lead-v1"] != models.StatusChampion || status["lead-v2"] != models.StatusRetired {
		t.Errorf("statuses %v", status)
	}
	h, _ := reg.History(context.Background(), "lead")
	t.Logf("history: %+v", h)
}
