package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/ingest/dlq"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

// TestDLQReplay: letters selected by reason go back to crm.raw, untouched,
// with the crm-replayed-from header; others stay.
func TestDLQReplay(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicRaw, kafka.TopicDLQ)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	reasons := []string{`type: "signup" is not a known type`, "occurred_at: is required", `type: "demo" is not a known type`}
	for i, reason := range reasons {
		orig := &kgo.Record{Topic: kafka.TopicRaw, Partition: 1, Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, `{"n":%d}`, i)}
		if err := cl.ProduceSync(ctx, dlq.New(orig, reason, now, "")).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	broker := "--kafka-brokers=" + brokers[0]
	if err := runDLQInspect(ctx, []string{broker, "--format", "json", "--limit", "0"}); err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if err := runDLQReplay(ctx, []string{broker}); err == nil {
		t.Fatal("replay without a filter or --all was accepted")
	}
	if err := runDLQReplay(ctx, []string{broker, "--reason", "type:", "--dry-run"}); err != nil {
		t.Fatal(err)
	}
	if err := runDLQReplay(ctx, []string{broker, "--reason", "type:"}); err != nil {
		t.Fatal(err)
	}
	var got []dlq.Letter
	if err := dlq.Inspect(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, kafka.TopicRaw, dlq.Filter{Partition: -1}, func(l dlq.Letter) bool {
		got = append(got, l)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d records replayed to crm.raw, want 2 (the dry run must produce nothing)", len(got))
	}
	for _, l := range got {
		var from string
		for _, h := range l.Record.Headers {
			if h.Key == dlq.HeaderReplayedFrom {
				from = string(h.Value)
			}
			if h.Key == kafka.HeaderReason {
				t.Errorf("replayed record keeps the reason header")
			}
		}
		if from == "" || (string(l.Record.Value) != `{"n":0}` && string(l.Record.Value) != `{"n":2}`) {
			t.Errorf("replayed %q from %q", l.Record.Value, from)
		}
	}
}
