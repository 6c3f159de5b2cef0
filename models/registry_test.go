package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/models"
)

// TestRegistryErrors covers the sentinel errors callers branch on and the
// metrics table, against the real server.
func TestRegistryErrors(t *testing.T) {
	store := chtest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	reg := models.NewRegistry(store.Conn, store.DB, nil, func() time.Time { return now })
	set := leadSet(t)
	if _, _, err := reg.Champion(ctx, "lead"); !errors.Is(err, models.ErrNoChampion) {
		t.Errorf("champion of an empty registry: %v", err)
	}
	if err := reg.Promote(ctx, "lead", "nope", "t"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("promote unknown: %v", err)
	}
	if _, err := reg.Rollback(ctx, "lead", "t"); !errors.Is(err, models.ErrNoPrevious) {
		t.Errorf("rollback without history: %v", err)
	}
	tree := &models.Artifact{Format: models.ArtifactFormat, Model: "lead", Version: "tree-1", Kind: models.KindTree,
		Features: set.Fingerprint(), Bits: 18, CreatedAt: now}
	if err := reg.Register(ctx, tree, ""); err != nil {
		t.Fatal(err)
	}
	if err := reg.Promote(ctx, "lead", "tree-1", "t"); !errors.Is(err, models.ErrUnservable) {
		t.Errorf("promote a tree: %v", err)
	}
	m, _ := models.New(models.LeadConfig(set))
	if err := reg.Register(ctx, m.Artifact("ftrl-1"), ""); err != nil {
		t.Fatal(err)
	}
	if err := reg.Promote(ctx, "lead", "ftrl-1", "t"); err != nil {
		t.Fatal(err)
	}
	if v, seq, err := reg.Champion(ctx, "lead"); err != nil || v != "ftrl-1" || seq != 1 {
		t.Errorf("champion %s #%d, %v", v, seq, err)
	}
	if _, err := reg.Rollback(ctx, "lead", "t"); !errors.Is(err, models.ErrNoPrevious) {
		t.Errorf("rollback past the only champion: %v", err)
	}
	if err := reg.WriteMetrics(ctx, "lead", "ftrl-1", now, models.Metrics{N: 10, AUC: 0.8, LogLoss: 0.3}); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := store.Conn.QueryRow(ctx, "SELECT count() FROM "+store.DB+".model_metrics WHERE model = 'lead'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("%d metric rows, want 5", n)
	}
}
