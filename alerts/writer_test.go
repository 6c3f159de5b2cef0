package alerts

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

// TestWriter writes a fired alert, its retraction and the fired state again
// (a replay after a crash) to a fresh ClickHouse database and a kfake
// cluster: the table shows one alert, retracted; the topic holds every state
// keyed by alert id.
func TestWriter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store := chtest.New(t)
	brokers := kafkatest.Cluster(t, "crm.alerts")
	kc, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("crm.alerts"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	w, err := NewWriter(store.Conn, store.DB, kc, "crm.alerts", WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := day0.Add(9 * time.Hour)
	fired := Alert{ID: EpisodeID(Abandonment, "l1", "checkout", "e1"), Kind: Abandonment, LeadID: "l1", OwnerID: "rep-7",
		FiredAt: t0, EventTime: t0, Status: Fired, Score: 40, Reason: "Started checkout…", Evidence: []string{"e1"},
		Details: Details{Flow: "checkout", CartValue: 10}, UpdatedAt: t0}
	retracted := fired
	retracted.Status, retracted.UpdatedAt, retracted.Details.RetractedBy = Retracted, t0.Add(time.Minute), "e9"
	replayed := fired
	replayed.UpdatedAt = t0.Add(time.Hour) // a replay after a restart writes "fired" again, later
	for _, batch := range [][]Alert{{fired}, {retracted}, {replayed}} {
		if err := w.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	var status, details string
	row := store.Conn.QueryRow(ctx, "SELECT count(), any(status), any(details) FROM "+store.DB+".alerts FINAL WHERE alert_id = ?", fired.ID)
	if err := row.Scan(&n, &status, &details); err != nil {
		t.Fatal(err)
	}
	if n != 1 || status != "retracted" || details != retracted.DetailsJSON() {
		t.Fatalf("table: %d rows, status %q, details %s", n, status, details)
	}
	var got []Alert
	for len(got) < 3 {
		fs := kc.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			a, err := Decode(r.Value)
			if err != nil || string(r.Key) != a.ID {
				t.Fatalf("record %s: %v", r.Key, err)
			}
			got = append(got, a)
		})
	}
	if got[0].Status != Fired || got[1].Status != Retracted || got[2].Status != Fired {
		t.Fatalf("topic order %v %v %v", got[0].Status, got[1].Status, got[2].Status)
	}
}
