package scorer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/crmstream/crmstream/alerts"
	"golang.org/x/sync/errgroup"
)

// AlertWriter publishes alert states (alerts.Writer: ClickHouse + topic).
type AlertWriter interface {
	Write(ctx context.Context, as []alerts.Alert) error
}

// CHSink writes batches to the product's ClickHouse tables: lead_scores,
// lead_current, churn_scores, account_current, late_events, features, and
// the alerts through Alerts. Quiet rows (see Config.HistoryEvery) update
// lead_current / account_current only. Every insert names its columns and
// every table is a ReplacingMergeTree keyed by what the row reflects, so
// writing a batch again (after a crash before the offsets were committed)
// changes nothing once merged.
//
// Safe for concurrent use, and cheaper so: Writes that arrive while another
// is inserting are group-committed — the next insert carries all of them,
// one INSERT per table for the whole process rather than per partition, the
// tables inserted concurrently — and each returns once its rows are durable
// (or with the group's error). Rows go in column by column from buffers
// reused between flushes (Column(i).Append of whole slices; Array columns
// row by row as []*T: no per-value boxing or reflection), each INSERT in
// blocks of blockRows so the driver's own buffers stay one block large.
type CHSink struct {
	Conn   driver.Conn
	DB     string      // database name, already validated (chstore.Store.DB)
	Alerts AlertWriter // nil: alerts are dropped
	// Metrics counts rows written by table; nil: not counted.
	Metrics *Metrics

	mu      sync.Mutex
	queue   []*sinkReq  // Writes waiting for the next insert
	writing bool        // a Write is inserting (it alone uses cols and sets)
	cols    [7]columns  // per table: the inserts run concurrently
	sets    featureSets // the feature sets seen, and which are in feature_sets
}

// featureSets names the feature sets of the rows written: crm.features rows
// carry a set_id, and the set's names go once to crm.feature_sets (they
// were most of each row's bytes and of the server's CPU for the table).
// The id is a hash of the entity and the names, the same in every process,
// so the sets table collapses repeats.
type featureSets struct {
	ids     map[setKey]uint64 // a names slice (shared per set) → its set id
	written map[uint64]bool   // in feature_sets: inserted by a group that succeeded
	group   map[uint64]bool   // sets the current group inserts
}

// setKey is a names slice by identity: FeatureRow.Names are shared and never
// mutated, so hashing them once per slice is enough.
type setKey struct {
	entity string
	first  *string
	n      int
}

// featureSet is one row of crm.feature_sets.
type featureSet struct {
	id     uint64
	entity string
	names  []string
}

// maxSetKeys bounds the slice → id cache should a caller build a fresh
// names slice per row (tests do): it is then cleared and refilled.
const maxSetKeys = 4096

// id returns the set id of (entity, names).
func (fs *featureSets) id(entity string, names []string) uint64 {
	if fs.ids == nil {
		fs.ids, fs.written, fs.group = map[setKey]uint64{}, map[uint64]bool{}, map[uint64]bool{}
	}
	k := setKey{entity: entity, n: len(names)}
	if len(names) > 0 {
		k.first = &names[0]
	}
	id, ok := fs.ids[k]
	if !ok {
		id = setID(entity, names)
		if len(fs.ids) >= maxSetKeys {
			clear(fs.ids)
		}
		fs.ids[k] = id
	}
	return id
}

// setID is FNV-1a (64 bits) of the entity and the names, each ended by a
// zero byte. Never 0, the set_id of rows written before feature_sets.
func setID(entity string, names []string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h *= prime // the zero byte: h ^ 0 == h
	}
	add(entity)
	for _, n := range names {
		add(n)
	}
	return max(h, 1)
}

// groupLinger is how long a fresh group waits for more Writes.
const groupLinger = 5 * time.Millisecond

// sinkReq is one Write waiting in the group.
type sinkReq struct {
	b    *Batch
	done chan sinkResult
}

type sinkResult struct {
	err  error
	lead bool // no result yet: the receiver inserts the next group
}

