package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// flakyConn is ClickHouse that can be switched off.
type flakyConn struct {
	driver.Conn
	down    atomic.Bool
	inserts atomic.Int64
	refuse  string // event_id whose row Append refuses, as a driver does with a value it cannot encode
}

type refusingBatch struct {
	driver.Batch
	refuse string
}

func (b refusingBatch) Append(v ...any) error {
	if id, _ := v[0].(string); id == b.refuse {
		return errors.New("value out of range (test)")
	}
	return b.Batch.Append(v...)
}

// Column refuses a column-wise Append of event_id values that hold the
// refused id, as Append refuses its row.
func (b refusingBatch) Column(i int) driver.BatchColumn {
	return refusingColumn{b.Batch.Column(i), b.refuse}
}

type refusingColumn struct {
	driver.BatchColumn
	refuse string
}

func (c refusingColumn) Append(v any) error {
	if ids, ok := v.([]string); ok && slices.Contains(ids, c.refuse) {
		return errors.New("value out of range (test)")
	}
	return c.BatchColumn.Append(v)
}

var errDown = errors.New("connection refused (test)")

func (c *flakyConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if c.down.Load() {
		return nil, errDown
	}
	c.inserts.Add(1)
	b, err := c.Conn.PrepareBatch(ctx, q, opts...)
	if err != nil || c.refuse == "" {
		return b, err
	}
	return refusingBatch{Batch: b, refuse: c.refuse}, nil
}

func (c *flakyConn) Ping(ctx context.Context) error {
	if c.down.Load() {
		return errDown
	}
	return c.Conn.Ping(ctx)
}

func canonical(t testing.TB, id, lead string, at time.Time, contact string) *kgo.Record {
	t.Helper()
	e, err := event.Parse(fmt.Appendf(nil, `{"event_id":%q,"type":"page_view","occurred_at":%q,"lead_id":%q%s,"properties":{"url":"/p"}}`,
		id, at.Format(time.RFC3339Nano), lead, contact))
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: kafka.TopicEvents, Key: []byte(e.Key()), Value: e.AppendJSON(nil), Timestamp: e.OccurredAt}
}

type harness struct {
	t       *testing.T
	brokers []string
	store   *chstore.Store
	conn    *flakyConn
	prod    *kgo.Client
	reg     *prometheus.Registry
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, brokers: kafkatest.Cluster(t, kafka.TopicEvents, kafka.TopicDLQ), store: chtest.New(t), reg: prometheus.NewRegistry()}
	h.conn = &flakyConn{Conn: h.store.Conn}
	prod, err := kgo.NewClient(kgo.SeedBrokers(h.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	h.prod = prod
	return h
}

func (h *harness) start(mod func(*Config)) (*Sink, func()) {
	h.reg = prometheus.NewRegistry() // per member
	cfg := Config{
		Opts: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, Group: "sink-test",
		Conn: h.conn, Database: h.store.DB, BatchRows: 50, FlushEvery: 100 * time.Millisecond,
		BreakerOpen: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Registerer: h.reg,
		InsertTimeout: 10 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("sink run: %v", err)
		}
	}
}

