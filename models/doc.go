// Package models scores leads and accounts and learns from every outcome:
// online logistic regression (FTRL-Proximal) over the features of a
// features.Set, blended with a transparent cold-start rule, with reasons,
// progressive validation, drift detection, versioned artifacts and a
// ClickHouse model registry.
//
// # Scoring
//
// Model.Score turns a features.Vector into a Score: a probability, a 0–100
// score (round(100·p)), a tier (hot ≥ 80, warm ≥ 50 by default; see Tiers),
// the version that produced it, and the reasons: the MaxReasons largest
// positive and negative contributions, each with the raw feature value and
// the ids of the events behind it. Contributions are in log-odds and add up
// (with the bias) to the score's logit, so reasons never contradict the
// score. Score takes a read lock and does not allocate.
//
// # Cold start
//
// Until labels arrive, the model's weights are zero and a Rule decides: a
// bias plus hand-set weights on engagement inputs (windowed counts, the
// exp(−days/7) freshness of the last touch, so engagement decays) and on
// firmographic values (fit). The score is the blend in log-odds
// (1−c)·rule + c·model with confidence c = labels/(labels+Config.Confidence),
// so the learned model takes over as labels accumulate. The lead model
// uses the default (half weight at 200 labels); the churn model keeps the
// rule longer (3,000), which on the simulator ranks and calibrates better
// than the learner alone (churn AUC 0.80 against the oracle's 0.82, seed
// 1; the learner alone 0.72).
// A learned blend weight (a stacker over the rule's and the learner's
// log-odds) was tried for leads: no gain beyond noise.
//
// # Learning from delayed labels
//
// A lead's label (converted within 90 days of lead_created, or not) is
// known weeks after the lead is scored. The scorer keeps a Pending per key:
// the probability served last, the deadline, and samples of the key's
// vector: the one scored at the start of the wait and, for each of the
// model's sample ages (Config.SampleAges: 1, 3, 7, 14 and 30 days for
// leads), the vector the key was served at that age — the last one scored
// before it, taken when the next event or the label shows the age has
// passed (Model.Due), so a lead that went quiet is learned with the stale
// vector a reader saw. The model thus learns what a lead looks like at
// every age it is read at, not only just before its outcome. When a
// conversion arrives or the deadline timer fires, LearnPending first
// evaluates the probability served (progressive validation: AUC, log loss,
// calibration error), then learns the samples with the label.
//
// Learning only when outcomes arrive would show the model fast positives
// weeks before their negatives. With Config.FakeNegatives (the default of
// LeadConfig and ChurnConfig), every sample is learned as a negative when
// it is taken (Provisional), and gets its positive if the label is
// positive (Ktena et al., RecSys 2019). The learner then estimates
// q = p/(1+p), which Score maps back to p exactly. On the Olist replay this
// is what lifts the first-score AUC of new leads from 0.667 to 0.680: their
// landing pages get negatives as soon as they appear.
//
// The updates still come in an order FTRL handles badly (a converted
// lead's samples all at once, cohorts of negatives); Config.Shuffle passes
// them through a reservoir that learns them in a locally random order (see
// shuffle.go). On the simulator (seeds 1, 2, 3) exact-age samples,
// per-sample fake negatives and a 3,000-update shuffle raise the 7-day lead
// AUC from 0.923/0.949/0.951 to 0.946/0.959/0.962 of the oracle's and
// lower its calibration error from 0.11 to 0.08.
//
// # Drift
//
// Page-Hinkley detectors watch the log loss of the labels and the inputs of
// key features (DriftConfig.Features). A detection increments
// crmstream_models_drift_total{model,signal} and calls Config.OnDrift, from
// which the scorer raises a model_drift alert.
//
// # Versions, registry and live swap
//
// An Artifact is a model version: sparse weights (FTRL state or batch
// logistic-regression weights over the same index space, see Model.Encode),
// calibration, the feature-set fingerprint it was trained on and its
// metrics. Registry stores artifacts in crm.models, promotions and
// rollbacks in crm.model_promotions and metrics in crm.model_metrics.
// A Watcher polls the registry for the champion and calls Model.Load when it
// changes, so a promotion or a rollback reaches a running scorer without a
// restart. Load refuses artifacts of another feature schema.
//
// # Metrics
//
//	crmstream_models_labels_total{model}            labels learned from
//	crmstream_models_positive_labels_total{model}   positive labels
//	crmstream_models_drift_total{model,signal}      drift detections
//	crmstream_models_auc_ratio{model}               progressive AUC
//	crmstream_models_log_loss_ratio{model}          progressive log loss
//	crmstream_models_calibration_error_ratio{model} progressive ECE (10 bins)
//	crmstream_models_confidence_ratio{model}        weight of the learned model
//	crmstream_models_watch_errors_total{model}      failed registry polls or loads
//	crmstream_models_swaps_total{model}             live model swaps
package models
