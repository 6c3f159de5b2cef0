package sink

import (
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
type columns struct {
	recs     []*kgo.Record // the record of each row: its partition, and its dead letter if refused
	str      [nStr][]string
	occurred []time.Time // occurred_at, whole seconds
	ms       []uint16    // occurred_ms
	ingested []time.Time // filled per insert
	version  []uint64    // filled per insert

	// props holds the rows' properties JSON; the props column views it.
	// Written only past its length, and emptied only when no row is left,
	// so a view never sees its bytes change.
	props []byte
}

func (c *columns) len() int { return len(c.recs) }

// add appends e as a row; propsJSON, when not nil, is the encoding of
// e.Properties (a view of the record, event.DecodeViewJSON); hash, when set,
// pseudonymizes e-mail, phone and name.
func (c *columns) add(rec *kgo.Record, e *event.Event, propsJSON []byte, hash func(string) string) {
	ct := &e.Contact
	email, phone, name := ct.Email, ct.Phone, ct.Name
	if hash != nil {
		email, phone, name = hash(email), hash(phone), hash(name)
	}
	var props string
	switch {
	case len(e.Properties) == 0:
	case propsJSON != nil:
		props = unsafe.String(unsafe.SliceData(propsJSON), len(propsJSON))
	default:
		n := len(c.props)
		c.props = e.Properties.AppendJSON(c.props)
		props = unsafe.String(&c.props[n], len(c.props)-n)
	}
	sec := e.OccurredAt.Truncate(time.Second)
	c.recs = append(c.recs, rec)
	s := &c.str
	s[cID] = append(s[cID], e.ID)
	s[cType] = append(s[cType], string(e.Type))
	s[cLead] = append(s[cLead], e.LeadID)
	s[cAccount] = append(s[cAccount], e.AccountID)
	s[cOwner] = append(s[cOwner], e.OwnerID)
	s[cSession] = append(s[cSession], e.SessionID)
	s[cSource] = append(s[cSource], e.Source)
	s[cEmail] = append(s[cEmail], email)
	s[cPhone] = append(s[cPhone], phone)
	s[cName] = append(s[cName], name)
	s[cCompany] = append(s[cCompany], ct.Company)
	s[cCountry] = append(s[cCountry], ct.Country)
	s[cTitle] = append(s[cTitle], ct.Title)
	s[cProps] = append(s[cProps], props)
	c.occurred = append(c.occurred, sec)
	c.ms = append(c.ms, uint16(e.OccurredAt.Sub(sec)/time.Millisecond))
}

// stamp sets ingested_at and version to now for every row (once per insert).
func (c *columns) stamp(now time.Time) {
	n := c.len()
	c.ingested = c.ingested[:0]
	c.version = c.version[:0]
	v := uint64(now.UnixMilli())
	for range n {
		c.ingested = append(c.ingested, now)
		c.version = append(c.version, v)
	}
}

// appendTo returns rows [lo, hi) of the columns, in the order of the insert's
// column list, as views of the batch's buffers (stamp them first).
func (c *columns) appendTo(dst []any, lo, hi int) []any {
	s := &c.str
	return append(dst, s[cID][lo:hi], s[cType][lo:hi], c.occurred[lo:hi], c.ms[lo:hi], s[cLead][lo:hi], s[cAccount][lo:hi],
		s[cOwner][lo:hi], s[cSession][lo:hi], s[cSource][lo:hi], s[cEmail][lo:hi], s[cPhone][lo:hi], s[cName][lo:hi],
		s[cCompany][lo:hi], s[cCountry][lo:hi], s[cTitle][lo:hi], s[cProps][lo:hi], c.ingested[lo:hi], c.version[lo:hi])
}

// row returns row i as the values of a row-wise Append (the slow path that
// finds a row the driver refuses).
func (c *columns) row(i int, now time.Time) []any {
	s := &c.str
	return []any{s[cID][i], s[cType][i], c.occurred[i], c.ms[i], s[cLead][i], s[cAccount][i], s[cOwner][i], s[cSession][i], s[cSource][i],
		s[cEmail][i], s[cPhone][i], s[cName][i], s[cCompany][i], s[cCountry][i], s[cTitle][i], s[cProps][i], now, uint64(now.UnixMilli())}
}

// filter keeps the rows for which keep(i) is true, in order.
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
	c.props = c.props[:0]
}

// truncate keeps the first n rows; the rest lose their references (records
// and strings) for the GC.
func (c *columns) truncate(n int) {
	clear(c.recs[n:])
	c.recs = c.recs[:n]
	for k := range c.str {
		clear(c.str[k][n:])
		c.str[k] = c.str[k][:n]
	}
	c.occurred, c.ms = c.occurred[:n], c.ms[:n]
	if n == 0 {
		clear(c.ingested)
	}
}
