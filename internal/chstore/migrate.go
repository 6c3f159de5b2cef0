package chstore

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	crmsql "github.com/crmstream/crmstream/sql"
)

// Dialect is what the migration templates in sql/ see.
type Dialect struct {
	DB      string // database
	Cluster string // non-empty: clustered DDL
	Modern  bool   // server ≥ 20.1: TTL, CODEC, LowCardinality available
}

// OnCluster returns " ON CLUSTER <name>" for clustered deployments.
func (d Dialect) OnCluster() string {
	if d.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + d.Cluster
}

// Engine returns the table engine: the given engine on a single server, its
// Replicated variant (keeper path per database and table) on a cluster.
func (d Dialect) Engine(engine, table string) string {
	if d.Cluster == "" {
		return engine
	}
	name, args, _ := strings.Cut(engine, "(")
	args = strings.TrimSuffix(args, ")")
	path := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", d.DB, table)
	if args != "" {
		path += ", " + args
	}
	return "Replicated" + name + "(" + path + ")"
}

// Local names the table that holds a table's rows: the table itself on a
// single server, <table>_local on a cluster. Materialized views read and
// write local tables: an insert into a Distributed table reaches the view on
// the shard that stores the rows.
func (d Dialect) Local(table string) string {
	if d.Cluster == "" {
		return table
	}
	return table + LocalSuffix
}

// Statements renders the DDL of the migrations for this dialect, in apply
// order, each with the file it came from. Backfills (INSERT … SELECT) are
// left to Backfills.
func (d Dialect) Statements() ([]Statement, error) {
	ddl, _, err := d.render()
	return ddl, err
}

// Backfills renders the INSERT … SELECT statements of the migrations, which
// fill a new rollup from rows written before its materialized view existed.
// Each guards itself (runs only while its target is empty) and is idempotent.
func (d Dialect) Backfills() ([]Statement, error) {
	_, fills, err := d.render()
	return fills, err
}

func (d Dialect) render() (ddl, fills []Statement, err error) {
	names, err := fs.Glob(crmsql.FS, "*.sql")
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		src, err := fs.ReadFile(crmsql.FS, name)
		if err != nil {
			return nil, nil, err
		}
		tmpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, nil, fmt.Errorf("parse %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, d); err != nil {
			return nil, nil, fmt.Errorf("render %s: %w", name, err)
		}
		for _, stmt := range splitStatements(buf.String()) {
			if strings.HasPrefix(stripComments(stmt), "INSERT") {
				fills = append(fills, Statement{File: name, SQL: stmt})
				continue
			}
			for _, st := range d.clustered(Statement{File: name, SQL: stmt}) {
				ddl = append(ddl, d.addColumn(st))
			}
		}
	}
	return ddl, fills, nil
}

// shardingKeys choose the shard of a row on a cluster. Each is a column of
// the table's row key, so a replayed row lands on the shard that holds the
// row it repeats and ReplacingMergeTree can collapse them.
var shardingKeys = map[string]string{
	"events":           "cityHash64(event_id)",
	"feature_sets":     "set_id",
	"lead_scores":      "cityHash64(lead_id)",
	"lead_current":     "cityHash64(lead_id)",
	"churn_scores":     "cityHash64(account_id)",
	"account_current":  "cityHash64(account_id)",
	"features":         "cityHash64(entity_id)",
	"alerts":           "cityHash64(alert_id)",
	"models":           "cityHash64(model)",
	"model_promotions": "cityHash64(model)",
	"model_metrics":    "cityHash64(model)",
	"late_events":      "cityHash64(event_id)",
	"rejects":          "cityHash64(reject_id)",
	"erasures":         "cityHash64(subject)",
	"audit_log":        "rand()",
	"funnel_minutes":   "cityHash64(lead_id)",
	"schema_backfills": "cityHash64(name)",
}

// LocalSuffix names the per-shard tables behind the Distributed ones.
const LocalSuffix = "_local"

// clustered rewrites a CREATE TABLE for a cluster: the table becomes
// <name>_local (Replicated, on every shard) and a Distributed table of the
// original name is created over it, so readers and writers keep one name.
// An ALTER TABLE goes to both: a Distributed table keeps the columns it was
// created with.
func (d Dialect) clustered(st Statement) []Statement {
	if d.Cluster == "" {
		return []Statement{st}
	}
	alter := "ALTER TABLE " + d.DB + "."
	if i := strings.Index(st.SQL, alter); i >= 0 {
		rest := st.SQL[i+len(alter):]
		if end := strings.IndexAny(rest, " ("); end > 0 {
			local := Statement{File: st.File, SQL: st.SQL[:i] + alter + rest[:end] + LocalSuffix + rest[end:]}
			return []Statement{local, st}
		}
	}
	prefix := "CREATE TABLE IF NOT EXISTS " + d.DB + "."
	i := strings.Index(st.SQL, prefix)
	if i < 0 {
		return []Statement{st}
	}
	rest := st.SQL[i+len(prefix):]
	end := strings.IndexAny(rest, " (")
	if end < 0 {
		return []Statement{st}
	}
	table := rest[:end]
	key, ok := shardingKeys[table]
	if !ok {
		key = "rand()"
	}
	local := Statement{File: st.File, SQL: st.SQL[:i] + prefix + table + LocalSuffix + rest[end:]}
	dist := Statement{File: st.File, SQL: fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s%s ENGINE = Distributed(%s, %s, %s%s, %s)",
		d.DB, table, d.OnCluster(), d.DB, table, LocalSuffix, d.Cluster, d.DB, table, LocalSuffix, key)}
	return []Statement{local, dist}
}

