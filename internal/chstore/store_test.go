package chstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ?", s.DB).Scan(&n); err != nil {
		t.Fatal(err)
	}
	stmts, _ := s.Dialect.Statements()
	if int(n) != len(stmts) {
		t.Errorf("%d tables for %d statements", n, len(stmts))
	}
}

func TestReplayedEventIsOneRow(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	for i := 0; i < 2; i++ {
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.Table("events")+" (event_id, type, occurred_at, lead_id, ingested_at, version)")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("e1", "page_view", at, "l1", time.Now(), uint64(i)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM "+s.Table("events")+" FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("count() FINAL = %d, want 1", n)
	}
}

func TestClusterDialect(t *testing.T) {
	d := chstore.Dialect{DB: "crm", Cluster: "main"}
	stmts, err := d.Statements()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if !strings.Contains(st.SQL, "ON CLUSTER main") || !strings.Contains(st.SQL, "Replicated") {
			t.Errorf("%s: not clustered:\n%s", st.File, st.SQL)
		}
	}
	if got := d.Engine("ReplacingMergeTree(version)", "events"); got != "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/crm/events', '{replica}', version)" {
		t.Errorf("engine = %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	err := chstore.Config{Addr: []string{"nohost"}, Database: "bad-name;"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "host:port") || !strings.Contains(err.Error(), "bad-name") {
		t.Fatalf("err = %v", err)
	}
}
