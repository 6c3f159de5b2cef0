package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/crmstream/crmstream/ingest/collector"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/ClickHouse/clickhouse-go/v2.(*clickhouse).startAutoCloseIdleConnections"))
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// pipeline runs ingest.Run against a kfake cluster and a fresh ClickHouse
// database until the test ends.
type pipeline struct {
	t       testing.TB
	base    string
	brokers []string
	store   *chstore.Store
	stop    func() error
}

func startPipeline(t testing.TB, mod func(*Config)) *pipeline {
	t.Helper()
	p := &pipeline{t: t, brokers: kafkatest.Cluster(t), store: chtest.New(t)}
	addr := freeAddr(t)
	p.base = "http://" + addr
	cfg := Config{
		Collector: true, Relay: true, Sink: true,
		Kafka:      kafka.Config{Brokers: p.brokers},
		ClickHouse: chstore.Config{Addr: []string{chtest.Addr()}, Database: p.store.DB},
		HTTPAddr:   addr, BatchRows: 500, FlushEvery: 100 * time.Millisecond, LagEvery: 100 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var stopped bool
	var runErr error
	p.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { _ = p.stop() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("ingest stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *pipeline) post(body []byte, hdr map[string]string) (int, collector.Response) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/events", bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r collector.Response
	if err := json.Unmarshal(b, &r); err != nil {
		p.t.Fatalf("status %d: %q", resp.StatusCode, b)
	}
	return resp.StatusCode, r
}

func (p *pipeline) count(q string) uint64 {
	p.t.Helper()
	var n uint64
	if err := p.store.Conn.QueryRow(context.Background(), strings.ReplaceAll(q, "DB.", p.store.DB+".")).Scan(&n); err != nil {
		p.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (p *pipeline) waitCount(q string, want uint64) {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second) // generous: returns as soon as it holds; CI machines are slow under -race
	for {
		n := p.count(q)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s = %d, want %d", q, n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEndToEnd: a batch with invalid lines, sent twice (a client retrying
// the whole batch), plus raw records through the relay: every valid event is
// stored exactly once as readers see it, every invalid one is rejected with
// its reason and logged once in crm.rejects, and shutdown is clean.
func TestEndToEnd(t *testing.T) {
	p := startPipeline(t, nil)
	var lines []string
	for i := range 50 {
		lines = append(lines, fmt.Sprintf(`{"event_id":"h%d","type":"page_view","occurred_at":"2026-11-21T09:%02d:00Z","lead_id":"lead-%d","properties":{"url":"/pricing"}}`, i, i, i%9))
	}
	invalid := []string{
		`{"event_id":"bad-type","type":"teleported","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`,
		`{"event_id":"bad-time","type":"login","occurred_at":"yesterday","account_id":"a"}`,
		`{"event_id":"no-key","type":"login","occurred_at":"2026-11-21T09:30:00Z"}`,
		`{"event_id":"trunc","type":"login","occ`,
		"\x00\xff binary",
	}
	body := []byte(strings.Join(append(lines[:25:25], append(invalid, lines[25:]...)...), "\n"))
	for attempt := range 2 {
		code, res := p.post(body, map[string]string{"Content-Type": "application/x-ndjson"})
		if code != 207 || res.Accepted != 50 || len(res.Rejected) != 5 {
			t.Fatalf("attempt %d: status %d accepted %d rejected %+v", attempt, code, res.Accepted, res.Rejected)
		}
		want := map[int]string{25: "type", 26: "occurred_at", 27: "lead_id", 28: "JSON", 29: "JSON object"}
		for _, rj := range res.Rejected {
			if !strings.Contains(rj.Reason, want[rj.Index]) {
				t.Errorf("rejection %+v, want the reason to name %q", rj, want[rj.Index])
			}
		}
	}

	// Sources writing Kafka directly: 10 valid, 2 invalid raw records.
	prod, err := kgo.NewClient(kgo.SeedBrokers(p.brokers...), kgo.DefaultProduceTopic(kafka.TopicRaw))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := range 10 {
		v := fmt.Sprintf(`{"event_id":"r%d","type":"login","occurred_at":"2026-11-21T10:00:00Z","account_id":"acct-%d"}`, i, i%3)
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{`{"event_id":"r-bad","type":"nope","occurred_at":"2026-11-21T10:00:00Z","account_id":"a"}`, `not json`} {
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	p.waitCount("SELECT count() FROM DB.events FINAL", 60)
	if n := p.count("SELECT uniqExact(event_id) FROM DB.events"); n != 60 {
		t.Errorf("uniqExact(event_id) = %d, want 60", n)
	}
	if n := p.count("SELECT count() FROM DB.events FINAL WHERE event_id LIKE 'bad%' OR event_id IN ('no-key','trunc')"); n != 0 {
		t.Errorf("%d invalid events stored", n)
	}
	p.waitCount("SELECT count() FROM DB.rejects FINAL", 7)
	if n := p.count("SELECT count() FROM DB.rejects FINAL WHERE origin = 'relay'"); n != 2 {
		t.Errorf("%d relay rejects logged, want 2", n)
	}
	// Offsets are committed after the writes: both groups end with no lag.
	deadline := time.Now().Add(30 * time.Second)
	for {
		lags := p.series("crmstream_ingest_consumer_lag_records")
		groups, behind := map[string]bool{}, 0.0
		for labels, v := range lags {
			for _, g := range []string{"crmstream-relay", "crmstream-sink"} {
				if strings.Contains(labels, `group="`+g+`"`) {
					groups[g] = true
				}
			}
			behind += v
		}
		if len(groups) == 2 && behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer lag: %v", lags)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	t.Logf("rows before merge %d, FINAL 60", p.count("SELECT count() FROM DB.events"))
}

// waitMetric waits until the counter name on /metrics reaches want.
func (p *pipeline) waitMetric(name string, want float64) {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v := p.metric(name)
		if v >= want {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s = %v, want %v", name, v, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *pipeline) metric(name string) float64 {
	p.t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			var v float64
			if _, err := fmt.Sscanf(rest[strings.LastIndexByte(rest, ' ')+1:], "%g", &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// series returns the samples of a metric on /metrics by their label text.
func (p *pipeline) series(name string) map[string]float64 {
	p.t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		var v float64
		if _, err := fmt.Sscanf(value, "%g", &v); err == nil {
			out[labels] = v
		}
	}
	return out
}

// TestCollectorPushesBackOnSinkLag: a collector running apart from the sink
// answers 503 once the sink group falls more than MaxSinkLag records behind.
func TestCollectorPushesBackOnSinkLag(t *testing.T) {
	p := startPipeline(t, func(c *Config) {
		c.Relay, c.Sink = false, false
		c.MaxSinkLag, c.LagEvery = 10, 50*time.Millisecond
	})
	// The remote sink group, stopped at the start of crm.events.
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offsets := make(kadm.Offsets)
	for part := range int32(4) {
		offsets.Add(kadm.Offset{Topic: kafka.TopicEvents, Partition: part, At: 0, LeaderEpoch: -1})
	}
	if _, err := kadm.NewClient(cl).CommitOffsets(context.Background(), "crmstream-sink", offsets); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf(`{"event_id":"lag%d","type":"login","occurred_at":"2026-11-21T09:00:00Z","account_id":"a%d"}`, i, i))
	}
	if code, res := p.post([]byte(strings.Join(lines, "\n")), nil); code != 200 || res.Accepted != 30 {
		t.Fatalf("status %d accepted %d", code, res.Accepted)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, res := p.post([]byte(lines[0]), nil)
		if code == 503 && strings.Contains(res.Error, "records behind") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pushback: status %d %+v", code, res)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
