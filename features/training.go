package features

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// Label defines the outcome a training example is labelled with: an event
// of one of Types after the example's as-of time and at most Horizon after
// its start (lead_created for leads).
type Label struct {
	Types   []event.Type
	Horizon windows.Span
	// FromAsOf counts the horizon from the as-of time instead of the start
	// (churn: "cancels within 30 days of now").
	FromAsOf bool
}

// LeadLabel is conversion within 90 days of lead_created.
func LeadLabel() Label {
	return Label{Types: []event.Type{event.DealWon, event.SubscriptionStarted}, Horizon: 90 * windows.Day}
}

func (l *Label) base() string {
	if l.FromAsOf {
		return "_asof"
	}
	return "_start"
}

// ChurnLabel is a cancellation within 30 days of the as-of time.
func ChurnLabel() Label {
	return Label{Types: []event.Type{event.SubscriptionCancelled}, Horizon: 30 * windows.Day, FromAsOf: true}
}

// Query builds the ClickHouse SQL that computes a Set's features for many
// keys, each as known at its own point in time, from DB.events. The spine
// (which keys, as of when) is either explicit (Keys and AsOf) or every key
// with a StartType event between From and To, observed at Offsets after
// that event.
type Query struct {
	Set *Set
	DB  string // database holding the events table

	Keys []string      // explicit spine: keys ...
	AsOf []windows.Sec // ... and their as-of times (start = as-of)

	StartType event.Type     // spine from events: e.g. lead_created
	From, To  windows.Sec    // start times in [From, To)
	Offsets   []windows.Span // as-of = start + offset; default {0}
	Cutoff    windows.Sec    // data known until; as-of times after it are dropped; 0 = no limit

	Label *Label // optional: adds the label and drops examples already positive at as-of or not yet known at Cutoff
}

// Example is one row of a training set.
type Example struct {
	Key    string
	Start  windows.Sec
	AsOf   windows.Sec
	Label  bool
	Vector Vector
}

// SQL returns the query text and its arguments. It runs on ClickHouse
// 18.16 and later: -If combinators over one scan of the key's events,
// JSON properties read with visitParamExtract*, no window functions.
func (q *Query) SQL() (string, []any, error) {
	s := q.Set
	if s == nil || !validIdent(q.DB) {
		return "", nil, fmt.Errorf("training query: set and a valid database name are required")
	}
	ent := s.entity
	var b strings.Builder
	var args []any
	b.WriteString("SELECT " + ent + " AS _key, _start, _asof")
	if q.Label != nil {
		lf := typesSQL(q.Label.Types)
		fmt.Fprintf(&b, ",\n  maxIf(toUInt8(1), %s AND ts > _asof AND ts <= %s + %d) AS _label", lf, q.Label.base(), q.Label.Horizon)
		fmt.Fprintf(&b, ",\n  maxIf(toUInt8(1), %s AND ts <= _asof) AS _done", lf)
	}
	for i := range s.defs {
		for _, c := range s.rawSQL(i) {
			b.WriteString(",\n  " + c)
		}
	}
	cols := []string{ent, "toUInt32(occurred_at) AS ts", "type", "properties", "session_id", "source", "owner_id",
		"country", "title", "company"}
	if ent != "lead_id" {
		cols = append(cols, "lead_id")
	}
	fmt.Fprintf(&b, "\nFROM (SELECT %s FROM %s.events FINAL WHERE %s != '') ", strings.Join(cols, ", "), q.DB, ent)
	b.WriteString("\nALL INNER JOIN (")
	switch {
	case len(q.Keys) > 0:
		if len(q.Keys) != len(q.AsOf) {
			return "", nil, fmt.Errorf("training query: %d keys, %d as-of times", len(q.Keys), len(q.AsOf))
		}
		asof := make([]uint32, len(q.AsOf))
		for i, t := range q.AsOf {
			asof[i] = uint32(t)
		}
		fmt.Fprintf(&b, "SELECT DISTINCT tupleElement(_p, 1) AS %s, toUInt32(tupleElement(_p, 2)) AS _asof, _asof AS _start"+
			" FROM (SELECT arrayJoin(arrayMap((k, t) -> (k, t), ?, ?)) AS _p)", ent)
		args = append(args, q.Keys, asof)
	case q.StartType != "":
		offs := q.Offsets
		if len(offs) == 0 {
			offs = []windows.Span{0}
		}
		os := make([]string, len(offs))
		for i, o := range offs {
			os[i] = strconv.FormatUint(uint64(o), 10)
		}
		fmt.Fprintf(&b, "SELECT DISTINCT %s, _start, toUInt32(_start + _off) AS _asof FROM ("+
			"SELECT %s, toUInt32(min(occurred_at)) AS _start FROM %s.events FINAL WHERE type = %s AND %s != '' GROUP BY %s"+
			" HAVING _start >= %d AND _start < %d) ARRAY JOIN [%s] AS _off",
			ent, ent, q.DB, quote(string(q.StartType)), ent, ent, q.From, q.To, strings.Join(os, ", "))
		if q.Cutoff != 0 {
			fmt.Fprintf(&b, " WHERE _start + _off <= %d", q.Cutoff)
		}
	default:
		return "", nil, fmt.Errorf("training query: no spine (Keys or StartType)")
	}
	fmt.Fprintf(&b, ") USING %s\nGROUP BY %s, _start, _asof", ent, ent)
	if q.Label != nil {
		b.WriteString("\nHAVING _done = 0")
		if q.Cutoff != 0 {
			fmt.Fprintf(&b, " AND (_label = 1 OR %s + %d <= %d)", q.Label.base(), q.Label.Horizon, q.Cutoff)
		}
	}
	b.WriteString("\nORDER BY _asof, _key")
	return b.String(), args, nil
}

