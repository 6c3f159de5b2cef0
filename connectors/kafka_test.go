package connectors

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

// TestWebhookToKafka runs the whole path a collector gives a webhook: a
// signed HubSpot request, redelivered once, through NewHandler into a
// Publish that produces to crm.events on a real-protocol broker. The
// redelivery produces the same event ids, so downstream keeps one event
// each.
func TestWebhookToKafka(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicEvents)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.TopicEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	publish := func(ctx context.Context, evs []event.Event) error {
		recs := make([]*kgo.Record, len(evs))
		for i := range evs {
			recs[i] = &kgo.Record{Topic: kafka.TopicEvents, Key: []byte(evs[i].Key()), Value: evs[i].AppendJSON(nil), Timestamp: evs[i].OccurredAt}
		}
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}
	now := time.Now()
	hs := NewHubSpot(HubSpotConfig{ClientSecret: "app-secret", Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	Mount(mux, []Adapter{hs}, publish, HandlerOptions{})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body, err := os.ReadFile("testdata/hubspot/deals_and_unmapped.json")
	if err != nil {
		t.Fatal(err)
	}
	send := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/webhooks/hubspot", strings.NewReader(body))
		ts := strconv.FormatInt(now.UnixMilli(), 10)
		sig := HubSpotSignature("app-secret", "POST", srv.URL+"/v1/webhooks/hubspot", []byte(body), ts)
		req.Header.Set("X-HubSpot-Request-Timestamp", ts)
		req.Header.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(sig))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(string(body)); code != 200 {
		t.Fatalf("first delivery: %d", code)
	}
	// HubSpot retries with attemptNumber incremented: the same events.
	if code := send(strings.ReplaceAll(string(body), `"attemptNumber": 0`, `"attemptNumber": 1`)); code != 200 {
		t.Fatalf("redelivery: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	perID := map[string]int{}
	for total := 0; total < 6; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 6 records", total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			e, err := event.Decode(r.Value)
			if err != nil {
				t.Errorf("not canonical: %v", err)
				return
			}
			if string(r.Key) != e.Key() {
				t.Errorf("key %q, want %q", r.Key, e.Key())
			}
			perID[e.ID]++
			total++
		})
	}
	if len(perID) != 3 {
		t.Fatalf("distinct event ids %v, want 3 (two deliveries of 3 mapped items)", perID)
	}
	for id, n := range perID {
		if n != 2 {
			t.Errorf("event %s seen %d times, want once per delivery", id, n)
		}
	}
}
