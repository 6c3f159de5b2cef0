package collector

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

// FuzzCollector: whatever the body, the handler never panics, answers a
// documented status, and every item is either accepted (produced) or
// rejected with a reason naming what is wrong; accepted + rejected = items.
func FuzzCollector(f *testing.F) {
	f.Add([]byte("["+ev("a")+","+ev("b")+"]"), false, false)
	f.Add([]byte(ev("a")+"\n{\"event_id\":1}\n"), true, false)
	f.Add(gz(f, "["+ev("z")+"]"), false, true)
	f.Add([]byte(`[{"event_id":"x","type":"custom.ok","occurred_at":"2026-01-01T00:00:00+05:30","account_id":"a","properties":{"p":{"q":1}}}]`), false, false)
	f.Add([]byte("\x00\x01\x02"), false, false)
	f.Fuzz(func(t *testing.T, body []byte, ndjson, gzipped bool) {
		p := &fakeProducer{}
		h, rec := newHandler(t, p, func(c *Config) { c.MaxBodyBytes = 256 << 10; c.MaxItems = 1000 })
		hdr := map[string]string{}
		if ndjson {
			hdr["Content-Type"] = "application/x-ndjson"
		}
		if gzipped {
			hdr["Content-Encoding"] = "gzip"
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var res Response
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("status %d: response is not JSON: %q", w.Code, w.Body)
		}
		switch w.Code {
		case 200, 207, 422:
		case 400, 413:
			if res.Error == "" || res.Accepted != 0 || len(p.records()) != 0 {
				t.Fatalf("status %d without a reason or with events produced: %+v", w.Code, res)
			}
			return
		default:
			t.Fatalf("unexpected status %d: %s", w.Code, w.Body)
		}
		items := 0
		if !gzipped {
			items, _ = Split(body, Detect(hdr["Content-Type"], body), func([]byte) bool { return true })
		}
		if gzipped {
			items = res.Accepted + len(res.Rejected)
		}
		if res.Accepted+len(res.Rejected) != items || res.Accepted != len(p.records()) || rec.len() != len(res.Rejected) {
			t.Fatalf("accepted %d + rejected %d != %d items (produced %d, recorded %d)", res.Accepted, len(res.Rejected), items, len(p.records()), rec.len())
		}
		seen := map[int]bool{}
		for _, rj := range res.Rejected {
			if strings.TrimSpace(rj.Reason) == "" || rj.Index < 0 || rj.Index >= items || seen[rj.Index] {
				t.Fatalf("bad rejection %+v of %d items", rj, items)
			}
			seen[rj.Index] = true
		}
		want := 200
		switch {
		case res.Accepted == 0:
			want = 422
		case len(res.Rejected) > 0:
			want = 207
		}
		if w.Code != want {
			t.Fatalf("status %d, want %d for %d accepted, %d rejected", w.Code, want, res.Accepted, len(res.Rejected))
		}
	})
}
