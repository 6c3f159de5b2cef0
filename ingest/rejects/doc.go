// Package rejects records every rejected input in the ClickHouse table
// crm.rejects, so that what was sent reconciles with what was accepted plus
// what was rejected.
//
// # Bounded and asynchronous
//
// Rejections are reported by the HTTP collector and the Kafka relay on their
// hot paths, so Add never blocks: it puts the reject in a bounded queue and,
// when the queue is full (ClickHouse slow or down), drops it and counts the
// drop in crmstream_ingest_rejects_dropped_total. The caller has already told
// the sender (HTTP answer) or kept the original (dead-letter topic), so a
// dropped row loses a statistic, never an event.
//
// # Idempotent rows
//
// The row key reject_id is a hash of origin, reason and payload: the same bad
// input sent twice (a client retrying a whole batch) is one row once the
// ReplacingMergeTree merges; read with FINAL.
//
// # Metrics
//
//	crmstream_ingest_rejects_written_total   rows inserted
//	crmstream_ingest_rejects_dropped_total   rows dropped because the queue was full or the insert failed
package rejects
