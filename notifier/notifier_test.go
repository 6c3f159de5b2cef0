package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func alert(i int, owner string, st alerts.Status) alerts.Alert {
	return alerts.Alert{
		ID: alerts.EpisodeID(alerts.Abandonment, fmt.Sprintf("lead-%d", i), "checkout", "e"), Kind: alerts.Abandonment,
		LeadID: fmt.Sprintf("lead-%d", i), OwnerID: owner, FiredAt: t0, EventTime: t0, Status: st,
		Reason: "Started checkout and did not complete it within 30 minutes.", Evidence: []string{"e"},
		Details: alerts.Details{Flow: "checkout", Step: "payment", CartValue: 129, Currency: "EUR"}, UpdatedAt: t0,
	}
}

// hook is a webhook server whose behaviour changes with the requests it has
// seen: the first failN answer 500, the next slowN answer after slow, the
// rest at once. It counts 2xx answers per Idempotency-Key.
type hook struct {
	failN, slowN int64
	slow         time.Duration
	status       int // answer for failing requests; default 500

	n    atomic.Int64
	mu   sync.Mutex
	ok   map[string]int
	body []Message
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := h.n.Add(1)
	var m Message
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.Text == "" || len(m.Blocks) == 0 || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	switch {
	case i <= h.failN:
		st := h.status
		if st == 0 {
			st = http.StatusInternalServerError
		}
		http.Error(w, "down", st)
		return
	case i <= h.failN+h.slowN:
		select {
		case <-time.After(h.slow):
		case <-r.Context().Done():
			return
		}
	}
	h.mu.Lock()
	h.ok[r.Header.Get("Idempotency-Key")]++
	h.body = append(h.body, m)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func testConfig() Config {
	c := DefaultConfig()
	c.BackoffBase, c.BackoffMax = 5*time.Millisecond, 100*time.Millisecond
	c.AttemptTimeout = 2 * time.Second
	c.BreakerFailures, c.BreakerOpen = 5, 150*time.Millisecond
	c.MaxAttempts = 50
	c.MaxAge = 0 // the test alerts are dated 2026-11-02
	return c
}

func produce(t *testing.T, cl *kgo.Client, topic string, as ...alerts.Alert) {
	t.Helper()
	var recs []*kgo.Record
	for i := range as {
		v, err := as[i].AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(as[i].ID), Value: v})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// start runs a notifier until the returned stop is called.
func start(t *testing.T, brokers []string, cfg Config, routes Routes, reg prometheus.Registerer) (stop func()) {
	t.Helper()
	n, err := New(cfg, routes, []kgo.Opt{kgo.SeedBrokers(brokers...)}, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		n.Close()
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeliveryOutage: the endpoint fails, is slow, then recovers. Every
// alert state is delivered exactly once (counted by Idempotency-Key at the
// server), duplicates in the topic are not sent again, nothing is
// dead-lettered, and a restart in the same group sends nothing again.
func TestDeliveryOutage(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicAlerts, kafka.TopicAlertsDLQ)
	h := &hook{failN: 30, slowN: 20, slow: 100 * time.Millisecond, ok: map[string]int{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	other := &hook{ok: map[string]int{}}
	srv2 := httptest.NewServer(other)
	defer srv2.Close()
	routes := Routes{Default: "team", Endpoints: map[string]Endpoint{"team": {URL: srv.URL}, "rep-2": {URL: srv2.URL + "/hook"}},
		Owners: map[string]string{"rep-2": "rep-2"}}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 80
	var as []alerts.Alert
	want := map[string]bool{}
	for i := range n {
		owner := "rep-1"
		if i%4 == 0 {
			owner = "rep-2"
		}
		a := alert(i, owner, alerts.Fired)
		as = append(as, a)
		if i%10 == 0 {
			as = append(as, a) // a duplicate record (replayed by the scorer)
			r := a
			r.Status = alerts.Retracted
			as = append(as, r) // a retraction follows
			want[r.DedupeKey()] = true
		}
		if i%20 == 1 {
			ack := a
			ack.Status = alerts.Acknowledged
			as = append(as, ack) // acknowledged in the dashboard: nothing to send
		}
		want[a.DedupeKey()] = true
	}
	produce(t, cl, kafka.TopicAlerts, as...)

	reg := prometheus.NewRegistry()
	stop := start(t, brokers, testConfig(), routes, reg)
	total := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		other.mu.Lock()
		defer other.mu.Unlock()
		return len(h.ok) + len(other.ok)
	}
	waitFor(t, "every alert delivered", 30*time.Second, func() bool { return total() == len(want) })
	time.Sleep(200 * time.Millisecond) // let stragglers show up, if any
	stop()

	check := func() {
		for _, hk := range []*hook{h, other} {
			hk.mu.Lock()
			for k, c := range hk.ok {
				if !want[k] {
					t.Errorf("unexpected delivery %s", k)
				}
				if c != 1 {
					t.Errorf("%s delivered %d times", k, c)
				}
			}
			hk.mu.Unlock()
		}
	}
	check()
	exp := 0 // rep-2 owns every 4th lead; those with i%10 == 0 were retracted too
	for i := range n {
		if i%4 == 0 {
			exp++
			if i%10 == 0 {
				exp++
			}
		}
	}
	other.mu.Lock()
	got := len(other.ok)
	other.mu.Unlock()
	if got != exp {
		t.Errorf("rep-2 got %d deliveries, want %d", got, exp)
	}
	failed := metricValue(t, reg, "crmstream_notifier_failed_total", "5xx", "team")
	if failed < float64(h.failN) {
		t.Errorf("failed attempts %v, want ≥ %d", failed, h.failN)
	}
	if metricValue(t, reg, "crmstream_notifier_failed_total", "breaker_open", "team") == 0 {
		t.Error("the breaker never opened")
	}
	if dl := dlqCount(t, brokers); dl != 0 {
		t.Errorf("%d dead letters, want 0", dl)
	}
	t.Logf("server saw %d requests for %d deliveries; 5xx attempts %v", h.n.Load()+other.n.Load(), len(want), failed)

	// A restart in the same group resumes after the committed offsets:
	// nothing is sent again.
	before := h.n.Load() + other.n.Load()
	stop = start(t, brokers, testConfig(), routes, nil)
	time.Sleep(1500 * time.Millisecond)
	stop()
	if after := h.n.Load() + other.n.Load(); after != before {
		t.Errorf("restart sent %d requests again", after-before)
	}
	check()
}

// metricValue reads one child of a registered counter or gauge vector;
// labels are the values in the order of their sorted names.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			if strings.Join(vals, ",") == strings.Join(labels, ",") {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func dlqRecords(t *testing.T, brokers []string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.TopicAlertsDLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if want == 0 {
		// All of them: as many as the end offsets say (a first poll
		// within a fixed second could come back empty on a busy machine).
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, kafka.TopicAlertsDLQ)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
		if want == 0 {
			return nil
		}
	} else {
		// Waiting for records that may not exist yet: poll briefly, the
		// caller retries.
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, time.Second)
		defer c2()
	}
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		out = append(out, fs.Records()...)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

