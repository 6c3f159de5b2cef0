// Command e2e runs the end-to-end benchmark (package bench): crmstream's
// binaries, the floor and the goka peer against an in-process Kafka broker
// and the local ClickHouse, at full speed and at fixed rates. It prints one
// table per scenario and ends with the line "e2e_events_per_second <N>".
// scripts/bench.sh (make bench) builds the binaries and runs it.
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
	"strings"
	"syscall"

	"github.com/crmstream/crmstream/bench"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	c := bench.DefaultConfig()
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	targets := fs.String("targets", strings.Join(c.Targets, ","), "systems under test, in order: crmstream, floor, goka")
	rates := fs.String("rates", "10000,50000", "fixed-rate scenarios in events/s, comma-separated; empty: none")
	fs.IntVar(&c.Events, "events", c.Events, "backlog scenario: events preloaded (0: skip)")
	fs.DurationVar(&c.RateFor, "rate-for", c.RateFor, "how long each fixed rate is offered")
	fs.IntVar(&c.Partitions, "partitions", c.Partitions, "partitions of crm.raw")
	fs.IntVar(&c.BatchRows, "batch-rows", c.BatchRows, "insert batch of the floor and the goka peer")
	fs.IntVar(&c.Data.Pool, "pool", 20_000, "simulated events replayed in cycles with fresh ids")
	fs.IntVar(&c.Data.Leads, "leads", 200_000, "simulator leads (over its 30-day span)")
	fs.StringVar(&c.BinDir, "bin", c.BinDir, "directory of ingest, scorer, bench-floor, bench-goka")
	fs.StringVar(&c.ClickHouse, "clickhouse-addr", c.ClickHouse, "ClickHouse native address")
	fs.StringVar(&c.WorkDir, "workdir", c.WorkDir, "child logs, goka state and profiles")
	fs.BoolVar(&c.KeepDB, "keep-db", false, "keep the benchmark databases")
	fs.StringVar(&c.DBPrefix, "db-prefix", c.DBPrefix, "fresh databases are named <prefix>_<target>_<scenario> (runs sharing a server need distinct prefixes)")
	fs.BoolVar(&c.Scorer, "scorer", c.Scorer, "run the scorer (false: ingest alone, latency to the events table)")
	fs.DurationVar(&c.Profile, "profile", 0, "CPU-profile crmstream's processes this long in the backlog run (e.g. 10s)")
	fs.DurationVar(&c.RunTimeout, "run-timeout", c.RunTimeout, "give up on one run after this")
	fs.IntVar(&c.ChangelogMaxBytes, "changelog-max-bytes", 0, "pre-create crm.scorer.changelog with this max.message.bytes (work around changelog batches over the broker's 1 MiB; 0: off)")
	fs.DurationVar(&c.StallAfter, "stall-after", c.StallAfter, "fail a run whose progress stops this long")
	ingestArgs := fs.String("ingest-args", "", "extra flags for ingest, space-separated")
	scorerArgs := fs.String("scorer-args", "", "flags for the scorer, space-separated")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	c.Targets = split(*targets)
	c.Rates = nil
	for _, r := range split(*rates) {
		n, err := strconv.Atoi(r)
		if err != nil {
			return fmt.Errorf("--rates: %q: %w", r, err)
		}
		c.Rates = append(c.Rates, n)
	}
	c.IngestArgs, c.ScorerArgs = strings.Fields(*ingestArgs), strings.Fields(*scorerArgs)
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	c.Out = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := bench.New(ctx, c)
	if err != nil {
		return err
	}
	defer h.Close()
	_, err = h.Run(ctx)
	return err
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
