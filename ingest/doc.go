// Package ingest runs the pipeline's entry: the HTTP collector, the raw-topic
// relay and the ClickHouse sink, together in one process (the default) or
// separately, with one lifecycle.
//
// # Parts
//
//	HTTP POST /v1/events ─► collector ─┐
//	Kafka crm.raw ─────────► relay ────┴─► crm.events ─► sink ─► ClickHouse crm.events
//	                              rejects ─► crm.events.dlq (relay) and ClickHouse crm.rejects
//
// Package collector, relay and sink document each part; dlq the dead-letter
// format and tools; rejects the rejection log.
//
// # Delivery guarantees
//
//   - The collector reports an event accepted only after Kafka acknowledged
//     it (idempotent producer, acks=all); any failure answers 503 for the
//     whole request, which the caller retries.
//   - The relay commits raw offsets only after the events and dead letters
//     they produced are acknowledged.
//   - The sink commits crm.events offsets only after the rows are inserted.
//   - Every retry is harmless: event_id is the idempotency key, and
//     crm.events is a ReplacingMergeTree over keys taken from the event; read
//     with FINAL or uniqExact(event_id).
//
// So: at least once end to end, exactly once as ClickHouse readers see it,
// order kept per key (lead_id, else account_id) on every topic.
//
// # Backpressure
//
// Memory is bounded everywhere: the collector takes at most MaxInFlight
// requests (429 beyond), answers 503 while Kafka's produce breaker is open or
// the sink cannot write to ClickHouse (when the sink runs in the same
// process) or, with MaxSinkLag set, the sink group is that many records
// behind (when it runs elsewhere); the relay holds one poll, the sink one batch and pauses fetching
// while ClickHouse is down.
//
// # Metrics
//
// Each part documents its own; the process adds
// crmstream_ingest_consumer_lag_records{group,topic,partition} (kadm, every
// LagEvery) for the relay and sink groups, and franz-go client metrics
// (kprom) as crmstream_ingest_kafka_*{client="producer|relay|sink"}.
//
// # Shutdown
//
// On cancel, Run stops accepting HTTP requests and lets those in flight
// finish, the relay finishes and commits its poll, the sink flushes and
// commits its batch, then the rejects log is flushed and the Kafka clients
// close (leaving their groups).
package ingest
