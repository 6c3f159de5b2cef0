// Package chstore connects to ClickHouse and keeps its schema current.
//
// # Versions
//
// The product runs on current ClickHouse releases and on the 18.16 server
// that Debian packages. Open asks the server its version; Dialect renders the
// migrations in sql/ for it: clauses 18.16 lacks (TTL, CODEC, LowCardinality)
// only where {{if .Modern}} guards them, and with Cluster set, ON CLUSTER and
// Replicated engines behind Distributed tables.
//
// # Idempotent writes
//
// No table relies on insert deduplication (18.16 has no
// insert_deduplication_token). Every table is a ReplacingMergeTree over a key
// made of the row's own data, so a replayed insert collapses into the row it
// repeats; readers use FINAL or argMax.
//
// # Compression
//
// Config.Compression picks the codec of the native protocol's blocks: lz4
// (the default), zstd or none. It saves bandwidth and costs CPU on both the
// client and the server, so a server on the same machine (the local stack,
// the benchmark) is best reached with none.
//
// # Migrations
//
// Migrate applies every statement of sql/*.sql in name order at each start.
// Statements are CREATE … IF NOT EXISTS, so running them again is harmless;
// a statement that fails stops the start-up with the file and statement
// named.
package chstore
