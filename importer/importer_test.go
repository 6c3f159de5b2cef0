package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/ingest/collector"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

func ids(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Event.ID
	}
	return out
}

func checkRejects(t *testing.T, got []Reject, want map[int]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("rejects %v, want lines %v", got, want)
	}
	for _, r := range got {
		frag, ok := want[r.Line]
		if !ok || !strings.Contains(r.Reason, frag) {
			t.Errorf("reject %v: want line %d with reason containing %q", r, r.Line, frag)
		}
	}
}

func TestReadNDJSON(t *testing.T) {
	b, err := ReadFile("testdata/history.ndjson", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(b.Items), ","); got != "h-3,h-1,h-2" {
		t.Errorf("accepted %s, want h-3,h-1,h-2 (file order)", got)
	}
	checkRejects(t, b.Rejects, map[int]string{4: "type", 5: "JSON", 7: "lead_id"})
	// Normalized like the collector does it.
	if e := b.Items[1].Event; e.Contact.Email != "ada@example.com" || !e.OccurredAt.Equal(time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("not normalized: %+v", e)
	}
}

func TestReadNDJSONLongLine(t *testing.T) {
	long := `{"event_id":"x","type":"page_view","occurred_at":"2026-01-01T00:00:00Z","lead_id":"l","properties":{"p":"` + strings.Repeat("a", event.MaxEventBytes) + `"}}`
	ok := `{"event_id":"y","type":"page_view","occurred_at":"2026-01-01T00:00:00Z","lead_id":"l"}`
	b, err := ReadNDJSON(strings.NewReader(long+"\n"+ok+"\n"), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Items) != 1 || b.Items[0].Event.ID != "y" {
		t.Errorf("items %v, want only y", ids(b.Items))
	}
	checkRejects(t, b.Rejects, map[int]string{1: "longer than"})
}

func TestReadCSV(t *testing.T) {
	b, err := ReadFile("testdata/leads.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(b.Items), ","); got != "c-1,c-2" {
		t.Fatalf("accepted %s, want c-1,c-2", got)
	}
	checkRejects(t, b.Rejects, map[int]string{4: "occurred_at", 5: "lead_id", 6: "fields"})
	c1 := b.Items[0].Event
	if c1.Contact.Email != "grace@example.org" || c1.Contact.Country != "DE" || c1.OwnerID != "rep-1" || c1.AccountID != "acme" {
		t.Errorf("c-1 = %+v", c1)
	}
	if c1.Properties.String("origin") != "paid_search" || c1.Properties.String("zip") != "01234" {
		t.Errorf("c-1 properties = %+v (zip must stay a string)", c1.Properties)
	}
	if _, ok := c1.Properties.Get("amount"); ok {
		t.Errorf("empty cell became a property: %+v", c1.Properties)
	}
	if n, ok := b.Items[1].Event.Properties.Number("amount"); !ok || n != 5000.5 {
		t.Errorf("c-2 amount = %v %v, want number 5000.5", n, ok)
	}
}

func TestReadCSVUnknownColumn(t *testing.T) {
	_, err := ReadFile("testdata/badheader.csv", nil)
	if err == nil || !strings.Contains(err.Error(), `"occured_at" is not a canonical column`) {
		t.Fatalf("err = %v, want the misspelt column named", err)
	}
}

func TestReadOlist(t *testing.T) {
	b, err := ReadOlist("testdata/olist")
	if err != nil {
		t.Fatal(err)
	}
	Sort(b.Items)
	if got := strings.Join(ids(b.Items), ","); got != "olist-mql-m2,olist-mql-m1,olist-won-m2,olist-won-m1" {
		t.Fatalf("events in time order %s", got)
	}
	checkRejects(t, b.Rejects, map[int]string{4: "first_contact_date", 3: "not a lead"})
	won := b.Items[3].Event
	if won.Type != event.DealWon || won.LeadID != "m1" || won.OwnerID != "sr1" || won.Properties.String("lead_behaviour_profile") != "eagle, wolf" {
		t.Errorf("won = %+v", won)
	}
	if n, _ := won.Properties.Number("declared_monthly_revenue"); n != 25000 {
		t.Errorf("declared_monthly_revenue = %v", n)
	}
	if m2 := b.Items[0].Event; m2.Properties.String("origin") != "" || m2.Properties.String("landing_page_id") != "lp2" {
		t.Errorf("m2 properties = %+v (empty origin must be left out)", m2.Properties)
	}
}

