package relay

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/ingest/dlq"
	"github.com/crmstream/crmstream/ingest/rejects"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

func raw(id, typ string) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"type":%q,"occurred_at":"2026-11-21T09:30:00Z","lead_id":"lead-%s"}`, id, typ, id)
}

// consume reads n records of topic from the start (fails after 10 s).
func consume(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: got %d records, want %d", topic, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRelay(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicRaw, kafka.TopicEvents, kafka.TopicDLQ)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(kafka.TopicRaw))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	inputs := [][]byte{
		raw("r1", "page_view"),
		raw("r2", "teleported"), // unknown type → DLQ
		[]byte("\x00\xffnot json"),
		raw("poison", "login"), // panics in processing → DLQ
		raw("r3", "deal_won"),
	}
	for i, v := range inputs {
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	rejected := &countRecorder{}
	newRelay := func() *Relay {
		r, err := New(Config{
			Opts:    []kgo.Opt{kgo.SeedBrokers(brokers...)},
			Group:   "relay-test",
			Rejects: rejected,
			process: func(e *event.Event, b []byte) ([]byte, error) {
				if strings.Contains(string(b), `"poison"`) {
					var m map[string]int
					m["boom"]++ // nil map write: a real panic
				}
				return event.ParseViewJSON(e, b)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := newRelay()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()

	events := consume(t, brokers, kafka.TopicEvents, 2)
	letters := consume(t, brokers, kafka.TopicDLQ, 3)
	for _, e := range events {
		ev, err := event.Decode(e.Value)
		if err != nil || string(e.Key) != ev.Key() || !e.Timestamp.Equal(ev.OccurredAt) {
			t.Errorf("event record %q key %q: %v", e.Value, e.Key, err)
		}
	}
	reasons := map[string]bool{}
	for _, rec := range letters {
		l := dlq.Read(rec)
		if l.Reason == "" || !strings.HasPrefix(l.Origin, kafka.TopicRaw+"/") || l.FailedAt.IsZero() {
			t.Errorf("dead letter without headers: %+v", l)
		}
		reasons[strings.SplitN(l.Reason, ":", 2)[0]] = true
		if !strings.HasPrefix(string(rec.Key), "k") {
			t.Errorf("dead letter lost its key: %q", rec.Key)
		}
	}
	for _, want := range []string{"type", "panic", "not a JSON object"} {
		if !reasons[want] {
			t.Errorf("no dead letter for %q; reasons %v", want, reasons)
		}
	}

	// Offsets are committed once output is acknowledged: the group's lag
	// drops to zero.
	adm := kadm.NewClient(prod)
	deadline := time.Now().Add(10 * time.Second)
	for {
		lags, err := adm.Lag(ctx, "relay-test")
		if err == nil {
			if l := lags["relay-test"]; l.Error() == nil && l.Lag.Total() == 0 && !l.Lag.IsEmpty() {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay group still lagging: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rejected.n() != 3 {
		t.Errorf("%d rejects recorded, want 3", rejected.n())
	}

	// A restarted relay in the same group relays nothing twice.
	r2 := newRelay()
	rctx2, stop2 := context.WithCancel(ctx)
	go func() { done <- r2.Run(rctx2) }()
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: raw("r4", "login")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	consume(t, brokers, kafka.TopicEvents, 3)
	time.Sleep(300 * time.Millisecond)
	ends, err := adm.ListEndOffsets(ctx, kafka.TopicEvents)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 3 {
		t.Errorf("crm.events has %d records after restart, want 3", total)
	}
	stop2()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type countRecorder struct {
	mu   sync.Mutex
	rows []rejects.Reject
}

func (c *countRecorder) Add(r rejects.Reject) { c.mu.Lock(); c.rows = append(c.rows, r); c.mu.Unlock() }
func (c *countRecorder) n() int               { c.mu.Lock(); defer c.mu.Unlock(); return len(c.rows) }

// TestRelayProduceFailure: while produces to crm.events fail with a
// non-retriable error, the relay retries and commits nothing; once they
// succeed, every event arrives and the group drains.
func TestRelayProduceFailure(t *testing.T) {
	c := kafkatest.New(t, 2, kafka.TopicRaw, kafka.TopicEvents, kafka.TopicDLQ)
	brokers := c.ListenAddrs()
	var failing atomic.Int32
	failing.Store(4) // produce requests to crm.events that fail
	eventsID := c.TopicInfo(kafka.TopicEvents).TopicID
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		// v13+ name topics by id only.
		if len(pr.Topics) == 0 || (pr.Topics[0].Topic != kafka.TopicEvents && pr.Topics[0].TopicID != eventsID) || failing.Load() <= 0 {
			return nil, nil, false
		}
		failing.Add(-1)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(kafka.TopicRaw))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	for i := range 20 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: raw(fmt.Sprintf("pf%d", i), "login")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	r, err := New(Config{Opts: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Group: "relay-pf", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	events := consume(t, brokers, kafka.TopicEvents, 20)
	ids := map[string]bool{}
	for _, rec := range events {
		e, err := event.Decode(rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		ids[e.ID] = true
	}
	if len(ids) != 20 {
		t.Fatalf("%d distinct events relayed, want 20", len(ids))
	}
	adm := kadm.NewClient(prod)
	deadline := time.Now().Add(20 * time.Second)
	for {
		lags, err := adm.Lag(ctx, "relay-pf")
		if err == nil {
			if l := lags["relay-pf"]; l.Error() == nil && !l.Lag.IsEmpty() && l.Lag.Total() == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("relay group still lagging after produces recovered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if failing.Load() > 0 {
		t.Fatalf("%d injected failures never happened", failing.Load())
	}
	mfs, _ := reg.Gather()
	retries := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "crmstream_ingest_relay_produce_retries_total" {
			retries = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if retries == 0 {
		t.Fatal("no produce retry counted")
	}
}

// TestParallelParseKeepsOrder: a poll parsed in parallel chunks yields
// exactly the records, dead letters and rejects, in exactly the order, of a
// single goroutine, so order per key and per raw partition holds.
func TestParallelParseKeepsOrder(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 1000 {
		v := fmt.Appendf(nil, `{"event_id":"e%d","type":"page_view","occurred_at":"2026-11-21T09:30:00Z","lead_id":"lead-%d"}`, i, i%13)
		if i%5 == 0 { // not in the canonical form: re-encoded
			v = fmt.Appendf(nil, `{"type":"page_view", "event_id":"e%d","occurred_at":"2026-11-21T09:30:00Z","lead_id":"Lead-%d ","source":"WEB"}`, i, i%13)
		}
		if i%7 == 0 {
			v = []byte(`{"event_id":"bad","type":"teleported"}`)
		}
		recs = append(recs, &kgo.Record{Topic: kafka.TopicRaw, Partition: int32(i % 4), Offset: int64(i), Value: v})
	}
	type item struct{ topic, key, value string }
	run := func(par int) ([]item, []string) {
		rel := &Relay{
			cfg:      Config{Out: kafka.TopicEvents, DLQ: kafka.TopicDLQ, Parallelism: par, Now: func() time.Time { return now }, process: event.ParseViewJSON},
			log:      slog.New(slog.DiscardHandler),
			rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"kind"}),
		}
		cs := rel.chunks(len(recs))
		if par > 1 && len(cs) != par {
			t.Fatalf("parallelism %d: %d chunks", par, len(cs))
		}
		var wg sync.WaitGroup
		for i := range cs {
			wg.Go(func() { rel.parseChunk(&cs[i], recs) })
		}
		wg.Wait()
		var out []item
		var rj []string
		for _, c := range cs {
			for _, o := range c.out {
				out = append(out, item{o.Topic, string(o.Key), string(o.Value)})
			}
			for _, r := range c.rejects {
				rj = append(rj, string(r.Payload))
			}
		}
		return out, rj
	}
	want, wantRj := run(1)
	for i, o := range want { // one output per input, in order
		e, err := event.Parse(recs[i].Value)
		if err != nil {
			continue
		}
		if o.topic != kafka.TopicEvents || o.value != string(e.AppendJSON(nil)) || o.key != e.Key() {
			t.Fatalf("record %d: relayed %+v, want the canonical encoding %s", i, o, e.AppendJSON(nil))
		}
	}
	got, gotRj := run(4)
	if len(want) != len(recs) || len(wantRj) != 143 {
		t.Fatalf("serial: %d records, %d rejects", len(want), len(wantRj))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(gotRj) != fmt.Sprint(wantRj) {
		t.Fatal("parallel parse changed the output or its order")
	}
}
