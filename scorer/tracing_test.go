package scorer

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/crmstream/crmstream/ingest/collector"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
	"github.com/crmstream/crmstream/internal/tracing"
)

// spanSink records the span context each Write runs in (CHSink's insert and
// the alert publish run in the same context).
type spanSink struct {
	mu    sync.Mutex
	spans []trace.SpanContext
	rows  int
}

func (s *spanSink) Write(ctx context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans = append(s.spans, trace.SpanContextFromContext(ctx))
	s.rows += b.Len()
	return nil
}

// TestTraceCollectorToWrite follows one event from the collector's request
// through Kafka (kotel on a kfake broker) into the scorer's score and flush
// spans, and checks they form one trace with the expected parents.
func TestTraceCollectorToWrite(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicEvents, kafka.TopicChangelog)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	producer, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, tracing.KafkaOpts(tp, "producer", "")...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	h, err := collector.New(collector.Config{Producer: producer})
	if err != nil {
		t.Fatal(err)
	}
	handler := tracing.HTTPHandler(tp, "POST /v1/events", h)

	sink := &spanSink{}
	svc, err := New(Config{
		Kafka:         kafka.Config{Brokers: brokers},
		Group:         "trace-test",
		FlushInterval: 50 * time.Millisecond,
		Tick:          20 * time.Millisecond,
		Tracer:        tp,
	}, Options{Sink: sink, Logger: testLogger(t, "trace")})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(context.Background()) }()
	defer func() {
		_ = svc.Close()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	at := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	body := fmt.Sprintf(`[{"event_id":"e1","type":"page_view","occurred_at":%q,"lead_id":"lead-1","properties":{"url":"/pricing"}},{"event_id":"bad","type":"teleported","occurred_at":%q,"lead_id":"l"}]`, at, at)
	req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	if w.Code != http.StatusMultiStatus {
		t.Fatalf("collector answered %d: %s", w.Code, w.Body)
	}

	byName := map[string]sdktrace.ReadOnlySpan{}
	deadline := time.Now().Add(8 * time.Second)
	for byName["scorer flush"] == nil {
		if time.Now().After(deadline) {
			names := []string{}
			for _, s := range rec.Ended() {
				names = append(names, s.Name())
			}
			t.Fatalf("no flush span within 8 s; ended spans: %v", names)
		}
		time.Sleep(20 * time.Millisecond)
		for _, s := range rec.Ended() {
			if _, ok := byName[s.Name()]; !ok {
				byName[s.Name()] = s
			}
		}
	}

	// Each span's parent is the previous one: request → publish → receive → score → flush.
	chain := []string{"POST /v1/events", kafka.TopicEvents + " publish", kafka.TopicEvents + " receive", "score", "scorer flush"}
	root := byName[chain[0]]
	if root == nil {
		t.Fatalf("no request span")
	}
	for i, name := range chain {
		s := byName[name]
		if s == nil {
			t.Fatalf("no %q span", name)
		}
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("%q in trace %s, want %s", name, s.SpanContext().TraceID(), root.SpanContext().TraceID())
		}
		if i > 0 && s.Parent().SpanID() != byName[chain[i-1]].SpanContext().SpanID() {
			t.Errorf("%q: parent %s, want %q (%s)", name, s.Parent().SpanID(), chain[i-1], byName[chain[i-1]].SpanContext().SpanID())
		}
	}
	attrs := map[string]int64{}
	for _, kv := range root.Attributes() {
		attrs[string(kv.Key)] = kv.Value.AsInt64()
	}
	if attrs["crm.accepted"] != 1 || attrs["crm.rejected"] != 1 || attrs["http.response.status_code"] != http.StatusMultiStatus {
		t.Errorf("request span attributes %v: want 1 accepted, 1 rejected, status 207", root.Attributes())
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	flush := byName["scorer flush"].SpanContext()
	found := false
	for _, sc := range sink.spans {
		found = found || sc.SpanID() == flush.SpanID()
	}
	if !found || sink.rows == 0 {
		t.Errorf("the sink wrote %d rows, none in the flush span's context (%d writes)", sink.rows, len(sink.spans))
	}
}

// BenchmarkScoreSpan measures what tracing adds per record to the worker
// loop: off (nil tracer), and on for a sampled record (span start/end and
// the link kept for the flush; spans go to no exporter).
func BenchmarkScoreSpan(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, parent := tp.Tracer("bench").Start(context.Background(), "receive")
	defer parent.End()
	for _, bc := range []struct {
		name   string
		tracer trace.Tracer
	}{{"off", nil}, {"on", tracing.Tracer(tp)}} {
		b.Run(bc.name, func(b *testing.B) {
			pw := &partitionWorker{s: &Service{tracer: bc.tracer}, p: 1}
			r := &kgo.Record{Key: []byte("lead-1"), Offset: 42, Context: ctx}
			b.ReportAllocs()
			for b.Loop() {
				if span := pw.scoreSpan(r); span != nil {
					span.End()
				}
				pw.traced = pw.traced[:0]
			}
		})
	}
}
