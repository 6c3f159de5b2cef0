// Package connectors receives CRM webhooks and maps them onto canonical
// events: one Adapter per CRM (HubSpot, Salesforce, Pipedrive, Zoho CRM,
// Freshsales, Dynamics 365), each served at /v1/webhooks/<name> by the
// ingest collector.
//
// # Request life
//
// NewHandler reads the body once (bounded by MaxBodyBytes), asks the
// adapter to Verify the request (a signature, a shared token or basic-auth
// credentials, as the CRM offers), then to Map the body. Map returns the
// canonical events and, for every item it could not map, a Reject with a
// reason: nothing is dropped silently. The events go to Publish (the
// collector's producer); only when Publish returns nil does the CRM get its
// 200. A failed publish answers 503 and the CRM retries.
//
// # Idempotency
//
// Every CRM retries deliveries. Event ids are derived from the CRM's own
// ids for the change (HubSpot eventId and objectId, Salesforce
// transactionKey and sequenceNumber, Dynamics OperationId, …) and never
// from the delivery attempt, so a redelivered webhook maps to the same
// event_id and the pipeline keeps one event.
//
// # Identities
//
// CRM record ids are prefixed with the CRM's name ("hubspot:512",
// "salesforce:00Q5e00000AbCdE", "zoho:account:42") so that ids from two CRMs
// never collide. Webhooks of several CRMs (HubSpot, Zoho) carry only ids;
// a deal whose contact or company is not in the payload is keyed by
// account_id "<crm>:deal:<id>" with properties.deal_id set.
//
// # Metrics
//
//	crmstream_webhook_requests_total{adapter,code}      requests by HTTP status
//	crmstream_webhook_items_total{adapter,outcome}      payload items accepted / rejected
//
// The formats, their sources and what could not be confirmed are listed in
// testdata/<crm>/README.md.
package connectors
