// Package dashboard serves the dashboard API (/api/v1) and the embedded web
// dashboard over ClickHouse.
//
// # Endpoints
//
// The route table in routes.go is the single list of endpoints: it registers
// the handlers, holds each one's permission and parameters, and generates the
// OpenAPI 3 document at /api/v1/openapi.json (tests walk the router and check
// both directions, and validate live responses against the schemas).
// Responses are JSON; errors are {"error":{"code","message","param"}} with 400
// naming the bad parameter, 401 for a missing or bad token, 403 for a role
// without the permission, 404 for anything outside a rep's own leads,
// accounts and alerts, 429 with Retry-After when a token is over its rate.
// /healthz, /readyz (ClickHouse answers) and /metrics sit outside /api/v1 and
// need no token.
//
// # Request path
//
// metrics → audit → authentication → rate limit → permission → parameters →
// cache → reports.Reader. Verified tokens are remembered (bounded, until their
// exp) because checking a JWT costs about half the CPU of a cached answer. Every call, refused or not, is queued for
// crm.audit_log; a writer goroutine inserts the queue in batches (at most
// AuditBatch rows or every AuditFlush) and drops, counting, what does not fit
// in the queue, so ClickHouse trouble never stalls the API.
//
// # Cache
//
// Read endpoints cache the encoded response for CacheTTL under a key made of
// the route, the caller's role and owner scope, and the resolved parameters.
// Concurrent misses of one key share one query (single flight). After the TTL
// a value is served stale for up to CacheStale while one background refresh
// runs, so a popular key never makes callers wait for ClickHouse. Both
// windows stretch with the cost of the query (at least 5× and 20× its
// duration), so an expensive report is not recomputed back to back.
//
// # Live streams
//
// /api/v1/alerts/stream and /api/v1/funnel/live are Server-Sent Events. One
// poller reads new alert states from ClickHouse every AlertPoll and fans them
// out to subscribers through a hub (each filtered by owner scope; a
// subscriber whose buffer is full is disconnected, not waited for). The live
// funnel re-reads the cached funnel every LivePoll and sends it when it
// changed. Browsers read the streams with fetch() so the token stays in the
// Authorization header.
//
// # Metrics
//
//	crmstream_dashboard_http_requests_total{route,code}
//	crmstream_dashboard_http_request_duration_seconds{route}
//	crmstream_dashboard_cache_requests_total{result}        hit, stale, miss
//	crmstream_dashboard_clickhouse_acquire_seconds          wait for a pool slot (AcquireObserver)
//	crmstream_dashboard_sse_clients{stream}
//	crmstream_dashboard_sse_dropped_total                   slow subscribers cut off
//	crmstream_dashboard_ratelimited_total
//	crmstream_dashboard_audit_written_total, crmstream_dashboard_audit_dropped_total
//
// # Lifecycle
//
// New builds a Server; Serve runs it on a listener until the context ends
// (then shuts the HTTP server down within ShutdownTimeout, stops the pollers
// and flushes the audit queue); Close stops background work if Serve was
// never called. Handler is safe for concurrent use.
package dashboard
