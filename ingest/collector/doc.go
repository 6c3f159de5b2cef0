// Package collector is the HTTP entry of the pipeline: POST /v1/events takes a
// batch of events from untrusted callers and produces each valid one to the
// crm.events topic.
//
// # Request
//
// The body is a JSON array of events or NDJSON (Content-Type:
// application/x-ndjson; one event per line, blank lines skipped); a body that
// starts with '{' is read as NDJSON whatever its content type.
// Content-Encoding: gzip is accepted. The body may not exceed MaxBodyBytes
// after decompression (413), nor hold more than MaxItems events (413). With
// WriteKeys configured, the caller sends one of them as "Authorization:
// Bearer <key>" or "X-Write-Key: <key>" (401 otherwise).
//
// # Answer
//
//	{"accepted": N, "rejected": [{"index": i, "event_id": "...", "reason": "field: rule"}]}
//
// 200 when every item was accepted, 207 when some were rejected, 422 when all
// were. index counts array elements or non-blank NDJSON lines from 0. Every
// item is either accepted or rejected with a reason naming the field (from
// event.Parse); the rejections are also recorded in crm.rejects.
//
// # Delivery
//
// An item is reported accepted only after Kafka acknowledged it (idempotent
// producer, acks=all). When any produce of a request fails, the whole request
// is answered 503 with Retry-After and nothing is reported accepted: the
// caller retries the whole batch, and since event_id is the idempotency key
// downstream, events that did reach Kafka the first time are still stored
// once.
//
// # Backpressure
//
// At most MaxInFlight requests are processed at once; beyond that the answer
// is 429 with Retry-After, so memory stays bounded by MaxInFlight ×
// MaxBodyBytes instead of growing with the queue. A body that takes longer
// than BodyTimeout to arrive is answered 408, so slow senders cannot hold
// the slots. When the Ready check fails
// (the sink cannot write to ClickHouse) or the Kafka breaker is open (three
// produce failures in a row), the answer is 503 with Retry-After before the
// body is read.
//
// # Metrics
//
//	crmstream_ingest_http_requests_total{code}
//	crmstream_ingest_http_request_seconds
//	crmstream_ingest_http_inflight_requests
//	crmstream_ingest_events_in_total{source="collector"}
//	crmstream_ingest_events_out_total{source="collector"}
//	crmstream_ingest_events_rejected_total{source="collector",kind}   kind = the top-level field at fault, or "body"
//	crmstream_ingest_collector_breaker_open
package collector
