// Package eval measures the scoring pipeline against the simulator's ground
// truth: the harness behind `make eval`.
//
// # What is measured
//
// Run generates a finite simulated world (simulator.Config), passes every
// record through event.Parse as ingest would (junk is rejected and counted)
// and feeds the events, in delivery order, to a Pipeline — the scorer's own
// Worker, driven in event time (see ScorerPipeline). It then compares what
// came out with what really happened:
//
//   - Lead conversion: for each lead created after Warmup whose horizon
//     ends inside the stream, the last probability served at most
//     LeadSnapshot (7 days) after creation and before any conversion — a
//     progressive score, learned only from labels that had arrived. Its AUC,
//     log loss, Brier score and calibration error (ECE, 10 bins) sit beside
//     those of the oracle: the simulator's true probability on the same
//     leads. The oracle is the ceiling; the goal is AUC ≥ 0.95 × oracle.
//     The first score (firmographics only) and the AUC over every score
//     served before its label are printed too.
//   - Churn: weekly snapshots of every paying account after Warmup; the
//     last churn probability served by then against "cancelled within 30
//     days", beside the oracle (the true 30-day risk given the hidden health
//     at the snapshot).
//   - Alerts: AlertTruth turns the simulator's abandonment and inactivity
//     episodes into the alerts that should fire under the detector's rules
//     (no abandonment alert once the lead converted, cooldowns per key, only
//     conditions the watermark reaches), and alerts.Evaluate matches them
//     one-to-one with the alerts standing at the end (retracted ones are
//     not positives): precision, recall and the event-time delay from
//     condition to detection (p50, p95, max).
//
// Report.WriteTo prints one key=value per line (lead_auc=…,
// lead_oracle_auc=…, churn_auc=…, abandonment_precision=…,
// goal_lead_auc_ratio=pass), easy to grep.
package eval
