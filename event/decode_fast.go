package event

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// This file is the fast path of Decode: a hand-written scanner for the
// canonical form that AppendJSON writes (known keys, flat string fields, a
// contact object of strings and a properties object of scalars).
//
// Why a scanner and not a JSON library: every record of crm.events is decoded
// once by the sink and once by the scorer, and the general decoder (a wire
// struct with a map of raw messages) costs ~9 µs and ~47 allocations per
// 600-byte event, more than the whole rest of the scorer's per-event work.
// The canonical shape is fixed and small, so a single pass over the bytes
// decodes it with one or two allocations (none for the View variants, whose
// strings view the input). The same pass also tells whether the input is
// byte for byte AppendJSON's output, so the relay can forward it and the
// sink store its properties object without encoding them again.
//
// The scanner never decides a rejection. Whenever the input is anything but
// what it fully understands (unknown or repeated keys, null, nested values,
// surrogate escapes, timestamps with an offset, out-of-range numbers, invalid
// UTF-8, more than MaxProperties keys, …) it gives up and the general decoder
// answers instead, so Decode's result — event or error — is the same as
// before for every input. FuzzDecodeFastMatchesSlow checks exactly that.

// DecodeInto is Decode into dst, reusing dst.Properties' backing array: when
// the event has no properties dst.Properties is left empty (len 0, not
// necessarily nil). On error *dst is reset (its Properties capacity kept).
//
// Ownership: the strings of the decoded event never alias b, so the caller may
// reuse b at once. They share two allocations: one holds LeadID, AccountID and
// OwnerID (so keeping a key as a map key pins only those few bytes), the other
// every other string. The Properties slice is dst's: an event decoded into the
// same dst again overwrites it, so copy Properties before reusing dst if you
// keep them.
func DecodeInto(dst *Event, b []byte) error {
	_, err := decodeInto(dst, b, false, nil)
	return err
}

// DecodeView is DecodeInto without the copy: the strings of the decoded event
// may view b's bytes (those without escapes do), so b must stay unchanged
// while the event or any string taken from it is in use, and a kept string
// keeps all of b alive. For a consumer that holds the record anyway until
// it is done with the event (the ClickHouse sink batches records until the
// insert), it saves DecodeInto's two allocations and its copy.
func DecodeView(dst *Event, b []byte) error {
	_, err := decodeInto(dst, b, true, nil)
	return err
}

// DecodeViewJSON is DecodeView for a consumer that stores the properties as
// JSON (the ClickHouse sink): it also returns what Properties.AppendJSON
// would append for them, as a view of b, when b holds exactly those bytes
// (records AppendJSON wrote do), saving the encoding. It returns nil when
// the event has no properties or b holds them in another form (whitespace,
// escapes, key order, number format): encode them then.
func DecodeViewJSON(dst *Event, b []byte) (props []byte, err error) {
	_, err = decodeInto(dst, b, true, &props)
	if err != nil || len(dst.Properties) == 0 {
		return nil, err
	}
	return props, nil
}

// DecodeViewValid is DecodeViewJSON followed by Validate, as a store of
// crm.events runs them on each record, except for the pipeline's tombstones
// (Erased), which are returned unvalidated (Validate refuses the internal
// type; a store skips them). Same results as those calls, cheaper: the
// strings the fast decoder read are known to be valid UTF-8 and are not
// checked again.
func DecodeViewValid(dst *Event, b []byte) (props []byte, err error) {
	fast, err := decodeInto(dst, b, true, &props)
	if err != nil {
		return nil, err
	}
	if len(dst.Properties) == 0 {
		props = nil
	}
	if dst.Type == Erased {
		return props, nil
	}
	if err := dst.validate(fast); err != nil {
		return nil, err
	}
	return props, nil
}

// decodeInto decodes b into dst; fast reports that the fast decoder did.
func decodeInto(dst *Event, b []byte, view bool, pj *[]byte) (fast bool, err error) {
	props := dst.Properties[:0]
	var info fastInfo
	if decodeFast(dst, b, props, view, &info) && canonical(dst) {
		if pj != nil {
			*pj = info.propsJSON
		}
		return true, nil
	}
	if pj != nil {
		*pj = nil
	}
	e, err := Decode(b) // the general path: same result or the same *Error
	if err != nil {
		*dst = Event{Properties: props}
		return false, err
	}
	setEvent(dst, e, props)
	return false, nil
}

