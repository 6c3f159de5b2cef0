// Package sink writes canonical events from the crm.events topic into the
// ClickHouse table crm.events, in batches.
//
// # Delivery
//
// At least once into ClickHouse, exactly once as readers see it. A consumer
// group reads crm.events; rows collect in one batch until BatchRows rows or
// FlushEvery has passed since the first (so an idle partition still gets its
// last rows written), then the batch is inserted with an explicit column list
// and only after the insert succeeded are the offsets committed. A crash
// between insert and commit re-inserts the batch; the table is a
// ReplacingMergeTree whose sort key comes from the event itself
// (lead_id, account_id, occurred_at, event_id), so the copy collapses, and
// readers use FINAL or uniqExact(event_id).
//
// # Batches
//
// The batch is held column by column and inserted a column at a time
// (Column(i).Append of one slice per column), from buffers kept between
// flushes: row-wise Append boxes 18 values per row and dispatches them one by
// one, which cost more CPU than decoding the event. One INSERT sends the
// batch in blocks of 2,048 rows, so the driver's buffers grow to one block
// once instead of to the whole batch by repeated copies; ClickHouse stores
// the blocks of one INSERT as one part.
//
// Rows view their Kafka record's bytes (event.DecodeViewValid) instead of
// copying them, and a record's properties object is stored as it is when it
// is already the canonical JSON. A batched string is a span (offset and
// length) into its record's value, or into the batch's arena for the few
// strings that are not views (escaped values, pseudonyms), not a Go string:
// a full batch held 700,000 string pointers for every GC cycle to mark;
// spans are not scanned, and the strings are made a block at a time.
//
// Should the driver refuse a column, the batch is tried row by row to find
// the row at fault, which is dead-lettered (see Poison records) while the
// rest is inserted.
//
// # When ClickHouse is down
//
// A failed insert is retried with exponential backoff (200 ms doubling to
// MaxBackoff, with jitter) behind a circuit breaker: after three failures in
// a row the breaker opens, fetching is paused (PauseFetchTopics) and Healthy
// reports an error, which the collector turns into 503 for its callers. The
// batch is kept and retried; nothing more is read meanwhile, so memory stays
// at one batch plus the client's fetch buffer. When an insert succeeds the
// breaker closes and fetching resumes.
//
// # Rebalances and shutdown
//
// On revoke, the batch is flushed (one attempt bounded by InsertTimeout) and
// its offsets committed; if that fails, the rows of revoked partitions are
// dropped from the batch uncommitted, and their new owner reads them again.
// On lost partitions their rows are dropped without commit. On stop, Run
// flushes and commits the batch (bounded by DrainTimeout) and leaves the
// group.
//
// # Personal data
//
// With PIIKey set, contact e-mail, phone and name are replaced by
// HMAC-SHA256(PIIKey, value) (hex, 32 characters) before they reach
// ClickHouse: rows of one person still join, the values cannot be read back.
//
// Erasure tombstones (event.Erased, written by crmctl erase) are not stored:
// they exist for stateful consumers, and the erase command deletes the
// subject's rows itself.
//
// # Poison records
//
// A record that does not decode as a canonical event (someone else wrote to
// crm.events) goes to the dead-letter topic with its reason and origin, and
// its offset is committed with the batch.
//
// # Metrics
//
//	crmstream_ingest_sink_rows_total                   rows inserted
//	crmstream_ingest_sink_batch_rows                   histogram of rows per insert
//	crmstream_ingest_sink_insert_seconds               histogram of insert latency
//	crmstream_ingest_sink_insert_errors_total          failed insert attempts
//	crmstream_ingest_sink_breaker_open                 1 while the ClickHouse breaker is open
//	crmstream_ingest_sink_dead_letters_total           undecodable records sent to the DLQ
package sink
