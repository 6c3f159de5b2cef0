package event

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	in := `{"event_id":"9f1c2a","type":"flow_started","occurred_at":"2026-11-21T10:30:00.5+01:00",
 "lead_id":"lead-42","account_id":"acme","owner_id":"rep-7","session_id":"s-1","extra":{"ignored":true},
 "source":" Web ","contact":{"email":" Ann@Example.COM ","phone":"030 1234567","country":"Germany","name":"  Ann   Lee "},
 "properties":{"flow":"checkout","cart_value":129.0,"currency":"EUR","gift":false}}`
	e, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 21, 9, 30, 0, 5e8, time.UTC)
	if !e.OccurredAt.Equal(want) || e.OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at = %v, want %v UTC", e.OccurredAt, want)
	}
	if e.Source != "web" || e.Contact.Email != "ann@example.com" || e.Contact.Country != "DE" ||
		e.Contact.Phone != "+49301234567" || e.Contact.Name != "Ann Lee" {
		t.Errorf("normalization: %+v", e)
	}
	if v, ok := e.Properties.Number("cart_value"); !ok || v != 129 {
		t.Errorf("cart_value = %v %v", v, ok)
	}
	if e.Properties.String("flow") != "checkout" || e.Key() != "lead-42" {
		t.Errorf("flow/key: %+v", e)
	}
	if keys := []string{e.Properties[0].Key, e.Properties[1].Key}; keys[0] > keys[1] {
		t.Errorf("properties not sorted: %v", keys)
	}
}

func TestParseRejects(t *testing.T) {
	base := `"event_id":"e1","type":"page_view","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l1"`
	cases := []struct {
		name, in, field, rule string
	}{
		{"not json", `{"event_id":`, "", "invalid JSON"},
		{"array", `[1,2]`, "", "not a JSON object"},
		{"empty", ``, "", "empty input"},
		{"no id", `{"type":"page_view","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "event_id", "is required"},
		{"empty id", `{"event_id":"","type":"page_view","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "event_id", "is required"},
		{"long id", `{"event_id":"` + strings.Repeat("x", 129) + `","type":"page_view","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "event_id", "more than 128"},
		{"id number", `{"event_id":7,"type":"page_view","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "event_id", "must be a string"},
		{"no type", `{"event_id":"e","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "type", "is required"},
		{"unknown type", `{"event_id":"e","type":"teleported","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "type", "not a known type"},
		{"bad custom", `{"event_id":"e","type":"custom.Big","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "type", "not a known type"},
		{"reserved", `{"event_id":"e","type":"internal.erased","occurred_at":"2026-11-21T09:30:00Z","lead_id":"l"}`, "type", "reserved"},
		{"no time", `{"event_id":"e","type":"login","account_id":"a"}`, "occurred_at", "is required"},
		{"no offset", `{"event_id":"e","type":"login","occurred_at":"2026-11-21T09:30:00","account_id":"a"}`, "occurred_at", "RFC 3339"},
		{"no key", `{"event_id":"e","type":"login","occurred_at":"2026-11-21T09:30:00Z"}`, "lead_id", "account_id is required"},
		{"nested property", `{` + base + `,"properties":{"a":{"b":1}}}`, "properties.a", "not an object"},
		{"null property", `{` + base + `,"properties":{"a":null}}`, "properties.a", "not null"},
		{"properties array", `{` + base + `,"properties":[1]}`, "properties", "must be an object"},
		{"contact number", `{` + base + `,"contact":{"email":5}}`, "contact.email", "must be a string"},
		{"long source", `{` + base + `,"source":"` + strings.Repeat("s", 65) + `"}`, "source", "more than 64"},
		{"ancient", `{"event_id":"e","type":"login","occurred_at":"1900-01-01T00:00:00Z","account_id":"a"}`, "occurred_at", "between 1970"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in))
			var ee *Error
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ee.Field != c.field || !strings.Contains(ee.Rule, c.rule) {
				t.Errorf("got field %q rule %q, want field %q rule containing %q", ee.Field, ee.Rule, c.field, c.rule)
			}
		})
	}
}

func TestTooManyProperties(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"event_id":"e","type":"login","occurred_at":"2026-01-01T00:00:00Z","account_id":"a","properties":{`)
	for i := 0; i < 65; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + string(rune('a'+i%26)) + strings.Repeat("x", i) + `":1`)
	}
	b.WriteString(`}}`)
	_, err := Parse([]byte(b.String()))
	var ee *Error
	if !errors.As(err, &ee) || ee.Field != "properties" {
		t.Fatalf("err = %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	in := `{"event_id":"a\"b\\c\n","type":"custom.score_seen","occurred_at":"2026-11-21T09:30:00.123456789Z",
 "account_id":"acc ✓","contact":{"title":"CTO","country":"usa"},"properties":{"n":-1.5e-7,"big":12345678901,"s":"\u0001x","t":true}}`
	e, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out := e.AppendJSON(nil)
	e2, err := Decode(out)
	if err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if string(e2.AppendJSON(nil)) != string(out) {
		t.Errorf("round trip differs:\n%s\n%s", out, e2.AppendJSON(nil))
	}
	if e2.Contact.Country != "US" || e2.ID != "a\"b\\c" {
		t.Errorf("got %+v", e2)
	}
}

func TestDecodeAcceptsTombstone(t *testing.T) {
	e := Event{ID: "x", Type: Erased, OccurredAt: time.Unix(1, 0).UTC(), LeadID: "l"}
	got, err := Decode(e.AppendJSON(nil))
	if err != nil || got.Type != Erased {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestNormalizeCountry(t *testing.T) {
	for in, want := range map[string]string{"de": "DE", "DEU": "DE", "Germany": "DE", "united kingdom": "GB",
		"UK": "GB", "Brazil": "BR", "276": "DE", "Atlantis": "Atlantis", "": ""} {
		if got := NormalizeCountry(in); got != want {
			t.Errorf("NormalizeCountry(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for _, c := range []struct{ in, region, want string }{
		{"+1 (415) 555-2671", "", "+14155552671"},
		{"(415) 555-2671", "US", "+14155552671"},
		{"0044 20 7946 0958", "DE", "+442079460958"},
		{"+4930123456", "", "+4930123456"},
		{"call me", "US", "call me"},
	} {
		if got := NormalizePhone(c.in, c.region); got != c.want {
			t.Errorf("NormalizePhone(%q,%q) = %q, want %q", c.in, c.region, got, c.want)
		}
	}
}

var sample = []byte(`{"event_id":"0b6f8c1e-6b9a-4f7e-9d0a-2f1c3b4d5e6f","type":"page_view","occurred_at":"2026-11-21T09:30:00.123Z",
"lead_id":"lead-000042","account_id":"acct-0007","owner_id":"rep-3","session_id":"sess-9f8e7d","source":"web",
"contact":{"email":"ann.lee@example.com","country":"DE"},
"properties":{"url":"https://example.com/pricing?plan=team","page_type":"pricing","referrer":"https://www.google.com/","utm_source":"google","utm_campaign":"winter-sale"}}`)

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(sample)))
	for b.Loop() {
		if _, err := Parse(sample); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(sample)))
	for b.Loop() {
		if _, err := Decode(sample); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e, err := Parse(sample)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}

// BenchmarkValidate: the sink validates every record it decodes.
func BenchmarkValidate(b *testing.B) {
	e, err := Parse(sample)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
