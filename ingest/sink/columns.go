package sink

import (
	"slices"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
)

// The string columns of crm.events, in the insert's column order (after
// event_id and type come occurred_at and occurred_ms, see appendTo).
const (
	cID = iota
	cType
	cLead
	cAccount
	cOwner
	cSession
	cSource
	cEmail
	cPhone
	cName
	cCompany
	cCountry
	cTitle
	cProps
	nStr
)

// columns is the batch, held column by column as the insert sends it: the
// driver takes each column as one slice (Column(i).Append), which costs a
// fraction of a row-wise Append (18 values boxed per row, then dispatched
// one by one). Buffers are kept between flushes. Not safe for concurrent use
// (Sink.mu guards it).
//
// The batch holds no pointer per value: a string column is a slice of spans
// into the row's record value (where the decoded string views it, as most
// do) or into arena (escaped strings, pseudonyms, re-encoded properties),
// and times are integers. A full batch of string headers (14 per row) was
// most of what every GC cycle of the ingest process had to mark; spans are
// not scanned. The strings are made from the spans one block at a time, for
// the insert (appendTo).
type columns struct {
	recs     []*kgo.Record // the record of each row: its partition, its bytes, and its dead letter if refused
	str      [nStr][]span
	occurred []int64  // occurred_at, Unix seconds
	ms       []uint16 // occurred_ms
	arena    []byte   // bytes of the strings that are not views of their record

	// One block of the insert, made by appendTo; they view the records and
	// the arena until the next appendTo or reset.
	blk         [nStr][]string
	blkOccurred []time.Time
	ingested    []time.Time
	version     []uint64
}

// span is where a string's bytes are: n bytes at off in the row's record
// value, or in the arena.
type span struct {
	off     int
	n       int32
	inArena bool
}

func (c *columns) len() int { return len(c.recs) }

// reserve makes room for n rows in every column at once, instead of the
// repeated copies of growing a column row by row to a full batch.
func (c *columns) reserve(n int) {
	n -= c.len()
	if n <= 0 {
		return
	}
	c.recs = slices.Grow(c.recs, n)
	for k := range c.str {
		c.str[k] = slices.Grow(c.str[k], n)
	}
	c.occurred = slices.Grow(c.occurred, n)
	c.ms = slices.Grow(c.ms, n)
}

// add appends e as a row; propsJSON, when not nil, is the encoding of
// e.Properties (a view of the record, event.DecodeViewJSON); pii, when set,
// appends the pseudonym of a non-empty e-mail, phone or name to its first
// argument.
func (c *columns) add(rec *kgo.Record, e *event.Event, propsJSON []byte, pii func([]byte, string) []byte) {
	ct := &e.Contact
	s := &c.str
	v := rec.Value
	s[cID] = append(s[cID], c.span(v, e.ID))
	s[cType] = append(s[cType], c.span(v, string(e.Type)))
	s[cLead] = append(s[cLead], c.span(v, e.LeadID))
	s[cAccount] = append(s[cAccount], c.span(v, e.AccountID))
	s[cOwner] = append(s[cOwner], c.span(v, e.OwnerID))
	s[cSession] = append(s[cSession], c.span(v, e.SessionID))
	s[cSource] = append(s[cSource], c.span(v, e.Source))
	if pii != nil {
		s[cEmail] = append(s[cEmail], c.hashed(ct.Email, pii))
		s[cPhone] = append(s[cPhone], c.hashed(ct.Phone, pii))
		s[cName] = append(s[cName], c.hashed(ct.Name, pii))
	} else {
		s[cEmail] = append(s[cEmail], c.span(v, ct.Email))
		s[cPhone] = append(s[cPhone], c.span(v, ct.Phone))
		s[cName] = append(s[cName], c.span(v, ct.Name))
	}
	s[cCompany] = append(s[cCompany], c.span(v, ct.Company))
	s[cCountry] = append(s[cCountry], c.span(v, ct.Country))
	s[cTitle] = append(s[cTitle], c.span(v, ct.Title))
	var props span
	switch {
	case len(e.Properties) == 0:
	case propsJSON != nil:
		props = c.span(v, unsafe.String(unsafe.SliceData(propsJSON), len(propsJSON)))
	default:
		n := len(c.arena)
		c.arena = e.Properties.AppendJSON(c.arena)
		props = span{off: n, n: int32(len(c.arena) - n), inArena: true}
	}
	s[cProps] = append(s[cProps], props)
	sec := e.OccurredAt.Truncate(time.Second)
	c.occurred = append(c.occurred, sec.Unix())
	c.ms = append(c.ms, uint16(e.OccurredAt.Sub(sec)/time.Millisecond))
	c.recs = append(c.recs, rec)
}