func (h *harness) produce(recs ...*kgo.Record) {
	h.t.Helper()
	if err := h.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) count(q string) uint64 {
	h.t.Helper()
	var n uint64
	if err := h.store.Conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (h *harness) waitCount(q string, want uint64) {
	h.t.Helper()
	// Generous: the test server is shared, and on a loaded machine one
	// insert has been seen to take more than 15 s.
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := h.count(q)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1) // where the sink is stuck
			h.t.Fatalf("%s = %d, want %d", q, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) lag() int64 {
	h.t.Helper()
	lags, err := kadm.NewClient(h.prod).Lag(context.Background(), "sink-test")
	if err != nil {
		h.t.Fatal(err)
	}
	return lags["sink-test"].Lag.Total()
}

func TestSinkStoresOnceAndCommits(t *testing.T) {
	h := newHarness(t)
	base := time.Date(2026, 11, 21, 9, 30, 0, 123e6, time.UTC)
	var recs []*kgo.Record
	for i := range 120 {
		recs = append(recs, canonical(t, fmt.Sprintf("e%d", i), fmt.Sprintf("lead-%d", i%7), base.Add(time.Duration(i)*time.Second), ""))
	}
	dups := recs[:30] // replayed by an upstream retry
	junk := &kgo.Record{Topic: kafka.TopicEvents, Key: []byte("x"), Value: []byte(`{"not":"canonical"}`)}
	farFuture := &kgo.Record{Topic: kafka.TopicEvents, Key: []byte("x"), Value: []byte(`{"event_id":"ff","type":"login","occurred_at":"2200-01-01T00:00:00Z","account_id":"x"}`)}
	refused := canonical(t, "refused", "lead-r", base, "")
	h.conn.refuse = "refused"
	h.produce(recs...)
	h.produce(dups...)
	h.produce(junk, farFuture, refused)

	_, stop := h.start(nil)
	db := h.store.DB
	h.waitCount("SELECT count() FROM "+db+".events FINAL", 120)
	if n := h.count("SELECT uniqExact(event_id) FROM " + db + ".events"); n != 120 {
		t.Errorf("uniqExact(event_id) = %d", n)
	}
	var ms uint16
	var props string
	if err := h.store.Conn.QueryRow(context.Background(), "SELECT occurred_ms, properties FROM "+db+".events FINAL WHERE event_id = 'e0'").Scan(&ms, &props); err != nil {
		t.Fatal(err)
	}
	if ms != 123 || props != `{"url":"/p"}` {
		t.Errorf("occurred_ms %d properties %q", ms, props)
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.lag() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lag %d after the rows are stored", h.lag())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if got := metricValue(t, h.reg, "crmstream_ingest_sink_dead_letters_total"); got != 3 {
		t.Errorf("dead letters %v, want 3 (undecodable, unstorable time, refused row)", got)
	}
	// The dead letter is on the DLQ with its origin.
	ends, err := kadm.NewClient(h.prod).ListEndOffsets(context.Background(), kafka.TopicDLQ)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 3 {
		t.Errorf("%d dead letters on %s, want 3", total, kafka.TopicDLQ)
	}
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestSinkClickHouseDown: inserts fail → the breaker opens, Healthy reports
// it, offsets stay uncommitted; when ClickHouse is back every row is stored
// once and the offsets are committed.
func TestSinkClickHouseDown(t *testing.T) {
	h := newHarness(t)
	h.conn.down.Store(true)
	s, stop := h.start(nil)
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 200 {
		recs = append(recs, canonical(t, fmt.Sprintf("d%d", i), fmt.Sprintf("lead-%d", i%11), base.Add(time.Duration(i)*time.Minute), ""))
	}
	h.produce(recs...)
	deadline := time.Now().Add(30 * time.Second)
	for s.Healthy() == nil {
		if time.Now().After(deadline) {
			t.Fatal("sink still healthy with ClickHouse down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(s.Healthy(), ErrUnhealthy) {
		t.Fatalf("Healthy() = %v", s.Healthy())
	}
	time.Sleep(500 * time.Millisecond) // several retries and breaker cycles
	if n := h.count("SELECT count() FROM " + h.store.DB + ".events"); n != 0 {
		t.Fatalf("%d rows while down", n)
	}
	if lag := h.lag(); lag != 200 {
		t.Fatalf("lag %d while down, want 200 (nothing committed)", lag)
	}
	h.conn.down.Store(false)
	h.waitCount("SELECT count() FROM "+h.store.DB+".events FINAL", 200)
	deadline = time.Now().Add(30 * time.Second)
	for s.Healthy() != nil || h.lag() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after recovery: healthy=%v lag=%d", s.Healthy(), h.lag())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
}

// TestSinkDrainOnStop: a batch below BatchRows and younger than FlushEvery
// is flushed and committed when the sink stops.
func TestSinkDrainOnStop(t *testing.T) {
	h := newHarness(t)
	_, stop := h.start(func(c *Config) { c.FlushEvery = time.Hour; c.BatchRows = 1000 })
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	h.produce(canonical(t, "s1", "l1", base, ""), canonical(t, "s2", "l2", base, ""))
	deadline := time.Now().Add(30 * time.Second)
	for len(mustLagMembers(t, h)) == 0 { // joined; the two records uncommitted
		if time.Now().After(deadline) {
			t.Fatal("sink never joined its group")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the sink poll them
	if lag := h.lag(); lag != 2 {
		t.Fatalf("lag %d before stop, want 2 (nothing committed before the flush)", lag)
	}
	if n := h.count("SELECT count() FROM " + h.store.DB + ".events"); n != 0 {
		t.Fatalf("%d rows before the flush is due", n)
	}
	stop()
	if n := h.count("SELECT count() FROM " + h.store.DB + ".events FINAL"); n != 2 {
		t.Fatalf("%d rows after stop, want 2", n)
	}
	if lag := h.lag(); lag != 0 {
		t.Fatalf("lag %d after stop, want 0", lag)
	}
}

func mustLagMembers(t *testing.T, h *harness) kadm.GroupLag {
	lags, err := kadm.NewClient(h.prod).Lag(context.Background(), "sink-test")
	if err != nil {
		t.Fatal(err)
	}
	return lags["sink-test"].Lag
}

// TestSinkTombstonesCommitted: erasure tombstones are not stored, but their
// offsets are committed even when nothing else arrives.
func TestSinkTombstonesCommitted(t *testing.T) {
	h := newHarness(t)
	_, stop := h.start(nil)
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	tomb := event.Event{ID: "erase-1", Type: event.Erased, OccurredAt: at, LeadID: "l1"}
	h.produce(&kgo.Record{Topic: kafka.TopicEvents, Key: []byte("l1"), Value: tomb.AppendJSON(nil)})
	deadline := time.Now().Add(30 * time.Second)
	for len(mustLagMembers(t, h)) == 0 || h.lag() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("tombstone offset not committed: lag %d", h.lag())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if n := h.count("SELECT count() FROM " + h.store.DB + ".events"); n != 0 {
		t.Fatalf("%d rows stored for a tombstone", n)
	}
}

func TestSinkPII(t *testing.T) {
	h := newHarness(t)
	_, stop := h.start(func(c *Config) { c.PIIKey = []byte("secret") })
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	h.produce(canonical(t, "p1", "l1", at, `,"contact":{"email":"Ann@Example.com","phone":"+4930123456","name":"Ann Lee","company":"Acme"}`))
	h.waitCount("SELECT count() FROM "+h.store.DB+".events FINAL", 1)
	stop()
	var email, phone, name, company string
	if err := h.store.Conn.QueryRow(context.Background(), "SELECT email, phone, name, company FROM "+h.store.DB+".events FINAL").Scan(&email, &phone, &name, &company); err != nil {
		t.Fatal(err)
	}
	s := &Sink{cfg: Config{PIIKey: []byte("secret")}}
	hash := func(v string) string { return string(s.appendHash(nil, v)) }
	if email != hash("ann@example.com") || phone != hash("+4930123456") || name != hash("Ann Lee") || company != "Acme" {
		t.Fatalf("stored %q %q %q %q", email, phone, name, company)
	}
	if len(email) != 32 || email == "ann@example.com" {
		t.Fatalf("email not hashed: %q", email)
	}
}

// TestSinkRebalance: a second member joins mid-stream and the first leaves
// mid-stream; every event is stored once as readers see it and the group
// ends fully committed.
func TestSinkRebalance(t *testing.T) {
	h := newHarness(t)
	_, stopA := h.start(nil)
	regA := h.reg
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	const total = 3000
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < total; i += 100 {
			var recs []*kgo.Record
			for j := i; j < i+100; j++ {
				recs = append(recs, canonical(t, fmt.Sprintf("rb%d", j), fmt.Sprintf("lead-%d", j%97), base.Add(time.Duration(j)*time.Second), ""))
			}
			if err := h.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	_, stopB := h.start(nil) // joins: partitions are revoked from A and reassigned
	regB := h.reg
	time.Sleep(150 * time.Millisecond)
	stopA() // leaves mid-stream: B takes everything
	<-produced
	h.waitCount("SELECT count() FROM "+h.store.DB+".events FINAL", total)
	deadline := time.Now().Add(30 * time.Second)
	for h.lag() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lag %d", h.lag())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopB()
	a, b := metricValue(t, regA, "crmstream_ingest_sink_rows_total"), metricValue(t, regB, "crmstream_ingest_sink_rows_total")
	if a == 0 || b == 0 {
		t.Fatalf("rows inserted by A %v, by B %v: the stream did not move between members", a, b)
	}
	if n := h.count("SELECT uniqExact(event_id) FROM " + h.store.DB + ".events"); n != total {
		t.Fatalf("uniqExact %d, want %d", n, total)
	}
	t.Logf("A inserted %v rows, B %v; %d rows in the table for %d events (re-reads after the rebalances collapse)", a, b, h.count("SELECT count() FROM "+h.store.DB+".events"), total)
}

// TestInsertBlocks: a batch of several blocks is one INSERT that the server
// stores as one part, every row once; a row the driver refuses in a later
// block is found (after earlier blocks were sent), and the rest inserted.
func TestInsertBlocks(t *testing.T) {
	store := chtest.New(t)
	conn := &flakyConn{Conn: store.Conn, refuse: "refused"}
	s := &Sink{cfg: Config{Conn: conn, InsertTimeout: time.Minute, Now: time.Now}, insert: "INSERT INTO " + store.DB + ".events (" + columnList + ")",
		log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	// Merges would hide extra parts.
	if err := store.Conn.Exec(ctx, "SYSTEM STOP MERGES "+store.DB+".events"); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	n := 3*blockRows + 5
	refusedAt := 2*blockRows + 7
	var e event.Event
	for i := range n {
		id := fmt.Sprintf("e%d", i)
		if i == refusedAt {
			id = "refused"
		}
		r := canonical(t, id, fmt.Sprintf("lead-%d", i%13), base.Add(time.Duration(i)*time.Millisecond), "")
		props, err := event.DecodeViewValid(&e, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		s.rows.add(r, &e, props, nil)
	}

	err := s.insertRows(ctx)
	var re *rowError
	if !errors.As(err, &re) || re.i != refusedAt {
		t.Fatalf("insert = %v, want the refused row %d", err, refusedAt)
	}
	s.rows.remove(re.i)
	if err := s.insertRows(ctx); err != nil {
		t.Fatal(err)
	}
	q := func(sql string) uint64 {
		t.Helper()
		var v uint64
		if err := store.Conn.QueryRow(ctx, sql).Scan(&v); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return v
	}
	if got := q("SELECT uniqExact(event_id) FROM " + store.DB + ".events"); got != uint64(n-1) {
		t.Errorf("%d events stored, want %d", got, n-1)
	}
	if got := q("SELECT count() FROM " + store.DB + ".events WHERE event_id = 'refused'"); got != 0 {
		t.Errorf("refused row stored %d times", got)
	}
	// The aborted INSERTs may have left the blocks they sent (18.16 stores
	// them: rows of the batch, which collapse with their copies), but the
	// INSERT that succeeded is a single part.
	if got := q("SELECT count() FROM system.parts WHERE database = '" + store.DB + "' AND table = 'events' AND active AND rows = " + fmt.Sprint(n-1)); got != 1 {
		t.Errorf("%d parts of %d rows, want the one INSERT as one part", got, n-1)
	}
}