// addColumnRE matches an ALTER TABLE … ADD COLUMN IF NOT EXISTS (comment
// lines stripped): the table and the column.
var addColumnRE = regexp.MustCompile(`^ALTER TABLE ([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)(?: ON CLUSTER [A-Za-z0-9_]+)? ADD COLUMN IF NOT EXISTS ([A-Za-z0-9_]+) `)

// addColumn renders ADD COLUMN IF NOT EXISTS for servers without it (18.16
// refuses the clause): the clause goes, and the statement runs only while
// the column is missing (Statement.UnlessColumn).
func (d Dialect) addColumn(st Statement) Statement {
	if d.Modern {
		return st
	}
	var code []string
	for _, line := range strings.Split(st.SQL, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			code = append(code, line)
		}
	}
	flat := strings.Join(strings.Fields(strings.Join(code, " ")), " ")
	m := addColumnRE.FindStringSubmatch(flat)
	if m == nil {
		return st
	}
	st.SQL = strings.Replace(st.SQL, "ADD COLUMN IF NOT EXISTS ", "ADD COLUMN ", 1)
	st.UnlessColumn = [3]string{m[1], m[2], m[3]}
	return st
}

// Statement is one rendered DDL statement.
type Statement struct {
	File string
	SQL  string
	// UnlessColumn, when set (database, table, column), skips the statement
	// if that column exists: an ADD COLUMN on a server without IF NOT EXISTS.
	UnlessColumn [3]string
}

// splitStatements splits at ";" ending a line and drops comment-only parts.
func splitStatements(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		part = strings.TrimSuffix(strings.TrimSpace(part), ";")
		if stripComments(part) == "" {
			continue
		}
		out = append(out, part)
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
			b.WriteString(t)
		}
	}
	return b.String()
}

// BackfillTimeout bounds one backfill statement of Migrate.
var BackfillTimeout = 2 * time.Hour

// Migrate applies every migration. It is idempotent and safe to run at each
// start-up of every service.
func (s *Store) Migrate(ctx context.Context) error {
	stmts, err := s.Dialect.Statements()
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if c := st.UnlessColumn; c[2] != "" {
			has, err := s.hasColumn(ctx, c)
			if err != nil {
				return fmt.Errorf("migrate %s: %w", st.File, err)
			}
			if has {
				continue
			}
		}
		if err := s.Conn.Exec(ctx, st.SQL); err != nil {
			// Services migrate at once at start-up: another may have added
			// the column between the look-up and the ALTER.
			if c := st.UnlessColumn; c[2] != "" {
				if has, herr := s.hasColumn(ctx, c); herr == nil && has {
					continue
				}
			}
			return fmt.Errorf("migrate %s: %w\n%s", st.File, err, firstLine(st.SQL))
		}
	}
	fills, err := s.Dialect.Backfills()
	if err != nil {
		return err
	}
	for _, st := range fills {
		start := time.Now()
		// An INSERT … SELECT sends nothing until it ends, so the pool's read
		// timeout (60 s by default) would cut a backfill of 10⁷ events; a
		// context deadline replaces it.
		bctx, cancel := context.WithTimeout(ctx, BackfillTimeout)
		err := s.Conn.Exec(bctx, st.SQL)
		cancel()
		if err != nil {
			return fmt.Errorf("backfill %s: %w\n%s", st.File, err, firstLine(st.SQL))
		}
		// Marks it done: a backfill cut short runs again at the next start
		// (its states are idempotent) instead of being taken as complete.
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+".schema_backfills (name, done_at)")
		if err == nil {
			if err = b.Append(st.File, time.Now().UTC()); err == nil {
				err = b.Send()
			}
		}
		if err != nil {
			return fmt.Errorf("backfill %s: mark done: %w", st.File, err)
		}
		if d := time.Since(start); d > time.Second {
			s.log.Info("clickhouse rollup backfilled", "file", st.File, "took", d.Round(time.Millisecond))
		}
	}
	s.log.Info("clickhouse schema up to date", "statements", len(stmts), "backfills", len(fills))
	return nil
}

// hasColumn reports whether column c (database, table, column) exists.
func (s *Store) hasColumn(ctx context.Context, c [3]string) (bool, error) {
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", c[0], c[1], c[2]).Scan(&n); err != nil {
		return false, fmt.Errorf("look up column %s.%s.%s: %w", c[0], c[1], c[2], err)
	}
	return n > 0, nil
}

func firstLine(s string) string {
	s = stripComments(s)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