// TestReadOlistShared reads the real data set when it is there (CI has
// ../shared beside the repository).
func TestReadOlistShared(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "olist")
	if _, err := os.Stat(filepath.Join(dir, OlistLeadsFile)); err != nil {
		t.Skip("shared Olist data set not present")
	}
	b, err := ReadOlist(dir)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[event.Type]int{}
	for _, it := range b.Items {
		counts[it.Event.Type]++
	}
	if counts[event.LeadCreated] != 8000 || counts[event.DealWon] != 842 || len(b.Rejects) != 0 {
		t.Fatalf("olist: %v, %d rejects (%v)", counts, len(b.Rejects), b.Rejects)
	}
}

type fakePublisher struct {
	batches [][]event.Event
	refuse  func(e event.Event) string
	fail    error
}

func (f *fakePublisher) Publish(_ context.Context, evs []event.Event) ([]Refused, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []Refused
	for i, e := range evs {
		if f.refuse != nil {
			if r := f.refuse(e); r != "" {
				out = append(out, Refused{Index: i, Reason: r})
			}
		}
	}
	f.batches = append(f.batches, append([]event.Event(nil), evs...))
	return out, nil
}

func TestRun(t *testing.T) {
	b, err := ReadFile("testdata/history.ndjson", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadFile("testdata/leads.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	items := append(b.Items, c.Items...)
	rejects := append(b.Rejects, c.Rejects...)
	Sort(items)
	pub := &fakePublisher{refuse: func(e event.Event) string {
		if e.ID == "h-2" {
			return "duplicate"
		}
		return ""
	}}
	var progress bytes.Buffer
	clock := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	s, err := Run(context.Background(), Config{Publisher: pub, BatchSize: 2, Progress: &progress, ProgressEvery: time.Nanosecond, Now: now}, items, rejects)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, batch := range pub.batches {
		if len(batch) > 2 {
			t.Errorf("batch of %d, want ≤ 2", len(batch))
		}
		for _, e := range batch {
			order = append(order, e.ID)
		}
	}
	if got := strings.Join(order, ","); got != "c-1,h-1,h-2,h-3,c-2" {
		t.Errorf("published %s, want event-time order c-1,h-1,h-2,h-3,c-2", got)
	}
	if s.Read != 11 || s.Accepted != 4 || len(s.Rejected) != 7 {
		t.Errorf("summary read %d accepted %d rejected %d, want 11/4/7", s.Read, s.Accepted, len(s.Rejected))
	}
	if s.ByType["lead_created"] != 2 || s.ByType["deal_won"] != 2 {
		t.Errorf("by type %v", s.ByType)
	}
	var sum bytes.Buffer
	WriteSummary(&sum, s, -1)
	for _, want := range []string{"read 11 rows: 4 accepted, 7 rejected", "testdata/history.ndjson:6: destination refused: duplicate", "testdata/leads.csv:4: occurred_at"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "5/5 100.0%") || !strings.Contains(last, "ETA 0:00") {
		t.Errorf("last progress line %q", last)
	}
}

func TestRunStopsOnPublishError(t *testing.T) {
	items := []Item{{File: "f", Line: 1, Event: event.Event{ID: "a", Type: event.PageView, OccurredAt: time.Unix(1, 0), LeadID: "l"}}}
	_, err := Run(context.Background(), Config{Publisher: &fakePublisher{fail: errors.New("broker gone")}}, items, nil)
	if err == nil || !strings.Contains(err.Error(), "broker gone") {
		t.Fatalf("err = %v", err)
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		done, total int
		elapsed     time.Duration
		want        string
	}{
		{0, 100, 0, "[..............................] 0/100   0.0%        0 ev/s ETA --:--"},
		{50, 100, 10 * time.Second, "[###############...............] 50/100  50.0%        5 ev/s ETA 0:10"},
		{100, 100, 20 * time.Second, "[##############################] 100/100 100.0%        5 ev/s ETA 0:00"},
	}
	for _, tt := range tests {
		if got := Bar(tt.done, tt.total, tt.elapsed); got != tt.want {
			t.Errorf("Bar(%d, %d, %s) =\n%q, want\n%q", tt.done, tt.total, tt.elapsed, got, tt.want)
		}
	}
}

func TestKafkaPublisher(t *testing.T) {
	brokers := kafkatest.Cluster(t, "crm.events")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("crm.events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	b, err := ReadOlist("testdata/olist")
	if err != nil {
		t.Fatal(err)
	}
	Sort(b.Items)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Run(ctx, Config{Publisher: &KafkaPublisher{Client: cl, Topic: "crm.events"}}, b.Items, b.Rejects)
	if err != nil || s.Accepted != 4 {
		t.Fatalf("Run: %v, accepted %d", err, s.Accepted)
	}
	got := map[string]bool{}
	for len(got) < 4 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 4: %v", len(got), err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			e, err := event.Decode(r.Value)
			if err != nil {
				t.Errorf("record does not decode: %v", err)
				return
			}
			if string(r.Key) != e.Key() || !r.Timestamp.Equal(e.OccurredAt) {
				t.Errorf("record key %q ts %s, want %q %s", r.Key, r.Timestamp, e.Key(), e.OccurredAt)
			}
			got[e.ID] = true
		})
	}
	if !got["olist-won-m1"] || !got["olist-mql-m2"] {
		t.Errorf("consumed %v", got)
	}
}

