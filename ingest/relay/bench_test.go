package relay

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/simulator"
)

// simulated returns n raw records as the benchmark harness feeds crm.raw:
// simulated events (leads with untidy contacts, page views, e-mails,
// deals, …) in their JSON encoding.
func simulated(b *testing.B, n int) []*kgo.Record {
	sc := simulator.DefaultConfig()
	sc.Seed, sc.Leads, sc.Accounts, sc.Span = 1, 20_000, 500, 30*24*time.Hour
	g, err := simulator.New(sc, nil)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]*kgo.Record, 0, n)
	var e event.Event
	for len(recs) < n && g.Next(&e) {
		recs = append(recs, &kgo.Record{Topic: kafka.TopicRaw, Partition: int32(len(recs) % 4), Offset: int64(len(recs)), Value: e.AppendJSON(nil)})
	}
	return recs
}

// BenchmarkParseChunk: the relay's work per record (parse, validate,
// normalize, encode) on a poll of 2,000 simulated records, one goroutine.
func BenchmarkParseChunk(b *testing.B) {
	recs := simulated(b, 2000)
	r := &Relay{
		cfg:      Config{Out: kafka.TopicEvents, DLQ: kafka.TopicDLQ, Now: time.Now, process: event.ParseViewJSON},
		log:      slog.New(slog.DiscardHandler),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"kind"}),
	}
	var sc scratch
	for range 2 { // warm the phone cache, as a long-running relay has it
		c := chunk{lo: 0, hi: len(recs), scratch: &sc}
		r.parseChunk(&c, recs)
	}
	b.ReportAllocs()
	start := benchcpu.Now()
	for b.Loop() {
		c := chunk{lo: 0, hi: len(recs), scratch: &sc}
		r.parseChunk(&c, recs)
		if c.events != len(recs) {
			b.Fatalf("%d of %d events", c.events, len(recs))
		}
	}
	b.ReportMetric(float64((benchcpu.Now()-start).Nanoseconds())/float64(b.N*len(recs)), "cpu-ns/event")
}
