package simulator

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
)

func TestStreamKnobs(t *testing.T) {
	cfg := smallConfig(23)
	cfg.Leads, cfg.Accounts = 200, 3
	cfg.OutOfOrderRate, cfg.DuplicateRate, cfg.MalformedRate = 0.05, 0.03, 0.02
	canon, _ := collect(t, cfg)
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStream(g)
	delivered := map[string]int{}
	values := map[string]string{}
	kinds := map[string]int{}
	var r Record
	var prevAt time.Time
	for s.Next(&r) {
		kinds[r.Kind]++
		if r.At.Before(prevAt) {
			t.Fatalf("delivery time went back: %v after %v", r.At, prevAt)
		}
		prevAt = r.At
		e, err := event.Parse(r.Value)
		if r.Kind == KindMalformed {
			if err == nil {
				t.Fatalf("malformed record parsed: %s", r.Value)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s record does not parse: %v: %s", r.Kind, err, r.Value)
		}
		if r.Key != e.Key() || !r.Time.Equal(e.OccurredAt) {
			t.Fatalf("record key/time %q %v, event %q %v", r.Key, r.Time, e.Key(), e.OccurredAt)
		}
		switch r.Kind {
		case KindLate:
			if d := r.At.Sub(r.Time); d <= 0 || d > cfg.MaxLateness {
				t.Fatalf("late record delayed by %v", d)
			}
		case KindDuplicate:
			if values[e.ID] != string(r.Value) {
				t.Fatalf("duplicate of %s differs from (or precedes) the original", e.ID)
			}
			continue
		}
		delivered[e.ID]++
		values[e.ID] = string(r.Value)
	}
	if len(delivered) != len(canon) {
		t.Fatalf("%d distinct events delivered, %d generated", len(delivered), len(canon))
	}
	for id, n := range delivered {
		if n != 1 {
			t.Fatalf("event %s delivered %d times as an original", id, n)
		}
	}
	n := float64(len(canon))
	for kind, want := range map[string]float64{KindLate: cfg.OutOfOrderRate, KindDuplicate: cfg.DuplicateRate, KindMalformed: cfg.MalformedRate} {
		got := float64(kinds[kind]) / n
		if got < want*0.8 || got > want*1.2 {
			t.Errorf("%s rate %.4f, want about %.4f", kind, got, want)
		}
	}
}

// fakeClock advances only when slept on.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

// clockSink records the clock at each write.
type clockSink struct {
	clock  *fakeClock
	writes []time.Time
	recs   []Record
}

func (s *clockSink) Write(_ context.Context, b []Record) error {
	for range b {
		s.writes = append(s.writes, s.clock.now())
	}
	s.recs = append(s.recs, b...)
	return nil
}
func (s *clockSink) Close() error { return nil }

func TestRunnerPacing(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		live  bool
		limit int64
	}{
		{"rate", 200, false, 400},
		{"live", 0, true, 300},
		{"live and rate", 50, true, 100},
		{"unpaced", 0, false, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(29)
			cfg.Leads, cfg.Accounts = 50, 3
			clock := &fakeClock{t: cfg.Start.Add(time.Hour)} // an hour of backfill
			g, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			sink := &clockSink{clock: clock}
			r := &Runner{Stream: NewStream(g), Sink: sink, Rate: tc.rate, Live: tc.live, Limit: tc.limit,
				BatchSize: 64, Now: clock.now, Sleep: clock.sleep}
			start := clock.now()
			st, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Records != tc.limit || int64(len(sink.recs)) != tc.limit {
				t.Fatalf("delivered %d (sink %d), want %d", st.Records, len(sink.recs), tc.limit)
			}
			for i, w := range sink.writes {
				rec := sink.recs[i]
				if tc.live && w.Before(rec.At) {
					t.Fatalf("record %d written at %v before its time %v", i, w, rec.At)
				}
				if tc.rate > 0 {
					slot := start.Add(time.Duration(float64(i) / tc.rate * float64(time.Second)))
					if w.Before(slot) {
						t.Fatalf("record %d written at %v before its rate slot %v", i, w, slot)
					}
				}
			}
			elapsed := clock.now().Sub(start)
			switch {
			case tc.rate > 0 && !tc.live:
				want := time.Duration(float64(tc.limit-1) / tc.rate * float64(time.Second))
				if elapsed < want || elapsed > want+time.Second {
					t.Errorf("elapsed %v, want about %v", elapsed, want)
				}
			case tc.rate == 0 && !tc.live:
				if elapsed != 0 {
					t.Errorf("unpaced run slept %v", elapsed)
				}
			case tc.live:
				last := sink.recs[len(sink.recs)-1].At
				if clock.now().Before(last) {
					t.Errorf("live run ended at %v before its last record %v", clock.now(), last)
				}
			}
		})
	}
}

