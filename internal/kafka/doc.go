// Package kafka holds what every service needs to reach Kafka with franz-go:
// the client options from one Config (brokers, TLS, SASL, client id, kprom
// metrics), the product's topic names and their creation, and the header
// names of dead letters.
//
// # Topics
//
//	crm.raw              raw events from sources that write Kafka directly
//	crm.events           canonical events, key = lead_id else account_id
//	crm.events.dlq       rejected raw records, reason and origin in headers
//	crm.alerts           alerts, key = alert_id
//	crm.alerts.dlq       alerts no webhook could take
//	crm.scorer.changelog compacted scorer state, key = partition/entity
//
// Producers are idempotent (franz-go's default) with acks=all, so a retried
// produce never writes a record twice and per-key order holds.
package kafka