// Write makes b durable together with any Writes queued meanwhile. An error
// leaves some tables written and others not: the caller retries the whole
// batch, which is idempotent.
func (s *CHSink) Write(ctx context.Context, b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	req := &sinkReq{b: b, done: make(chan sinkResult, 1)}
	s.mu.Lock()
	s.queue = append(s.queue, req)
	if s.writing {
		s.mu.Unlock()
		// Wait even when ctx ends: the inserting Write may be reading b,
		// which the caller reuses once this returns. Its insert is bounded
		// by its own context and the driver's timeouts.
		r := <-req.done
		if !r.lead {
			return r.err
		}
		s.mu.Lock()
	}
	if !s.writing {
		// A fresh group: partitions due at the same flush instant arrive a
		// few milliseconds apart; wait for them, so they share this INSERT
		// rather than queue for the next. (A handed-over group gathered
		// while the previous one was inserting.)
		s.writing = true
		s.mu.Unlock()
		time.Sleep(groupLinger)
		s.mu.Lock()
	}
	group := s.queue
	s.queue = nil
	s.mu.Unlock()

	err := s.writeGroup(ctx, group)
	var mine error
	for _, r := range group {
		if r == req {
			mine = err
		} else {
			r.done <- sinkResult{err: err}
		}
	}
	// Hand the next group to the first Write that queued meanwhile, so no
	// Write inserts more than its own group.
	s.mu.Lock()
	if len(s.queue) > 0 {
		s.queue[0].done <- sinkResult{lead: true}
	} else {
		s.writing = false
	}
	s.mu.Unlock()
	return mine
}

