package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/klauspost/compress/gzip"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/ingest/rejects"
)

// fakeProducer acknowledges every record unless fail is set.
type fakeProducer struct {
	mu   sync.Mutex
	recs []*kgo.Record
	fail error
}

func (p *fakeProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.mu.Lock()
	err := p.fail
	if err == nil {
		p.recs = append(p.recs, r)
	}
	p.mu.Unlock()
	go promise(r, err) // kgo calls promises from its own goroutines
}

func (p *fakeProducer) setFail(err error) { p.mu.Lock(); p.fail = err; p.mu.Unlock() }

func (p *fakeProducer) records() []*kgo.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*kgo.Record(nil), p.recs...)
}

type recorder struct {
	mu   sync.Mutex
	rows []rejects.Reject
}

func (r *recorder) Add(rj rejects.Reject) { r.mu.Lock(); r.rows = append(r.rows, rj); r.mu.Unlock() }
func (r *recorder) len() int              { r.mu.Lock(); defer r.mu.Unlock(); return len(r.rows) }

func ev(id string) string {
	return fmt.Sprintf(`{"event_id":%q,"type":"page_view","occurred_at":"2026-11-21T09:30:00Z","lead_id":"lead-%s","properties":{"url":"/pricing"}}`, id, id)
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func newHandler(t testing.TB, p Producer, mod func(*Config)) (*Handler, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg := Config{Producer: p, Rejects: rec, MaxBodyBytes: 1 << 20, MaxItems: 5000, RetryAfter: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, rec
}

func post(h http.Handler, body []byte, hdr map[string]string) (*httptest.ResponseRecorder, Response) {
	req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var res Response
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	return w, res
}

func TestCollector(t *testing.T) {
	big := make([]string, 0, 400)
	for i := range 400 { // ~60 KiB of events plus one 20 KiB property: > 64 KiB
		big = append(big, ev(fmt.Sprintf("big-%d", i)))
	}
	big = append(big, `{"event_id":"fat","type":"login","occurred_at":"2026-11-21T09:30:00Z","account_id":"a","properties":{"blob":"`+strings.Repeat("x", 20<<10)+`"}}`)
	bigBody := "[" + strings.Join(big, ",") + "]"
	if len(bigBody) <= 64<<10 {
		t.Fatalf("big body is only %d bytes", len(bigBody))
	}
	bad := `{"event_id":"b1","type":"teleported","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`
	noTime := `{"event_id":"b2","type":"login","account_id":"a"}`

	cases := []struct {
		name       string
		body       []byte
		hdr        map[string]string
		code       int
		accepted   int
		rejected   map[int]string // index → field named in the reason
		wantIDs    map[int]string // index → event_id reported
		errSubstr  string
		recordsOut int
	}{
		{name: "array", body: []byte("[" + ev("a1") + "," + ev("a2") + "]"), code: 200, accepted: 2, recordsOut: 2},
		{name: "ndjson", body: []byte(ev("n1") + "\n\n" + ev("n2") + "\r\n" + ev("n3")), hdr: map[string]string{"Content-Type": "application/x-ndjson"}, code: 200, accepted: 3, recordsOut: 3},
		{name: "single object", body: []byte(ev("s1")), code: 200, accepted: 1, recordsOut: 1},
		{name: "gzip array", body: gz(t, "["+ev("g1")+","+ev("g2")+"]"), hdr: map[string]string{"Content-Encoding": "gzip"}, code: 200, accepted: 2, recordsOut: 2},
		{name: "gzip ndjson", body: gz(t, ev("g3")+"\n"+bad), hdr: map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson; charset=utf-8"}, code: 207, accepted: 1, rejected: map[int]string{1: "type"}, recordsOut: 1},
		{name: "body over 64 KiB", body: []byte(bigBody), code: 200, accepted: 401, recordsOut: 401},
		{name: "some rejected", body: []byte("[" + ev("m1") + "," + bad + "," + ev("m2") + "," + noTime + "]"), code: 207, accepted: 2,
			rejected: map[int]string{1: "type", 3: "occurred_at"}, wantIDs: map[int]string{1: "b1", 3: "b2"}, recordsOut: 2},
		{name: "all rejected", body: []byte("[" + bad + "," + noTime + "]"), code: 422, rejected: map[int]string{0: "type", 1: "occurred_at"}},
		{name: "truncated last element", body: []byte("[" + ev("t1") + "," + ev("t2")[:40]), code: 207, accepted: 1, rejected: map[int]string{1: "invalid JSON"}, recordsOut: 1},
		{name: "over limit", body: bytes.Repeat([]byte(" "), 1<<20+1), code: 413, errSubstr: "limit"},
		{name: "gzip bomb", body: gz(t, "["+ev("x")+strings.Repeat(" ", 2<<20)+"]"), hdr: map[string]string{"Content-Encoding": "gzip"}, code: 413, errSubstr: "decompression"},
		{name: "broken gzip", body: []byte("\x1f\x8b\x08garbage"), hdr: map[string]string{"Content-Encoding": "gzip"}, code: 400, errSubstr: "gzip"},
		{name: "unknown encoding", body: []byte("[]"), hdr: map[string]string{"Content-Encoding": "br"}, code: 415},
		{name: "empty array", body: []byte("[]"), code: 400, errSubstr: "no events"},
		{name: "empty body", body: nil, code: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakeProducer{}
			h, rec := newHandler(t, p, nil)
			w, res := post(h, tc.body, tc.hdr)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body.String())
			}
			if res.Accepted != tc.accepted {
				t.Errorf("accepted %d, want %d", res.Accepted, tc.accepted)
			}
			if len(res.Rejected) != len(tc.rejected) {
				t.Fatalf("rejected %v, want %v", res.Rejected, tc.rejected)
			}
			for _, rj := range res.Rejected {
				field, ok := tc.rejected[rj.Index]
				if !ok || !strings.Contains(rj.Reason, field) {
					t.Errorf("rejection %+v, want index %d naming %q", rj, rj.Index, field)
				}
				if id, ok := tc.wantIDs[rj.Index]; ok && rj.EventID != id {
					t.Errorf("rejection %d event_id %q, want %q", rj.Index, rj.EventID, id)
				}
			}
			if tc.errSubstr != "" && !strings.Contains(res.Error, tc.errSubstr) {
				t.Errorf("error %q, want it to mention %q", res.Error, tc.errSubstr)
			}
			recs := p.records()
			if len(recs) != tc.recordsOut {
				t.Fatalf("%d records produced, want %d", len(recs), tc.recordsOut)
			}
			if rec.len() != len(tc.rejected) {
				t.Errorf("%d rejects recorded, want %d", rec.len(), len(tc.rejected))
			}
			for _, r := range recs {
				e, err := event.Decode(r.Value)
				if err != nil {
					t.Fatalf("produced value does not decode: %v", err)
				}
				if string(r.Key) != e.Key() || !r.Timestamp.Equal(e.OccurredAt) || r.Topic != "crm.events" {
					t.Errorf("record key %q ts %v topic %s for %+v", r.Key, r.Timestamp, r.Topic, e)
				}
			}
		})
	}
}

