package event

import (
	"errors"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// loopCPU runs f with b.Loop and reports cpu-ns/op beside ns/op.
func loopCPU(b *testing.B, f func()) {
	b.Helper()
	start := benchcpu.Now()
	for b.Loop() {
		f()
	}
	benchcpu.Report(b, start, "")
}

// canonicalEvent is a realistic scored-pipeline event with every field set.
func canonicalEvent() Event {
	return Event{
		ID: "0b6f8c1e-6b9a-4f7e-9d0a-2f1c3b4d5e6f", Type: PageView,
		OccurredAt: time.Date(2026, 11, 21, 9, 30, 0, 123e6, time.UTC),
		LeadID:     "lead-000042", AccountID: "acct-0007", OwnerID: "rep-3", SessionID: "sess-9f8e7d", Source: "web",
		Contact: Contact{Email: "ann.lee@example.com", Phone: "+49301234567", Name: "Ann Lee", Company: "Acme GmbH", Country: "DE", Title: "CTO"},
		Properties: Properties{
			{Key: "page_type", Kind: KindString, Str: "pricing"},
			{Key: "referrer", Kind: KindString, Str: "https://www.google.com/"},
			{Key: "returning", Kind: KindBool, Bool: true},
			{Key: "scroll", Kind: KindNumber, Num: 0.75},
			{Key: "url", Kind: KindString, Str: "https://example.com/pricing?plan=team"},
			{Key: "utm_campaign", Kind: KindString, Str: "winter-sale"},
		},
	}
}

// decodeSlow is what Decode did before the fast path.
func decodeSlow(b []byte) (Event, error) { return decode(b, true) }

// checkSame asserts that the fast path, when it accepts b, agrees with the
// general decoder exactly, and that Decode and DecodeInto agree with it.
func checkSame(t *testing.T, b []byte) (fastOK bool) {
	t.Helper()
	var fe Event
	fastOK = decodeFast(&fe, b, nil, false, nil)
	var ve Event
	if viewOK := decodeFast(&ve, b, nil, true, nil); viewOK != fastOK || fastOK && !reflect.DeepEqual(fe, ve) {
		t.Fatalf("decodeFast with and without view differ on %q:\n%v %#v\n%v %#v", b, fastOK, fe, viewOK, ve)
	}
	se, serr := decodeSlow(b)
	if fastOK {
		if serr != nil {
			t.Fatalf("fast path accepted %q, general decoder rejects it: %v", b, serr)
		}
		if !reflect.DeepEqual(fe, se) {
			t.Fatalf("fast and general decoders differ on %q:\nfast    %#v\ngeneral %#v", b, fe, se)
		}
	}
	ue, uerr := decodeUntrusted(b)
	se2, serr2 := decode(b, false)
	if (uerr == nil) != (serr2 == nil) || !reflect.DeepEqual(ue, se2) {
		t.Fatalf("decodeUntrusted and decode(b, false) differ on %q:\n%#v %v\n%#v %v", b, ue, uerr, se2, serr2)
	}
	pe, perr := Parse(b)
	var pv Event
	pv.Properties = make(Properties, 0, 2)
	enc, perrView := ParseViewJSON(&pv, b)
	if enc != nil && (perrView != nil || string(enc) != string(b) || string(enc) != string(pe.AppendJSON(nil))) {
		t.Fatalf("ParseViewJSON returned %q for %q (error %v), AppendJSON writes %q", enc, b, perrView, pe.AppendJSON(nil))
	}
	if (perr == nil) != (perrView == nil) {
		t.Fatalf("Parse error %v, ParseView error %v", perr, perrView)
	}
	if perr != nil {
		var ee *Error
		if !errors.As(perrView, &ee) {
			t.Fatalf("ParseView error %v is not an *Error (Parse: %v)", perrView, perr)
		}
		// With two bad fields the general decoder may name either (it
		// walks a map): the same reason means one Parse may give.
		same := perrView.Error() == perr.Error()
		for i := 0; i < 50 && !same; i++ {
			_, again := Parse(b)
			same = again.Error() == perrView.Error()
		}
		if !same {
			t.Fatalf("ParseView error %v, Parse error %v", perrView, perr)
		}
		if !reflect.DeepEqual(pv, Event{Properties: pv.Properties[:0]}) {
			t.Fatalf("ParseView left %#v after an error", pv)
		}
	} else {
		if len(pv.Properties) == 0 {
			pv.Properties = nil
		}
		if !reflect.DeepEqual(pe, pv) {
			t.Fatalf("Parse and ParseView differ on %q:\n%#v\n%#v", b, pe, pv)
		}
	}
	got, err := Decode(b)
	var into, view Event
	into.Properties = make(Properties, 0, 3)
	errInto := DecodeInto(&into, b)
	errView := DecodeView(&view, b)
	// Error texts are not compared: the general decoder's explain walks a map,
	// so with two bad contact fields either may be named.
	if (err == nil) != (errInto == nil) || (err == nil) != (errView == nil) {
		t.Fatalf("Decode error %v, DecodeInto error %v, DecodeView error %v", err, errInto, errView)
	}
	if err != nil {
		var ee *Error
		if !errors.As(err, &ee) {
			t.Fatalf("Decode error is not an *Error: %v", err)
		}
		return fastOK
	}
	if len(into.Properties) == 0 {
		into.Properties = nil
	}
	if len(view.Properties) == 0 {
		view.Properties = nil
	}
	if !reflect.DeepEqual(got, into) {
		t.Fatalf("Decode and DecodeInto differ:\n%#v\n%#v", got, into)
	}
	if !reflect.DeepEqual(got, view) {
		t.Fatalf("Decode and DecodeView differ:\n%#v\n%#v", got, view)
	}
	var vj Event
	pj, errJSON := DecodeViewJSON(&vj, b)
	if errJSON != nil {
		t.Fatalf("DecodeView accepts, DecodeViewJSON: %v", errJSON)
	}
	if len(vj.Properties) == 0 {
		vj.Properties = nil
	}
	if !reflect.DeepEqual(got, vj) {
		t.Fatalf("Decode and DecodeViewJSON differ:\n%#v\n%#v", got, vj)
	}
	if pj != nil && string(pj) != string(got.Properties.AppendJSON(nil)) {
		t.Fatalf("DecodeViewJSON's properties %q, AppendJSON writes %q", pj, got.Properties.AppendJSON(nil))
	}
	// DecodeViewValid is DecodeViewJSON then Validate (tombstones apart).
	var vv Event
	pv2, errValid := DecodeViewValid(&vv, b)
	wantErr := error(nil)
	if got.Type != Erased {
		wantErr = got.Validate()
	}
	if (errValid == nil) != (wantErr == nil) || errValid != nil && errValid.Error() != wantErr.Error() {
		t.Fatalf("DecodeViewValid error %v, Validate after Decode %v", errValid, wantErr)
	}
	if errValid == nil {
		if len(vv.Properties) == 0 {
			vv.Properties = nil
		}
		if !reflect.DeepEqual(got, vv) || string(pv2) != string(pj) {
			t.Fatalf("DecodeViewValid and DecodeViewJSON differ:\n%#v %q\n%#v %q", vv, pv2, got, pj)
		}
	}
	return fastOK
}

func TestDecodeFastAcceptsCanonical(t *testing.T) {
	base := canonicalEvent()
	cases := map[string]func(e *Event){
		"all fields":   func(e *Event) {},
		"no contact":   func(e *Event) { e.Contact = Contact{} },
		"no props":     func(e *Event) { e.Properties = nil },
		"account only": func(e *Event) { e.LeadID, e.OwnerID, e.SessionID, e.Source = "", "", "", "" },
		"tombstone":    func(e *Event) { e.Type, e.Properties, e.Contact = Erased, nil, Contact{} },
		"escapes": func(e *Event) {
			e.ID = "a\"b\\c\n\r\t\x01\x1f/"
			e.Contact.Name = "Zoë \u2028 \U0001F600 ✓"
			e.Properties = Properties{{Key: "k\"ey", Kind: KindString, Str: "\x00\x7f"}, {Key: "ü", Kind: KindString, Str: "日本"}}
		},
		"invalid utf8 replaced": func(e *Event) { e.Contact.Title = "a\xffb" },
		"numbers": func(e *Event) {
			e.Properties = Properties{
				{Key: "a", Kind: KindNumber, Num: -1.5e-7}, {Key: "b", Kind: KindNumber, Num: 12345678901},
				{Key: "c", Kind: KindNumber, Num: 1e21}, {Key: "d", Kind: KindNumber, Num: 0},
				{Key: "e", Kind: KindNumber, Num: math.MaxFloat64}, {Key: "f", Kind: KindNumber, Num: 5e-324},
				{Key: "g", Kind: KindNumber, Num: -999999999999999}, {Key: "h", Kind: KindNumber, Num: math.Inf(1)},
				{Key: "i", Kind: KindBool}, {Key: "j", Kind: KindString},
			}
		},
		"whole second":  func(e *Event) { e.OccurredAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
		"nanoseconds":   func(e *Event) { e.OccurredAt = time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC) },
		"leap day":      func(e *Event) { e.OccurredAt = time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC) },
		"year 1":        func(e *Event) { e.OccurredAt = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC) },
		"local zone":    func(e *Event) { e.OccurredAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("X", 3600)) },
		"empty key":     func(e *Event) { e.Properties = Properties{{Key: "", Kind: KindBool, Bool: true}} },
		"64 properties": func(e *Event) { e.Properties = manyProps(MaxProperties) },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			e := base
			mut(&e)
			b := e.AppendJSON(nil)
			if !checkSame(t, b) {
				t.Fatalf("fast path refused canonical %s", b)
			}
		})
	}
}

