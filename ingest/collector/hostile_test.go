package collector

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var writeCorpus = flag.Bool("write-corpus", false, "write the hostile inputs as seed corpora under testdata/fuzz")

func hostileInputs() []struct {
	name     string
	body     string
	accepted int
	rejected int
	reason   string // substring every rejection's reason contains
} {
	valid := ev("ok-1")
	return []struct {
		name     string
		body     string
		accepted int
		rejected int
		reason   string
	}{
		{"truncated object", "[" + valid + "," + valid[:len(valid)/2] + "]", 1, 1, "JSON"},
		{"truncated array", "[" + valid + ",", 1, 1, "empty"},
		{"binary", "[\x00\x01\x02\xff\xfe, " + valid + "]", 1, 1, "JSON"},
		{"binary ndjson", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n" + valid, 1, 3, ""},
		{"bom", "\ufeff" + valid, 0, 1, ""},
		{"huge id", strings.Replace(valid, `"ok-1"`, `"`+strings.Repeat("i", 100_000)+`"`, 1), 0, 1, "event_id"},
		{"huge lead id", strings.Replace(valid, `"lead-ok-1"`, `"`+strings.Repeat("l", 129)+`"`, 1), 0, 1, "lead_id"},
		{"huge event", `{"event_id":"h","type":"login","occurred_at":"2026-11-21T09:30:00Z","account_id":"a","properties":{"x":"` + strings.Repeat("x", 200<<10) + `"}}`, 0, 1, "limit"},
		{"unknown type", strings.Replace(valid, "page_view", "teleport", 1), 0, 1, "type"},
		{"custom type with sql", strings.Replace(valid, "page_view", "custom.x'; DROP TABLE crm.events; --", 1), 0, 1, "type"},
		{"nested properties", strings.Replace(valid, `{"url":"/pricing"}`, `{"a":{"b":{"c":1}}}`, 1), 0, 1, "properties.a"},
		{"deeply nested", strings.Replace(valid, `{"url":"/pricing"}`, `{"a":`+strings.Repeat("[", 50_000)+strings.Repeat("]", 50_000)+`}`, 1), 0, 1, "JSON"},
		{"too many properties", strings.Replace(valid, `{"url":"/pricing"}`, manyProps(65), 1), 0, 1, "properties"},
		{"huge number", strings.Replace(valid, `"/pricing"`, `1e400`, 1), 0, 1, "properties.url"},
		{"sql-looking values are data", strings.NewReplacer(`"lead-ok-1"`, `"x'); DROP TABLE crm.events; --"`, `"/pricing"`, `"' OR 1=1 --"`).Replace(valid), 1, 0, ""},
		{"odd unicode", strings.NewReplacer(`"lead-ok-1"`, `"\u202eevil\u200b👩‍👩‍👧 ﷽"`, `"/pricing"`, `"\u0000nul"`).Replace(valid), 1, 0, ""},
		{"invalid utf-8 in id", strings.Replace(valid, `"ok-1"`, "\"\xff\xfe\"", 1), 0, 1, "UTF-8"},
		{"lone surrogate", strings.Replace(valid, `"/pricing"`, `"\ud800"`, 1), 1, 0, ""},
		{"event_id number", strings.Replace(valid, `"ok-1"`, `12345`, 1), 0, 1, "event_id"},
		{"duplicate keys", strings.Replace(valid, `{"event_id":"ok-1"`, `{"event_id":"ok-1","event_id":"ok-2"`, 1), 1, 0, ""},
		{"comments", "[/* hi */" + valid + "]", 0, 1, "JSON"},
		{"array of arrays", "[[" + valid + "]]", 0, 1, "object"},
		{"null and scalars", `[null, 1, "s", true]`, 0, 4, ""},
		{"far future", strings.Replace(valid, "2026-11-21", "9999-12-31", 1), 0, 1, "occurred_at"},
		{"same event twice", "[" + valid + "," + valid + "]", 2, 0, ""},
	}
}

// sum adds up every series of a metric.
func sum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func manyProps(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

// TestHostile sends each hostile input through one collector: counts
// reconcile (accepted + rejected = items, produced = accepted, recorded =
// rejected), each rejection says why, and the service stays healthy and keeps
// taking good events.
func TestHostile(t *testing.T) {
	p := &fakeProducer{}
	reg := prometheus.NewRegistry()
	h, rec := newHandler(t, p, func(c *Config) { c.Registerer = reg })
	sentAccepted, sentRejected := 0, 0
	for _, tc := range hostileInputs() {
		t.Run(tc.name, func(t *testing.T) {
			w, res := post(h, []byte(tc.body), nil)
			if w.Code >= 500 || w.Code == 400 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if res.Accepted != tc.accepted || len(res.Rejected) != tc.rejected {
				t.Fatalf("accepted %d rejected %d (%+v), want %d/%d", res.Accepted, len(res.Rejected), res.Rejected, tc.accepted, tc.rejected)
			}
			for _, rj := range res.Rejected {
				if rj.Reason == "" || !strings.Contains(rj.Reason, tc.reason) {
					t.Errorf("reason %q, want it to mention %q", rj.Reason, tc.reason)
				}
				if len(rj.EventID) > 128 {
					t.Errorf("echoed event_id of %d bytes", len(rj.EventID))
				}
			}
			sentAccepted += res.Accepted
			sentRejected += len(res.Rejected)
		})
	}
	if got := len(p.records()); got != sentAccepted {
		t.Errorf("%d records produced, %d reported accepted", got, sentAccepted)
	}
	if rec.len() != sentRejected {
		t.Errorf("%d rejects recorded, %d reported rejected", rec.len(), sentRejected)
	}
	for name, want := range map[string]int{
		"crmstream_ingest_events_in_total":       sentAccepted + sentRejected,
		"crmstream_ingest_events_out_total":      sentAccepted,
		"crmstream_ingest_events_rejected_total": sentRejected,
	} {
		if got := sum(t, reg, name); got != float64(want) {
			t.Errorf("%s = %v, want %d", name, got, want)
		}
	}
	if err := h.Ready(); err != nil {
		t.Fatalf("not ready after hostile inputs: %v", err)
	}
	if w, _ := post(h, []byte(ev("after")), nil); w.Code != 200 {
		t.Fatalf("a good event after the hostile ones: status %d", w.Code)
	}
	if *writeCorpus {
		writeSeeds(t)
	}
}

// writeSeeds stores the hostile inputs (small ones) as seed corpora for
// FuzzCollector and FuzzSplit: go test -run TestHostile -write-corpus.
func writeSeeds(t *testing.T) {
	for _, target := range []string{"FuzzCollector", "FuzzSplit"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, tc := range hostileInputs() {
			if len(tc.body) > 8<<10 {
				continue
			}
			var b bytes.Buffer
			b.WriteString("go test fuzz v1\n")
			fmt.Fprintf(&b, "[]byte(%q)\n", tc.body)
			if target == "FuzzCollector" {
				b.WriteString("bool(false)\nbool(false)\n")
			} else {
				b.WriteString("bool(true)\n")
			}
			name := filepath.Join(dir, fmt.Sprintf("hostile-%02d", i))
			if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