// rawSQL returns the aggregate columns of definition i, matching raw.
func (s *Set) rawSQL(i int) []string {
	d := &s.defs[i]
	f := ""
	if d.Agg != MaxRank {
		f = s.filterSQL(s.defFilter[i]) + " AND "
	}
	f += "ts <= _asof"
	name := "_d" + strconv.Itoa(i)
	switch d.Agg {
	case Count:
		if d.Window.Size != 0 {
			g, k := uint64(d.Window.Gran), d.Window.buckets()
			f += fmt.Sprintf(" AND intDiv(ts, %d) + %d > intDiv(_asof, %d)", g, k, g)
		}
		return []string{fmt.Sprintf("toFloat64(countIf(%s)) AS %s", f, name)}
	case Sum:
		return []string{fmt.Sprintf("toFloat64(sumIf(%s, %s AND %s)) AS %s", numSQL(d.Field), f, hasSQL(d.Field), name)}
	case LastNum:
		return []string{fmt.Sprintf("toFloat64(argMaxIf(%s, ts, %s AND %s)) AS %s", numSQL(d.Field), f, hasSQL(d.Field), name)}
	case LastStr:
		x := strSQL(d.Field)
		return []string{fmt.Sprintf("argMaxIf(%s, ts, %s AND %s != '') AS %s", x, f, x, name)}
	case Distinct:
		x := strSQL(d.Field)
		h := "cityHash64(" + x + ")"
		bit := "bitShiftLeft(toUInt64(1), " + h + " % 64)"
		return []string{
			fmt.Sprintf("toUInt64(groupBitOrIf(%s, %s AND %s != '' AND %s %% 128 < 64)) AS %s_0", bit, f, x, h, name),
			fmt.Sprintf("toUInt64(groupBitOrIf(%s, %s AND %s != '' AND %s %% 128 >= 64)) AS %s_1", bit, f, x, h, name),
		}
	case SinceLast:
		return []string{fmt.Sprintf("toUInt32(maxIf(ts, %s)) AS %s", f, name)}
	case SinceFirst:
		return []string{fmt.Sprintf("toUInt32(minIf(ts, %s)) AS %s", f, name)}
	case Decay:
		return []string{fmt.Sprintf("toFloat64(sumIf(exp2(-(toFloat64(_asof) - toFloat64(ts)) / %d), %s)) AS %s", d.HalfLife, f, name)}
	case MaxRank:
		rs := slices.Clone(d.Ranks)
		slices.SortStableFunc(rs, func(a, b Rank) int { return int(b.Rank) - int(a.Rank) })
		var m strings.Builder
		m.WriteString("multiIf(")
		for _, r := range rs {
			fi := slices.IndexFunc(s.filters, func(x Filter) bool { return x.Name == r.Filter })
			fmt.Fprintf(&m, "%s, %d, ", s.filterSQL(fi), r.Rank)
		}
		m.WriteString("0)")
		return []string{fmt.Sprintf("toFloat64(maxIf(%s, %s)) AS %s", m.String(), f, name)}
	}
	return nil
}

