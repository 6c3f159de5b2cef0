package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	json "github.com/goccy/go-json"
)

// Limits of schema version 1.
const (
	MaxIDLen         = 128       // event_id, lead_id, account_id, owner_id, session_id
	MaxSourceLen     = 64        // source
	MaxContactLen    = 256       // each contact attribute
	MaxProperties    = 64        // keys in properties
	MaxPropertyBytes = 32 << 10  // properties, keys and values together
	MaxEventBytes    = 128 << 10 // one encoded event, as received
)

// Error is a rejection: the field at fault and the rule it breaks. Its text is
// what callers of the collector and readers of the dead-letter topic see.
type Error struct {
	Field string // JSON path, e.g. "occurred_at" or "properties.cart_value"
	Rule  string // the rule broken, in plain words
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Rule
	}
	return e.Field + ": " + e.Rule
}

func fieldErr(field, rule string) error { return &Error{Field: field, Rule: rule} }

// wire is the JSON shape decoded before validation. Pointers tell "absent"
// from "empty".
type wire struct {
	EventID    *string                    `json:"event_id"`
	Type       *string                    `json:"type"`
	OccurredAt *string                    `json:"occurred_at"`
	LeadID     *string                    `json:"lead_id"`
	AccountID  *string                    `json:"account_id"`
	OwnerID    *string                    `json:"owner_id"`
	SessionID  *string                    `json:"session_id"`
	Source     *string                    `json:"source"`
	Contact    *wireContact               `json:"contact"`
	Properties map[string]json.RawMessage `json:"properties"`
}

type wireContact struct {
	Email   string `json:"email"`
	Phone   string `json:"phone"`
	Name    string `json:"name"`
	Company string `json:"company"`
	Country string `json:"country"`
	Title   string `json:"title"`
}

// Parse decodes one event from untrusted JSON, validates it against schema
// version 1 and normalizes it (see Normalize). A rejection is an *Error
// naming the field and the rule. Unknown top-level fields are ignored, as the
// schema allows. Parse never panics.
func Parse(b []byte) (Event, error) {
	e, err := decodeUntrusted(b)
	if err != nil {
		return Event{}, err
	}
	e.Normalize()
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Decode reads an event the pipeline itself encoded with AppendJSON (the
// crm.events topic): it checks the structure but does not normalize again,
// and accepts the pipeline's internal types (Erased).
func Decode(b []byte) (Event, error) {
	e, err := decodeCanonical(b)
	if err != nil {
		return Event{}, err
	}
	if e.ID == "" || e.OccurredAt.IsZero() || e.Key() == "" {
		return Event{}, fieldErr("", "not a canonical event: event_id, occurred_at and a key are required")
	}
	return e, nil
}

func decode(b []byte, internal bool) (Event, error) {
	if len(b) > MaxEventBytes {
		return Event{}, fieldErr("", fmt.Sprintf("event is %d bytes, more than the limit of %d", len(b), MaxEventBytes))
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return Event{}, fieldErr("", "empty input: expected a JSON object")
	}
	if b[0] != '{' {
		return Event{}, fieldErr("", "not a JSON object")
	}
	if !utf8.Valid(b) {
		// Decoders replace invalid bytes with U+FFFD, which would make two
		// different ids equal; JSON text must be UTF-8 (RFC 8259), so refuse.
		return Event{}, fieldErr("", fmt.Sprintf("not valid UTF-8 (first bad byte at offset %d)", firstInvalid(b)))
	}
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Event{}, explain(b, err)
	}
	var e Event
	if w.EventID == nil {
		return e, fieldErr("event_id", "is required")
	}
	e.ID = *w.EventID
	if w.Type == nil {
		return e, fieldErr("type", "is required")
	}
	e.Type = Type(*w.Type)
	if w.OccurredAt == nil {
		return e, fieldErr("occurred_at", "is required")
	}
	t, err := time.Parse(time.RFC3339Nano, *w.OccurredAt)
	if err != nil {
		return e, fieldErr("occurred_at", "must be an RFC 3339 timestamp with offset, e.g. 2026-11-21T09:30:00Z")
	}
	e.OccurredAt = t.UTC()
	e.LeadID = deref(w.LeadID)
	e.AccountID = deref(w.AccountID)
	e.OwnerID = deref(w.OwnerID)
	e.SessionID = deref(w.SessionID)
	e.Source = deref(w.Source)
	if w.Contact != nil {
		e.Contact = Contact(*w.Contact)
	}
	if len(w.Properties) > 0 {
		if len(w.Properties) > MaxProperties {
			return e, fieldErr("properties", fmt.Sprintf("has %d keys, more than %d", len(w.Properties), MaxProperties))
		}
		props, err := decodeProperties(w.Properties)
		if err != nil {
			return e, err
		}
		e.Properties = props
	}
	if !internal && e.Type == Erased {
		return e, fieldErr("type", fmt.Sprintf("%q is reserved for the pipeline", e.Type))
	}
	return e, nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func decodeProperties(raw map[string]json.RawMessage) (Properties, error) {
	props := make(Properties, 0, len(raw))
	size := 0
	for k, v := range raw {
		size += len(k) + len(v)
		p := Property{Key: k}
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0:
			return nil, fieldErr("properties."+k, "has no value")
		case v[0] == '"':
			if err := json.Unmarshal(v, &p.Str); err != nil {
				return nil, fieldErr("properties."+k, "is not a valid JSON string")
			}
			p.Kind = KindString
		case v[0] == 't' || v[0] == 'f':
			p.Kind, p.Bool = KindBool, v[0] == 't'
		case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return nil, fieldErr("properties."+k, "is not a finite number")
			}
			p.Kind, p.Num = KindNumber, f
		case v[0] == 'n':
			return nil, fieldErr("properties."+k, "must be a string, number or bool, not null")
		default:
			return nil, fieldErr("properties."+k, "must be a string, number or bool, not an object or array")
		}
		props = append(props, p)
	}
	if size > MaxPropertyBytes {
		return nil, fieldErr("properties", fmt.Sprintf("are %d bytes, more than %d", size, MaxPropertyBytes))
	}
	sort.Slice(props, func(i, j int) bool { return props[i].Key < props[j].Key })
	return props, nil
}

