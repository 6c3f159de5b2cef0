package event

import (
	"errors"
	"testing"
)

// FuzzParse: Parse never panics; every input is either an event that
// validates and survives an encode/decode round trip, or an *Error.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add([]byte(`{"event_id":"e","type":"login","occurred_at":"2026-01-01T00:00:00Z","account_id":"a"}`))
	f.Add([]byte(`{"event_id":"e","type":"custom.x","occurred_at":"2026-01-01T00:00:00+05:30","lead_id":"l","properties":{"a":"\ud800"}}`))
	f.Add([]byte(`{"event_id":1}`))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			var ee *Error
			if !errors.As(err, &ee) || ee.Error() == "" {
				t.Fatalf("rejection without a reason: %v", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted event does not validate: %v", err)
		}
		out := e.AppendJSON(nil)
		e2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", out, err)
		}
		if string(e2.AppendJSON(nil)) != string(out) {
			t.Fatalf("round trip differs")
		}
	})
}
