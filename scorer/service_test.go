package scorer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
	"github.com/crmstream/crmstream/windows"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

// syncSink is a MemorySink shared by the workers of several services. It
// records every write; a row key written twice with different values is a
// conflict (ClickHouse would keep either).
type syncSink struct {
	mu        sync.Mutex
	leads     map[string]LeadScore
	churn     map[string]ChurnScore
	late      map[string]LateEvent
	conflict  []string
	failNext  int       // fail this many writes (flush errors)
	failUntil time.Time // fail every write until then (an outage)
}

func newSyncSink() *syncSink {
	return &syncSink{leads: map[string]LeadScore{}, churn: map[string]ChurnScore{}, late: map[string]LateEvent{}}
}

func (s *syncSink) Write(_ context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return fmt.Errorf("injected sink failure")
	}
	if time.Now().Before(s.failUntil) {
		return fmt.Errorf("injected sink outage")
	}
	for _, r := range b.Leads {
		r.ScoredAt = time.Time{}
		r.Quiet = false // history thinning restarts with the process: not part of the result
		k := r.LeadID + "|" + r.EventTime.String() + "|" + r.EventID
		if old, ok := s.leads[k]; ok && old != r {
			s.conflict = append(s.conflict, fmt.Sprintf("%s: %+v vs %+v", k, old, r))
		}
		s.leads[k] = r
	}
	for _, r := range b.Churn {
		r.ScoredAt = time.Time{}
		r.Quiet = false
		k := r.AccountID + "|" + r.EventTime.String() + "|" + r.EventID
		if old, ok := s.churn[k]; ok && old != r {
			s.conflict = append(s.conflict, fmt.Sprintf("%s: %+v vs %+v", k, old, r))
		}
		s.churn[k] = r
	}
	for _, r := range b.Late {
		r.ReceivedAt = time.Time{}
		s.late[r.EventID] = r
	}
	return nil
}

func (s *syncSink) snapshot() (map[string]LeadScore, map[string]ChurnScore, map[string]LateEvent, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.leads), clone(s.churn), clone(s.late), append([]string(nil), s.conflict...)
}