func TestWriteKeys(t *testing.T) {
	p := &fakeProducer{}
	h, _ := newHandler(t, p, func(c *Config) { c.WriteKeys = []string{"k-one", "k-two"} })
	body := []byte(ev("w1"))
	for _, tc := range []struct {
		hdr  map[string]string
		code int
	}{
		{nil, 401},
		{map[string]string{"Authorization": "Bearer nope"}, 401},
		{map[string]string{"Authorization": "Basic k-one"}, 401},
		{map[string]string{"Authorization": "Bearer k-one"}, 200},
		{map[string]string{"authorization": "bearer  k-two "}, 200},
		{map[string]string{"X-Write-Key": "k-two"}, 200},
	} {
		if w, _ := post(h, body, tc.hdr); w.Code != tc.code {
			t.Errorf("%v: status %d, want %d", tc.hdr, w.Code, tc.code)
		}
	}
}

func TestBackpressure(t *testing.T) {
	t.Run("kafka down: 503, nothing accepted, breaker opens, recovers", func(t *testing.T) {
		p := &fakeProducer{}
		p.setFail(errors.New("broker unreachable"))
		h, rec := newHandler(t, p, func(c *Config) { c.RetryAfter = 50 * time.Millisecond })
		body := []byte("[" + ev("k1") + `,{"event_id":"bad"}]`)
		for range 3 {
			w, res := post(h, body, nil)
			if w.Code != 503 || w.Header().Get("Retry-After") == "" || res.Accepted != 0 {
				t.Fatalf("status %d retry-after %q accepted %d", w.Code, w.Header().Get("Retry-After"), res.Accepted)
			}
		}
		if h.Ready() == nil {
			t.Fatal("ready while the breaker is open")
		}
		if rec.len() != 0 {
			t.Errorf("%d rejects recorded for requests answered 503 (the client retries them)", rec.len())
		}
		p.setFail(nil)
		time.Sleep(150 * time.Millisecond) // breaker timeout = 2 × RetryAfter
		if w, res := post(h, body, nil); w.Code != 207 || res.Accepted != 1 {
			t.Fatalf("after recovery: status %d accepted %d", w.Code, res.Accepted)
		}
	})
	t.Run("sink unhealthy: 503 before reading", func(t *testing.T) {
		h, _ := newHandler(t, &fakeProducer{}, func(c *Config) { c.Ready = func() error { return errors.New("clickhouse down") } })
		w, res := post(h, []byte(ev("u1")), nil)
		if w.Code != 503 || w.Header().Get("Retry-After") != "1" || !strings.Contains(res.Error, "clickhouse") {
			t.Fatalf("status %d retry %q body %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	})
	t.Run("in-flight limit: 429", func(t *testing.T) {
		block := make(chan struct{})
		p := &blockingProducer{release: block}
		h, _ := newHandler(t, p, func(c *Config) { c.MaxInFlight = 2 })
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { post(h, []byte(ev("b")), nil) })
		}
		for p.waiting() < 2 {
			time.Sleep(time.Millisecond)
		}
		w, _ := post(h, []byte(ev("c")), nil)
		close(block)
		wg.Wait()
		if w.Code != 429 || w.Header().Get("Retry-After") == "" {
			t.Fatalf("status %d, want 429 with Retry-After", w.Code)
		}
	})
}

type blockingProducer struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (p *blockingProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	go func() { <-p.release; promise(r, nil) }()
}

func (p *blockingProducer) waiting() int { p.mu.Lock(); defer p.mu.Unlock(); return p.n }

// TestSlowBody: a sender that stalls mid-body is cut off after BodyTimeout
// with 408 and its in-flight slot is freed.
func TestSlowBody(t *testing.T) {
	h, _ := newHandler(t, &fakeProducer{}, func(c *Config) { c.MaxInFlight = 1; c.BodyTimeout = 200 * time.Millisecond })
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[{\"event_id\":")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	r, err := http.Post(srv.URL, "application/json", strings.NewReader(ev("after-slow")))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("next request: status %d (slot not freed?)", r.StatusCode)
	}
}

func TestMethod(t *testing.T) {
	h, _ := newHandler(t, &fakeProducer{}, nil)
	req := httptest.NewRequest(http.MethodGet, "/v1/events", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Fatalf("status %d", w.Code)
	}
}

func TestTooManyItems(t *testing.T) {
	h, _ := newHandler(t, &fakeProducer{}, func(c *Config) { c.MaxItems = 3 })
	w, _ := post(h, []byte(strings.Repeat(ev("x")+"\n", 4)), nil)
	if w.Code != 413 {
		t.Fatalf("status %d, want 413", w.Code)
	}
}

func BenchmarkCollector(b *testing.B) {
	var lines []string
	for i := range 500 {
		lines = append(lines, ev(fmt.Sprintf("e%d", i)))
	}
	body := []byte(strings.Join(lines, "\n"))
	h, _ := newHandler(b, nopProducer{}, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/event")
}

type nopProducer struct{}

func (nopProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	promise(r, nil)
}
