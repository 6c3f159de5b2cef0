// Package simulator generates realistic synthetic CRM event streams together
// with their ground truth, so that models and alerts can be measured against
// what really happened rather than against themselves.
//
// # The population
//
// Leads arrive over the span; in live mode the first Leads arrive over
// the Ramp (the backfill) and then new ones keep coming as an endless
// Poisson stream (LeadsPerHour). Each has firmographics (industry, company size, seniority, origin,
// landing page, campaign), contact details spelled the way real sources spell
// them ("  Ana.Silva@Acme.example ", "(415) 555-0123", "United States") and a
// hidden intent z ~ N(0,1). Its true probability of converting within the
// conversion horizon is
//
//	p = sigmoid(b0 + fit + 1.6·z)
//
// where fit sums the firmographic effects; the outcome is drawn from p once,
// at creation. Customer accounts have a hidden health that drifts
// (mean-reverting noise plus rare lasting shocks) and cancel at a monthly
// renewal with probability sigmoid(-3.6 - 1.5·health).
//
// # Behaviour
//
// Everything a lead does before a sales process starts depends on its intent
// and firmographics only, never on the drawn outcome: web sessions (page
// views of home, product, pricing, docs, blog and careers pages, keen leads
// reading more pricing and fewer careers pages), weekly nurture e-mails
// (opens, clicks, bounces, unsubscribes), content downloads, form fills,
// demo requests, webinars and ad clicks, at a rate that rises with intent and
// fades with time. Flows (signup, onboarding, demo_booking, checkout) start,
// step and complete or are abandoned, with probabilities set by intent; a few
// complete only after their timeout. The label shows only as it happens: the
// meetings, deal stages and the purchase of the sales process (converting
// leads close 15–88 % into the horizon; lost deals run the same course).
// Accounts log in and use features in proportion to their health, open more
// tickets and give lower NPS when unhealthy, remove seats and downgrade.
// TestNoLabelLeakage checks that early behaviour does not depend on the
// outcome at equal intent.
//
// # Ground truth
//
// A Truth receives, as the stream is generated: each lead's intent, true
// probability, outcome and whether its horizon is censored by the stream's
// end (LeadTruth); each account's churn (AccountTruth) and its true 30-day
// cancellation probability on a daily grid (ChurnRisk); every flow episode
// with its timeout and whether it was abandoned (Abandonment); every quiet
// stretch long enough to alert on — a paying account without login or
// feature use for AccountQuiet, an engaged (IsLeadEngagement), unconverted
// lead without any activity (IsLeadActivity) for LeadQuiet, the alert
// detector's rules — with
// the time the condition became true (Inactivity). The truth is computed from
// the very events emitted, and tests recompute it from the events alone.
// TruthSet keeps it in memory; TruthWriter writes NDJSON files (LeadsFile …)
// that ReadTruth loads back.
//
// # Streams and delivery
//
// Generator yields the canonical stream in event-time order, deterministic
// for a Config (same seed, same bytes). It works one day of one entity at a
// time, so memory is bounded by the entities alive at once. Stream encodes
// the events (event.AppendJSON) and adds the noise real sources make:
// late deliveries (OutOfOrderRate, up to MaxLateness), duplicates
// (DuplicateRate, same event_id) and junk records ingest must reject
// (MalformedRate). Runner writes the records in batches to a Sink —
// FileSink (NDJSON), HTTPSink (the collector's POST /v1/events) or KafkaSink
// (franz-go) — at a capped rate, and in live mode holds each record until
// the wall clock reaches its time.
//
// # Metrics
//
// Runner registers, when given a Registerer:
//
//	crmstream_simulator_records_total{kind}  records delivered (event, late, duplicate, malformed)
//	crmstream_simulator_write_seconds        time to write one batch
package simulator