// setEvent stores e in *dst with its properties in props' backing array.
func setEvent(dst *Event, e Event, props Properties) {
	if len(e.Properties) > 0 {
		e.Properties = append(props, e.Properties...)
	} else {
		e.Properties = props
	}
	*dst = e
}

// ParseView is Parse into dst, reusing dst.Properties' backing array as
// DecodeInto does, with DecodeView's ownership: the strings of the event may
// view b, so b must stay unchanged while they are in use. Same events, same
// rejections as Parse; on error *dst is reset (its Properties capacity kept).
// For a stage that re-encodes each event before it is done with its input
// (the relay), it saves Parse's allocations.
func ParseView(dst *Event, b []byte) error {
	_, err := ParseViewJSON(dst, b)
	return err
}

// ParseViewJSON is ParseView that also returns the event's canonical
// encoding, what AppendJSON would append, when b is exactly that (a record a
// pipeline stage wrote, holding values Normalize leaves as they are): then
// it returns b, and re-encoding is saved. Otherwise (whitespace, another key
// order, escapes, values Normalize changed, …) it returns nil: encode the
// event.
func ParseViewJSON(dst *Event, b []byte) (canonical []byte, err error) {
	props := dst.Properties[:0]
	var info fastInfo
	fast := decodeFast(dst, b, props, true, &info) && dst.Type != Erased
	if !fast {
		e, err := decode(b, false) // the general path, as decodeUntrusted
		if err != nil {
			*dst = Event{Properties: props}
			return nil, err
		}
		setEvent(dst, e, props)
		info = fastInfo{}
	}
	var before Event
	if info.verbatim {
		before = *dst
	}
	dst.Normalize()
	// The fast decoder checked UTF-8, and Normalize keeps strings valid.
	if err := dst.validate(fast); err != nil {
		*dst = Event{Properties: props}
		return nil, err
	}
	if info.verbatim && sameIdentity(&before, dst) {
		return b, nil
	}
	return nil, nil
}

// sameIdentity reports whether Normalize left a and b's fields equal.
func sameIdentity(a, b *Event) bool {
	return a.ID == b.ID && a.LeadID == b.LeadID && a.AccountID == b.AccountID && a.OwnerID == b.OwnerID &&
		a.SessionID == b.SessionID && a.Source == b.Source && a.Contact == b.Contact && a.OccurredAt.Equal(b.OccurredAt)
}

// decodeCanonical is Decode before its canonical-record check: the fast path,
// else the general decoder.
func decodeCanonical(b []byte) (Event, error) {
	var e Event
	if decodeFast(&e, b, nil, false, nil) {
		return e, nil
	}
	return decode(b, true)
}

// decodeUntrusted is decode(b, false), the first step of Parse, with the
// fast path first: sources that send the canonical shape (the simulator, the
// importer, adapters that encode with AppendJSON) skip the general decoder.
// Same result for every input: the fast path only ever accepts what the
// general decoder decodes identically, and the one difference of the
// untrusted path, refusing the internal Erased type, falls back to it.
func decodeUntrusted(b []byte) (Event, error) {
	var e Event
	if decodeFast(&e, b, nil, false, nil) && e.Type != Erased {
		return e, nil
	}
	return decode(b, false)
}

// canonical is the check Decode applies after decoding.
func canonical(e *Event) bool { return e.ID != "" && !e.OccurredAt.IsZero() && e.Key() != "" }

// Where a decoded string goes.
const (
	tID uint8 = iota
	tType
	tLead
	tAccount
	tOwner
	tSession
	tSource
	tEmail
	tPhone
	tName
	tCompany
	tCountry
	tTitle
	tPropKey // + property index in span.prop
	tPropStr
)