// writeGroup inserts the rows of every batch in reqs, one INSERT per table.
func (s *CHSink) writeGroup(ctx context.Context, reqs []*sinkReq) error {
	start := time.Now()
	var ins inserts
	var nLeads, nChurn, nLate, nFeat, nAlerts int
	for _, r := range reqs {
		nLeads += len(r.b.Leads)
		nChurn += len(r.b.Churn)
		nLate += len(r.b.Late)
		nFeat += len(r.b.Features)
		nAlerts += len(r.b.Alerts)
	}
	if nLeads > 0 {
		c := &s.cols[0]
		c.reset()
		for _, r := range reqs {
			for i := range r.b.Leads {
				l := &r.b.Leads[i]
				if l.Quiet {
					continue
				}
				c.addScore(l.LeadID, l.AccountID, l.OwnerID, l.EventID, l.EventTime, l.ScoredAt, l.Score, l.Probability, l.Tier, l.ModelVersion, l.Reasons)
			}
		}
		written := c.rows()
		if written > 0 {
			ins.add("lead_scores", "lead_id, account_id, owner_id, event_id, event_time, scored_at, score, probability, tier, model_version, reasons", c.s[0], c.s[1], c.s[2], c.s[3], c.t[0], c.t[1], c.u8[0], c.f[0], c.s[4], c.s[5], c.s[6])
		}
		// lead_current: only the newest row per lead of this group;
		// ReplacingMergeTree keeps the highest version across groups.
		c = &s.cols[1]
		c.reset()
		newest := newestPerKey(c.newest(), reqs, func(b *Batch) []LeadScore { return b.Leads },
			func(l *LeadScore) (string, uint64) { return l.LeadID, l.Version })
		for ri, r := range reqs {
			for i := range r.b.Leads {
				l := &r.b.Leads[i]
				if newest[l.LeadID] != [2]int{ri, i} {
					continue
				}
				c.s = grow(c.s, 7)
				c.s[0] = append(c.s[0], l.LeadID)
				c.s[1] = append(c.s[1], l.AccountID)
				c.s[2] = append(c.s[2], l.OwnerID)
				c.t = grow(c.t, 1)
				c.t[0] = append(c.t[0], l.EventTime.UTC())
				c.u8 = grow(c.u8, 2)
				c.u8[0] = append(c.u8[0], l.Score)
				c.f = grow(c.f, 1)
				c.f[0] = append(c.f[0], l.Probability)
				c.s[3] = append(c.s[3], l.Tier)
				c.s[4] = append(c.s[4], l.ModelVersion)
				c.s[5] = append(c.s[5], l.Reasons)
				c.u8[1] = append(c.u8[1], b2u(l.Converted))
				c.u64 = append(c.u64, l.Version)
			}
		}
		ins.add("lead_current", "lead_id, account_id, owner_id, event_time, score, probability, tier, model_version, reasons, converted, version", c.s[0], c.s[1], c.s[2], c.t[0], c.u8[0], c.f[0], c.s[3], c.s[4], c.s[5], c.u8[1], c.u64)
		ins.count("lead_scores", written)
		ins.count("lead_current", len(c.u64))
	}
	if nChurn > 0 {
		c := &s.cols[2]
		c.reset()
		for _, r := range reqs {
			for i := range r.b.Churn {
				a := &r.b.Churn[i]
				if a.Quiet {
					continue
				}
				c.addScore(a.AccountID, a.OwnerID, a.EventID, "", a.EventTime, a.ScoredAt, a.Score, a.Probability, a.Tier, a.ModelVersion, a.Reasons)
			}
		}
		written := c.rows()
		if written > 0 {
			ins.add("churn_scores", "account_id, owner_id, event_id, event_time, scored_at, score, probability, tier, model_version, reasons", c.s[0], c.s[1], c.s[2], c.t[0], c.t[1], c.u8[0], c.f[0], c.s[4], c.s[5], c.s[6])
		}
		c = &s.cols[3]
		c.reset()
		newest := newestPerKey(c.newest(), reqs, func(b *Batch) []ChurnScore { return b.Churn },
			func(a *ChurnScore) (string, uint64) { return a.AccountID, a.Version })
		for ri, r := range reqs {
			for i := range r.b.Churn {
				a := &r.b.Churn[i]
				if newest[a.AccountID] != [2]int{ri, i} {
					continue
				}
				c.s = grow(c.s, 7)
				c.s[0] = append(c.s[0], a.AccountID)
				c.s[1] = append(c.s[1], a.OwnerID)
				c.t = grow(c.t, 1)
				c.t[0] = append(c.t[0], a.EventTime.UTC())
				c.u8 = grow(c.u8, 2)
				c.u8[0] = append(c.u8[0], a.Score)
				c.f = grow(c.f, 2)
				c.f[0] = append(c.f[0], a.Probability)
				c.s[2] = append(c.s[2], a.Tier)
				c.s[3] = append(c.s[3], a.ModelVersion)
				c.s[4] = append(c.s[4], a.Reasons)
				c.s[5] = append(c.s[5], a.Plan)
				c.f[1] = append(c.f[1], a.MRR)
				c.u8[1] = append(c.u8[1], b2u(a.Churned))
				c.u64 = append(c.u64, a.Version)
			}
		}
		ins.add("account_current", "account_id, owner_id, event_time, score, probability, tier, model_version, reasons, plan, mrr, churned, version", c.s[0], c.s[1], c.t[0], c.u8[0], c.f[0], c.s[2], c.s[3], c.s[4], c.s[5], c.f[1], c.u8[1], c.u64)
		ins.count("churn_scores", written)
		ins.count("account_current", len(c.u64))
	}
	if nLate > 0 {
		c := &s.cols[4]
		c.reset()
		c.s, c.t = grow(c.s, 3), grow(c.t, 3)
		for _, r := range reqs {
			for i := range r.b.Late {
				l := &r.b.Late[i]
				c.s[0] = append(c.s[0], l.EventID)
				c.s[1] = append(c.s[1], l.Key)
				c.s[2] = append(c.s[2], l.Type)
				c.t[0] = append(c.t[0], l.OccurredAt.UTC())
				c.t[1] = append(c.t[1], l.Watermark.UTC())
				c.i32 = append(c.i32, l.Partition)
				c.t[2] = append(c.t[2], l.ReceivedAt.UTC())
			}
		}
		ins.add("late_events", "event_id, key, type, occurred_at, watermark, partition, received_at", c.s[0], c.s[1], c.s[2], c.t[0], c.t[1], c.i32, c.t[2])
		ins.count("late_events", nLate)
	}
	var newSets []featureSet
	if nFeat > 0 {
		c := &s.cols[5]
		c.reset()
		c.s, c.t = grow(c.s, 3), grow(c.t, 1)
		for _, r := range reqs {
			for i := range r.b.Features {
				f := &r.b.Features[i]
				if f.Quiet {
					continue
				}
				id := s.sets.id(f.Entity, f.Names)
				if !s.sets.written[id] && !s.sets.group[id] {
					s.sets.group[id] = true
					newSets = append(newSets, featureSet{id: id, entity: f.Entity, names: f.Names})
				}
				c.s[0] = append(c.s[0], f.Entity)
				c.s[1] = append(c.s[1], f.EntityID)
				c.s[2] = append(c.s[2], f.EventID)
				c.t[0] = append(c.t[0], f.EventTime.UTC())
				c.u64 = append(c.u64, id)
				c.values = append(c.values, f.Values)
			}
		}
		if len(c.u64) > 0 {
			// names stay empty: they go once per set to feature_sets.
			ins.add("features", "entity, entity_id, event_id, event_time, set_id, values", c.s[0], c.s[1], c.s[2], c.t[0], c.u64, c.values)
		}
		ins.count("features", len(c.u64))
		if len(newSets) > 0 {
			c := &s.cols[6]
			c.reset()
			c.s, c.t = grow(c.s, 1), grow(c.t, 1)
			now := time.Now().UTC()
			for _, fs := range newSets {
				c.u64 = append(c.u64, fs.id)
				c.s[0] = append(c.s[0], fs.entity)
				c.names = append(c.names, fs.names)
				c.t[0] = append(c.t[0], now)
			}
			ins.add("feature_sets", "set_id, entity, names, created_at", c.u64, c.s[0], c.names, c.t[0])
			ins.count("feature_sets", len(newSets))
		}
	}
	err := ins.run(ctx, s)
	clear(s.sets.group)
	for i := range s.cols {
		s.cols[i].reset() // drop references to the callers' strings and slices
	}
	if err != nil {
		return err
	}
	for _, fs := range newSets {
		s.sets.written[fs.id] = true // durable: later groups leave it out (a failed group's retry does not)
	}
	if nAlerts > 0 && s.Alerts != nil {
		as := make([]alerts.Alert, 0, nAlerts)
		for _, r := range reqs {
			as = append(as, r.b.Alerts...)
		}
		if err := s.Alerts.Write(ctx, as); err != nil {
			return fmt.Errorf("write %d alerts: %w", nAlerts, err)
		}
		s.count("alerts", nAlerts)
	}
	if s.Metrics != nil {
		s.Metrics.flush.Observe(time.Since(start).Seconds())
	}
	return nil
}

