package sink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
)

// full is an event with every column set.
func full(t testing.TB, id string) (*kgo.Record, event.Event) {
	t.Helper()
	r := canonical(t, id, "lead-"+id, time.Date(2026, 11, 21, 9, 30, 5, 987654321, time.UTC),
		`,"account_id":"acct-`+id+`","owner_id":"rep-1","session_id":"s-`+id+`","source":"Web","contact":{"email":"a@b.example","phone":"+4930123456","name":"Ann Lee","company":"Acme","country":"DE","title":"CTO"}`)
	e, err := event.Decode(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	return r, e
}

// wantRow is the row of e as the insert's column list orders it.
func wantRow(e *event.Event, now time.Time) []any {
	sec := e.OccurredAt.Truncate(time.Second)
	return []any{e.ID, string(e.Type), sec, uint16(e.OccurredAt.Sub(sec) / time.Millisecond), e.LeadID, e.AccountID, e.OwnerID, e.SessionID, e.Source,
		e.Contact.Email, e.Contact.Phone, e.Contact.Name, e.Contact.Company, e.Contact.Country, e.Contact.Title,
		string(e.Properties.AppendJSON(nil)), now, uint64(now.UnixMilli())}
}

func TestColumns(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 456e6, time.UTC)
	var c columns
	var recs []*kgo.Record
	var evs []event.Event
	for i := range 4 {
		r, e := full(t, fmt.Sprint(i))
		r.Partition = int32(i % 2)
		recs, evs = append(recs, r), append(evs, e)
	}
	// Round 0 adds events that own their strings (copied to the arena),
	// round 1 events that view their records (as the sink decodes them),
	// reusing the buffers.
	for round := range 2 {
		for i := range recs {
			if round == 0 {
				c.add(recs[i], &evs[i], nil, nil)
				continue
			}
			var e event.Event
			props, err := event.DecodeViewValid(&e, recs[i].Value)
			if err != nil {
				t.Fatal(err)
			}
			c.add(recs[i], &e, props, nil)
		}
		for i := range c.len() {
			for _, k := range []int{cID, cLead, cEmail, cProps} {
				if sp := c.str[k][i]; sp.inArena != (round == 0) {
					t.Errorf("round %d row %d column %d: in the arena %v", round, i, k, sp.inArena)
				}
			}
		}
		c.remove(1)
		c.filter(func(i int) bool { return c.recs[i].Partition == 0 }) // rows 0 and 2 are left
		if c.len() != 2 {
			t.Fatalf("round %d: %d rows, want 2", round, c.len())
		}
		for i, want := range []int{0, 2} {
			if c.recs[i] != recs[want] {
				t.Errorf("round %d row %d: record of row %d", round, i, want)
			}
			if got, w := fmt.Sprint(c.row(i, now)), fmt.Sprint(wantRow(&evs[want], now)); got != w {
				t.Errorf("round %d row %d:\n got %s\nwant %s", round, i, got, w)
			}
		}
		// The whole batch, then its second row alone (as a block).
		for _, blk := range []struct{ lo, hi int }{{0, 2}, {1, 2}} {
			cols := c.appendTo(nil, blk.lo, blk.hi, now)
			if len(cols) != 18 {
				t.Fatalf("%d columns, want 18", len(cols))
			}
			for k, col := range cols {
				if n := reflect.ValueOf(col).Len(); n != blk.hi-blk.lo {
					t.Fatalf("round %d rows [%d, %d) column %d: %d rows", round, blk.lo, blk.hi, k, n)
				}
				for i, want := range []int{0, 2}[blk.lo:blk.hi] {
					if got, w := fmt.Sprint(index(col, i)), fmt.Sprint(wantRow(&evs[want], now)[k]); got != w {
						t.Errorf("round %d rows [%d, %d) column %d row %d = %s, want %s", round, blk.lo, blk.hi, k, i, got, w)
					}
				}
			}
		}
		c.reset()
		if c.len() != 0 || len(c.arena) != 0 {
			t.Fatalf("reset left %d rows, %d arena bytes", c.len(), len(c.arena))
		}
	}
}

func index(col any, i int) any {
	switch v := col.(type) {
	case []string:
		return v[i]
	case []time.Time:
		return v[i]
	case []uint16:
		return v[i]
	case []uint64:
		return v[i]
	}
	return fmt.Sprintf("unexpected column type %T", col)
}

// TestSinkStoresEveryColumn: a row read back from ClickHouse holds every
// field of its event.
func TestSinkStoresEveryColumn(t *testing.T) {
	h := newHarness(t)
	r, e := full(t, "x")
	h.produce(r)
	_, stop := h.start(nil)
	h.waitCount("SELECT count() FROM "+h.store.DB+".events FINAL", 1)
	stop()
	var got struct {
		id, typ                                                 string
		occurred                                                time.Time
		ms                                                      uint16
		lead, account, owner, session, source                   string
		email, phone, name, company, country, title, properties string
	}
	if err := h.store.Conn.QueryRow(context.Background(), "SELECT "+columnList[:len(columnList)-len(", ingested_at, version")]+" FROM "+h.store.DB+".events FINAL").Scan(
		&got.id, &got.typ, &got.occurred, &got.ms, &got.lead, &got.account, &got.owner, &got.session, &got.source,
		&got.email, &got.phone, &got.name, &got.company, &got.country, &got.title, &got.properties); err != nil {
		t.Fatal(err)
	}
	w := wantRow(&e, time.Time{})
	g := []any{got.id, got.typ, got.occurred.UTC(), got.ms, got.lead, got.account, got.owner, got.session, got.source,
		got.email, got.phone, got.name, got.company, got.country, got.title, got.properties}
	if fmt.Sprint(g) != fmt.Sprint(w[:16]) {
		t.Errorf("stored\n %v\nwant\n %v", g, w[:16])
	}
}

// TestHash: the reused MAC gives HMAC-SHA256(key, value), first 16 bytes in
// hex, for every value in turn; empty stays empty.
func TestHash(t *testing.T) {
	key := []byte("0123456789abcdef")
	s := &Sink{cfg: Config{PIIKey: key}}
	var c columns
	rec := &kgo.Record{Value: []byte(`{}`)}
	values := []string{"ann@example.com", "+4930123456", "", "Ann Lee", "ann@example.com", strings.Repeat("x", 300)}
	for _, v := range values {
		e := event.Event{ID: "e", Contact: event.Contact{Email: v, Phone: v, Name: v, Company: v}}
		c.add(rec, &e, nil, s.appendHash)
	}
	for i, v := range values {
		want := ""
		if v != "" {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(v))
			want = hex.EncodeToString(m.Sum(nil)[:16])
		}
		for _, k := range []int{cEmail, cPhone, cName} {
			if got := c.text(i, c.str[k][i]); got != want {
				t.Errorf("row %d column %d: %q hashed to %q, want %q", i, k, v, got, want)
			}
		}
		if got := c.text(i, c.str[cCompany][i]); got != v {
			t.Errorf("row %d: company %q stored as %q", i, v, got)
		}
	}
}
