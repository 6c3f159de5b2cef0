package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/crmstream/crmstream/event"
)

type recorder struct {
	mu      sync.Mutex
	events  []event.Event
	rejects []Reject
	fail    error
}

func (r *recorder) publish(_ context.Context, evs []event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) onReject(_ context.Context, _ string, _ []byte, rj []Reject) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejects = append(r.rejects, rj...)
	return nil
}

func TestHandler(t *testing.T) {
	mixed, err := os.ReadFile("testdata/salesforce/batch_mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		method       string
		token        string
		body         string
		publishErr   error
		wantCode     int
		wantAccepted int
		wantRejected int
		wantDLQ      int
	}{
		{"mapped with rejects", "POST", "tok", string(mixed), nil, 200, 3, 2, 2},
		{"unauthorized", "POST", "bad", string(mixed), nil, 401, 0, 0, 0},
		{"not the CRM's shape", "POST", "tok", "<xml/>", nil, 400, 0, 1, 1},
		{"publish fails: retry", "POST", "tok", string(mixed), errors.New("kafka down"), 503, 0, 0, 0},
		{"too large", "POST", "tok", "[" + strings.Repeat(" ", len(mixed)+64) + "]", nil, 413, 0, 0, 0},
		{"GET", "GET", "tok", "", nil, 405, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{fail: tt.publishErr}
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			h := NewHandler(NewSalesforce(SalesforceConfig{Token: "tok"}), rec.publish,
				HandlerOptions{MaxBodyBytes: int64(len(mixed)) + 16, Metrics: m, OnReject: rec.onReject})
			r := httptest.NewRequest(tt.method, "/v1/webhooks/salesforce", strings.NewReader(tt.body))
			r.Header.Set("Authorization", "Bearer "+tt.token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Fatalf("code %d, want %d: %s", w.Code, tt.wantCode, w.Body)
			}
			var resp Response
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("response is not JSON: %v: %s", err, w.Body)
			}
			if resp.Accepted != tt.wantAccepted || len(resp.Rejected) != tt.wantRejected {
				t.Errorf("response %+v, want %d accepted and %d rejected", resp, tt.wantAccepted, tt.wantRejected)
			}
			if len(rec.events) != tt.wantAccepted {
				t.Errorf("published %d events, want %d", len(rec.events), tt.wantAccepted)
			}
			if len(rec.rejects) != tt.wantDLQ {
				t.Errorf("OnReject got %d rejects, want %d", len(rec.rejects), tt.wantDLQ)
			}
			for _, rj := range resp.Rejected {
				if rj.Reason == "" {
					t.Errorf("reject without a reason: %+v", rj)
				}
			}
			var pb dto.Metric
			if err := m.items.WithLabelValues("salesforce", "accepted").Write(&pb); err != nil {
				t.Fatal(err)
			}
			if got := pb.GetCounter().GetValue(); int(got) != tt.wantAccepted {
				t.Errorf("accepted counter %v, want %d", got, tt.wantAccepted)
			}
		})
	}
}

func TestMountAndAdapters(t *testing.T) {
	cfg := Config{Salesforce: SalesforceConfig{Token: "tok"}, Zoho: ZohoConfig{Token: "z"}}
	adapters := cfg.Adapters()
	if len(adapters) != 2 || adapters[0].Name() != "salesforce" || adapters[1].Name() != "zoho" {
		t.Fatalf("Adapters() = %v, want salesforce and zoho only", adapters)
	}
	rec := &recorder{}
	mux := http.NewServeMux()
	Mount(mux, adapters, rec.publish, HandlerOptions{})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body, _ := os.ReadFile("testdata/zoho/leads_update.json")
	body = []byte(strings.Replace(string(body), "c3504777-db15-4332-8286-478a1b5006bc", "z", 1))
	resp, err := http.Post(srv.URL+"/v1/webhooks/zoho", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(rec.events) != 1 {
		t.Fatalf("zoho: status %d, %d events", resp.StatusCode, len(rec.events))
	}
	resp, err = http.Post(srv.URL+"/v1/webhooks/hubspot", "application/json", strings.NewReader("[]"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unconfigured hubspot: status %d, want 404", resp.StatusCode)
	}
}
