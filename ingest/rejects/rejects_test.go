package rejects

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crmstream/crmstream/event"
)

func TestID(t *testing.T) {
	a := Reject{Origin: "collector", Reason: "type: bad", Payload: []byte("x")}
	b := a
	b.EventID = "other" // not part of the key: the payload holds it
	if a.ID() != b.ID() || len(a.ID()) != 32 {
		t.Fatalf("ids %q %q", a.ID(), b.ID())
	}
	for _, c := range []Reject{
		{Origin: "relay", Reason: a.Reason, Payload: a.Payload},
		{Origin: a.Origin, Reason: "other", Payload: a.Payload},
		{Origin: a.Origin, Reason: a.Reason, Payload: []byte("y")},
		{Origin: a.Origin + "t", Reason: "ype: bad", Payload: a.Payload}, // no ambiguity across fields
	} {
		if c.ID() == a.ID() {
			t.Errorf("%+v has the id of %+v", c, a)
		}
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&event.Error{Field: "properties.cart_value", Rule: "x"}, "properties"},
		{&event.Error{Field: "contact.email", Rule: "x"}, "contact"},
		{&event.Error{Field: "", Rule: "invalid JSON"}, "body"},
		{&event.Error{Field: "occurred_at", Rule: "x"}, "occurred_at"},
		{&event.Error{Field: "some.new.field", Rule: "x"}, "other"},
		{fmt.Errorf("wrapped: %w", &event.Error{Field: "type"}), "type"},
		{errors.New("plain"), "other"},
	} {
		if got := Kind(tc.err); got != tc.want {
			t.Errorf("Kind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestAddNeverBlocks: with nobody writing, Add fills the queue, then drops
// and counts; payloads are clipped and copied.
func TestAddNeverBlocks(t *testing.T) {
	reg := prometheus.NewRegistry()
	w, err := New(Config{Conn: nopConn{}, QueueSize: 3, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, MaxPayload+100)
	for range 5 {
		w.Add(Reject{Origin: "collector", Reason: "r", Payload: payload})
	}
	if len(w.queue) != 3 {
		t.Fatalf("queue %d", len(w.queue))
	}
	r := <-w.queue
	if len(r.Payload) != MaxPayload || &r.Payload[0] == &payload[0] || r.ReceivedAt.IsZero() {
		t.Errorf("payload %d bytes, copied %v, received %v", len(r.Payload), &r.Payload[0] != &payload[0], r.ReceivedAt)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "crmstream_ingest_rejects_dropped_total" && mf.GetMetric()[0].GetCounter().GetValue() != 2 {
			t.Errorf("dropped = %v, want 2", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
}

// nopConn satisfies driver.Conn for tests that never reach ClickHouse.
type nopConn struct{ driver.Conn }