func TestHTTPPublisher(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried
			return
		}
		body, _ := io.ReadAll(r.Body)
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		w.WriteHeader(http.StatusMultiStatus)
		_ = json.NewEncoder(w).Encode(map[string]any{"accepted": len(lines) - 1, "rejected": []map[string]any{{"index": 1, "reason": "type: nope"}}})
	}))
	defer srv.Close()
	p := &HTTPPublisher{URL: srv.URL, Token: "tok"}
	evs := []event.Event{
		{ID: "a", Type: event.PageView, OccurredAt: time.Unix(10, 0), LeadID: "l"},
		{ID: "b", Type: event.PageView, OccurredAt: time.Unix(11, 0), LeadID: "l"},
	}
	refused, err := p.Publish(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || len(refused) != 1 || refused[0].Index != 1 || refused[0].Reason != "type: nope" {
		t.Fatalf("calls %d refused %+v", calls.Load(), refused)
	}
	bad := &HTTPPublisher{URL: srv.URL}
	if _, err := bad.Publish(context.Background(), evs); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("no token: err = %v, want the 400 reported", err)
	}
}

// TestHTTPPublisherWithCollector runs the importer against the real
// collector handler (ingest/collector) in front of a real-protocol broker:
// the NDJSON body, the write key and the 207 answer's per-event reasons are
// the contract between the two.
func TestHTTPPublisherWithCollector(t *testing.T) {
	brokers := kafkatest.Cluster(t, "crm.events")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	h, err := collector.New(collector.Config{Producer: cl, WriteKeys: []string{"wk"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	b, err := ReadOlist("testdata/olist")
	if err != nil {
		t.Fatal(err)
	}
	Sort(b.Items)
	// An event that skipped validation: the collector must refuse it by index.
	bad := Item{File: "forged", Line: 9, Event: event.Event{ID: "x", Type: "not_a_type", OccurredAt: time.Unix(1700000000, 0), LeadID: "l"}}
	items := append(b.Items, bad)
	s, err := Run(context.Background(), Config{Publisher: &HTTPPublisher{URL: srv.URL + "/v1/events", Token: "wk"}, BatchSize: 2}, items, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Accepted != 4 || len(s.Rejected) != 1 || s.Rejected[0].File != "forged" || !strings.Contains(s.Rejected[0].Reason, "type") {
		t.Fatalf("accepted %d, rejected %+v", s.Accepted, s.Rejected)
	}
	if _, err := (&HTTPPublisher{URL: srv.URL + "/v1/events", Token: "wrong"}).Publish(context.Background(), []event.Event{b.Items[0].Event}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong write key: %v", err)
	}
}