// explain turns a decoder error into a rejection that names the field: the
// fast typed decode failed, so decode generically (slow, only for bad input)
// and find the field of the wrong type.
func explain(b []byte, decodeErr error) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fieldErr("", fmt.Sprintf("invalid JSON at byte %d", se.Offset))
		}
		return fieldErr("", "invalid JSON")
	}
	for _, f := range []string{"event_id", "type", "occurred_at", "lead_id", "account_id", "owner_id", "session_id", "source"} {
		if v, ok := m[f]; ok && v != nil {
			if _, isStr := v.(string); !isStr {
				return fieldErr(f, "must be a string")
			}
		}
	}
	if v, ok := m["contact"]; ok && v != nil {
		c, isObj := v.(map[string]any)
		if !isObj {
			return fieldErr("contact", "must be an object")
		}
		for k, cv := range c {
			if _, isStr := cv.(string); !isStr {
				return fieldErr("contact."+k, "must be a string")
			}
		}
	}
	if v, ok := m["properties"]; ok && v != nil {
		if _, isObj := v.(map[string]any); !isObj {
			return fieldErr("properties", "must be an object")
		}
	}
	return fieldErr("", "invalid event: "+decodeErr.Error())
}

// Validate checks the rules of schema version 1 on an event built in Go (by a
// webhook adapter, an importer or Parse). It returns the first *Error.
func (e *Event) Validate() error { return e.validate(false) }

// validate is Validate; with utf8Known the strings are known to be valid
// UTF-8 (the fast decoder checked them) and are not checked again.
func (e *Event) validate(utf8Known bool) error {
	if err := checkLen("event_id", e.ID, 1, MaxIDLen, utf8Known); err != nil {
		return err
	}
	if e.Type == "" {
		return fieldErr("type", "is required")
	}
	if !e.Type.Valid() {
		return fieldErr("type", fmt.Sprintf("%q is not a known type; use one of the schema's types or custom.<name> ([a-z0-9_]{1,64})", truncate(string(e.Type), 80)))
	}
	if e.OccurredAt.IsZero() {
		return fieldErr("occurred_at", "is required")
	}
	if y := e.OccurredAt.Year(); y < 1970 || y > 2105 {
		return fieldErr("occurred_at", "must be between 1970 and 2105")
	}
	if e.LeadID == "" && e.AccountID == "" {
		return fieldErr("lead_id", "lead_id or account_id is required")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"lead_id", e.LeadID, MaxIDLen}, {"account_id", e.AccountID, MaxIDLen},
		{"owner_id", e.OwnerID, MaxIDLen}, {"session_id", e.SessionID, MaxIDLen},
		{"source", e.Source, MaxSourceLen},
		{"contact.email", e.Contact.Email, MaxContactLen}, {"contact.phone", e.Contact.Phone, MaxContactLen},
		{"contact.name", e.Contact.Name, MaxContactLen}, {"contact.company", e.Contact.Company, MaxContactLen},
		{"contact.country", e.Contact.Country, MaxContactLen}, {"contact.title", e.Contact.Title, MaxContactLen},
	} {
		if err := checkLen(f.name, f.v, 0, f.max, utf8Known); err != nil {
			return err
		}
	}
	if len(e.Properties) > MaxProperties {
		return fieldErr("properties", fmt.Sprintf("has %d keys, more than %d", len(e.Properties), MaxProperties))
	}
	for i := range e.Properties {
		p := &e.Properties[i]
		if p.Key == "" {
			return fieldErr("properties", "has an empty key")
		}
		if !utf8Known && (!validUTF8(p.Key) || (p.Kind == KindString && !validUTF8(p.Str))) {
			return fieldErr("properties."+truncate(p.Key, 64), "must be valid UTF-8")
		}
	}
	return nil
}

// validUTF8 is utf8.ValidString with the common case, ASCII, checked eight
// bytes at a time inline.
func validUTF8(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))&highs != 0 {
			return utf8.ValidString(s[i:]) // s[:i] is ASCII: i starts a character
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

func checkLen(field, v string, minLen, maxLen int, utf8Known bool) error {
	if len(v) <= maxLen && (minLen == 0 || minLen == 1 && len(v) > 0) {
		// Within the limits whatever the count of characters (never more
		// than the bytes, at least one when not empty): skip counting.
		if !utf8Known && !validUTF8(v) {
			return fieldErr(field, "must be valid UTF-8")
		}
		return nil
	}
	if !utf8.ValidString(v) {
		return fieldErr(field, "must be valid UTF-8")
	}
	n := utf8.RuneCountInString(v)
	if n < minLen {
		if minLen == 1 && n == 0 {
			return fieldErr(field, "is required")
		}
		return fieldErr(field, fmt.Sprintf("must have at least %d characters", minLen))
	}
	if n > maxLen {
		return fieldErr(field, fmt.Sprintf("has %d characters, more than %d", n, maxLen))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