func TestRunnerStopsOnCancel(t *testing.T) {
	cfg := smallConfig(31)
	g, _ := New(cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := &clockSink{clock: &fakeClock{}}
	_, err := (&Runner{Stream: NewStream(g), Sink: sink}).Run(ctx)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("err = %v, want context cancelled", err)
	}
}

func TestHTTPSink(t *testing.T) {
	var calls atomic.Int32
	var lines atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("X-Write-Key") != "k1" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if n == 1 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		accepted, rejected := 0, []map[string]any{}
		for i := 0; sc.Scan(); i++ {
			lines.Add(1)
			if _, err := event.Parse(sc.Bytes()); err != nil {
				rejected = append(rejected, map[string]any{"index": i, "reason": err.Error()})
			} else {
				accepted++
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if len(rejected) > 0 {
			w.WriteHeader(http.StatusMultiStatus)
		}
		json.NewEncoder(w).Encode(map[string]any{"accepted": accepted, "rejected": rejected})
	}))
	defer srv.Close()

	cfg := smallConfig(37)
	cfg.Leads, cfg.Accounts, cfg.MalformedRate = 30, 2, 0.05
	g, _ := New(cfg, nil)
	sink := &HTTPSink{URL: srv.URL + "/v1/events", Gzip: true, Backoff: time.Millisecond, WriteKey: "k1"}
	st, err := (&Runner{Stream: NewStream(g), Sink: sink, BatchSize: 200}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 2 {
		t.Fatalf("%d calls: the 503 was not retried", calls.Load())
	}
	if int64(sink.Accepted+sink.Rejected) != st.Records || int64(lines.Load()) != st.Records {
		t.Fatalf("accepted %d + rejected %d, lines %d, records %d", sink.Accepted, sink.Rejected, lines.Load(), st.Records)
	}
	if int64(sink.Rejected) != st.ByKind[KindMalformed] {
		t.Fatalf("rejected %d, malformed sent %d", sink.Rejected, st.ByKind[KindMalformed])
	}
}