// Bits of fast.seen, one per top-level or contact key, to refuse duplicates.
const (
	seenOccurred = 1 << (tTitle + 1 + iota)
	seenContact
	seenProps
)

// span is one JSON string of the input: the raw bytes between the quotes,
// its decoded length, and whether it holds escapes.
type span struct {
	off, end int32
	n        int32 // decoded length in bytes
	prop     int32 // property index for tPropKey/tPropStr
	target   uint8
	esc      bool
}

const maxSpans = 13 + 2*MaxProperties

// fast is the scanner's state; it lives on the caller's stack.
type fast struct {
	b      []byte
	i      int
	seen   uint32
	nspans int
	spans  [maxSpans]span
	nprops int
	props  [MaxProperties]scalar // values, moved to the Properties slice by fill

	// propsJSON is the properties object as the input holds it, when that
	// is exactly what Properties.AppendJSON writes (else empty).
	propsJSON []byte
	anyEsc    bool // some span has escapes

	// loose: the input is not byte for byte what AppendJSON writes
	// (whitespace, key order, escapes, empty fields, timestamp form, …).
	// Conservative: a canonical input may be marked loose, never the
	// reverse.
	loose bool
}

// fastInfo is what decodeFast tells beside the event.
type fastInfo struct {
	propsJSON []byte // the properties object when verbatim AppendJSON's, else nil
	verbatim  bool   // b is verbatim what AppendJSON writes for the event
}

// scalar is a property value other than a string.
type scalar struct {
	num  float64
	kind Kind
	b    bool
}

// decodeFast decodes the canonical form of b into dst, using props (length 0)
// as the Properties backing array; with view, strings without escapes view b
// rather than copies. When info is not nil, it is set on success (see
// fastInfo). It reports false, leaving dst partly written, for anything it
// does not fully understand.
func decodeFast(dst *Event, b []byte, props Properties, view bool, info *fastInfo) bool {
	if len(b) > MaxEventBytes {
		return false
	}
	var d fast
	d.b = b
	d.ws()
	if !d.consume('{') {
		return false
	}
	var occurred span
	d.ws()
	if d.peek() == '}' {
		return false // no event_id: the general path words the error
	}
	last := -1 // AppendJSON's order of the keys read so far
	for {
		d.ws()
		key, ok := d.rawKey()
		if !ok {
			return false
		}
		d.ws()
		var ord int
		switch key {
		case "event_id":
			ok = d.field(tID)
		case "type":
			ok, ord = d.field(tType), 1
		case "occurred_at":
			if d.seen&seenOccurred != 0 {
				return false
			}
			d.seen |= seenOccurred
			occurred, ok = d.str()
			ok, ord = ok && !occurred.esc, 2
		case "lead_id":
			ok, ord = d.field(tLead), 3
		case "account_id":
			ok, ord = d.field(tAccount), 4
		case "owner_id":
			ok, ord = d.field(tOwner), 5
		case "session_id":
			ok, ord = d.field(tSession), 6
		case "source":
			ok, ord = d.field(tSource), 7
		case "contact":
			ok, ord = d.contact(), 8
		case "properties":
			ok, ord = d.properties(), 9
		default:
			return false
		}
		if !ok {
			return false
		}
		if ord <= last {
			d.loose = true
		}
		last = ord
		d.ws()
		if d.consume(',') {
			continue
		}
		if !d.consume('}') {
			return false
		}
		break
	}
	d.ws()
	if d.i != len(b) || d.seen&(1<<tID|1<<tType|seenOccurred) != 1<<tID|1<<tType|seenOccurred {
		return false
	}
	t, ok := parseUTC(b[occurred.off:occurred.end])
	if !ok {
		return false
	}
	d.fill(dst, props, view)
	dst.OccurredAt = t
	if info != nil {
		// AppendJSON trims the fraction's trailing zeros, and writes
		// properties and contact only when not empty (checked inside).
		if frac := b[occurred.off+19 : occurred.end-1]; len(frac) > 0 && frac[len(frac)-1] == '0' {
			d.loose = true
		}
		if d.nprops > 0 && d.propsJSON == nil {
			d.loose = true
		}
		*info = fastInfo{propsJSON: d.propsJSON, verbatim: !d.loose}
	}
	return sortKeys(dst.Properties)
}

