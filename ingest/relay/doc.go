// Package relay turns raw records from Kafka (the crm.raw topic, written by
// sources that talk Kafka directly) into canonical events on crm.events.
//
// # Processing
//
// A consumer group reads the raw topic. Each record's value goes through
// event.Parse (as event.ParseViewJSON: same decisions, no allocation, and a
// record already in canonical form is passed on as it is rather than
// encoded again); a valid event is produced to crm.events (key =
// Event.Key(), value = canonical JSON, timestamp = occurred_at). A rejected record goes,
// bytes untouched, to the dead-letter topic crm.events.dlq with the reason
// and its origin in headers (package dlq), and is recorded in crm.rejects.
// Parse is deterministic, so a record that fails once fails every time: it
// goes to the dead-letter topic on its first failure. A panic while
// processing one record is recovered and dead-lettered too ("panic: …"), so a
// poison record never stops the partition.
//
// # Parallelism
//
// Parsing is the relay's CPU: each poll (up to MaxPoll records) is cut into
// Parallelism contiguous chunks (default GOMAXPROCS, at least 64 records
// each) parsed by as many goroutines, and their outputs are joined in chunk
// order before producing. The records produced, and their order, are exactly
// those of one goroutine — so per-key order and commit-after-ack are
// unchanged — while a poll from one busy partition uses every core as well as
// one from many.
//
// # Delivery
//
// At least once, in order per key. Each poll's records are produced
// (idempotent producer, acks=all) and only when every produce, events and dead
// letters alike, is acknowledged are the offsets committed. Failed produces
// are retried with exponential backoff and jitter until they succeed or the
// relay stops; then nothing is committed and the records are read again by
// whoever owns the partition next. Rebalances are held while a poll is in
// flight (BlockRebalanceOnPoll), so a revoke never finds uncommitted work.
// Re-produced events are deduplicated downstream by event_id.
//
// # Metrics
//
//	crmstream_ingest_events_in_total{source="relay"}
//	crmstream_ingest_events_out_total{source="relay"}
//	crmstream_ingest_events_rejected_total{source="relay",kind}   kind = field at fault, "body" or "panic"
//	crmstream_ingest_relay_produce_retries_total
package relay
