// Package notifier delivers alerts to the reps who own them: it consumes the
// crm.alerts topic and posts each alert state to a webhook (Slack-compatible
// JSON), with retries, a circuit breaker per endpoint and a dead-letter
// topic.
//
// # Routing
//
// Routes maps an alert's owner_id to a named endpoint, with a default for
// owners not listed; LoadRoutes reads it from a YAML or JSON file. Endpoint
// URLs are secrets (Slack's carry a token): logs, metrics and dead-letter
// reasons name the endpoint, never its URL. The URL LogURL ("log:") writes
// messages to the log instead: cmd/notifier uses it when no webhook is
// configured, for local development.
//
// # Messages
//
// Render makes {"text": …, "blocks": […]} from an alert: a header, the
// reason in plain words, the facts (lead, account, flow, last step, cart,
// score, time) and the alert id. A retraction is delivered as a follow-up
// message ("Retracted — …") for the same alert id; acknowledgements are not
// delivered (the rep made them), nor alerts whose condition is older than
// Config.MaxAge (a backfill replaying history stores its alerts in
// ClickHouse, but does not page reps about last spring). Text from events is escaped so that it
// cannot mention @channel or forge links.
//
// # Delivery guarantees
//
// At least once, and exactly once in the steady state:
//
//   - Each request carries Idempotency-Key = alert_id ":" status, so a
//     receiver can drop the rare repeat (a crash between delivery and offset
//     commit, an attempt that timed out after the receiver acted).
//   - The notifier remembers (bounded, Config.DedupeSize ids) the highest
//     state delivered per alert id: a duplicate record, a replay of an alert
//     by the scorer, or an older state after a newer one is skipped.
//   - Offsets are committed only up to the first record not finished
//     (delivered, skipped or dead-lettered), every Config.CommitEvery, on
//     shutdown and when partitions are revoked; records in flight at
//     shutdown are consumed again at the next start.
//   - One worker per endpoint delivers that endpoint's alerts one at a time,
//     in the order consumed: an alert's retraction never overtakes it (same
//     owner, same endpoint; same key, same partition), and an endpoint that
//     is down holds up only its own alerts. Each endpoint's queue is bounded
//     (Config.QueueSize): when it is full, polling waits (backpressure).
//   - Trade-off: while one endpoint is down, the commit stops at its oldest
//     alert; a restart then re-reads later records and, with the dedupe
//     memory gone, may deliver other endpoints' alerts again — with the
//     same Idempotency-Key.
//
// # Failures
//
// An attempt that fails with 5xx, 408, 429, a timeout or a network error is
// retried after an exponential backoff with jitter (Config.BackoffBase
// doubling to Config.BackoffMax; Retry-After honoured up to the cap). After
// Config.MaxAttempts attempts that reached the endpoint, or at once for
// other 4xx answers, a bad record or an owner with no route, the record goes
// to the dead-letter topic (crm.alerts.dlq) unchanged, with headers
// crm-reject-reason, crm-origin (topic/partition/offset) and crm-failed-at.
//
// Each endpoint has a circuit breaker (sony/gobreaker): after
// Config.BreakerFailures consecutive failures it opens for
// Config.BreakerOpen and requests fail fast without reaching the endpoint;
// then one trial request decides. Refusals by an open breaker do not use up
// an alert's attempts, so an outage does not turn into dead letters unless
// it lasts through MaxAttempts trial cycles. While an endpoint is down its
// alerts wait in its queue: nothing is skipped.
//
// # Metrics
//
//	crmstream_notifier_sent_total{endpoint}
//	crmstream_notifier_failed_total{endpoint,class}      class: 5xx, 408, 429, timeout, network, breaker_open, permanent
//	crmstream_notifier_retried_total{endpoint}
//	crmstream_notifier_dead_lettered_total{reason}       reason: decode, no_route, encode, permanent, exhausted
//	crmstream_notifier_skipped_total{reason}             reason: duplicate, acknowledged, stale
//	crmstream_notifier_breaker_state{endpoint}           0 closed, 1 half-open, 2 open
//	crmstream_notifier_delivery_seconds{endpoint}        first attempt to success
//	crmstream_notifier_alert_lag_seconds                 alert fired_at to delivery
//	crmstream_notifier_inflight                          consumed records not finished
package notifier
