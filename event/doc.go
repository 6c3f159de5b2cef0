// Package event is the canonical CRM event: the one shape every source is
// mapped onto before anything else sees it (schema version 1, documented in
// event-schema.md and crm-event.schema.json).
//
// # Life of an event
//
// Untrusted input (the HTTP collector, the raw Kafka topic, webhook adapters,
// file imports) goes through Parse, which decodes, normalizes and validates.
// A rejection is an *Error naming the field and the rule, which the caller
// reports back (HTTP) or attaches to a dead letter (Kafka). An accepted event
// is encoded with AppendJSON and produced to the crm.events topic, keyed by
// Key (the lead, else the account). Everything downstream reads crm.events
// with Decode, which trusts the pipeline's own encoding and skips
// normalization.
//
// # Hot paths
//
// Parse and Decode return events that own their strings. Stages that handle
// millions of records use the variants that decode into a reused Event
// (DecodeInto) or whose strings view the input record (ParseView,
// ParseViewJSON, DecodeView, DecodeViewJSON, DecodeViewValid): no
// allocation per event, but the record must stay unchanged while the event
// is in use. ParseViewJSON and DecodeViewJSON also hand back the input
// itself (or its properties object) when it is byte for byte what AppendJSON
// would write, so a stage can pass it on without encoding it again. All of
// them decide exactly as Parse and Decode do; the fuzz tests hold them to
// it.
//
// # Normalization
//
// E-mail is lower-cased, phone numbers are formatted as E.164 when they
// parse, countries become ISO 3166-1 alpha-2, timestamps UTC. Values that do
// not normalize are kept as given rather than rejected: the schema accepts
// any string there, and an event is worth more than a tidy phone number.
//
// # Identity and idempotency
//
// event_id is the idempotency key: the same id twice is one event. Sources
// that retry must resend the same id; adapters derive ids deterministically
// from the source's own ids.
package event