func dlqCount(t *testing.T, brokers []string) int { return len(dlqRecords(t, brokers, 0)) }

// TestDeadLetters: a rejected payload (400), an endpoint that never
// recovers, an undecodable record and an unroutable owner each end in the
// dead-letter topic with the reason and origin, and their offsets are
// committed.
func TestDeadLetters(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicAlerts, kafka.TopicAlertsDLQ)
	bad := &hook{failN: 1 << 40, status: http.StatusBadRequest, ok: map[string]int{}}
	down := &hook{failN: 1 << 40, ok: map[string]int{}}
	s1, s2 := httptest.NewServer(bad), httptest.NewServer(down)
	defer s1.Close()
	defer s2.Close()
	routes := Routes{Endpoints: map[string]Endpoint{"bad": {URL: s1.URL}, "down": {URL: s2.URL}},
		Owners: map[string]string{"rep-bad": "bad", "rep-down": "down"}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce(t, cl, kafka.TopicAlerts, alert(1, "rep-bad", alerts.Fired), alert(2, "rep-down", alerts.Fired), alert(3, "nobody", alerts.Fired))
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: kafka.TopicAlerts, Key: []byte("junk"), Value: []byte("{not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.MaxAttempts = 3
	stop := start(t, brokers, cfg, routes, nil)
	var recs []*kgo.Record
	waitFor(t, "four dead letters", 20*time.Second, func() bool { recs = dlqRecords(t, brokers, 4); return len(recs) >= 4 })
	stop()
	reasons := map[string]bool{}
	for _, r := range recs {
		hs := map[string]string{}
		for _, h := range r.Headers {
			hs[h.Key] = string(h.Value)
		}
		if !strings.HasPrefix(hs[kafka.HeaderOrigin], kafka.TopicAlerts+"/") || hs[kafka.HeaderFailedAt] == "" {
			t.Errorf("headers %v", hs)
		}
		reason, _, _ := strings.Cut(hs[kafka.HeaderReason], ":")
		reasons[reason] = true
		if strings.Contains(hs[kafka.HeaderReason], "127.0.0.1") {
			t.Errorf("reason leaks the endpoint url: %s", hs[kafka.HeaderReason])
		}
	}
	for _, want := range []string{"permanent", "exhausted", "decode", "no_route"} {
		if !reasons[want] {
			t.Errorf("no dead letter with reason %s (got %v)", want, reasons)
		}
	}
	if got := down.n.Load(); got != 3 {
		t.Errorf("down endpoint got %d attempts, want MaxAttempts=3", got)
	}
	// Committed: a restart dead-letters nothing more.
	stop = start(t, brokers, cfg, routes, nil)
	time.Sleep(time.Second)
	stop()
	if n := len(dlqRecords(t, brokers, 0)); n != 4 {
		t.Errorf("after restart %d dead letters, want 4", n)
	}
}

// TestEndpointIsolation: one endpoint is down for good; alerts routed to
// another are delivered meanwhile, and the down endpoint's alerts wait (no
// dead letter while attempts remain) without holding the others up.
func TestEndpointIsolation(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicAlerts, kafka.TopicAlertsDLQ)
	down := &hook{failN: 1 << 40, ok: map[string]int{}}
	up := &hook{ok: map[string]int{}}
	sDown, sUp := httptest.NewServer(down), httptest.NewServer(up)
	defer sDown.Close()
	defer sUp.Close()
	routes := Routes{Default: "up", Endpoints: map[string]Endpoint{"up": {URL: sUp.URL}, "down": {URL: sDown.URL}},
		Owners: map[string]string{"rep-down": "down"}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var as []alerts.Alert
	for i := range 40 {
		owner := "rep-up"
		if i%2 == 0 {
			owner = "rep-down"
		}
		as = append(as, alert(i, owner, alerts.Fired))
	}
	produce(t, cl, kafka.TopicAlerts, as...)
	reg := prometheus.NewRegistry()
	stop := start(t, brokers, testConfig(), routes, reg)
	waitFor(t, "the healthy endpoint's 20 alerts", 10*time.Second, func() bool {
		up.mu.Lock()
		defer up.mu.Unlock()
		return len(up.ok) == 20
	})
	waitFor(t, "the down endpoint's breaker to open", 10*time.Second, func() bool {
		return metricValue(t, reg, "crmstream_notifier_breaker_state", "down") != 0
	})
	if got := metricValue(t, reg, "crmstream_notifier_inflight"); got != 20 {
		t.Errorf("in flight %v, want the down endpoint's 20", got)
	}
	stop()
	if n := dlqCount(t, brokers); n != 0 {
		t.Errorf("%d dead letters while attempts remained", n)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for k, c := range up.ok {
		if c != 1 {
			t.Errorf("%s delivered %d times", k, c)
		}
	}
}

// TestStale: alerts older than MaxAge are skipped (and committed), recent
// ones delivered.
func TestStale(t *testing.T) {
	brokers := kafkatest.Cluster(t, kafka.TopicAlerts, kafka.TopicAlertsDLQ)
	h := &hook{ok: map[string]int{}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	old, fresh := alert(1, "rep-1", alerts.Fired), alert(2, "rep-1", alerts.Fired)
	fresh.EventTime = time.Now().Add(-time.Hour)
	produce(t, cl, kafka.TopicAlerts, old, fresh)
	cfg := testConfig()
	cfg.MaxAge = 24 * time.Hour
	reg := prometheus.NewRegistry()
	stop := start(t, brokers, cfg, Routes{Default: "a", Endpoints: map[string]Endpoint{"a": {URL: srv.URL}}}, reg)
	waitFor(t, "the fresh alert", 10*time.Second, func() bool { return h.n.Load() == 1 })
	waitFor(t, "the stale one skipped", 5*time.Second, func() bool {
		return metricValue(t, reg, "crmstream_notifier_skipped_total", "stale") == 1
	})
	stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ok[fresh.DedupeKey()] != 1 || h.ok[old.DedupeKey()] != 0 {
		t.Fatalf("deliveries %v", h.ok)
	}
}

func TestRoutes(t *testing.T) {
	yml := `
default: team
endpoints:
  team: {url: "https://hooks.slack.com/services/T/B/X"}
  rep-7: {url: "http://127.0.0.1:9/hook", timeout: 5s}
owners:
  rep-7: rep-7
`
	r, err := ParseRoutes([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if r.Endpoints["rep-7"].Timeout != 5*time.Second {
		t.Errorf("timeout %v", r.Endpoints["rep-7"].Timeout)
	}
	for owner, want := range map[string]string{"rep-7": "rep-7", "rep-1": "team", "": "team"} {
		if got, ok := r.Lookup(owner); !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v", owner, got, ok)
		}
	}
	js := `{"endpoints":{"a":{"url":"https://x.example/h"}},"owners":{"rep-1":"a"}}`
	r, err = ParseRoutes([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("rep-2"); ok {
		t.Error("no default, yet routed")
	}
	for name, in := range map[string]string{
		"no endpoints":    `default: a`,
		"bad url":         `endpoints: {a: {url: "ftp://x"}}`,
		"unknown default": `{default: b, endpoints: {a: {url: "https://x"}}}`,
		"unknown target":  `{endpoints: {a: {url: "https://x"}}, owners: {rep: b}}`,
		"unknown key":     `{endpoints: {a: {url: "https://x"}}, owner: {rep: a}}`,
	} {
		if _, err := ParseRoutes([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLogEndpoint(t *testing.T) {
	r, err := ParseRoutes([]byte(`{default: dev, endpoints: {dev: {url: "log:"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	n := &Notifier{logger: slog.New(slog.NewTextHandler(&buf, nil))}
	ep := &endpoint{name: "dev", url: r.Endpoints["dev"].URL}
	if err := n.postOnce(context.Background(), ep, "a:fired", []byte(`{"text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "a:fired") {
		t.Fatalf("log %q", buf.String())
	}
	if err := SingleRoute("log:").Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRender(t *testing.T) {
	a := alert(1, "rep-1", alerts.Fired)
	a.Reason = "Started <!channel> & checkout"
	m := Render(&a)
	b, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"text":"Abandoned flow: lead-1.`, `"type":"header"`, `&lt;!channel&gt; &amp; checkout`, `*Cart*\n129.00 EUR`} {
		if !strings.Contains(s, want) {
			t.Errorf("message lacks %s:\n%s", want, s)
		}
	}
	a.Status = alerts.Retracted
	if m := Render(&a); !strings.HasPrefix(m.Text, "Retracted — Abandoned flow") {
		t.Errorf("retraction text %q", m.Text)
	}
}

func TestRenderKinds(t *testing.T) {
	drift := alerts.NewModelDrift("lead", "v3", "auc", 0.55, 0.6, t0, t0, "")
	for _, tc := range []struct {
		a    alerts.Alert
		want []string
	}{
		{alerts.Alert{ID: "i", Kind: alerts.Inactivity, AccountID: "acme", Status: alerts.Fired, EventTime: t0, Reason: "Paying account acme has not logged in for 7 days."},
			[]string{"Gone quiet: acme", "*Account*\\nacme", "has not logged in"}},
		{alerts.Alert{ID: "h", Kind: alerts.HotLead, LeadID: "l9", Status: alerts.Fired, EventTime: t0, Score: 85, Reason: "Lead score rose to 85."},
			[]string{"Hot lead: l9", "*Score*\\n85"}},
		{alerts.Alert{ID: "c", Kind: alerts.ChurnRisk, AccountID: "acme", Status: alerts.Retracted, EventTime: t0, Score: 0.75, Reason: "Churn risk is 75%."},
			[]string{"Retracted — Churn risk: acme", "*Score*\\n0.75", "alert c · retracted"}},
		{drift, []string{"Model drift: lead", "auc is 0.550"}},
	} {
		b, err := Render(&tc.a).JSON()
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil || m.Text == "" || len(m.Blocks) < 3 {
			t.Fatalf("%s: message %s (%v)", tc.a.Kind, b, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: message lacks %q:\n%s", tc.a.Kind, w, b)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	n := &Notifier{cfg: DefaultConfig()}
	for attempt := 1; attempt <= 12; attempt++ {
		d := n.backoff(attempt, 0)
		full := min(n.cfg.BackoffBase<<(attempt-1), n.cfg.BackoffMax)
		if d < full/2 || d > full {
			t.Errorf("attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
		}
	}
	if d := n.backoff(1, 10*time.Second); d != 10*time.Second {
		t.Errorf("Retry-After not honoured: %v", d)
	}
	if d := n.backoff(1, time.Hour); d != n.cfg.BackoffMax {
		t.Errorf("Retry-After not capped: %v", d)
	}
	if got := retryAfter("7", t0); got != 7*time.Second {
		t.Errorf("retryAfter = %v", got)
	}
}

func TestDedupe(t *testing.T) {
	d := newDedupe(2)
	d.done("a", 1)
	if !d.seen("a", 1) || d.seen("a", 3) {
		t.Fatal("rank")
	}
	d.done("a", 3)
	if !d.seen("a", 1) {
		t.Fatal("an older state after a newer one must be skipped")
	}
	d.done("b", 1)
	d.done("c", 1) // evicts a
	if d.seen("a", 1) || !d.seen("c", 1) {
		t.Fatal("eviction")
	}
}