// fill copies every string span into its arena and sets the fields; the
// properties go into props when it is large enough, else into a new slice.
// With view, only spans with escapes are copied; the others view d.b.
func (d *fast) fill(dst *Event, props Properties, view bool) {
	var ka, ma string
	if !view || d.anyEsc { // else every string views d.b: nothing to copy
		var keysN, mainN int
		for i := range d.spans[:d.nspans] {
			s := &d.spans[i]
			switch {
			case view && !s.esc:
			case isKeyField(s.target):
				keysN += int(s.n)
			default:
				mainN += int(s.n)
			}
		}
		var keys, main strings.Builder
		keys.Grow(keysN)
		main.Grow(mainN)
		for i := range d.spans[:d.nspans] {
			s := &d.spans[i]
			if view && !s.esc {
				continue
			}
			w := &main
			if isKeyField(s.target) {
				w = &keys
			}
			s.off, s.end = int32(w.Len()), d.write(w, s)
		}
		ka, ma = keys.String(), main.String()
	}
	if d.nprops > 0 {
		if cap(props) < d.nprops {
			props = make(Properties, d.nprops)
		}
		props = props[:d.nprops]
		for i, v := range d.props[:d.nprops] {
			props[i] = Property{Kind: v.kind, Num: v.num, Bool: v.b}
		}
	}
	*dst = Event{Properties: props}
	c := &dst.Contact
	var in string
	if view {
		in = bstr(d.b)
	}
	for i := range d.spans[:d.nspans] {
		s := &d.spans[i]
		a := ma
		switch {
		case view && !s.esc:
			a = in
		case isKeyField(s.target):
			a = ka
		}
		v := a[s.off:s.end]
		switch s.target {
		case tID:
			dst.ID = v
		case tType:
			dst.Type = Type(v)
		case tLead:
			dst.LeadID = v
		case tAccount:
			dst.AccountID = v
		case tOwner:
			dst.OwnerID = v
		case tSession:
			dst.SessionID = v
		case tSource:
			dst.Source = v
		case tEmail:
			c.Email = v
		case tPhone:
			c.Phone = v
		case tName:
			c.Name = v
		case tCompany:
			c.Company = v
		case tCountry:
			c.Country = v
		case tTitle:
			c.Title = v
		case tPropKey:
			props[s.prop].Key = v
		case tPropStr:
			props[s.prop].Str = v
		}
	}
}

func isKeyField(t uint8) bool { return t == tLead || t == tAccount || t == tOwner }

// write appends the decoded string of s to w and returns w's new length.
func (d *fast) write(w *strings.Builder, s *span) int32 {
	raw := d.b[s.off:s.end]
	if !s.esc {
		w.Write(raw)
		return int32(w.Len())
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			w.WriteByte(c)
			continue
		}
		i++
		switch raw[i] {
		case 'n':
			w.WriteByte('\n')
		case 'r':
			w.WriteByte('\r')
		case 't':
			w.WriteByte('\t')
		case 'b':
			w.WriteByte('\b')
		case 'f':
			w.WriteByte('\f')
		case 'u':
			w.WriteRune(rune(hex4(raw[i+1 : i+5])))
			i += 4
		default: // '"', '\\', '/'
			w.WriteByte(raw[i])
		}
	}
	return int32(w.Len())
}

func (d *fast) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fast) consume(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// ws skips JSON whitespace (only the four characters RFC 8259 allows).
func (d *fast) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
			d.loose = true
		default:
			return
		}
	}
}

// rawKey reads an object key without escapes and the colon after it. The
// string aliases the input and is used only for comparison.
func (d *fast) rawKey() (string, bool) {
	// The keys of the schema are [a-z_] and AppendJSON puts the colon
	// right after: read those in one loop, anything else the general way.
	b := d.b
	if d.i < len(b) && b[d.i] == '"' {
		j := d.i + 1
		for j < len(b) && (b[j] >= 'a' && b[j] <= 'z' || b[j] == '_') {
			j++
		}
		if j+1 < len(b) && b[j] == '"' && b[j+1] == ':' {
			key := bstr(b[d.i+1 : j])
			d.i = j + 2
			return key, true
		}
	}
	s, ok := d.str()
	if !ok || s.esc {
		return "", false
	}
	d.ws()
	if !d.consume(':') {
		return "", false
	}
	return bstr(d.b[s.off:s.end]), true
}

