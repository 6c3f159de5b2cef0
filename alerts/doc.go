// Package alerts turns a stream of CRM events and model scores into alerts
// for sales reps: one alert per episode, on time, never spammy, and taken
// back when late data proves it wrong.
//
// # Kinds
//
//   - abandonment: a flow_started with no flow_completed for the same key
//     and flow within the flow's timeout (Config.FlowTimeout, 30 minutes,
//     per flow in Config.FlowTimeouts). Starting the same flow again before
//     the timeout continues the attempt and moves its deadline. The alert
//     carries the flow, the last step reached and the cart value.
//   - inactivity: a paying account (a payment event newer than any
//     cancellation) with no login or feature_used for Config.AccountQuiet (7
//     days), counted from its last activity or its subscription start; and
//     an engaged lead (Config.EngagedMin engagement events, see
//     IsEngagement) with no activity (IsLeadActivity) for Config.LeadQuiet
//     (14 days). Both fire from timers, with no new event for the key.
//   - hot_lead: a lead score crossing Config.HotThreshold (80) upward, or
//     rising Config.HotRise (25) points within Config.HotRiseWindow (24 h).
//   - churn_risk: a churn probability crossing Config.ChurnThreshold upward.
//   - model_drift: raised by the models side with NewModelDrift.
//
// # Episodes and hygiene
//
// An episode is one occurrence of a condition: one flow attempt, one quiet
// spell (identified by the activity it started from), one crossing. Its
// alert id is EpisodeID(kind, key, …): detecting it again after a replay or
// restart yields the same id, so every store collapses it.
//
//   - One alert per episode: an episode fires at most once.
//   - Cooldown (Config.Cooldown) per key and kind, in event time: an
//     episode whose condition falls within the cooldown of the previous
//     alert is dropped and counted as suppressed.
//   - Suppression: no lead alert once the lead converted (deal_won,
//     subscription_started) at or before the condition; no account alert
//     once the account churned (subscription_cancelled).
//   - Retraction: a late event that disproves a fired alert (a flow_completed
//     at or before the deadline, a login inside the quiet spell, a
//     conversion or cancellation before the condition) emits the same alert
//     id with status retracted, for up to Config.RetractWindow after the
//     condition.
//   - Hysteresis: after a hot_lead or churn_risk, the value must fall below
//     threshold − rearm before a new crossing counts.
//
// # Time and timeliness
//
// The detector reasons in event time and is handed a clock, "now", with
// every call. Conditions that can become true without an event (deadlines)
// are reported as timer requests; the caller calls OnTimer when its clock
// reaches them. Windowed does this inside a windows.Engine: see its
// documentation for why, in live mode, the clock runs ahead of the watermark
// by the allowed lateness, so an abandonment fires within a second of its
// deadline on a busy partition and within the engine's IdleAfter on a quiet
// one, at the price of retractions by late events within the lateness. In
// backfill the clock is the watermark: no retractions, the final answer.
//
// Alerts carry two times: EventTime, when the condition became true (the
// deadline for abandonment and inactivity, the scored event for scores), and
// FiredAt, the wall clock when the detector fired. Details.DetectedAt is the
// detector's clock at firing (never before EventTime: an event that proves a
// deadline passed fires the episode before the clock gets there):
// DetectedAt − EventTime is the event-time delay.
//
// # State
//
// State is the per-key memory: the open flow attempts, the last activity
// per rule, the conversion and payment times, recent scores, the time of the
// last alert per kind. It is a compact value with a binary snapshot
// (AppendBinary / UnmarshalBinary, Codec for windows.Enc); finished episodes
// are dropped once no late event can change them (Config.RetractWindow) and
// flow attempts are capped at Config.MaxFlows per key.
//
// # Publishing
//
// Writer stores alert states in the ClickHouse table crm.alerts (one row per
// state; the version column ranks fired < acknowledged < retracted) and
// produces them to the Kafka topic crm.alerts keyed by alert id. Both are
// idempotent, so the scorer may write an alert again after a restart.
//
// # Quality
//
// Evaluate matches alerts against ground-truth episodes and reports
// precision, recall and the delay from condition to alert per kind.
//
// # Metrics
//
//	crmstream_alerts_fired_total{kind}
//	crmstream_alerts_retracted_total{kind}
//	crmstream_alerts_suppressed_total{kind,reason}   reason: cooldown, converted, churned
//	crmstream_alerts_written_total                   Writer: alert rows written
//	crmstream_alerts_write_errors_total              Writer: failed writes
package alerts
