package sink

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/simulator"
)

func benchRecords(b *testing.B, n int) []*kgo.Record {
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = canonical(b, fmt.Sprintf("b%d", i), fmt.Sprintf("lead-%d", i%1000), base.Add(time.Duration(i)*time.Second),
			`,"contact":{"email":"a@b.example","name":"Ann"}`)
		recs[i].Partition, recs[i].Offset = int32(i%4), int64(i)
	}
	return recs
}

// BenchmarkDecodeRow: decoding and validating a canonical record into a row
// of the batch, per event, as the sink does (batches of 1,000 rows), with PII hashing off
// (the default) and on.
func BenchmarkDecodeRow(b *testing.B) {
	for _, pii := range []bool{false, true} {
		b.Run(fmt.Sprintf("pii=%v", pii), func(b *testing.B) {
			recs := benchRecords(b, 1000)
			s := &Sink{}
			var hash func([]byte, string) []byte
			if pii {
				s.cfg.PIIKey = []byte("0123456789abcdef")
				hash = s.appendHash
			}
			b.ReportAllocs()
			i := 0
			var e event.Event
			start := benchcpu.Now()
			for b.Loop() {
				r := recs[i%len(recs)]
				props, err := event.DecodeViewValid(&e, r.Value)
				if err != nil {
					b.Fatal(err)
				}
				s.rows.add(r, &e, props, hash)
				if i++; i%len(recs) == 0 {
					s.rows.reset()
				}
			}
			benchcpu.Report(b, start, "")
		})
	}
}

// BenchmarkInsert: one insert of 10,000 rows into crm.events on the local
// ClickHouse server.
func BenchmarkInsert(b *testing.B) {
	store := chtest.New(b)
	const n = 10_000
	s := &Sink{cfg: Config{Conn: store.Conn, InsertTimeout: time.Minute, Now: time.Now}, insert: "INSERT INTO " + store.DB + ".events (" + columnList + ")",
		log: slog.New(slog.DiscardHandler)}
	for _, r := range benchRecords(b, n) {
		e, err := event.Decode(r.Value)
		if err != nil {
			b.Fatal(err)
		}
		s.rows.add(r, &e, nil, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.insertRows(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// relayed returns n records as the relay writes them to crm.events:
// simulated events (untidy contacts, page views, e-mails, deals, …),
// parsed, normalized and canonically encoded.
func relayed(b *testing.B, n int) []*kgo.Record {
	sc := simulator.DefaultConfig()
	sc.Seed, sc.Leads, sc.Accounts, sc.Span = 1, 20_000, 500, 30*24*time.Hour
	g, err := simulator.New(sc, nil)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]*kgo.Record, 0, n)
	var raw event.Event
	for len(recs) < n && g.Next(&raw) {
		e, err := event.Parse(raw.AppendJSON(nil))
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: kafka.TopicEvents, Partition: int32(len(recs) % 4), Offset: int64(len(recs)),
			Key: []byte(e.Key()), Value: e.AppendJSON(nil), Timestamp: e.OccurredAt})
	}
	if len(recs) < n {
		b.Fatalf("simulator gave %d of %d events", len(recs), n)
	}
	return recs
}

// BenchmarkFlush: the sink's whole path for one default batch (50,000
// simulated events as the relay writes them) on the local ClickHouse server:
// decoding and validating each record into the batch (add), then the insert
// (flushLocked; the offset commit, one request per batch, is left out).
// cpu-ns/row is this process's CPU; server-cpu-ns/row the server's for the
// inserts, from its query log (user + system time of each INSERT; merges
// are not counted), which other load on the server does not inflate much.
// One batch takes about a second: run it with -benchtime 10x.
func BenchmarkFlush(b *testing.B) {
	store := chtest.New(b)
	recs := relayed(b, 50_000)
	s, err := New(Config{Opts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, Conn: store.Conn, Database: store.DB, InsertTimeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
	b.ReportAllocs()
	start := benchcpu.Now()
	for b.Loop() {
		s.add(recs)
		s.mu.Lock()
		clear(s.offsets) // nothing to commit: the client has no group
		err := s.flushLocked(ctx)
		s.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((benchcpu.Now()-start).Nanoseconds())/float64(b.N*len(recs)), "cpu-ns/row")
	b.StopTimer()
	// The server logs an INSERT just after answering it: flush and read
	// until every insert is there.
	var ev chtest.InsertCost
	for deadline := time.Now().Add(30 * time.Second); ev.Inserts < uint64(b.N); {
		if time.Now().After(deadline) {
			b.Fatalf("%d inserts in the query log, want at least %d", ev.Inserts, b.N)
		}
		costs, err := chtest.InsertCosts(ctx, store)
		if err != nil {
			b.Fatal(err)
		}
		ev = costs["events"]
	}
	b.ReportMetric(float64(ev.CPU.Nanoseconds())/float64(int(ev.Inserts)*len(recs)), "server-cpu-ns/row")
}

// BenchmarkBatchGC: the CPU of one GC cycle while a full default batch
// (50,000 simulated events, decoded as the sink does) waits for its insert:
// what the batch costs every collection of the ingest process.
func BenchmarkBatchGC(b *testing.B) {
	recs := relayed(b, 50_000)
	var c columns
	var e event.Event
	for _, r := range recs {
		props, err := event.DecodeViewValid(&e, r.Value)
		if err != nil {
			b.Fatal(err)
		}
		c.add(r, &e, props, nil)
	}
	recs = nil // the batch alone holds them, as in the sink
	e = event.Event{}
	runtime.GC()
	b.ReportAllocs()
	start := benchcpu.Now()
	for b.Loop() {
		runtime.GC()
	}
	benchcpu.Report(b, start, "")
	runtime.KeepAlive(&c)
}
