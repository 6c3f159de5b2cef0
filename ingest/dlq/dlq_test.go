package dlq

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/internal/kafka"
)

func TestNewRead(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 30, 0, 5e8, time.FixedZone("x", 3600))
	orig := &kgo.Record{Topic: "crm.raw", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}, Timestamp: at}
	for _, tc := range []struct {
		name, reason, wantReason string
	}{
		{"plain", "occurred_at: is required", "occurred_at: is required"},
		{"long reason is cut", strings.Repeat("é", 2000), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(orig, tc.reason, at, "")
			if r.Topic != kafka.TopicDLQ || string(r.Key) != "k" || string(r.Value) != "v" || !r.Timestamp.Equal(at) {
				t.Fatalf("dead letter %+v", r)
			}
			l := Read(r)
			if l.Origin != "crm.raw/3/42" || !l.FailedAt.Equal(at) {
				t.Errorf("origin %q failed at %v", l.Origin, l.FailedAt)
			}
			if tc.wantReason != "" && l.Reason != tc.wantReason {
				t.Errorf("reason %q", l.Reason)
			}
			if len(l.Reason) > maxReason+len("…") || !strings.HasPrefix(tc.reason, strings.TrimSuffix(l.Reason, "…")) {
				t.Errorf("reason of %d bytes not a prefix of the original", len(l.Reason))
			}
			if r.Headers[0].Key != "trace" {
				t.Errorf("original headers not kept: %+v", r.Headers)
			}
		})
	}
	if len(orig.Headers) != 1 {
		t.Fatal("New modified the original record's headers")
	}
}

func TestFilter(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	l := Read(New(&kgo.Record{Topic: "crm.raw", Partition: 1, Offset: 7}, "type: unknown", at, ""))
	l.Record.Partition = 2
	for _, tc := range []struct {
		f    Filter
		want bool
	}{
		{Filter{Partition: -1}, true},
		{Filter{Partition: -1, Reason: "type"}, true},
		{Filter{Partition: -1, Reason: "occurred_at"}, false},
		{Filter{Partition: -1, Origin: "crm.raw/1"}, true},
		{Filter{Partition: -1, Origin: "crm.events"}, false},
		{Filter{Partition: -1, Since: at}, true},
		{Filter{Partition: -1, Since: at.Add(time.Second)}, false},
		{Filter{Partition: 2}, true},
		{Filter{Partition: 0}, false},
	} {
		if got := tc.f.Match(l); got != tc.want {
			t.Errorf("%+v.Match = %v, want %v", tc.f, got, tc.want)
		}
	}
}
