package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/retrain"
)

func init() {
	register("retrain", runRetrain, "train batch challengers on a point-in-time training set; register, promote if better")
	register("models", runModels, "list the registered versions of a model and its promotion history")
	register("promote", runPromote, "make a registered model version the champion (scorers swap it in live)")
	register("rollback", runRollback, "return a model to its previous champion")
}

func openStore(ctx context.Context, ccfg chstore.Config) (*chstore.Store, error) {
	st, err := chstore.Open(ctx, ccfg, nil)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func runRetrain(ctx context.Context, args []string) error {
	var (
		cfg          retrain.Config
		ccfg         chstore.Config
		since, until string
		offsets      []string
		quiet        bool
	)
	f := cli.New("crmctl retrain", "build a point-in-time training set from ClickHouse with the SQL the feature "+
		"definitions generate, train a logistic regression (L-BFGS) and a decision tree (golearn, cross-validated), "+
		"compare them with the champion on the latest examples, register the logistic regression and, with --promote, "+
		"make it the champion if its holdout AUC is higher.",
		"  crmctl retrain --model lead --promote\n  crmctl retrain --model churn --since 2026-01-01 --holdout 0.25")
	f.String(&cfg.Model, "model", "", "lead", "lead or churn")
	f.String(&since, "since", "", "", "only keys started on or after this date (YYYY-MM-DD)")
	f.String(&until, "until", "", "", "only keys started before this date (default: now)")
	f.List(&offsets, "offsets", "", nil, "as-of offsets after the start event, e.g. 0s,24h,168h (default per model)")
	f.Float(&cfg.Holdout, "holdout", "", 0.3, "latest fraction of examples held out")
	f.Float(&cfg.L2, "l2", "", 1, "L2 strength of the logistic regression")
	f.Int(&cfg.Folds, "folds", "", 5, "cross-validation folds of the decision tree")
	f.Bool(&cfg.Promote, "promote", "", false, "promote the new version if it beats the champion")
	f.String(&cfg.Actor, "actor", "", os.Getenv("USER"), "recorded with the promotion")
	f.String(&cfg.Version, "version", "", "", "version name (default <model>-<time>-logreg)")
	f.Bool(&quiet, "quiet", "", false, "no progress lines")
	f.ClickHouse(&ccfg)
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	var err error
	if cfg.Since, err = parseDate(since); err != nil {
		return fmt.Errorf("%w: --since: %v", errUsage, err)
	}
	if cfg.Until, err = parseDate(until); err != nil {
		return fmt.Errorf("%w: --until: %v", errUsage, err)
	}
	for _, o := range offsets {
		d, err := time.ParseDuration(o)
		if err != nil {
			return fmt.Errorf("%w: --offsets: %v", errUsage, err)
		}
		cfg.Offsets = append(cfg.Offsets, d)
	}
	st, err := openStore(ctx, ccfg)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg.Conn, cfg.DB = st.Conn, st.DB
	if !quiet {
		cfg.Progress = os.Stderr
	}
	rep, err := retrain.Run(ctx, cfg)
	if rep != nil {
		printReport(rep)
	}
	return err
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse("2006-01-02", s)
}

func printReport(rep *retrain.Report) {
	fmt.Printf("examples %d (%d positive): train %d, holdout %d from %s\n\n", rep.Examples, rep.Positives,
		rep.Train, rep.Holdout, rep.Split.Format(time.RFC3339))
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "model\tversion\tholdout AUC\tlog loss\tECE\tCV accuracy\tCV F1\tnote")
	rows := rep.Challengers
	if rep.Champion != nil {
		rows = append(rows, *rep.Champion)
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%.4f\t%.4f\t%.4f\t%s\t%s\t%s\n", r.Name, dash(r.Version), r.Holdout.AUC, r.Holdout.LogLoss,
			r.Holdout.ECE, fnum(r.CVAccuracy), fnum(r.CVF1), r.Note)
	}
	_ = w.Flush()
	fmt.Printf("\nregistered: %s\npromoted: %v (%s)\n", dash(rep.Registered), rep.Promoted, rep.Decision)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fnum(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", f)
}

func runModels(ctx context.Context, args []string) error {
	var (
		model string
		ccfg  chstore.Config
	)
	f := cli.New("crmctl models", "list a model's registered versions (status, holdout metrics) and its promotion history.",
		"  crmctl models --model lead")
	f.String(&model, "model", "", "lead", "lead or churn")
	f.ClickHouse(&ccfg)
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	st, err := openStore(ctx, ccfg)
	if err != nil {
		return err
	}
	defer st.Close()
	reg := models.NewRegistry(st.Conn, st.DB, nil, nil)
	list, err := reg.List(ctx, model)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "version\tkind\tstatus\tcreated\tmetrics")
	for _, e := range list {
		var ms []string
		for _, k := range []string{"holdout_auc", "holdout_log_loss", "holdout_ece", "train_n"} {
			if v, ok := e.Metrics[k]; ok {
				ms = append(ms, fmt.Sprintf("%s=%.4g", k, v))
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Version, e.Kind, e.Status, e.CreatedAt.Format(time.RFC3339), strings.Join(ms, " "))
	}
	_ = w.Flush()
	h, err := reg.History(ctx, model)
	if err != nil {
		return err
	}
	fmt.Println("\nhistory:")
	for _, p := range h {
		fmt.Printf("  #%d %s %s %s by %s\n", p.Seq, p.At.Format(time.RFC3339), p.Action, p.Version, dash(p.Actor))
	}
	return nil
}

func runPromote(ctx context.Context, args []string) error {
	var (
		model, version, actor string
		ccfg                  chstore.Config
	)
	f := cli.New("crmctl promote", "make a registered version the champion; running scorers load it at their next poll.",
		"  crmctl promote --model lead --version lead-20261203T091500Z-logreg")
	f.String(&model, "model", "", "lead", "lead or churn")
	f.String(&version, "version", "", "", "version to promote")
	f.String(&actor, "actor", "", os.Getenv("USER"), "recorded with the promotion")
	f.ClickHouse(&ccfg)
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	if version == "" {
		return fmt.Errorf("%w: --version is required", errUsage)
	}
	st, err := openStore(ctx, ccfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := models.NewRegistry(st.Conn, st.DB, nil, nil).Promote(ctx, model, version, actor); err != nil {
		return err
	}
	fmt.Printf("%s: champion is now %s\n", model, version)
	return nil
}

func runRollback(ctx context.Context, args []string) error {
	var (
		model, actor string
		ccfg         chstore.Config
	)
	f := cli.New("crmctl rollback", "return a model to the champion before the current one; running scorers load it at their next poll.",
		"  crmctl rollback --model lead")
	f.String(&model, "model", "", "lead", "lead or churn")
	f.String(&actor, "actor", "", os.Getenv("USER"), "recorded with the rollback")
	f.ClickHouse(&ccfg)
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	st, err := openStore(ctx, ccfg)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := models.NewRegistry(st.Conn, st.DB, nil, nil).Rollback(ctx, model, actor)
	if err != nil {
		return err
	}
	fmt.Printf("%s: rolled back, champion is now %s\n", model, v)
	return nil
}
