package event

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// AppendJSON appends the canonical JSON encoding of e to dst: the fields of
// schema version 1 in schema order, empty optional fields left out,
// occurred_at in RFC 3339 UTC. Parse(AppendJSON(e)) == e for a normalized e.
//
// Written by hand rather than with a reflection encoder: it runs once per
// event on the hot path and allocates nothing beyond dst's growth.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, string(e.Type))
	dst = append(dst, `,"occurred_at":"`...)
	dst = e.OccurredAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, "lead_id", e.LeadID)
	dst = appendField(dst, "account_id", e.AccountID)
	dst = appendField(dst, "owner_id", e.OwnerID)
	dst = appendField(dst, "session_id", e.SessionID)
	dst = appendField(dst, "source", e.Source)
	if !e.Contact.IsZero() {
		dst = append(dst, `,"contact":{`...)
		n := len(dst)
		c := &e.Contact
		dst = appendField(dst, "email", c.Email)
		dst = appendField(dst, "phone", c.Phone)
		dst = appendField(dst, "name", c.Name)
		dst = appendField(dst, "company", c.Company)
		dst = appendField(dst, "country", c.Country)
		dst = appendField(dst, "title", c.Title)
		dst = append(dst[:n], dst[n+1:]...) // drop the leading comma of the first field
		dst = append(dst, '}')
	}
	if len(e.Properties) > 0 {
		dst = append(dst, `,"properties":`...)
		dst = e.Properties.AppendJSON(dst)
	}
	return append(dst, '}')
}

// AppendJSON appends the properties as a JSON object.
func (p Properties) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i := range p {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, p[i].Key)
		dst = append(dst, ':')
		switch p[i].Kind {
		case KindString:
			dst = appendString(dst, p[i].Str)
		case KindNumber:
			dst = appendNumber(dst, p[i].Num)
		case KindBool:
			dst = strconv.AppendBool(dst, p[i].Bool)
		default:
			dst = append(dst, "null"...)
		}
	}
	return append(dst, '}')
}

func appendField(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendString(dst, v)
}

func appendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0') // JSON has no NaN; Parse never produces one
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping what RFC 8259 requires
// and replacing invalid UTF-8 with U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && !special8(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))) {
			i += 8 // eight bytes copied as they are
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Eight bytes at a time (SWAR), with the bytes of a little-endian word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 reports whether any of the eight bytes in x is one a JSON string
// cannot hold as it is: a control character (< 0x20), the quote, the
// backslash, or a byte of a multi-byte UTF-8 sequence (>= 0x80, checked
// apart). Exact: no false positive or negative on whether one exists.
func special8(x uint64) bool {
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs|x)&highs != 0
}
