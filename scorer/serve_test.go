package scorer

import (
	"context"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
	"github.com/crmstream/crmstream/windows"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServeEndToEnd runs the whole process — migrations, topics, consumer
// group, ClickHouse sink, alerts, HTTP — against kfake and the local
// ClickHouse, and stops it gracefully.
func TestServeEndToEnd(t *testing.T) {
	store := chtest.New(t) // a fresh database; Serve migrates it again (idempotent)
	brokers := kafkatest.Cluster(t)
	recs := testStream(3, 300)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(context.Background(), cl, kafka.DefaultTopics(4)...); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, recs)

	cfg := chtest.Config()
	cfg.Database = store.DB
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Serve(ctx, ServeConfig{
			Service: Config{Kafka: kafka.Config{Brokers: brokers}, Windows: windows.Config{Mode: windows.Backfill},
				FlushInterval: 100 * time.Millisecond},
			ClickHouse: cfg, HTTPAddr: "127.0.0.1:0", Alerts: true,
		})
	}()
	var n uint64
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := store.Conn.QueryRow(context.Background(), "SELECT uniqExact(event_id) FROM "+store.DB+".lead_scores WHERE event_id LIKE 'ev-%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 && n >= uint64(leadEvents(recs)) {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("serve stopped early: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if want := uint64(leadEvents(recs)); n < want {
		t.Fatalf("%d scored lead events in ClickHouse, want at least %d", n, want)
	}
}

// leadEvents counts the distinct, not-late lead events of a stream, as the
// single-worker reference scores them.
func leadEvents(recs []*kgo.Record) int {
	w := NewWorker(WorkerConfig{Windows: windows.Config{Mode: windows.Backfill}, Now: fixedNow})
	ids := map[string]bool{}
	var sink MemorySink
	for _, r := range recs {
		ev, err := event.Decode(r.Value)
		if err != nil {
			continue
		}
		w.Process(-1, &ev)
	}
	_ = w.Flush(context.Background(), &sink)
	for _, l := range sink.Leads {
		if len(l.EventID) > 3 && l.EventID[:3] == "ev-" {
			ids[l.EventID] = true
		}
	}
	return len(ids)
}
