package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/crmstream/crmstream/eval"
	"github.com/crmstream/crmstream/simulator"
)

func init() {
	register("eval", runEval, "replay a simulated world through the scorer; AUC vs oracle, calibration, alert precision/recall (make eval)")
}

const evalUsage = `crmctl eval: replay a simulated CRM world through the scorer's own code
(windows, features, models, alert detector) in event time and compare its
scores and alerts with the simulator's ground truth. Prints one key=value
per line.

Usage:
  crmctl eval [flags]

Examples:
  crmctl eval                                  # 6,000 leads, 300 accounts, 300 days
  crmctl eval --leads 20000 --seed 7           # a bigger world, another seed
  crmctl eval --out-of-order 0.01 --duplicates 0.01 --malformed 0.001
  crmctl eval | grep -E '^(lead|churn)_(oracle_)?auc='
  crmctl eval --strict                         # exit 1 unless every goal passes

Flags (environment variable in brackets):
`

func envIntOr(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func runEval(ctx context.Context, args []string) error {
	cfg := eval.Config{Sim: simulator.DefaultConfig()}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), evalUsage)
		fs.PrintDefaults()
	}
	seed := fs.Uint64("seed", uint64(envIntOr("CRM_EVAL_SEED", 1)), "simulator seed [CRM_EVAL_SEED]")
	fs.IntVar(&cfg.Sim.Leads, "leads", envIntOr("CRM_EVAL_LEADS", 6000), "leads arriving over the span [CRM_EVAL_LEADS]")
	fs.IntVar(&cfg.Sim.Accounts, "accounts", envIntOr("CRM_EVAL_ACCOUNTS", 300), "customer accounts [CRM_EVAL_ACCOUNTS]")
	days := fs.Int("days", envIntOr("CRM_EVAL_DAYS", 300), "event-time span in days [CRM_EVAL_DAYS]")
	fs.Float64Var(&cfg.Sim.OutOfOrderRate, "out-of-order", 0, "fraction of events delivered late")
	fs.DurationVar(&cfg.Sim.MaxLateness, "max-lateness", time.Minute, "largest delay of a late event (keep it below --lateness)")
	fs.Float64Var(&cfg.Sim.DuplicateRate, "duplicates", 0, "fraction of events delivered twice")
	fs.Float64Var(&cfg.Sim.MalformedRate, "malformed", 0, "junk records per event (rejected by event.Parse)")
	fs.DurationVar(&cfg.Lateness, "lateness", 5*time.Minute, "scorer allowed lateness")
	partitions := fs.Int("partitions", 1, "scorer workers (keys hashed over them, one watermark each)")
	warmup := fs.Int("warmup-days", 90, "days before leads and churn snapshots count (labels are still scarce)")
	fs.DurationVar(&cfg.LeadSnapshot, "lead-snapshot", 7*24*time.Hour, "read each lead's score this long after its creation")
	strict := fs.Bool("strict", false, "fail unless every goal passes")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Sim.Seed = *seed
	cfg.Sim.Span = time.Duration(*days) * 24 * time.Hour
	cfg.Warmup = time.Duration(*warmup) * 24 * time.Hour
	var errs []error
	if *partitions < 1 || *partitions > 64 {
		errs = append(errs, fmt.Errorf("--partitions %d must be in 1..64", *partitions))
	}
	if cfg.Sim.OutOfOrderRate > 0 && cfg.Sim.MaxLateness >= cfg.Lateness {
		errs = append(errs, fmt.Errorf("--max-lateness %v must be below --lateness %v", cfg.Sim.MaxLateness, cfg.Lateness))
	}
	if *warmup < 0 || cfg.Warmup+cfg.Sim.ConversionHorizon >= cfg.Sim.Span {
		errs = append(errs, fmt.Errorf("--days %d leaves no leads with a known label after %d warm-up days and the %v horizon", *days, *warmup, cfg.Sim.ConversionHorizon))
	}
	if err := cfg.Sim.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = logger

	p, err := eval.NewScorerPipeline(eval.ScorerConfig{Partitions: *partitions, Lateness: cfg.Lateness, Alerts: cfg.Alerts, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Printf("seed=%d\nleads=%d\naccounts=%d\ndays=%d\npartitions=%d\n", cfg.Sim.Seed, cfg.Sim.Leads, cfg.Sim.Accounts, *days, *partitions)
	rep, err := eval.Run(ctx, cfg, p)
	if err != nil {
		return err
	}
	if _, err := rep.WriteTo(os.Stdout); err != nil {
		return err
	}
	if *strict && !rep.Pass() {
		return errors.New("goals not met (see goal_* lines)")
	}
	return nil
}
