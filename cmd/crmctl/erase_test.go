package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

func TestEraseLead(t *testing.T) {
	store := chtest.New(t)
	brokers := kafkatest.Cluster(t, kafka.TopicEvents)
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, lead := range []string{"gone", "kept"} {
		insert(t, store, "events (event_id, type, occurred_at, lead_id, email)", "e-"+lead, "page_view", at, lead, lead+"@example.com")
		insert(t, store, "lead_current (lead_id, event_time, score)", lead, at, uint8(50))
	}
	err := runErase(ctx, []string{"--lead", "gone", "--settle", "0s", "--actor", "dpo",
		"--kafka-brokers", strings.Join(brokers, ","), "--clickhouse-addr", chtest.Addr(), "--clickhouse-database", store.DB})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "lead_current"} {
		var gone, kept uint64
		if err := store.Conn.QueryRow(ctx, "SELECT countIf(lead_id = 'gone'), countIf(lead_id = 'kept') FROM "+store.Table(table)).Scan(&gone, &kept); err != nil {
			t.Fatal(err)
		}
		if gone != 0 || kept != 1 {
			t.Errorf("%s: gone=%d kept=%d, want 0 and 1", table, gone, kept)
		}
	}
	var actor string
	if err := store.Conn.QueryRow(ctx, "SELECT actor FROM "+store.Table("erasures")+" WHERE subject = 'gone'").Scan(&actor); err != nil || actor != "dpo" {
		t.Fatalf("erasure record: %q %v", actor, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.TopicEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fs := cl.PollFetches(fctx)
	recs := fs.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records on %s, want the tombstone (errors %v)", len(recs), kafka.TopicEvents, fs.Errors())
	}
	tomb, err := event.Decode(recs[0].Value)
	if err != nil || tomb.Type != event.Erased || tomb.LeadID != "gone" || string(recs[0].Key) != "gone" {
		t.Fatalf("tombstone %+v key %q err %v", tomb, recs[0].Key, err)
	}
}

func TestEraseNeedsOneSubject(t *testing.T) {
	if err := runErase(context.Background(), []string{"--lead", "a", "--account", "b"}); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Fatalf("err = %v", err)
	}
}

func insert(t *testing.T, store *chstore.Store, tableAndCols string, row ...any) {
	t.Helper()
	b, err := store.Conn.PrepareBatch(context.Background(), "INSERT INTO "+store.DB+"."+tableAndCols)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Append(row...); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}
