package ingest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/crmstream/crmstream/importer"
)

// TestOlistReplay posts the Olist marketing-funnel data set (8,000
// lead_created, 842 deal_won; importer.ReadOlist maps it) through the
// collector twice, the second time gzipped and in reverse batch order, and
// expects each event stored exactly once. The data set lives outside the
// repository (CRM_OLIST_DIR, default ../../shared/data/olist).
func TestOlistReplay(t *testing.T) {
	dir := os.Getenv("CRM_OLIST_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "olist")
	}
	if _, err := os.Stat(filepath.Join(dir, importer.OlistLeadsFile)); err != nil {
		t.Skipf("Olist data set not found in %s (set CRM_OLIST_DIR): %v", dir, err)
	}
	b, err := importer.ReadOlist(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Items) != 8842 || len(b.Rejects) != 0 {
		t.Fatalf("Olist mapped to %d events, %d rejects; want 8842, 0", len(b.Items), len(b.Rejects))
	}
	var bodies [][]byte
	for i := 0; i < len(b.Items); i += 1000 {
		var body []byte
		for _, it := range b.Items[i:min(i+1000, len(b.Items))] {
			body = it.Event.AppendJSON(body)
			body = append(body, '\n')
		}
		bodies = append(bodies, body)
	}
	p := startPipeline(t, func(c *Config) { c.BatchRows = 5000 })
	ndjson := map[string]string{"Content-Type": "application/x-ndjson"}
	start := time.Now()
	accepted := 0
	for _, body := range bodies {
		code, res := p.post(body, ndjson)
		if code != 200 {
			t.Fatalf("status %d: %+v", code, res.Rejected)
		}
		accepted += res.Accepted
	}
	posted := time.Since(start)
	p.waitCount("SELECT count() FROM DB.events FINAL", 8842)
	stored := time.Since(start)
	t.Logf("first pass: %d events accepted in %v (%.0f events/s), all stored after %v", accepted, posted, float64(accepted)/posted.Seconds(), stored)

	gz := map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
	for i := len(bodies) - 1; i >= 0; i-- {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		_, _ = w.Write(bodies[i])
		_ = w.Close()
		if code, res := p.post(z.Bytes(), gz); code != 200 || res.Accepted != bytes.Count(bodies[i], []byte("\n")) {
			t.Fatalf("second pass: status %d accepted %d", code, res.Accepted)
		}
	}
	p.waitMetric("crmstream_ingest_sink_rows_total", 2*8842) // the second copy has landed…
	if n := p.count("SELECT count() FROM DB.events FINAL"); n != 8842 {
		t.Fatalf("count() FINAL = %d after the replay, want 8842", n) // …and collapses
	}
	for q, want := range map[string]uint64{
		"SELECT uniqExact(event_id) FROM DB.events":                                      8842,
		"SELECT count() FROM DB.events FINAL WHERE type = 'lead_created'":                8000,
		"SELECT count() FROM DB.events FINAL WHERE type = 'deal_won' AND owner_id != ''": 842,
		"SELECT uniqExact(lead_id) FROM DB.events WHERE type = 'deal_won'":               842,
		"SELECT count() FROM DB.rejects":                                                 0,
	} {
		if n := p.count(q); n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
}
