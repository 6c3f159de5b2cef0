package scorer

import (
	"context"
	"hash/fnv"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
	"github.com/crmstream/crmstream/simulator"
	"github.com/crmstream/crmstream/windows"
)

// BenchmarkCHServer measures what each table costs the ClickHouse server:
// CPU per row for the INSERTs (UserTime + SystemTime of system.query_log)
// and for the background merges they cause (the server process's CPU from
// /proc, until no merge runs, less its idle rate and less every logged
// query). Rows are the scorer's real output for a simulated stream, as the
// benchmark harness feeds it (bench.Data: simulator events replayed, event
// times set to arrival times at CRM_CH_COST_RATE events/s), from 4
// partition workers with the learned models, alerts, features and history
// thinning, group-committed every second of events; crm.events gets the
// ingest sink's rows of the same events. Each table is measured alone, in
// a fresh database whose other tables are Null.
//
// It needs a server to itself (any other client's work would be counted):
//
//	CRM_TEST_CLICKHOUSE_ADDR=127.0.0.1:19000 CRM_CH_COST_PID=<its pid> \
//	  go test -run '^$' -bench CHServer -benchtime 1x -v ./scorer/
//
// CRM_CH_COST_EVENTS (default 200,000), CRM_CH_COST_COMPRESSION (lz4, zstd,
// none; default lz4), CRM_CH_COST_TABLES (comma-separated; default all).
// Skipped without CRM_CH_COST_PID.
func BenchmarkCHServer(b *testing.B) {
	pid := os.Getenv("CRM_CH_COST_PID")
	if pid == "" {
		b.Skip("CRM_CH_COST_PID not set: needs a ClickHouse server of its own")
	}
	events := envInt(b, "CRM_CH_COST_EVENTS", 200_000)
	rate := envInt(b, "CRM_CH_COST_RATE", 36_000)
	tables := []string{"lead_scores", "lead_current", "churn_scores", "account_current", "features", "late_events", "events"}
	if s := os.Getenv("CRM_CH_COST_TABLES"); s != "" {
		tables = strings.Split(s, ",")
	}
	evs := costEvents(b, events, rate)
	groups := costGroups(b, evs, rate)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
	idle := idleRate(b, pid)
	b.Logf("%d events, %d groups, server idle %.1f ms CPU/s, compression %q", len(evs), len(groups), idle*1e3, os.Getenv("CRM_CH_COST_COMPRESSION"))
	var totalPerEvent float64
	for b.Loop() {
		totalPerEvent = 0
		for _, table := range tables {
			c := measureTable(b, ctx, pid, idle, table, evs, groups)
			perRow := func(d time.Duration) float64 {
				if c.rows == 0 {
					return 0
				}
				return float64(d.Microseconds()) / float64(c.rows)
			}
			perEvent := float64((c.insert + c.merge).Microseconds()) / float64(len(evs))
			totalPerEvent += perEvent
			b.Logf("%-16s rows/event %.3f  inserts %3d  insert %6.2f µs/row  merge %6.2f µs/row  total %6.2f µs/row  = %5.2f µs/event  (null tables %.2f µs/event, parts %d; B/row inserted %.0f, read by merges %.0f)",
				table, float64(c.rows)/float64(len(evs)), c.inserts, perRow(c.insert), perRow(c.merge), perRow(c.insert+c.merge), perEvent,
				float64(c.other.Microseconds())/float64(len(evs)), c.parts, float64(c.newBytes)/float64(max(c.rows, 1)), float64(c.mergedBytes)/float64(max(c.rows, 1)))
		}
	}
	b.ReportMetric(totalPerEvent, "server-µs/event")
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// costEvents is the harness's stream (bench.Data): a pool of simulated
// events replayed in cycles with fresh ids, event times = arrival times.
func costEvents(b *testing.B, n, rate int) []event.Event {
	sc := simulator.DefaultConfig()
	sc.Seed, sc.Leads, sc.Accounts, sc.Span, sc.IDPrefix = 1, 200_000, 5_000, 30*24*time.Hour, "b"
	g, err := simulator.New(sc, nil)
	if err != nil {
		b.Fatal(err)
	}
	var pool []event.Event
	var e event.Event
	for len(pool) < 20_000 && g.Next(&e) {
		pool = append(pool, e)
	}
	evs := make([]event.Event, n)
	for i := range evs {
		e := pool[i%len(pool)]
		if cycle := i / len(pool); cycle > 0 {
			sfx := "~" + strconv.Itoa(cycle)
			e.ID += sfx
			for _, id := range []*string{&e.LeadID, &e.AccountID, &e.SessionID} {
				if *id != "" {
					*id += sfx
				}
			}
		}
		e.OccurredAt = base.Add(time.Duration(i) * time.Second / time.Duration(rate))
		evs[i] = e
	}
	return evs
}

// costGroups runs evs through 4 partition workers (keys hashed to
// partitions) and returns the batches of each group commit: every
// partition's rows of one second of events.
func costGroups(b *testing.B, evs []event.Event, rate int) [][]*Batch {
	const parts = 4
	var ws [parts]*Worker
	var hs [parts]*history
	det := benchDetector(b)
	for p := range ws {
		clock := func() time.Time { return base }
		ws[p] = NewWorker(WorkerConfig{Partition: int32(p), Windows: windows.Config{Mode: windows.Backfill}, Now: clock,
			Models: testModels(b), Detector: det, Features: true})
		hs[p] = newHistory(DefaultHistoryEvery)
	}
	var groups [][]*Batch
	flush := func() {
		var g []*Batch
		for p, w := range ws {
			rec := &recordSink{}
			if err := w.Flush(context.Background(), historySink{h: hs[p], next: rec}); err != nil {
				b.Fatal(err)
			}
			if rec.b != nil {
				g = append(g, rec.b)
			}
		}
		groups = append(groups, g)
	}
	for i := range evs {
		h := fnv.New32a()
		h.Write([]byte(evs[i].Key()))
		ws[h.Sum32()%parts].Process(int64(i), &evs[i])
		if (i+1)%rate == 0 {
			flush()
		}
	}
	flush()
	return groups
}

// recordSink keeps a deep copy of the batch it is given.
type recordSink struct{ b *Batch }

func (r *recordSink) Write(_ context.Context, b *Batch) error {
	c := &Batch{Leads: slices.Clone(b.Leads), Churn: slices.Clone(b.Churn), Late: slices.Clone(b.Late), Features: slices.Clone(b.Features)}
	for i := range c.Features {
		c.Features[i].Values = slices.Clone(c.Features[i].Values)
	}
	r.b = c
	return nil
}

// tableCost is one table's measured server cost.
type tableCost struct {
	rows, inserts, parts uint64
	// Uncompressed bytes inserted (query_log) and read by merges
	// (part_log, when the server keeps it): less noisy than CPU time.
	newBytes, mergedBytes uint64
	insert, merge         time.Duration // server CPU of the table's INSERTs, of the merges
	other                 time.Duration // the Null tables' INSERTs, not counted
}

var scorerTables = []string{"lead_scores", "lead_current", "churn_scores", "account_current", "features", "late_events"}

func measureTable(b *testing.B, ctx context.Context, pid string, idle float64, table string, evs []event.Event, groups [][]*Batch) tableCost {
	cfg := chtest.Config()
	cfg.Compression = os.Getenv("CRM_CH_COST_COMPRESSION")
	// Set-up statements are not logged: only the measured ones count.
	setup := context.Background()
	store, err := chstore.Open(setup, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer chtest.Drop(b, store)
	if err := store.Migrate(setup); err != nil {
		b.Fatal(err)
	}
	// Every other table the scorer writes discards its rows.
	for _, t := range scorerTables {
		if t == table {
			continue
		}
		for _, q := range []string{
			"RENAME TABLE " + store.Table(t) + " TO " + store.Table(t+"_real"),
			"CREATE TABLE " + store.Table(t) + " AS " + store.Table(t+"_real") + " ENGINE = Null",
			"DROP TABLE " + store.Table(t+"_real"),
		} {
			if err := store.Conn.Exec(setup, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}
	cpu0, t0 := procCPU(b, pid), time.Now()
	if table == "events" {
		insertEvents(b, ctx, store, evs, len(evs)/len(groups))
	} else {
		sink := &CHSink{Conn: store.Conn, DB: store.DB}
		for _, g := range groups {
			reqs := make([]*sinkReq, len(g))
			for i, bt := range g {
				reqs[i] = &sinkReq{b: bt}
			}
			if err := sink.writeGroup(ctx, reqs); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Merges settle: none running for 3 polls in a row.
	for quiet := 0; quiet < 3; {
		time.Sleep(500 * time.Millisecond)
		var n uint64
		if err := store.Conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = '"+store.DB+"'").Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	cpu1, t1 := procCPU(b, pid), time.Now()
	costs, err := chtest.InsertCosts(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	var c tableCost
	var queries time.Duration
	for t, ic := range costs {
		queries += ic.CPU
		switch t {
		case table:
			c.inserts, c.insert, c.newBytes = ic.Inserts, ic.CPU, ic.Bytes
		case "":
		default:
			c.other += ic.CPU
		}
		// The funnel view's rows are counted on its own table.
		if t == table && table != "events" {
			c.rows = ic.Rows
		}
	}
	if table == "events" {
		c.rows = uint64(len(evs))
	}
	c.merge = cpu1 - cpu0 - queries - time.Duration(idle*float64(t1.Sub(t0)))
	if err := store.Conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE active AND database = ? AND table = ?", store.DB, table).Scan(&c.parts); err != nil {
		b.Fatal(err)
	}
	if err := store.Conn.QueryRow(ctx, "SELECT sum(read_bytes) FROM system.part_log WHERE event_type = 2 AND database = ? AND table = ?",
		store.DB, table).Scan(&c.mergedBytes); err != nil {
		b.Logf("no part_log: %v", err)
	}
	return c
}

// insertEvents writes the ingest sink's rows of evs to crm.events, per
// insert of n rows.
func insertEvents(b *testing.B, ctx context.Context, store *chstore.Store, evs []event.Event, n int) {
	now := base
	for lo := 0; lo < len(evs); lo += n {
		bt, err := store.Conn.PrepareBatch(ctx, "INSERT INTO "+store.Table("events")+" (event_id, type, occurred_at, occurred_ms, lead_id, account_id, owner_id, session_id, source, email, phone, name, company, country, title, properties, ingested_at, version)")
		if err != nil {
			b.Fatal(err)
		}
		var props []byte
		for i := lo; i < min(lo+n, len(evs)); i++ {
			e := &evs[i]
			sec := e.OccurredAt.Truncate(time.Second)
			props = e.Properties.AppendJSON(props[:0])
			if len(e.Properties) == 0 {
				props = props[:0]
			}
			if err := bt.Append(e.ID, string(e.Type), sec, uint16(e.OccurredAt.Sub(sec)/time.Millisecond), e.LeadID, e.AccountID, e.OwnerID, e.SessionID, e.Source,
				e.Contact.Email, e.Contact.Phone, e.Contact.Name, e.Contact.Company, e.Contact.Country, e.Contact.Title, string(props), now, uint64(now.UnixMilli())); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Send(); err != nil {
			b.Fatal(err)
		}
	}
}

// procCPU is the CPU process pid has used so far.
func procCPU(b *testing.B, pid string) time.Duration {
	n, err := strconv.Atoi(pid)
	if err != nil {
		b.Fatalf("CRM_CH_COST_PID %q: %v", pid, err)
	}
	d, err := benchcpu.Process(n)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// idleRate is the server's CPU per second of wall time while nobody uses it.
func idleRate(b *testing.B, pid string) float64 {
	c0, t0 := procCPU(b, pid), time.Now()
	time.Sleep(5 * time.Second)
	return float64(procCPU(b, pid)-c0) / float64(time.Since(t0))
}
