// Package tracing sets up OpenTelemetry tracing for the services: off by
// default, on with an OTLP/HTTP endpoint (--otlp-endpoint,
// CRM_OTLP_ENDPOINT, e.g. http://otel-collector:4318).
//
// # One trace per event
//
//	POST /v1/events (collector, server span; crm.accepted / crm.rejected)
//	 └─ crm.events publish (kotel; W3C traceparent in the record headers)
//	     └─ crm.events receive (kotel, scorer consumer)
//	         └─ score (scorer, around applying the record)
//	 scorer flush (ClickHouse write + alerts) — child of the first record's
//	 trace in the flush, linked to the others'
//	     └─ crm.alerts publish (kotel)
//
// Context crosses Kafka in record headers (W3C tracecontext, Propagator);
// nothing uses the otel globals: Setup returns the provider, which the
// services take in their Config (nil = off) and hand to KafkaOpts,
// HTTPHandler and their own spans.
//
// # Sampling
//
// A new trace (a request without a traceparent header) is sampled with
// probability SampleRatio; every other span follows its parent's decision,
// so a sampled request is traced through every service.
//
// # Cost when off
//
// With no endpoint, Setup returns a no-op provider, Enabled reports false,
// and the services add no Kafka hooks, no HTTP wrapper and no spans.
package tracing