// span locates str: in v when it views v's bytes, else copied to the arena.
func (c *columns) span(v []byte, str string) span {
	if str == "" {
		return span{}
	}
	// Address comparison only: the offset is then used to index v.
	p, base := uintptr(unsafe.Pointer(unsafe.StringData(str))), uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	if p >= base && p-base <= uintptr(len(v)) && uintptr(len(str)) <= uintptr(len(v))-(p-base) {
		return span{off: int(p - base), n: int32(len(str))}
	}
	n := len(c.arena)
	c.arena = append(c.arena, str...)
	return span{off: n, n: int32(len(str)), inArena: true}
}

// hashed appends the pseudonym of str to the arena; empty stays empty.
func (c *columns) hashed(str string, pii func([]byte, string) []byte) span {
	if str == "" {
		return span{}
	}
	n := len(c.arena)
	c.arena = pii(c.arena, str)
	return span{off: n, n: int32(len(c.arena) - n), inArena: true}
}

// text returns the string of row i at sp.
func (c *columns) text(i int, sp span) string {
	if sp.n == 0 {
		return ""
	}
	if sp.inArena {
		return unsafe.String(&c.arena[sp.off], int(sp.n))
	}
	return unsafe.String(&c.recs[i].Value[sp.off], int(sp.n))
}

// appendTo returns rows [lo, hi) of the columns, in the order of the
// insert's column list, with ingested_at and version set to now. The slices
// are block buffers, overwritten by the next appendTo; their strings view
// the batch's records and arena.
func (c *columns) appendTo(dst []any, lo, hi int, now time.Time) []any {
	n := hi - lo
	for k := range c.blk {
		b := c.blk[k][:0]
		for i, sp := range c.str[k][lo:hi] {
			b = append(b, c.text(lo+i, sp))
		}
		c.blk[k] = b
	}
	c.blkOccurred = c.blkOccurred[:0]
	for _, sec := range c.occurred[lo:hi] {
		c.blkOccurred = append(c.blkOccurred, time.Unix(sec, 0).UTC())
	}
	c.ingested, c.version = c.ingested[:0], c.version[:0]
	v := uint64(now.UnixMilli())
	for range n {
		c.ingested = append(c.ingested, now)
		c.version = append(c.version, v)
	}
	b := &c.blk
	return append(dst, b[cID], b[cType], c.blkOccurred, c.ms[lo:hi], b[cLead], b[cAccount], b[cOwner], b[cSession], b[cSource],
		b[cEmail], b[cPhone], b[cName], b[cCompany], b[cCountry], b[cTitle], b[cProps], c.ingested, c.version)
}

// row returns row i as the values of a row-wise Append (the slow path that
// finds a row the driver refuses).
func (c *columns) row(i int, now time.Time) []any {
	s := &c.str
	return []any{c.text(i, s[cID][i]), c.text(i, s[cType][i]), time.Unix(c.occurred[i], 0).UTC(), c.ms[i],
		c.text(i, s[cLead][i]), c.text(i, s[cAccount][i]), c.text(i, s[cOwner][i]), c.text(i, s[cSession][i]), c.text(i, s[cSource][i]),
		c.text(i, s[cEmail][i]), c.text(i, s[cPhone][i]), c.text(i, s[cName][i]), c.text(i, s[cCompany][i]),
		c.text(i, s[cCountry][i]), c.text(i, s[cTitle][i]), c.text(i, s[cProps][i]), now, uint64(now.UnixMilli())}
}

// filter keeps the rows for which keep(i) is true, in order. The arena
// keeps the bytes of dropped rows until reset.
func (c *columns) filter(keep func(i int) bool) {
	n := 0
	for i := range c.recs {
		if !keep(i) {
			continue
		}
		c.recs[n] = c.recs[i]
		for k := range c.str {
			c.str[k][n] = c.str[k][i]
		}
		c.occurred[n], c.ms[n] = c.occurred[i], c.ms[i]
		n++
	}
	c.truncate(n)
}

// remove drops row i.
func (c *columns) remove(i int) { c.filter(func(j int) bool { return j != i }) }

// reset empties the batch, keeping its buffers and dropping its references.
func (c *columns) reset() {
	c.truncate(0)
	c.arena = c.arena[:0]
}

// truncate keeps the first n rows; the records of the rest, and the block
// buffers' views, are dropped for the GC.
func (c *columns) truncate(n int) {
	clear(c.recs[n:])
	c.recs = c.recs[:n]
	for k := range c.str {
		c.str[k] = c.str[k][:n]
		clear(c.blk[k])
		c.blk[k] = c.blk[k][:0]
	}
	c.occurred, c.ms = c.occurred[:n], c.ms[:n]
}
