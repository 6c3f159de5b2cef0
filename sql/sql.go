// Package sql holds the ClickHouse schema of the product as migration files,
// embedded into every binary. internal/chstore renders and applies them.
//
// Each file is a text/template executed with a chstore.Dialect: {{.DB}} is the
// database, {{.OnCluster}} adds ON CLUSTER for clustered deployments,
// {{.Engine "ReplacingMergeTree(v)" "table"}} picks the engine (Replicated… on
// a cluster), and {{if .Modern}} guards clauses that ClickHouse 18.16 lacks
// (TTL, CODEC, LowCardinality). Statements are separated by ";" at line end.
// Every statement is idempotent (IF NOT EXISTS), so migrations run at each
// start-up.
package sql

import "embed"

// FS holds the migration files, applied in name order.
//
//go:embed *.sql
var FS embed.FS
