package simulator

import (
	"testing"

	"github.com/crmstream/crmstream/event"
)

// BenchmarkGenerate measures canonical event generation (no encoding).
func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Leads, cfg.Accounts = 100_000, 5_000
	g, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	var e event.Event
	b.ReportAllocs()
	for b.Loop() {
		if !g.Next(&e) {
			b.Fatal("stream ended")
		}
	}
}

// BenchmarkStream measures generation plus canonical JSON encoding: what
// the file, HTTP and Kafka outputs pay per record.
func BenchmarkStream(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Leads, cfg.Accounts = 100_000, 5_000
	cfg.DuplicateRate, cfg.OutOfOrderRate, cfg.MalformedRate = 0.01, 0.01, 0.001
	g, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := NewStream(g)
	var r Record
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		if !s.Next(&r) {
			b.Fatal("stream ended")
		}
		bytes += int64(len(r.Value))
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/record")
}