// field reads a string value for target, refusing a repeated key.
func (d *fast) field(target uint8) bool {
	if d.seen&(1<<target) != 0 {
		return false
	}
	d.seen |= 1 << target
	s, ok := d.str()
	if !ok {
		return false
	}
	if s.esc || s.n == 0 {
		d.loose = true // AppendJSON leaves empty fields out
	}
	s.target = target
	d.spans[d.nspans] = s
	d.nspans++
	return true
}

func (d *fast) contact() bool {
	if d.seen&seenContact != 0 || !d.consume('{') {
		return false
	}
	d.seen |= seenContact
	d.ws()
	if d.consume('}') {
		d.loose = true // AppendJSON leaves an empty contact out
		return true
	}
	var last uint8 // AppendJSON's order: the targets' order
	for {
		d.ws()
		key, ok := d.rawKey()
		if !ok {
			return false
		}
		d.ws()
		var t uint8
		switch key {
		case "email":
			t = tEmail
		case "phone":
			t = tPhone
		case "name":
			t = tName
		case "company":
			t = tCompany
		case "country":
			t = tCountry
		case "title":
			t = tTitle
		default:
			return false
		}
		if !d.field(t) {
			return false
		}
		if t <= last {
			d.loose = true
		}
		last = t
		d.ws()
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

// properties reads the properties object; fill moves the values into the
// event's Properties.
func (d *fast) properties() bool {
	if d.seen&seenProps != 0 || !d.consume('{') {
		return false
	}
	d.seen |= seenProps
	start := d.i - 1
	// canon: so far the object is byte for byte what AppendJSON writes
	// (no whitespace, keys ascending, no escapes, numbers as appendNumber
	// formats them).
	canon := !d.wsAny()
	if d.consume('}') {
		d.loose = true // AppendJSON leaves empty properties out
		return true
	}
	var prev []byte
	for {
		canon = !d.wsAny() && canon // always skip the whitespace
		if d.nprops == MaxProperties {
			return false
		}
		k, ok := d.propKey()
		if !ok {
			return false
		}
		key := d.b[k.off:k.end]
		canon = !d.wsAny() && canon && !k.esc && (prev == nil || bstr(key) > bstr(prev))
		prev = key
		if !d.consume(':') {
			return false
		}
		canon = !d.wsAny() && canon // always skip the whitespace
		idx := int32(d.nprops)
		k.target, k.prop = tPropKey, idx
		d.spans[d.nspans] = k
		d.nspans++
		p := &d.props[idx]
		switch c := d.peek(); {
		case c == '"':
			v, ok := d.str()
			if !ok {
				return false
			}
			canon = canon && !v.esc
			v.target, v.prop = tPropStr, idx
			d.spans[d.nspans] = v
			d.nspans++
			p.kind = KindString
		case c == 't' || c == 'f':
			lit := "false"
			if c == 't' {
				lit, p.b = "true", true
			}
			if !hasPrefix(d.b[d.i:], lit) {
				return false
			}
			d.i += len(lit)
			p.kind = KindBool
		case c == '-' || c >= '0' && c <= '9':
			n := d.i
			f, ok := d.number()
			if !ok {
				return false
			}
			canon = canon && canonicalNumber(d.b[n:d.i], f)
			p.kind, p.num = KindNumber, f
		default: // null, objects, arrays: the general path words the error
			return false
		}
		d.nprops++
		canon = !d.wsAny() && canon // always skip the whitespace
		if d.consume(',') {
			continue
		}
		if !d.consume('}') {
			return false
		}
		break
	}
	if canon {
		d.propsJSON = d.b[start:d.i]
	}
	// Near the size limit, let the general path measure as it does.
	return d.i-start <= MaxPropertyBytes
}

// propKey reads a property key: keys of [a-z0-9_] (as sources name them) in
// one loop, others as any string.
func (d *fast) propKey() (span, bool) {
	b := d.b
	if d.i < len(b) && b[d.i] == '"' {
		j := d.i + 1
		for j < len(b) && (b[j] >= 'a' && b[j] <= 'z' || b[j] >= '0' && b[j] <= '9' || b[j] == '_') {
			j++
		}
		if j < len(b) && b[j] == '"' {
			s := span{off: int32(d.i + 1), end: int32(j), n: int32(j - d.i - 1)}
			d.i = j + 1
			return s, true
		}
	}
	return d.str()
}

// wsAny skips whitespace and reports whether there was any.
func (d *fast) wsAny() bool {
	i := d.i
	d.ws()
	return d.i != i
}

// canonicalNumber reports whether raw is how appendNumber writes f.
func canonicalNumber(raw []byte, f float64) bool {
	var buf [32]byte
	return bstr(appendNumber(buf[:0], f)) == bstr(raw)
}

// sortKeys sorts props by key, as the general decoder does (insertion sort:
// AppendJSON writes them sorted already, so this is one pass), and refuses
// duplicate keys, which the general decoder collapses to the last value.
func sortKeys(props Properties) bool {
	for i := 1; i < len(props); i++ {
		for j := i; j > 0 && props[j-1].Key >= props[j].Key; j-- {
			if props[j-1].Key == props[j].Key {
				return false
			}
			props[j-1], props[j] = props[j], props[j-1]
		}
	}
	return true
}

// number reads a JSON number (strict grammar) as a finite float64.
func (d *fast) number() (float64, bool) {
	b, i := d.b, d.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	// The string view of the input lives only for the call: ParseFloat keeps
	// nothing on success, and on failure we drop its error.
	f, err := strconv.ParseFloat(bstr(b[start:i]), 64)
	return f, err == nil
}

// str reads a JSON string starting at the opening quote and returns its span.
// It validates escapes and UTF-8 and computes the decoded length; surrogate
// escapes (which AppendJSON never writes) are left to the general path.
func (d *fast) str() (span, bool) {
	b := d.b
	if d.i >= len(b) || b[d.i] != '"' {
		return span{}, false
	}
	i := d.i + 1
	s := span{off: int32(i)}
	n := 0
	ascii := true
	for {
		// Fast skip of plain ASCII, eight bytes at a time, then one.
		for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
			n += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
			n++
		}
		if i >= len(b) {
			return span{}, false
		}
		c := b[i]
		switch {
		case c == '"':
			s.end, s.n = int32(i), int32(n)
			if !ascii && !utf8.Valid(b[s.off:s.end]) {
				return span{}, false
			}
			d.i = i + 1
			return s, true
		case c == '\\':
			s.esc = true
			d.anyEsc = true
			if i+1 >= len(b) {
				return span{}, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
				n++
			case 'u':
				if i+6 > len(b) {
					return span{}, false
				}
				r := hex4(b[i+2 : i+6])
				if r < 0 || r >= 0xD800 && r <= 0xDFFF {
					return span{}, false
				}
				i += 6
				n += utf8.RuneLen(rune(r))
			default:
				return span{}, false
			}
		case c < 0x20:
			return span{}, false
		default: // non-ASCII: validated as a whole at the end
			ascii = false
			i++
			n++
		}
	}
}

// plain marks bytes a string copies as they are: printable ASCII but the
// quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) int {
	v := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		v = v<<4 | int(c)
	}
	return v
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && bstr(b[:len(s)]) == s }

// bstr views b as a string without copying, for comparisons and parsing that
// keep nothing.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// parseUTC parses the timestamp AppendJSON writes, "2006-01-02T15:04:05Z"
// with an optional fraction of 1–9 digits, into the same time.Time as
// time.Parse(time.RFC3339Nano, s).UTC(). Offsets other than Z are refused.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		v, ok := digits(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			v *= 10
		}
		nsec = v
	} else if len(b) != 20 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
