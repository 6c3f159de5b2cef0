package eval

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crmstream/crmstream/alerts"
)

// Report holds the figures of one run. WriteTo prints them as key=value
// lines, one per line, for grep and for CI.
type Report struct {
	Live              bool // the pipeline ran live on a simulated clock
	Records, Rejected int64
	Elapsed           time.Duration
	LeadScores        int
	ChurnScores       int
	AlertRows         int
	AlertsByKind      [6]int // by alertKinds order, then other
	Versions          map[string]int

	Lead        LeadQuality
	Churn       Binary
	Abandonment alerts.Quality
	Inactivity  alerts.Quality
}

// Goals of the issues: progressive lead AUC ≥ 0.95 × the oracle's after
// warm-up; abandonment and inactivity precision and recall ≥ 0.99.
const (
	GoalAUCRatio = 0.95
	GoalAlert    = 0.99
	// GoalWallDelay: live alerts fire within 5 s of their condition.
	GoalWallDelay = 5 * time.Second
)

// Pass reports whether every goal is met.
func (r *Report) Pass() bool {
	return r.Lead.Snapshot.Ratio() >= GoalAUCRatio &&
		r.Abandonment.Precision >= GoalAlert && r.Abandonment.Recall >= GoalAlert &&
		r.Inactivity.Precision >= GoalAlert && r.Inactivity.Recall >= GoalAlert
}

// WriteTo prints the report.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	kv := func(k string, v any) {
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) {
				fmt.Fprintf(&b, "%s=NaN\n", k)
				return
			}
			fmt.Fprintf(&b, "%s=%.4f\n", k, x)
		case time.Duration:
			fmt.Fprintf(&b, "%s=%.3f\n", k, x.Seconds())
		default:
			fmt.Fprintf(&b, "%s=%v\n", k, v)
		}
	}
	mode := "replay"
	if r.Live {
		mode = "live"
	}
	kv("mode", mode)
	kv("records", r.Records)
	kv("records_rejected", r.Rejected)
	kv("elapsed_s", r.Elapsed)
	if r.Elapsed > 0 {
		kv("records_per_s", math.Round(float64(r.Records)/r.Elapsed.Seconds()))
	}
	if len(r.Versions) > 0 {
		names := make([]string, 0, len(r.Versions))
		for v := range r.Versions {
			names = append(names, v)
		}
		slices.Sort(names)
		parts := make([]string, len(names))
		for i, v := range names {
			parts[i] = fmt.Sprintf("%s:%d", v, r.Versions[v])
		}
		kv("model_versions", strings.Join(parts, ","))
	}
	kv("lead_score_rows", r.LeadScores)
	kv("churn_score_rows", r.ChurnScores)
	kv("alert_rows", r.AlertRows)
	for i, k := range alertKinds {
		kv("alert_rows_"+string(k), r.AlertsByKind[i])
	}

	binaryKV := func(prefix string, x Binary) {
		kv(prefix+"_n", x.N)
		kv(prefix+"_positives", x.Positives)
		kv(prefix+"_missing", x.Missing)
		kv(prefix+"_auc", x.Model.AUC)
		kv(prefix+"_auc_se", x.AUCStdErr)
		kv(prefix+"_oracle_auc", x.Oracle.AUC)
		kv(prefix+"_auc_ratio", x.Ratio())
		kv(prefix+"_ece", x.Model.ECE)
		kv(prefix+"_oracle_ece", x.Oracle.ECE)
		kv(prefix+"_logloss", x.Model.LogLoss)
		kv(prefix+"_oracle_logloss", x.Oracle.LogLoss)
		kv(prefix+"_brier", x.Model.Brier)
		kv(prefix+"_base_rate", x.Model.BaseRate)
	}
	binaryKV("lead", r.Lead.Snapshot)
	kv("lead_first_auc", r.Lead.First.Model.AUC)
	kv("lead_first_ece", r.Lead.First.Model.ECE)
	for i, off := range SnapshotOffsets {
		if i < len(r.Lead.At) {
			name := fmt.Sprintf("lead_auc_%dd", int(off.Hours()/24))
			kv(name, r.Lead.At[i].Model.AUC)
			kv(name+"_ratio", r.Lead.At[i].Ratio())
		}
	}
	kv("lead_last_auc", r.Lead.Last.Model.AUC)
	kv("lead_last_auc_ratio", r.Lead.Last.Ratio())
	kv("lead_last_ece", r.Lead.Last.Model.ECE)
	kv("lead_all_scores_auc", r.Lead.AllAUC)
	kv("lead_all_scores_n", r.Lead.AllN)
	binaryKV("churn", r.Churn)

	alertKV := func(prefix string, q alerts.Quality) {
		kv(prefix+"_truth", q.Truth)
		kv(prefix+"_alerts", q.Alerts)
		kv(prefix+"_retracted", q.Retracted)
		kv(prefix+"_tp", q.TP)
		kv(prefix+"_fp", q.FP)
		kv(prefix+"_fn", q.FN)
		kv(prefix+"_precision", q.Precision)
		kv(prefix+"_recall", q.Recall)
		kv(prefix+"_delay_p50_s", q.EventDelay.P50)
		kv(prefix+"_delay_p95_s", q.EventDelay.P95)
		kv(prefix+"_delay_max_s", q.EventDelay.Max)
		if r.Live {
			kv(prefix+"_wall_delay_p50_s", q.WallDelay.P50)
			kv(prefix+"_wall_delay_p95_s", q.WallDelay.P95)
			kv(prefix+"_wall_delay_max_s", q.WallDelay.Max)
		}
	}
	alertKV("abandonment", r.Abandonment)
	alertKV("inactivity", r.Inactivity)

	pf := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "fail"
	}
	kv("goal_lead_auc_ratio", pf(r.Lead.Snapshot.Ratio() >= GoalAUCRatio))
	kv("goal_abandonment", pf(r.Abandonment.Precision >= GoalAlert && r.Abandonment.Recall >= GoalAlert))
	kv("goal_inactivity", pf(r.Inactivity.Precision >= GoalAlert && r.Inactivity.Recall >= GoalAlert))
	if r.Live {
		kv("goal_alert_wall_delay_p95_5s", pf(r.Abandonment.WallDelay.P95 <= GoalWallDelay && r.Inactivity.WallDelay.P95 <= GoalWallDelay))
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