func clone[V any](m map[string]V) map[string]V {
	c := make(map[string]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// testStream is a deterministic stream of lead and account events, with
// out-of-order and late ones, encoded as crm.events records.
func testStream(seed uint64, n int) []*kgo.Record {
	r := rand.New(rand.NewPCG(seed, 1))
	evs := randomEvents(r, n)
	recs := make([]*kgo.Record, len(evs))
	for i, e := range evs {
		recs[i] = &kgo.Record{Topic: kafka.TopicEvents, Key: []byte(e.Key()), Value: e.AppendJSON(nil), Timestamp: e.OccurredAt}
	}
	return recs
}

func produce(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Fresh records: kgo keeps the produce context in a record.
	fresh := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		fresh[i] = &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	}
	if err := cl.ProduceSync(ctx, fresh...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitCommitted waits until the group has committed the end of every
// partition of the input topic.
func waitCommitted(t *testing.T, adm *kadm.Client, group string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ends, err := adm.ListEndOffsets(ctx, kafka.TopicEvents)
		if err == nil {
			committed, err := adm.FetchOffsets(ctx, group)
			if err == nil {
				done := true
				ends.Each(func(o kadm.ListedOffset) {
					c, ok := committed.Lookup(o.Topic, o.Partition)
					if o.Offset > 0 && (!ok || c.At < o.Offset) {
						done = false
					}
				})
				if done {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the group did not commit every record in time")
}

type testService struct {
	s    *Service
	errc chan error
}

func startService(t *testing.T, brokers []string, group string, sink Sink) *testService {
	t.Helper()
	s, err := New(Config{
		Kafka:         kafka.Config{Brokers: brokers},
		Group:         group,
		Windows:       windows.Config{Mode: windows.Backfill},
		FlushInterval: 50 * time.Millisecond,
		FlushRows:     50,
		Tick:          20 * time.Millisecond,
	}, Options{Sink: sink, Now: fixedNow, Logger: testLogger(t, group)})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testService{s: s, errc: make(chan error, 1)}
	go func() { ts.errc <- s.Run(context.Background()) }()
	t.Cleanup(func() { _ = s.Close() })
	return ts
}

func (ts *testService) stop(t *testing.T) {
	t.Helper()
	_ = ts.s.Close()
	if err := <-ts.errc; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func (ts *testService) kill(t *testing.T) {
	t.Helper()
	ts.s.abort()
	<-ts.errc
}

func (ts *testService) partitions() int {
	ts.s.mu.Lock()
	defer ts.s.mu.Unlock()
	return len(ts.s.workers)
}

func compareRuns(t *testing.T, want, got *syncSink) {
	t.Helper()
	wl, wc, wlate, _ := want.snapshot()
	gl, gc, glate, conflicts := got.snapshot()
	if len(conflicts) > 0 {
		t.Fatalf("%d rows rewritten with different values, e.g. %s", len(conflicts), conflicts[0])
	}
	if !mapsEqual(wl, gl) {
		missing := 0
		for k := range wl {
			if _, ok := gl[k]; !ok {
				missing++
			}
		}
		t.Fatalf("lead rows differ: want %d, got %d (%d missing)", len(wl), len(gl), missing)
	}
	if !mapsEqual(wc, gc) {
		t.Fatalf("churn rows differ: want %d, got %d", len(wc), len(gc))
	}
	if !mapsEqual(wlate, glate) {
		t.Fatalf("late events differ: want %d, got %d", len(wlate), len(glate))
	}
	if len(wl) == 0 || len(wc) == 0 || len(wlate) == 0 {
		t.Fatalf("reference run too thin: %d leads, %d churn, %d late", len(wl), len(wc), len(wlate))
	}
}

// reference runs one instance over the whole stream.
func reference(t *testing.T, recs []*kgo.Record) *syncSink {
	t.Helper()
	brokers := kafkatest.Cluster(t, kafka.TopicEvents, kafka.TopicChangelog)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce(t, cl, recs)
	sink := newSyncSink()
	a := startService(t, brokers, "ref", sink)
	waitCommitted(t, kadm.NewClient(cl), "ref")
	a.stop(t)
	return sink
}

// TestRebalanceRestoresState: two instances in one group; a partition moves
// from the first to the second mid-stream and its state comes back from the
// changelog. The rows equal those of a single instance.
func TestRebalanceRestoresState(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // after the clusters close
	recs := testStream(7, 1500)
	want := reference(t, recs)

	brokers := kafkatest.Cluster(t, kafka.TopicEvents, kafka.TopicChangelog)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	got := newSyncSink()
	half := len(recs) / 2
	produce(t, cl, recs[:half])
	a := startService(t, brokers, "g", got)
	waitCommitted(t, adm, "g")
	if a.partitions() != 4 {
		t.Fatalf("first instance holds %d partitions", a.partitions())
	}
	b := startService(t, brokers, "g", got)
	deadline := time.Now().Add(30 * time.Second)
	for b.partitions() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if b.partitions() == 0 {
		t.Fatal("no partition moved to the second instance")
	}
	produce(t, cl, recs[half:])
	waitCommitted(t, adm, "g")
	a.stop(t)
	b.stop(t)
	compareRuns(t, want, got)
}

// TestKillAndRestart: an instance dies mid-stream (no final flush,
// checkpoint or commit) while rows fail to write now and then; a new
// instance restores from the changelog and finishes. The rows equal those of
// a run without a crash.
func TestKillAndRestart(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // after the clusters close
	recs := testStream(11, 1500)
	want := reference(t, recs)

	brokers := kafkatest.Cluster(t, kafka.TopicEvents, kafka.TopicChangelog)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	got := newSyncSink()
	third := len(recs) / 3
	produce(t, cl, recs[:third])
	a := startService(t, brokers, "g", got)
	waitCommitted(t, adm, "g")
	got.mu.Lock()
	got.failNext = 3 // the next flushes fail: rows pile up, offsets stay behind
	got.mu.Unlock()
	produce(t, cl, recs[third:2*third])
	time.Sleep(200 * time.Millisecond) // some of it processed, maybe checkpointed
	a.kill(t)

	produce(t, cl, recs[2*third:])
	a2 := startService(t, brokers, "g", got)
	waitCommitted(t, adm, "g")
	a2.stop(t)
	compareRuns(t, want, got)
}

func testLogger(t *testing.T, name string) *slog.Logger {
	if os.Getenv("CRM_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", name, "test", t.Name())
}

// TestSinkOutage: ClickHouse is down for a while. No offset is committed
// while rows are not durable, and after the outage every row arrives: the
// results equal those of a run without an outage.
func TestSinkOutage(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	recs := testStream(5, 1500)
	want := reference(t, recs)

	brokers := kafkatest.Cluster(t, kafka.TopicEvents, kafka.TopicChangelog)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	got := newSyncSink()
	got.failUntil = time.Now().Add(2 * time.Second)
	produce(t, cl, recs)
	a := startService(t, brokers, "g", got)
	time.Sleep(time.Second)
	committed, err := adm.FetchOffsets(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.At > 0 {
			t.Errorf("partition %d committed %d during the outage", o.Partition, o.At)
		}
	})
	waitCommitted(t, adm, "g")
	a.stop(t)
	compareRuns(t, want, got)
}

// TestChangelogTooSmall: a changelog with fewer partitions than the input
// would make every checkpoint of the higher partitions fail; Run refuses to
// start instead.
func TestChangelogTooSmall(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicEvents)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, 1, nil, kafka.TopicChangelog); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Kafka: kafka.Config{Brokers: brokers}}, Options{Sink: newSyncSink()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "fewer") {
		t.Fatalf("Run = %v, want a partition-count error", err)
	}
}

// TestCorruptChangelogRecord: a changelog record that does not decode (a
// bug, a version from the future) costs its key its history — the key
// starts afresh, counted in crmstream_scorer_errors_total{stage="restore"} —
// and the partition keeps working.
func TestCorruptChangelogRecord(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicEvents, kafka.TopicChangelog)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	bad := []*kgo.Record{
		{Topic: kafka.TopicChangelog, Partition: 1, Key: stateKey(1, "L1"), Value: []byte{9, 0xff}},
		{Topic: kafka.TopicChangelog, Partition: 2, Key: metaKey(2), Value: []byte{1}},
	}
	if err := cl.ProduceSync(context.Background(), bad...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	recs := testStream(9, 200)
	plain, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	produce(t, plain, recs)
	sink := newSyncSink()
	a := startService(t, brokers, "g", sink)
	waitCommitted(t, kadm.NewClient(plain), "g")
	var m dto.Metric
	if err := a.s.metrics.errors.WithLabelValues("restore").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 2 {
		t.Errorf("restore errors counted: %v, want 2", got)
	}
	a.stop(t)
	if l, _, _, _ := sink.snapshot(); len(l) == 0 {
		t.Fatal("no rows: the partitions did not keep working")
	}
}
