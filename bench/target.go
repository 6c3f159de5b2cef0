package bench

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Target names.
const (
	Crmstream = "crmstream"
	Floor     = "floor"
	Goka      = "goka"
)

// childSpec is one process to start for a target.
type childSpec struct {
	name      string
	bin       string
	args, env []string
	pprof     string // host:port of its pprof listener, "" if none
}

// runEnv is what a target's processes need to know about one run.
type runEnv struct {
	brokers  string
	chAddr   string
	db       string
	binDir   string
	stateDir string
	port     func() (int, error)
}

// target describes one system under test.
type target struct {
	name     string
	groups   int // consumer groups it runs (progress is the slowest)
	children func(r runEnv) ([]childSpec, error)
	probe    probeQuery
}

func (h *Harness) target(name string) (target, error) {
	switch name {
	case Crmstream:
		groups := 2
		if h.cfg.Scorer {
			groups = 3
		}
		var probe probeQuery = currentScoreQuery{}
		if !h.cfg.Scorer {
			probe = leadEventQuery{table: "events"}
		}
		return target{name: name, groups: groups, children: h.crmstreamChildren, probe: probe}, nil
	case Floor:
		return target{name: name, groups: 1, probe: offsetQuery{table: "floor_events"},
			children: func(r runEnv) ([]childSpec, error) {
				return []childSpec{{name: "floor", bin: filepath.Join(r.binDir, "bench-floor"), args: []string{
					"--brokers", r.brokers, "--clickhouse-addr", r.chAddr, "--database", r.db,
					"--batch-rows", strconv.Itoa(h.cfg.BatchRows)}}}, nil
			}}, nil
	case Goka:
		return target{name: name, groups: 1, probe: leadEventQuery{table: "goka_counts"},
			children: func(r runEnv) ([]childSpec, error) {
				return []childSpec{{name: "goka", bin: filepath.Join(r.binDir, "bench-goka"), args: []string{
					"--brokers", r.brokers, "--clickhouse-addr", r.chAddr, "--database", r.db,
					"--state-dir", filepath.Join(r.stateDir, "goka"), "--batch-rows", strconv.Itoa(h.cfg.BatchRows)}}}, nil
			}}, nil
	}
	return target{}, fmt.Errorf("unknown target %q (crmstream, floor, goka)", name)
}

// crmstreamChildren: ingest (relay + sink) and the scorer, configured the
// way make up runs them (environment only), on ports of their own.
func (h *Harness) crmstreamChildren(r runEnv) ([]childSpec, error) {
	env := []string{
		"CRM_KAFKA_BROKERS=" + r.brokers,
		"CRM_CLICKHOUSE_ADDR=" + r.chAddr,
		"CRM_CLICKHOUSE_DATABASE=" + r.db,
		"CRM_LOG_LEVEL=warn",
		// As scripts/up.sh: broker and ClickHouse on the same machine, so
		// no compression on either connection.
		"CRM_KAFKA_COMPRESSION=none",
		"CRM_CLICKHOUSE_COMPRESSION=none",
	}
	var out []childSpec
	names := []string{"ingest"}
	if h.cfg.Scorer {
		names = append(names, "scorer")
	}
	for _, name := range names {
		httpPort, err := r.port()
		if err != nil {
			return nil, err
		}
		pprofPort, err := r.port()
		if err != nil {
			return nil, err
		}
		c := childSpec{name: name, bin: filepath.Join(r.binDir, name),
			pprof: "127.0.0.1:" + strconv.Itoa(pprofPort),
			env: append(env[:len(env):len(env)],
				"CRM_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(httpPort),
				"CRM_BENCH_PPROF_ADDR=127.0.0.1:"+strconv.Itoa(pprofPort))}
		switch name {
		case "ingest":
			c.args = append([]string{"--mode", "relay,sink"}, h.cfg.IngestArgs...)
		case "scorer":
			c.args = h.cfg.ScorerArgs
		}
		out = append(out, c)
	}
	return out, nil
}

// probeQuery finds probes in ClickHouse: it builds the query for a set of
// probes and says which rows show which probe.
type probeQuery interface {
	// toSQL returns a query of one string column.
	toSQL(db string, ps []*probe) (string, []any)
	// seen returns whether the query's rows show p.
	seen(rows map[string]bool) func(p *probe) bool
}

// byIdentity matches a probe by the one string a query returns for it.
func byIdentity(rows map[string]bool, identity func(*probe) string) func(p *probe) bool {
	return func(p *probe) bool { return rows[identity(p)] }
}

// leadEventQuery finds probes by event_id in a table ordered by lead_id
// first, filtering on lead_id so that the primary key does the work. One ?
// per value: ClickHouse 18.16 refuses a bound slice after IN.
type leadEventQuery struct{ table string }

func (q leadEventQuery) toSQL(db string, ps []*probe) (string, []any) {
	seen := make(map[string]bool, len(ps))
	var args []any
	for _, p := range ps {
		if !seen[p.LeadID] {
			seen[p.LeadID] = true
			args = append(args, p.LeadID)
		}
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")
	return "SELECT event_id FROM " + db + "." + q.table + " WHERE lead_id IN (" + marks + ")", args
}

func (leadEventQuery) seen(rows map[string]bool) func(p *probe) bool {
	return byIdentity(rows, func(p *probe) string { return p.EventID })
}

// currentScoreQuery finds probes whose score is queryable: the lead's
// newest score in lead_current reflects an event time at or after the
// probe's (a lead's events reach the scorer in order: they share a
// partition). lead_scores is not used: the scorer writes a history row only
// when the score changes (or hourly), so a probe's own row may never exist.
// It reads lead_current alone, by its key: joining the events table to
// compare times cost the server 7–25 ms per poll, 20 polls a second,
// counted as the target's ClickHouse CPU.
type currentScoreQuery struct{}

func (currentScoreQuery) toSQL(db string, ps []*probe) (string, []any) {
	seen := make(map[string]bool, len(ps))
	var leads []any
	for _, p := range ps {
		if !seen[p.LeadID] {
			seen[p.LeadID] = true
			leads = append(leads, p.LeadID)
		}
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(leads)), ",")
	return "SELECT concat(lead_id, ' ', toString(toUInt32(max(event_time)))) FROM " + db +
		".lead_current WHERE lead_id IN (" + marks + ") GROUP BY lead_id", leads
}

func (currentScoreQuery) seen(rows map[string]bool) func(p *probe) bool {
	newest := make(map[string]int64, len(rows))
	for r := range rows {
		i := strings.LastIndexByte(r, ' ')
		if i < 0 {
			continue
		}
		if t, err := strconv.ParseInt(r[i+1:], 10, 64); err == nil {
			newest[r[:i]] = t
		}
	}
	return func(p *probe) bool {
		t, ok := newest[p.LeadID]
		return ok && t >= p.EventTime.Unix() // lead_current keeps whole seconds
	}
}

// offsetQuery finds probes by (partition, offset) in the floor's table.
type offsetQuery struct{ table string }

func (q offsetQuery) toSQL(db string, ps []*probe) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT toString(partition) || ':' || toString(offset) FROM " + db + "." + q.table + " WHERE (partition, offset) IN (")
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,%d)", p.Partition, p.Offset) // integers: no quoting needed
	}
	b.WriteByte(')')
	return b.String(), nil
}

func (offsetQuery) seen(rows map[string]bool) func(p *probe) bool {
	return byIdentity(rows, func(p *probe) string { return fmt.Sprintf("%d:%d", p.Partition, p.Offset) })
}