// inserts are a group's INSERTs, one per table, run concurrently: a
// group's latency is its slowest table, not the sum.
type inserts struct {
	jobs   []insertJob
	counts []tableCount
}

type insertJob struct {
	table, names string
	cols         []any
}

type tableCount struct {
	table string
	n     int
}

func (in *inserts) add(table, names string, cols ...any) {
	in.jobs = append(in.jobs, insertJob{table, names, cols})
}

func (in *inserts) count(table string, n int) { in.counts = append(in.counts, tableCount{table, n}) }

func (in *inserts) run(ctx context.Context, s *CHSink) error {
	var g errgroup.Group
	for _, j := range in.jobs {
		g.Go(func() error { return s.insert(ctx, j.table, j.names, j.cols...) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, c := range in.counts {
		s.count(c.table, c.n)
	}
	return nil
}

func (s *CHSink) count(table string, n int) {
	if s.Metrics != nil {
		s.Metrics.rows.WithLabelValues(table).Add(float64(n))
	}
}

// blockRows bounds the rows of one block of an INSERT. The driver's column
// buffers are fresh for every INSERT and reused between its blocks: sent in
// blocks they grow to one block once, instead of growing to the whole group
// by repeated copies (most of the sink's allocation and copying). The server
// squashes the blocks of one INSERT into the same parts as a single block
// (checked on 18.16). 256 measured best of 256/512/1,024 (BenchmarkCHSinkWrite).
const blockRows = 256

// insert sends one INSERT whose columns, in order, are the slices cols (all
// of one length), in blocks of at most blockRows rows. The rows are durable
// once it returns nil; on error some blocks may be written: the caller
// retries the whole group, which rewrites the same keys.
func (s *CHSink) insert(ctx context.Context, table, names string, cols ...any) error {
	n, err := columnLen(cols[0])
	if err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	bt, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+"."+table+" ("+names+")")
	if err != nil {
		return fmt.Errorf("prepare %s batch: %w", table, err)
	}
	defer bt.Close()
	for lo := 0; lo < n; lo += blockRows {
		if lo > 0 {
			if err := bt.Flush(); err != nil {
				return fmt.Errorf("send %s block: %w", table, err)
			}
		}
		hi := min(lo+blockRows, n)
		for i, col := range cols {
			if err := appendColumn(bt.Column(i), col, lo, hi); err != nil {
				return fmt.Errorf("append %s column %d: %w", table, i, err)
			}
		}
	}
	if err := bt.Send(); err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	return nil
}

// columnLen is the number of rows of a column slice.
func columnLen(col any) (int, error) {
	switch v := col.(type) {
	case []string:
		return len(v), nil
	case []time.Time:
		return len(v), nil
	case []uint8:
		return len(v), nil
	case []float64:
		return len(v), nil
	case []int32:
		return len(v), nil
	case []uint64:
		return len(v), nil
	case [][]string:
		return len(v), nil
	case [][]float64:
		return len(v), nil
	}
	return 0, fmt.Errorf("unsupported column type %T", col)
}

// appendColumn appends rows [lo, hi) of the column slice col to c.
func appendColumn(c driver.BatchColumn, col any, lo, hi int) error {
	switch v := col.(type) {
	case []string:
		return c.Append(v[lo:hi])
	case []time.Time:
		return c.Append(v[lo:hi])
	case []uint8:
		return c.Append(v[lo:hi])
	case []float64:
		return c.Append(v[lo:hi])
	case []int32:
		return c.Append(v[lo:hi])
	case []uint64:
		return c.Append(v[lo:hi])
	case [][]string:
		return appendArrays(c, v[lo:hi])
	case [][]float64:
		return appendArrays(c, v[lo:hi])
	}
	return fmt.Errorf("unsupported column type %T", col)
}

// appendArrays appends rows to an Array column, row by row as []*T:
// pointers into the row. The driver's Append of a whole [][]T reflects on
// every element, and AppendRow of a []T boxes each element into an
// interface (an allocation per string or float); a pointer boxes for free.
func appendArrays[T any](c driver.BatchColumn, rows [][]T) error {
	var ptrs []*T
	for _, r := range rows {
		ptrs = ptrs[:0]
		for i := range r {
			ptrs = append(ptrs, &r[i])
		}
		if err := c.AppendRow(ptrs); err != nil {
			return err
		}
	}
	return nil
}

// columns are the insert buffers, kept between flushes (used by one insert
// at a time).
type columns struct {
	s      [][]string
	t      [][]time.Time
	u8     [][]uint8
	f      [][]float64
	i32    []int32
	u64    []uint64
	names  [][]string
	values [][]float64
	seen   map[string][2]int
}

// reset empties every buffer, keeping capacity and dropping references.
func (c *columns) reset() {
	for i := range c.s {
		clear(c.s[i])
		c.s[i] = c.s[i][:0]
	}
	for i := range c.t {
		c.t[i] = c.t[i][:0]
	}
	for i := range c.u8 {
		c.u8[i] = c.u8[i][:0]
	}
	for i := range c.f {
		c.f[i] = c.f[i][:0]
	}
	c.i32, c.u64 = c.i32[:0], c.u64[:0]
	clear(c.names)
	clear(c.values)
	c.names, c.values = c.names[:0], c.values[:0]
	clear(c.seen)
}

// rows is the number of score rows added by addScore since reset.
func (c *columns) rows() int {
	if len(c.u8) == 0 {
		return 0
	}
	return len(c.u8[0])
}

// newest returns the emptied map of newest row per key.
// newestPerKey fills m with, for each key, the position (request, row) of
// its row with the highest version across the group (ties: the later row):
// the only row of that key the *_current tables need.
func newestPerKey[T any](m map[string][2]int, reqs []*sinkReq, rows func(*Batch) []T, id func(*T) (string, uint64)) map[string][2]int {
	for ri, r := range reqs {
		rs := rows(r.b)
		for i := range rs {
			k, v := id(&rs[i])
			if j, ok := m[k]; ok {
				if _, prev := id(&rows(reqs[j[0]].b)[j[1]]); v < prev {
					continue
				}
			}
			m[k] = [2]int{ri, i}
		}
	}
	return m
}

func (c *columns) newest() map[string][2]int {
	if c.seen == nil {
		c.seen = make(map[string][2]int)
	}
	clear(c.seen)
	return c.seen
}

// addScore appends one score row: strings s[0..6] = id1, id2, id3, id4
// (unused for churn), tier, model version, reasons.
func (c *columns) addScore(id1, id2, id3, id4 string, eventTime, scoredAt time.Time, score uint8, p float64, tier, model, reasons string) {
	c.s, c.t, c.u8, c.f = grow(c.s, 7), grow(c.t, 2), grow(c.u8, 1), grow(c.f, 1)
	c.s[0] = append(c.s[0], id1)
	c.s[1] = append(c.s[1], id2)
	c.s[2] = append(c.s[2], id3)
	c.s[3] = append(c.s[3], id4)
	c.s[4] = append(c.s[4], tier)
	c.s[5] = append(c.s[5], model)
	c.s[6] = append(c.s[6], reasons)
	c.t[0] = append(c.t[0], eventTime.UTC())
	c.t[1] = append(c.t[1], scoredAt.UTC())
	c.u8[0] = append(c.u8[0], score)
	c.f[0] = append(c.f[0], p)
}

// grow makes sure xs has at least n buffers.
func grow[T any](xs [][]T, n int) [][]T {
	for len(xs) < n {
		xs = append(xs, nil)
	}
	return xs
}
