package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/crmstream/crmstream/eval"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/simulator"
)

func init() {
	register("eval", runEval, "replay a simulated world through the scorer; AUC vs oracle, calibration, alert precision/recall (make eval)")
}

func runEval(ctx context.Context, args []string) error {
	cfg := eval.Config{Sim: simulator.DefaultConfig()}
	var seed, days, partitions, warmup int
	var strict, verbose, live, rules bool
	f := cli.New("crmctl eval", "replay a simulated CRM world through the scorer's own code (windows, features, models, "+
		"alert detector) in event time and compare its scores and alerts with the simulator's ground truth: lead and "+
		"churn AUC beside the oracle's (the true probabilities), calibration, alert precision, recall and delay. "+
		"Prints one key=value per line.",
		"  crmctl eval                                  # 6,000 leads, 300 accounts, 300 days\n"+
			"  crmctl eval --leads 20000 --seed 7           # a bigger world, another seed\n"+
			"  crmctl eval --out-of-order 0.01 --duplicates 0.01 --malformed 0.001\n"+
			"  crmctl eval | grep -E '^(lead|churn)_(oracle_)?auc='\n"+
			"  crmctl eval --strict                         # exit 1 unless every goal passes")
	f.Int(&seed, "seed", "CRM_EVAL_SEED", 1, "simulator seed")
	f.Int(&cfg.Sim.Leads, "leads", "CRM_EVAL_LEADS", 6000, "leads arriving over the span")
	f.Int(&cfg.Sim.Accounts, "accounts", "CRM_EVAL_ACCOUNTS", 300, "customer accounts")
	f.Int(&days, "days", "CRM_EVAL_DAYS", 300, "event-time span in days")
	f.Float(&cfg.Sim.OutOfOrderRate, "out-of-order", "", 0, "fraction of events delivered late")
	f.Duration(&cfg.Sim.MaxLateness, "max-lateness", "", time.Minute, "largest delay of a late event (keep it below --lateness)")
	f.Float(&cfg.Sim.DuplicateRate, "duplicates", "", 0, "fraction of events delivered twice")
	f.Float(&cfg.Sim.MalformedRate, "malformed", "", 0, "junk records per event (rejected by event.Parse)")
	f.Duration(&cfg.Lateness, "lateness", "", 5*time.Minute, "scorer allowed lateness")
	f.Int(&partitions, "partitions", "", 1, "scorer workers (keys hashed over them, one watermark each)")
	f.Int(&warmup, "warmup-days", "", 90, "days before leads and churn snapshots count (labels are still scarce)")
	f.Duration(&cfg.LeadSnapshot, "lead-snapshot", "", 7*24*time.Hour, "read each lead's score this long after its creation")
	f.Bool(&live, "live", "", false, "run the scorer live on a simulated wall clock that follows delivery time (Advance every 500 ms, alerts ahead of the watermark, retractions); adds wall delays")
	f.Bool(&rules, "rules", "", false, "score with the transparent rules only (the scorer's --rules) instead of the learned models")
	f.Bool(&strict, "strict", "", false, "fail unless every goal passes")
	f.Bool(&verbose, "v", "", false, "log progress to stderr")
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	cfg.Sim.Seed = uint64(max(seed, 0))
	cfg.Sim.Span = time.Duration(days) * 24 * time.Hour
	cfg.Warmup = time.Duration(warmup) * 24 * time.Hour
	var errs []error
	if seed < 0 {
		errs = append(errs, fmt.Errorf("--seed %d must not be negative", seed))
	}
	if partitions < 1 || partitions > 64 {
		errs = append(errs, fmt.Errorf("--partitions %d must be in 1..64", partitions))
	}
	if cfg.Sim.OutOfOrderRate > 0 && cfg.Sim.MaxLateness >= cfg.Lateness {
		errs = append(errs, fmt.Errorf("--max-lateness %v must be below --lateness %v", cfg.Sim.MaxLateness, cfg.Lateness))
	}
	if warmup < 0 || cfg.Warmup+cfg.Sim.ConversionHorizon >= cfg.Sim.Span {
		errs = append(errs, fmt.Errorf("--days %d leaves no leads with a known label after %d warm-up days and the %v horizon", days, warmup, cfg.Sim.ConversionHorizon))
	}
	if err := cfg.Sim.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if f.ValidateOnly() {
		for _, s := range f.Settings() {
			fmt.Println(s)
		}
		return nil
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = logger

	p, err := eval.NewScorerPipeline(eval.ScorerConfig{Partitions: partitions, Live: live, Rules: rules, Lateness: cfg.Lateness, Alerts: cfg.Alerts, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Printf("seed=%d\nleads=%d\naccounts=%d\ndays=%d\npartitions=%d\n", cfg.Sim.Seed, cfg.Sim.Leads, cfg.Sim.Accounts, days, partitions)
	rep, err := eval.Run(ctx, cfg, p)
	if err != nil {
		return err
	}
	if _, err := rep.WriteTo(os.Stdout); err != nil {
		return err
	}
	if strict && !rep.Pass() {
		return errors.New("goals not met (see goal_* lines)")
	}
	return nil
}
