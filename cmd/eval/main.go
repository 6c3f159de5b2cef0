// Command eval replays a simulated world through the scorer and prints how
// its scores and alerts compare with the ground truth (make eval).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/crmstream/crmstream/eval"
	"github.com/crmstream/crmstream/simulator"
)

const usage = `eval: replay a simulated CRM world through the scorer's own code (windows,
features, models, alert detector) and compare scores and alerts with the
simulator's ground truth. Prints one key=value per line.

Usage:
  eval [flags]

Examples:
  eval                                   # the default world: 6,000 leads, 300 accounts, 300 days
  eval --leads 20000 --seed 7            # a bigger world, another seed
  eval --out-of-order 0.01 --duplicates 0.01 --malformed 0.001   # with delivery noise
  eval | grep -E '^(lead|churn)_(oracle_)?auc='
  eval --strict                          # exit 2 unless every goal passes

Flags (environment variable in brackets):
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		var g goalError
		if errors.As(err, &g) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "eval:", err)
		os.Exit(1)
	}
}

type goalError struct{}

func (goalError) Error() string { return "goals not met" }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func run(args []string) error {
	cfg := eval.Config{Sim: simulator.DefaultConfig()}
	cfg.Sim.Leads, cfg.Sim.Accounts, cfg.Sim.Span = 6000, 300, 300*24*time.Hour
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	seed := fs.Uint64("seed", uint64(envInt("CRM_EVAL_SEED", 1)), "simulator seed [CRM_EVAL_SEED]")
	fs.IntVar(&cfg.Sim.Leads, "leads", envInt("CRM_EVAL_LEADS", cfg.Sim.Leads), "leads over the span [CRM_EVAL_LEADS]")
	fs.IntVar(&cfg.Sim.Accounts, "accounts", envInt("CRM_EVAL_ACCOUNTS", cfg.Sim.Accounts), "customer accounts [CRM_EVAL_ACCOUNTS]")
	days := fs.Int("days", envInt("CRM_EVAL_DAYS", 300), "event-time span in days [CRM_EVAL_DAYS]")
	fs.Float64Var(&cfg.Sim.OutOfOrderRate, "out-of-order", 0, "fraction of events delivered late")
	fs.DurationVar(&cfg.Sim.MaxLateness, "max-lateness", time.Minute, "largest delay of a late event (keep it below --lateness)")
	fs.Float64Var(&cfg.Sim.DuplicateRate, "duplicates", 0, "fraction of events delivered twice")
	fs.Float64Var(&cfg.Sim.MalformedRate, "malformed", 0, "junk records per event")
	fs.DurationVar(&cfg.Lateness, "lateness", 5*time.Minute, "scorer allowed lateness")
	partitions := fs.Int("partitions", 1, "scorer workers (keys hashed over them, one watermark each)")
	warmup := fs.Int("warmup-days", 90, "days before leads and churn snapshots count")
	snapshot := fs.Duration("lead-snapshot", 7*24*time.Hour, "read each lead's score this long after creation")
	strict := fs.Bool("strict", false, "exit 2 unless every goal passes")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Sim.Seed = *seed
	cfg.Sim.Span = time.Duration(*days) * 24 * time.Hour
	cfg.Warmup = time.Duration(*warmup) * 24 * time.Hour
	cfg.LeadSnapshot = *snapshot
	var errs []error
	if *partitions < 1 || *partitions > 64 {
		errs = append(errs, fmt.Errorf("--partitions %d must be in 1..64", *partitions))
	}
	if cfg.Sim.OutOfOrderRate > 0 && cfg.Sim.MaxLateness >= cfg.Lateness {
		errs = append(errs, fmt.Errorf("--max-lateness %v must be below --lateness %v", cfg.Sim.MaxLateness, cfg.Lateness))
	}
	if err := cfg.Sim.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = logger
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	p, err := eval.NewScorerPipeline(eval.ScorerConfig{Partitions: *partitions, Lateness: cfg.Lateness, Alerts: cfg.Alerts, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Printf("seed=%d\nleads=%d\naccounts=%d\ndays=%d\n", cfg.Sim.Seed, cfg.Sim.Leads, cfg.Sim.Accounts, *days)
	rep, err := eval.Run(ctx, cfg, p)
	if err != nil {
		return err
	}
	if _, err := rep.WriteTo(os.Stdout); err != nil {
		return err
	}
	if *strict && !rep.Pass() {
		return goalError{}
	}
	return nil
}
