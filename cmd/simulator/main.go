// Command simulator generates synthetic CRM event streams with ground truth
// and delivers them to a file, the ingest collector or Kafka.
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
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/simulator"
)

const usage = `simulator: synthetic CRM event streams driven by hidden intent (leads) and
health (accounts), with the ground truth written alongside.

Usage:
  simulator [flags]

Examples:
  # 240 days of 2,000 leads and 300 accounts to a file, truth beside it
  simulator --out artifacts/sim/events.ndjson --truth artifacts/sim/truth

  # the same stream into the local collector, 5,000 events/s, with noise
  simulator --http http://127.0.0.1:8081/v1/events --rate 5000 \
      --out-of-order 0.01 --duplicates 0.005 --malformed 0.001

  # straight into Kafka (raw topic, ingest validates it)
  simulator --kafka 127.0.0.1:9092 --topic crm.raw

  # live demo: an hour of backfill, then new leads arriving in real time
  simulator --live --leads-per-hour 120 --backfill 1h --http http://127.0.0.1:8081/v1/events

Flags (environment variable in brackets):
`

// config is everything the command needs, from flags and CRM_* variables.
type config struct {
	sim        simulator.Config
	out        string
	truthDir   string
	httpURL    string
	writeKey   string
	gzip       bool
	brokers    string
	topic      string
	rate       float64
	live       bool
	backfill   time.Duration
	limit      int64
	batch      int
	logLevel   string
	start      string
	span       string
	flowTimout time.Duration
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func parse(args []string) (config, error) {
	c := config{sim: simulator.DefaultConfig()}
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	seed := fs.Uint64("seed", uint64(envInt("CRM_SIM_SEED", 1)), "random seed; same seed, same stream [CRM_SIM_SEED]")
	fs.IntVar(&c.sim.Leads, "leads", envInt("CRM_SIM_LEADS", c.sim.Leads), "leads arriving over the span (batch mode) [CRM_SIM_LEADS]")
	fs.IntVar(&c.sim.Accounts, "accounts", envInt("CRM_SIM_ACCOUNTS", c.sim.Accounts), "customer accounts [CRM_SIM_ACCOUNTS]")
	fs.IntVar(&c.sim.Reps, "reps", envInt("CRM_SIM_REPS", c.sim.Reps), "sales reps (owner_id rep-01…) [CRM_SIM_REPS]")
	fs.StringVar(&c.start, "start", env("CRM_SIM_START", c.sim.Start.Format(time.RFC3339)), "event time of the first day, RFC 3339 (ignored with --live) [CRM_SIM_START]")
	fs.StringVar(&c.span, "span", env("CRM_SIM_SPAN", "240d"), "event time covered, e.g. 240d or 36h [CRM_SIM_SPAN]")
	fs.StringVar(&c.sim.IDPrefix, "id-prefix", env("CRM_SIM_ID_PREFIX", c.sim.IDPrefix), "prefix of every generated id [CRM_SIM_ID_PREFIX]")
	fs.DurationVar(&c.flowTimout, "flow-timeout", c.sim.DefaultFlowTimeout, "abandonment timeout of flows, for the truth [CRM_SIM_FLOW_TIMEOUT]")
	fs.Float64Var(&c.sim.OutOfOrderRate, "out-of-order", envFloat("CRM_SIM_OUT_OF_ORDER", 0), "fraction of events delivered late [CRM_SIM_OUT_OF_ORDER]")
	fs.DurationVar(&c.sim.MaxLateness, "max-lateness", c.sim.MaxLateness, "largest delivery delay of a late event")
	fs.Float64Var(&c.sim.DuplicateRate, "duplicates", envFloat("CRM_SIM_DUPLICATES", 0), "fraction of events delivered twice [CRM_SIM_DUPLICATES]")
	fs.Float64Var(&c.sim.MalformedRate, "malformed", envFloat("CRM_SIM_MALFORMED", 0), "junk records injected per event [CRM_SIM_MALFORMED]")
	fs.StringVar(&c.out, "out", env("CRM_SIM_OUT", ""), "write NDJSON to this file (- for stdout; the default when no other output is set) [CRM_SIM_OUT]")
	fs.StringVar(&c.truthDir, "truth", env("CRM_SIM_TRUTH", ""), "write the ground truth (NDJSON files) into this directory [CRM_SIM_TRUTH]")
	fs.StringVar(&c.httpURL, "http", env("CRM_INGEST_URL", ""), "POST batches to this collector URL, e.g. http://127.0.0.1:8081/v1/events [CRM_INGEST_URL]")
	fs.BoolVar(&c.gzip, "gzip", false, "gzip HTTP bodies")
	fs.StringVar(&c.writeKey, "write-key", "", "collector write key, sent as X-Write-Key [CRM_SIM_WRITE_KEY]")
	fs.StringVar(&c.brokers, "kafka", env("CRM_KAFKA_BROKERS", ""), "produce to these Kafka brokers (comma-separated) [CRM_KAFKA_BROKERS]")
	fs.StringVar(&c.topic, "topic", env("CRM_SIM_TOPIC", "crm.raw"), "Kafka topic [CRM_SIM_TOPIC]")
	fs.Float64Var(&c.rate, "rate", envFloat("CRM_SIM_RATE", 0), "records per second; 0 = as fast as possible [CRM_SIM_RATE]")
	fs.BoolVar(&c.live, "live", env("CRM_SIM_LIVE", "") == "1", "live mode: event time follows the wall clock, leads arrive without end [CRM_SIM_LIVE=1]")
	fs.Float64Var(&c.sim.LeadsPerHour, "leads-per-hour", envFloat("CRM_SIM_LEADS_PER_HOUR", 0), "live mode lead arrival rate (default 120 with --live) [CRM_SIM_LEADS_PER_HOUR]")
	fs.DurationVar(&c.backfill, "backfill", time.Hour, "live mode: start this long before now, delivered at once")
	fs.Int64Var(&c.limit, "limit", 0, "stop after this many records (0: no limit)")
	fs.IntVar(&c.batch, "batch", 500, "records per write")
	fs.StringVar(&c.logLevel, "log-level", env("CRM_LOG_LEVEL", "info"), "debug, info, warn or error [CRM_LOG_LEVEL]")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.sim.Seed = *seed
	if c.writeKey == "" {
		c.writeKey = os.Getenv("CRM_SIM_WRITE_KEY") // a secret: not shown as a flag default
	}
	if v := os.Getenv("CRM_SIM_FLOW_TIMEOUT"); v != "" && !isSet(fs, "flow-timeout") {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("CRM_SIM_FLOW_TIMEOUT: %w", err)
		}
		c.flowTimout = d
	}
	c.sim.DefaultFlowTimeout = c.flowTimout
	return c, c.finish()
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// finish derives the simulator config and validates everything at once.
func (c *config) finish() error {
	var errs []error
	span, err := parseSpan(c.span)
	if err != nil {
		errs = append(errs, fmt.Errorf("--span: %w", err))
	}
	c.sim.Span = span
	if c.live {
		c.sim.Start = time.Now().Add(-c.backfill).UTC().Truncate(time.Second)
		if c.sim.LeadsPerHour == 0 {
			c.sim.LeadsPerHour = 120
		}
		if c.backfill >= time.Second {
			c.sim.AccountRamp = c.backfill // existing customers show up during the backfill
		}
	} else if t, err := time.Parse(time.RFC3339, c.start); err != nil {
		errs = append(errs, fmt.Errorf("--start: %w", err))
	} else {
		c.sim.Start = t.UTC()
		if c.sim.LeadsPerHour > 0 {
			errs = append(errs, errors.New("--leads-per-hour needs --live"))
		}
	}
	outputs := 0
	for _, s := range []string{c.out, c.httpURL, c.brokers} {
		if s != "" {
			outputs++
		}
	}
	if outputs > 1 {
		errs = append(errs, errors.New("choose one output: --out, --http or --kafka"))
	}
	if c.httpURL != "" && !strings.HasPrefix(c.httpURL, "http://") && !strings.HasPrefix(c.httpURL, "https://") {
		errs = append(errs, fmt.Errorf("--http %q: want an http(s) URL", c.httpURL))
	}
	if c.rate < 0 || c.batch < 1 || c.limit < 0 {
		errs = append(errs, errors.New("--rate and --limit must not be negative, --batch must be positive"))
	}
	if err := c.sim.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseSpan accepts Go durations and whole days ("240d").
func parseSpan(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q: want a positive number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func run(args []string) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var truth simulator.Truth
	if c.truthDir != "" {
		tw, err := simulator.NewTruthWriter(c.truthDir)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := tw.Close(); cerr != nil {
				log.Error("truth", "error", cerr)
			}
		}()
		truth = tw
	}
	g, err := simulator.New(c.sim, truth)
	if err != nil {
		return err
	}
	sink, err := c.sink()
	if err != nil {
		return err
	}
	r := &simulator.Runner{
		Stream: simulator.NewStream(g), Sink: sink, Rate: c.rate, Live: c.live,
		BatchSize: c.batch, Limit: c.limit, Logger: log,
	}
	log.Info("simulating", "seed", c.sim.Seed, "leads", c.sim.Leads, "accounts", c.sim.Accounts,
		"start", c.sim.Start, "span", c.sim.Span, "live", c.live, "leads_per_hour", c.sim.LeadsPerHour)
	st, err := r.Run(ctx)
	err = errors.Join(err, sink.Close())
	log.Info("delivered", "records", st.Records, "by_kind", st.ByKind, "elapsed", st.Elapsed,
		"records_per_s", int(float64(st.Records)/max(st.Elapsed.Seconds(), 1e-9)))
	if hs, ok := sink.(*simulator.HTTPSink); ok {
		log.Info("collector", "accepted", hs.Accepted, "rejected", hs.Rejected)
	}
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C is how live mode ends
	}
	return err
}

func (c *config) sink() (simulator.Sink, error) {
	switch {
	case c.httpURL != "":
		return &simulator.HTTPSink{URL: c.httpURL, Gzip: c.gzip, WriteKey: c.writeKey}, nil
	case c.brokers != "":
		return simulator.NewKafkaSink(c.topic,
			kgo.SeedBrokers(strings.Split(c.brokers, ",")...),
			kgo.AllowAutoTopicCreation(),
			kgo.ClientID("crmstream-simulator"))
	case c.out != "" && c.out != "-":
		f, err := os.Create(c.out)
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		return simulator.NewFileSink(f), nil
	default:
		return simulator.NewFileSink(os.Stdout), nil
	}
}
