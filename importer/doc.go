// Package importer backfills history: it reads NDJSON files of canonical
// events, CSV files with canonical column names, or the Olist
// marketing-funnel data set, validates every row exactly as the collector
// does (event.Parse for text rows; Normalize and Validate for rows built in
// Go), orders the accepted events by event time and publishes them in
// batches to crm.events (KafkaPublisher) or to the collector
// (HTTPPublisher), with a progress bar and a summary.
//
// # Rows, rejects and order
//
// A row that fails validation is a Reject with its file, line and the
// reason naming the field; it is never dropped silently, and the summary
// counts it. Accepted rows are sorted by occurred_at (stable: equal times
// keep file and line order) so that the pipeline's watermarks advance as
// they would have live. Sorting needs every row in memory: about 0.5 KiB
// per event, so 1 M events need roughly 0.5 GiB; split larger histories by
// time range.
//
// # Idempotency
//
// Event ids come from the rows (NDJSON, CSV) or are derived from the data
// set's own ids (Olist: olist-mql-<mql_id>, olist-won-<mql_id>). A rerun
// after a failure publishes the same ids again, which the pipeline keeps
// as one event each.
package importer