func manyProps(n int) Properties {
	p := make(Properties, n)
	for i := range p {
		p[i] = Property{Key: "k" + string(rune('A'+i/26)) + string(rune('a'+i%26)), Kind: KindNumber, Num: float64(i)}
	}
	return p
}

// TestDecodeFastFallsBack: inputs outside the canonical form go to the
// general decoder (or are decoded identically), never decided differently.
func TestDecodeFastFallsBack(t *testing.T) {
	head := `{"event_id":"e","type":"login","occurred_at":"2026-01-01T00:00:00Z","lead_id":"l"`
	cases := []struct {
		name, in string
		fast     bool // whether the fast path may decode it itself
	}{
		{"canonical", head + `}`, true},
		{"whitespace", " \n" + strings.ReplaceAll(head, ",", " ,\t") + ` , "properties" : { "a" : 1 , "b":"x" } }` + "\r\n", true},
		{"unsorted props", head + `,"properties":{"b":1,"a":true,"c":"x"}}`, true},
		{"other key order", `{"lead_id":"l","occurred_at":"2026-01-01T00:00:00Z","type":"login","event_id":"e"}`, true},
		{"escaped unicode", head + `,"source":"\u00e9\u0041\/"}`, true},
		{"empty contact", head + `,"contact":{}}`, true},
		{"empty props", head + `,"properties":{}}`, true},
		{"unknown key", head + `,"extra":{"x":1}}`, false},
		{"case-folded key", `{"Event_ID":"e","type":"login","occurred_at":"2026-01-01T00:00:00Z","lead_id":"l"}`, false},
		{"escaped key", `{"event\u005fid":"e","type":"login","occurred_at":"2026-01-01T00:00:00Z","lead_id":"l"}`, false},
		{"duplicate key", head + `,"lead_id":"m"}`, false},
		{"duplicate prop", head + `,"properties":{"a":1,"a":2}}`, false},
		{"duplicate prop escaped", head + `,"properties":{"a":1,"\u0061":2}}`, false},
		{"null field", head + `,"owner_id":null}`, false},
		{"null prop", head + `,"properties":{"a":null}}`, false},
		{"nested prop", head + `,"properties":{"a":[1]}}`, false},
		{"number field", head + `,"source":7}`, false},
		{"offset time", `{"event_id":"e","type":"login","occurred_at":"2026-01-01T01:00:00+01:00","lead_id":"l"}`, false},
		{"lowercase z", `{"event_id":"e","type":"login","occurred_at":"2026-01-01T00:00:00z","lead_id":"l"}`, false},
		{"feb 30", `{"event_id":"e","type":"login","occurred_at":"2026-02-30T00:00:00Z","lead_id":"l"}`, false},
		{"hour 24", `{"event_id":"e","type":"login","occurred_at":"2026-02-01T24:00:00Z","lead_id":"l"}`, false},
		{"10 digit fraction", `{"event_id":"e","type":"login","occurred_at":"2026-02-01T00:00:00.1234567891Z","lead_id":"l"}`, false},
		{"empty fraction", `{"event_id":"e","type":"login","occurred_at":"2026-02-01T00:00:00.Z","lead_id":"l"}`, false},
		{"surrogate pair", head + `,"source":"\ud83d\ude00"}`, false},
		{"lone surrogate", head + `,"source":"\ud800"}`, false},
		{"bad escape", head + `,"source":"\x"}`, false},
		{"raw control", head + ",\"source\":\"a\x01\"}", false},
		{"invalid utf8", head + ",\"source\":\"a\xff\"}", false},
		{"overflow", head + `,"properties":{"a":1e400}}`, false},
		{"leading zero", head + `,"properties":{"a":01}}`, false},
		{"bare minus", head + `,"properties":{"a":-}}`, false},
		{"bad literal", head + `,"properties":{"a":tru}}`, false},
		{"trailing garbage", head + `}x`, false},
		{"truncated", head, false},
		{"no id", `{"type":"login","occurred_at":"2026-01-01T00:00:00Z","lead_id":"l"}`, false},
		{"no key", `{"event_id":"e","type":"login","occurred_at":"2026-01-01T00:00:00Z"}`, true},
		{"empty object", `{}`, false},
		{"array", `[]`, false},
		{"nbsp around", "\u00a0" + head + "}", false},
		{"65 properties", head + `,"properties":` + string(manyProps(MaxProperties+1).AppendJSON(nil)) + `}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := checkSame(t, []byte(c.in)); got != c.fast {
				t.Errorf("fast path taken = %v, want %v", got, c.fast)
			}
		})
	}
}

func TestDecodeIntoOwnership(t *testing.T) {
	e := canonicalEvent()
	b := e.AppendJSON(nil)
	var dst Event
	dst.Properties = make(Properties, 0, 16)
	backing := &dst.Properties[:1][0]
	if err := DecodeInto(&dst, b); err != nil {
		t.Fatal(err)
	}
	if &dst.Properties[0] != backing {
		t.Error("DecodeInto did not reuse dst.Properties")
	}
	for i := range b {
		b[i] = 'X' // the caller reuses its buffer
	}
	if !reflect.DeepEqual(dst, e) {
		t.Fatalf("decoded event changed with the input buffer:\n%#v\n%#v", dst, e)
	}
	if err := DecodeInto(&dst, []byte(`{"event_id":1}`)); err == nil {
		t.Fatal("want an error")
	}
	if dst.ID != "" || len(dst.Properties) != 0 || cap(dst.Properties) != 16 {
		t.Errorf("after an error dst = %#v (cap %d), want reset with capacity kept", dst, cap(dst.Properties))
	}
}

// TestViewOwnership: DecodeView and ParseView reuse dst.Properties and take
// strings without escapes from the input rather than copies (the point of
// them); escaped ones are decoded copies.
func TestViewOwnership(t *testing.T) {
	e := canonicalEvent()
	e.Contact.Title = "C\"TO" // escaped in JSON
	b := e.AppendJSON(nil)
	for name, f := range map[string]func(*Event, []byte) error{"DecodeView": DecodeView, "ParseView": ParseView} {
		t.Run(name, func(t *testing.T) {
			var dst Event
			dst.Properties = make(Properties, 0, 16)
			backing := &dst.Properties[:1][0]
			if err := f(&dst, b); err != nil {
				t.Fatal(err)
			}
			if &dst.Properties[0] != backing {
				t.Error("did not reuse dst.Properties")
			}
			if !reflect.DeepEqual(dst, e) {
				t.Fatalf("decoded\n%#v\nwant\n%#v", dst, e)
			}
			in := func(s string) bool {
				p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
				return p >= uintptr(unsafe.Pointer(&b[0])) && p < uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b))
			}
			if !in(dst.ID) || !in(dst.LeadID) || !in(dst.Properties[0].Str) {
				t.Error("strings without escapes are copies, want views of the input")
			}
			if in(dst.Contact.Title) {
				t.Error("an escaped string views the raw input")
			}
			if err := f(&dst, []byte(`{"event_id":1}`)); err == nil {
				t.Fatal("want an error")
			}
			if dst.ID != "" || len(dst.Properties) != 0 || cap(dst.Properties) != 16 {
				t.Errorf("after an error dst = %#v (cap %d), want reset with capacity kept", dst, cap(dst.Properties))
			}
		})
	}
}

// TestDecodeViewJSON: the properties of a record AppendJSON wrote come back
// verbatim; other forms of the same properties come back nil (encode them).
func TestDecodeViewJSON(t *testing.T) {
	e := canonicalEvent()
	rec := e.AppendJSON(nil)
	want := string(e.Properties.AppendJSON(nil))
	var dst Event
	pj, err := DecodeViewJSON(&dst, rec)
	if err != nil || string(pj) != want {
		t.Fatalf("canonical record: properties %q, %v; want %q", pj, err, want)
	}
	i := strings.Index(string(rec), `"properties":`) + len(`"properties":`)
	for name, props := range map[string]string{
		"none":          ``,
		"empty":         `{}`,
		"whitespace":    `{"a": 1}`,
		"order":         `{"b":1,"a":2}`,
		"escape":        `{"a":"\u0041"}`,
		"number format": `{"a":1.0}`,
		"exponent":      `{"a":1e-7}`,
		"negative zero": `{"a":-0}`,
	} {
		b := string(rec[:i-len(`,"properties":`)]) + "}"
		if props != "" {
			b = string(rec[:i]) + props + "}"
		}
		pj, err := DecodeViewJSON(&dst, []byte(b))
		if err != nil || pj != nil {
			t.Errorf("%s: properties %q, %v; want nil", name, pj, err)
		}
	}
}

// TestParseViewJSON: a record AppendJSON wrote for a normalized event comes
// back as its own encoding; any difference from that form (or a value
// Normalize changes) gives nil, so the caller encodes.
func TestParseViewJSON(t *testing.T) {
	e := canonicalEvent()
	rec := string(e.AppendJSON(nil))
	var dst Event
	enc, err := ParseViewJSON(&dst, []byte(rec))
	if err != nil || string(enc) != rec {
		t.Fatalf("canonical record: %q, %v", enc, err)
	}
	for name, b := range map[string]string{
		"whitespace":    strings.Replace(rec, `"type":`, `"type": `, 1),
		"leading space": " " + rec,
		"key order":     strings.Replace(rec, `{"event_id":"0b6f8c1e-6b9a-4f7e-9d0a-2f1c3b4d5e6f","type":"page_view",`, `{"type":"page_view","event_id":"0b6f8c1e-6b9a-4f7e-9d0a-2f1c3b4d5e6f",`, 1),
		"contact order": strings.Replace(rec, `"email":"ann.lee@example.com","phone":"+49301234567"`, `"phone":"+49301234567","email":"ann.lee@example.com"`, 1),
		"empty owner":   strings.Replace(rec, `"owner_id":"rep-3"`, `"owner_id":""`, 1),
		"empty source":  strings.Replace(rec, `"source":"web"`, `"source":""`, 1),
		"escape":        strings.Replace(rec, `"source":"web"`, `"source":"w\u0065b"`, 1),
		"fraction zero": strings.Replace(rec, `.123Z`, `.120Z`, 1),
		"normalized":    strings.Replace(rec, `ann.lee@example.com`, `Ann.Lee@example.com`, 1),
		"empty contact": strings.Replace(rec, `"contact":{"email":"ann.lee@example.com","phone":"+49301234567","name":"Ann Lee","company":"Acme GmbH","country":"DE","title":"CTO"},`, `"contact":{},`, 1),
		"number format": strings.Replace(rec, `"scroll":0.75`, `"scroll":7.5e-1`, 1),
		"empty props":   rec[:strings.Index(rec, `,"properties":`)] + `,"properties":{}}`,
	} {
		if b == rec {
			t.Fatalf("%s: the case changes nothing", name)
		}
		want, err := Parse([]byte(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		enc, err := ParseViewJSON(&dst, []byte(b))
		if err != nil || enc != nil {
			t.Errorf("%s: %q, %v; want nil", name, enc, err)
		}
		if len(dst.Properties) == 0 {
			dst.Properties = nil
		}
		if !reflect.DeepEqual(dst, want) {
			t.Errorf("%s: ParseViewJSON and Parse differ:\n%#v\n%#v", name, dst, want)
		}
	}
}

// FuzzDecodeFastMatchesSlow: for any input, the fast path either declines or
// decodes exactly what the general decoder decodes; Decode, DecodeInto,
// DecodeView and DecodeViewJSON agree (the properties JSON it returns is
// AppendJSON's), DecodeViewValid is DecodeViewJSON then Validate, and Parse
// and ParseViewJSON give the same event or the same rejection (its encoding,
// when returned, is AppendJSON's). Never panics.
func FuzzDecodeFastMatchesSlow(f *testing.F) {
	e := canonicalEvent()
	f.Add(e.AppendJSON(nil))
	f.Add(sample)
	f.Add([]byte(`{"event_id":"e","type":"login","occurred_at":"2026-01-01T00:00:00.5Z","lead_id":"l","properties":{"b":1,"a":"\u00e9"}}`))
	// Not a lone surrogate in a contact field: goccy/go-json reads past the
	// string there, which -race's checkptr turns into a fatal error.
	f.Add([]byte(`{"event_id":"e","type":"x","occurred_at":"2026-02-29T00:00:00Z","account_id":"a","contact":{"email":"\u00e9"},"properties":{"s":"\ud800x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkSame(t, b) })
}

// FuzzDecodeFastCanonical: every event AppendJSON writes is taken by the fast
// path and decodes to what the general decoder returns.
func FuzzDecodeFastCanonical(f *testing.F) {
	f.Add("id-1", "page_view", int64(1763717400123000000), "lead", "acct", "rep", "sess", "web",
		"a@b.c", "+49", "Ann", "Acme", "DE", "CTO", "url", "https://x/\"y\"", "n", 1.5, "b", true)
	f.Add("a\x00\xff", "custom.x", int64(-1), "", "a", "", "", "", "", "", "", "", "", "", "", "", "k", math.Inf(-1), "", false)
	f.Fuzz(func(t *testing.T, id, typ string, nanos int64, lead, acct, owner, sess, src,
		email, phone, name, company, country, title, k1, s1, k2 string, n2 float64, k3 string, b3 bool) {
		e := Event{ID: id, Type: Type(typ), OccurredAt: time.Unix(0, nanos).UTC(), LeadID: lead, AccountID: acct,
			OwnerID: owner, SessionID: sess, Source: src,
			Contact: Contact{Email: email, Phone: phone, Name: name, Company: company, Country: country, Title: title}}
		seen := map[string]bool{}
		for _, p := range []Property{{Key: k1, Kind: KindString, Str: s1}, {Key: k2, Kind: KindNumber, Num: n2}, {Key: k3, Kind: KindBool, Bool: b3}} {
			// AppendJSON turns invalid UTF-8 into U+FFFD: two keys may meet there.
			k := string(appendString(nil, p.Key))
			if !seen[k] {
				seen[k] = true
				e.Properties = append(e.Properties, p)
			}
		}
		b := e.AppendJSON(nil)
		if !checkSame(t, b) {
			t.Fatalf("fast path refused canonical %q", b)
		}
	})
}

func benchEvent(b *testing.B) []byte {
	e, err := Parse(sample)
	if err != nil {
		b.Fatal(err)
	}
	return e.AppendJSON(nil)
}

// BenchmarkDecodeCanonical is Decode on a record as crm.events holds it.
func BenchmarkDecodeCanonical(b *testing.B) {
	rec := benchEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	loopCPU(b, func() {
		if _, err := Decode(rec); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkDecodeInto reuses one Event, as a per-partition worker does.
func BenchmarkDecodeInto(b *testing.B) {
	rec := benchEvent(b)
	var e Event
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	loopCPU(b, func() {
		if err := DecodeInto(&e, rec); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkDecodeView is DecodeInto without the copy, as the sink decodes.
func BenchmarkDecodeView(b *testing.B) {
	rec := benchEvent(b)
	var e Event
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	loopCPU(b, func() {
		if err := DecodeView(&e, rec); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkParseView is Parse into a reused Event viewing its input, as the
// relay parses.
func BenchmarkParseView(b *testing.B) {
	rec := benchEvent(b)
	var e Event
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	loopCPU(b, func() {
		if err := ParseView(&e, rec); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkParseFastFirst is Parse's work (decode, normalize, validate) with
// the fast path first, as Parse would do with decodeUntrusted.
func BenchmarkParseFastFirst(b *testing.B) {
	rec := benchEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	loopCPU(b, func() {
		e, err := decodeUntrusted(rec)
		if err != nil {
			b.Fatal(err)
		}
		e.Normalize()
		if err := e.Validate(); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkParseCanonical is Parse on a record in the canonical shape.
func BenchmarkParseCanonical(b *testing.B) {
	rec := benchEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	loopCPU(b, func() {
		if _, err := Parse(rec); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkDecodeGeneral is the general decoder Decode used before, on the
// same record, for comparison.
func BenchmarkDecodeGeneral(b *testing.B) {
	rec := benchEvent(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	loopCPU(b, func() {
		if _, err := decodeSlow(rec); err != nil {
			b.Fatal(err)
		}
	})
}