func TestHTTPSinkGivesUpOnClientError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	defer srv.Close()
	sink := &HTTPSink{URL: srv.URL, Backoff: time.Millisecond}
	err := sink.Write(context.Background(), []Record{{Value: []byte(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), "413") || calls.Load() != 1 {
		t.Fatalf("err %v after %d calls, want one 413", err, calls.Load())
	}
}

func TestKafkaSink(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "crm.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := smallConfig(41)
	cfg.Leads, cfg.Accounts = 20, 2
	g, _ := New(cfg, nil)
	sink, err := NewKafkaSink("crm.raw", kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := (&Runner{Stream: NewStream(g), Sink: sink, BatchSize: 300}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sink.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("crm.raw"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got int64
	for got < st.Records {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", got, st.Records, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			e, err := event.Parse(r.Value)
			if err != nil {
				t.Fatalf("record does not parse: %v", err)
			}
			if string(r.Key) != e.Key() || !r.Timestamp.Equal(e.OccurredAt) {
				t.Fatalf("record key %q ts %v, event key %q time %v", r.Key, r.Timestamp, e.Key(), e.OccurredAt)
			}
		})
	}
	if got != st.Records {
		t.Fatalf("consumed %d, produced %d", got, st.Records)
	}
}

func TestTruthFilesRoundTrip(t *testing.T) {
	cfg := smallConfig(43)
	cfg.Leads, cfg.Accounts = 80, 5
	dir := t.TempDir()
	w, err := NewTruthWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	mem := &TruthSet{}
	g, _ := New(cfg, teeTruth{w, mem})
	var e event.Event
	for g.Next(&e) {
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTruth(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(mem)
	b, _ := json.Marshal(back)
	if !bytes.Equal(a, b) {
		t.Fatal("truth read back differs from truth written")
	}
	if len(back.Leads) != cfg.Leads || len(back.Accounts) != cfg.Accounts || len(back.Abandonments) == 0 {
		t.Fatalf("read %d leads, %d accounts, %d flows", len(back.Leads), len(back.Accounts), len(back.Abandonments))
	}
}

type teeTruth [2]Truth

func (t teeTruth) Lead(v LeadTruth)          { t[0].Lead(v); t[1].Lead(v) }
func (t teeTruth) Account(v AccountTruth)    { t[0].Account(v); t[1].Account(v) }
func (t teeTruth) ChurnRisk(v ChurnRisk)     { t[0].ChurnRisk(v); t[1].ChurnRisk(v) }
func (t teeTruth) Abandonment(v Abandonment) { t[0].Abandonment(v); t[1].Abandonment(v) }
func (t teeTruth) Inactivity(v Inactivity)   { t[0].Inactivity(v); t[1].Inactivity(v) }

// FuzzParseAnswer: the collector's answer is network input. Invariant:
// never panics; a success has non-negative counts; retry only on 429/5xx.
func FuzzParseAnswer(f *testing.F) {
	f.Add(200, []byte(`{"accepted":3,"rejected":[]}`))
	f.Add(207, []byte(`{"accepted":1,"rejected":[{"index":0,"event_id":"x","reason":"type: unknown"}]}`))
	f.Add(422, []byte(`{"accepted":0,"rejected":[{"index":0}]}`))
	f.Add(503, []byte(`busy`))
	f.Add(200, []byte(`{"accepted":-1}`))
	f.Add(200, []byte(`[1,2`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ans, retry, err := parseAnswer(status, body)
		if err == nil && (ans.Accepted < 0 || retry) {
			t.Fatalf("success with accepted %d retry %v", ans.Accepted, retry)
		}
		if retry && status != 429 && status < 500 {
			t.Fatalf("retry on status %d", status)
		}
	})
}

// TestRunnerMetrics: the records counter agrees with what the sink got.
func TestRunnerMetrics(t *testing.T) {
	cfg := smallConfig(47)
	cfg.Leads, cfg.Accounts, cfg.DuplicateRate, cfg.MalformedRate = 40, 2, 0.05, 0.05
	g, _ := New(cfg, nil)
	reg := prometheus.NewRegistry()
	sink := &clockSink{clock: &fakeClock{}}
	st, err := (&Runner{Stream: NewStream(g), Sink: sink, Registerer: reg}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{KindEvent, KindDuplicate, KindMalformed} {
		c, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var got float64
		for _, mf := range c {
			if mf.GetName() != "crmstream_simulator_records_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == kind {
					got = m.GetCounter().GetValue()
				}
			}
		}
		if int64(got) != st.ByKind[kind] || got == 0 {
			t.Errorf("%s: metric %v, stats %d", kind, got, st.ByKind[kind])
		}
	}
	if int64(len(sink.recs)) != st.Records {
		t.Errorf("sink got %d, stats %d", len(sink.recs), st.Records)
	}
	// A second runner on the same registry must fail loudly, not double count.
	if _, err := (&Runner{Stream: NewStream(g), Sink: sink, Registerer: reg}).Run(context.Background()); err == nil {
		t.Error("registering the metrics twice did not fail")
	}
}
