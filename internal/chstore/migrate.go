package chstore

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"text/template"

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

// Statements renders the migrations for this dialect, in apply order, each
// with the file it came from.
func (d Dialect) Statements() ([]Statement, error) {
	names, err := fs.Glob(crmsql.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Statement
	for _, name := range names {
		src, err := fs.ReadFile(crmsql.FS, name)
		if err != nil {
			return nil, err
		}
		tmpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, d); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		for _, stmt := range splitStatements(buf.String()) {
			out = append(out, Statement{File: name, SQL: stmt})
		}
	}
	return out, nil
}

// Statement is one rendered DDL statement.
type Statement struct {
	File string
	SQL  string
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

// Migrate applies every migration. It is idempotent and safe to run at each
// start-up of every service.
func (s *Store) Migrate(ctx context.Context) error {
	stmts, err := s.Dialect.Statements()
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := s.Conn.Exec(ctx, st.SQL); err != nil {
			return fmt.Errorf("migrate %s: %w\n%s", st.File, err, firstLine(st.SQL))
		}
	}
	s.log.Info("clickhouse schema up to date", "statements", len(stmts))
	return nil
}

func firstLine(s string) string {
	s = stripComments(s)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
