// Package reports reads the dashboard's figures from ClickHouse: the funnel,
// hot leads, at-risk accounts, alerts, models and pipeline health.
//
// # Queries
//
// Every read is a small unexported struct (funnelQuery, hotLeadsQuery, …)
// whose toSQL method returns the statement and its positional arguments.
// Values from callers only ever travel as arguments; the only text spliced
// into SQL comes from closed sets in this package (bucket functions, group
// expressions, column lists) or from counts (one countIf per funnel stage).
// Table tests assert the SQL and the arguments of each query.
//
// # ClickHouse 18.16
//
// The statements run on 18.16 and on current releases: no JSONExtract
// (properties are JSON text read with visitParamExtractString), no
// toStartOfInterval (buckets use toStartOfMinute/Hour/Day), no "LIMIT n
// OFFSET m" (pages use "LIMIT m, n"), slices bound with has(?, col). Tables are
// ReplacingMergeTree: single-entity reads use FINAL (cheap on a key prefix);
// the funnel reads events without FINAL because a replayed event cannot move
// a lead to a different funnel level.
//
// # Funnel
//
// A funnel is a list of stages, each a set of event matches (type and, when
// given, one property value). Leads enter the cohort of the bucket of their
// first event in the range, and a stage's count is the number of leads at
// that level or deeper. A lead's level is, by default, the deepest stage any
// of its events matches (a won deal has passed every earlier stage, whatever
// order the sources delivered them in: imports often create the lead before
// its first page view); with FunnelRequest.Ordered it is windowFunnel's: the
// stages reached in order within the window. Only events of the stages' types are read
// (PREWHERE), so first-touch source and campaign are those of the first
// funnel event.
//
// # Rollup
//
// crm.events is ordered by lead, so a time range scans whole monthly
// partitions (8–20 s at 10 M events). The reached funnel over the default
// stages reads instead funnel_minutes (sql/0006), a rollup ClickHouse keeps
// through a materialized view: per (minute, lead, owner) the states of
// min(occurred_at), the deepest default stage, first-touch source and
// campaign, last owner. Merging a lead's states over the range gives the raw
// query's numbers exactly (tested), for any minute-aligned range (the API's
// default ranges are); the states are idempotent, so replays change nothing.
// Custom or partial stages, ordered mode (windowFunnel) and ranges with
// seconds read raw events.
//
// # Hot leads
//
// Ranking lead_current with FINAL merges every lead's key. HotLeads ranks
// candidates from a plain scan and reads only their current rows with FINAL,
// which is exact whenever enough current rows rank above the last candidate;
// otherwise it ranks with FINAL.
//
// # Concurrency
//
// A Reader is safe for concurrent use. It bounds the number of queries in
// flight to Config.MaxConcurrent (the connection pool size) and reports how
// long each query waited for a slot through Config.ObserveAcquire: that wait
// is the pool acquisition time.
package reports