func (s *Set) filterSQL(fi int) string {
	f := &s.filters[fi]
	c := typesSQL(f.Types)
	if f.Prop != "" {
		vs := make([]string, len(f.Values))
		for i, v := range f.Values {
			vs[i] = quote(v)
		}
		c = "(" + c + " AND visitParamExtractString(properties, " + quote(f.Prop) + ") IN (" + strings.Join(vs, ", ") + "))"
	}
	return c
}

func typesSQL(ts []event.Type) string {
	if len(ts) == 0 {
		return "1"
	}
	qs := make([]string, len(ts))
	for i, t := range ts {
		qs[i] = quote(string(t))
	}
	return "type IN (" + strings.Join(qs, ", ") + ")"
}

var columnSQL = map[string]string{"$session_id": "session_id", "$lead_id": "lead_id", "$source": "source",
	"$owner_id": "owner_id", "$country": "country", "$title": "title", "$company": "company"}

func strSQL(field string) string {
	if c, ok := columnSQL[field]; ok {
		return c
	}
	return "visitParamExtractString(properties, " + quote(field) + ")"
}

func numSQL(field string) string { return "visitParamExtractFloat(properties, " + quote(field) + ")" }

func hasSQL(field string) string { return "visitParamHas(properties, " + quote(field) + ")" }

// quote returns s as a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Read runs the query on conn and calls fn for each example, in as-of
// order. The Example (and its Vector) is reused between calls: copy what
// you keep (Vector.AppendBinary, or a fresh Vector per example with
// Set.FromRow semantics).
func (q *Query) Read(ctx context.Context, conn driver.Conn, fn func(*Example) error) error {
	text, args, err := q.SQL()
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, text, args...)
	if err != nil {
		return fmt.Errorf("training query %s: %w", q.Set.name, err)
	}
	defer rows.Close()
	s := q.Set
	var ex Example
	var start, asof uint32
	var label, done uint8
	raws := make([]raw, len(s.defs))
	times := make([]uint32, len(s.defs))
	dest := []any{&ex.Key, &start, &asof}
	if q.Label != nil {
		dest = append(dest, &label, &done)
	}
	for i := range s.defs {
		r := &raws[i]
		switch s.defs[i].Agg {
		case LastStr:
			dest = append(dest, &r.s)
		case Distinct:
			dest = append(dest, &r.b[0], &r.b[1])
		case SinceLast, SinceFirst:
			dest = append(dest, &times[i])
		default:
			dest = append(dest, &r.f)
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("training query %s: scan: %w", s.name, err)
		}
		ex.Start, ex.AsOf, ex.Label = windows.Sec(start), windows.Sec(asof), label == 1
		ex.Vector.reset(s, ex.AsOf)
		for i := range raws {
			ex.Vector.raw[i] = raws[i]
			ex.Vector.raw[i].t = windows.Sec(times[i])
			switch s.defs[i].Agg {
			case LastNum:
				ex.Vector.raw[i].f = float64(float32(raws[i].f)) // the state keeps float32
			case Decay:
				ex.Vector.raw[i].t = ex.AsOf // decayed to as-of by the SQL already
			}
		}
		ex.Vector.finalize()
		if err := fn(&ex); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("training query %s: %w", s.name, err)
	}
	return nil
}
