// Package retrain is the data team's batch retraining: it builds a
// point-in-time training set from ClickHouse with the SQL the feature
// definitions generate (features.Query), trains challengers, compares them
// with the serving champion on a time-split holdout, registers the result
// and promotes it only if it wins.
//
// # Training set
//
// One example per key (lead or account) and as-of offset after its start
// event (lead_created: 0, 1 and 7 days; subscription_started: 0, 30, 60, 90
// days), with the features as known at that time and the label of the
// model (conversion within 90 days of lead_created; cancellation within 30
// days of the as-of time). Keys already converted at the as-of time are
// dropped, and so are negatives whose horizon has not passed yet.
//
// # Challengers
//
//   - Logistic regression fitted with gonum's L-BFGS over exactly the
//     inputs the online model uses (models.Model.Encode), L2-regularized.
//     Under fake negatives (the online default) every example is also a
//     negative, so the weights mean what the online learner's mean and the
//     artifact loads into it; the scorer keeps learning from there.
//   - A decision tree from golearn (ID3 on discretized features) with its
//     k-fold cross-validation. It is a reference: the scorer cannot serve it,
//     so it is reported, not registered. golearn panics on some inputs; the
//     calls are guarded.
//
// Holdout figures come from the serving code: the artifact is loaded into a
// models.Model and the holdout vectors are scored with Model.Score.
//
// # Promotion
//
// The logistic regression is registered (crm.models) with its holdout
// metrics; with Config.Promote it becomes the champion when its holdout AUC
// is higher than the champion's on the same holdout (or there is no
// champion the features can be scored with). Running scorers pick the new
// champion up through models.Watcher; `crmctl rollback` goes back.
package retrain
