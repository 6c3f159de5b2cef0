// Command simulator generates synthetic CRM event streams with ground truth
// and delivers them to a file, the ingest collector or Kafka.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/simulator"
)

const (
	summary = `synthetic CRM event streams driven by hidden intent (leads) and health
(accounts), with the ground truth (true conversion and churn probabilities, outcomes, abandonment
and inactivity episodes) written alongside. Batch mode covers --span of event time as fast as
--rate allows; live mode (--live) starts --backfill before now, then follows the wall clock with
new leads arriving at --leads-per-hour.`
	examples = `  # 240 days of 2,000 leads and 300 accounts to a file, truth beside it
  simulator --out artifacts/sim/events.ndjson --truth artifacts/sim/truth

  # the same stream into the local collector at 5,000 events/s, with delivery noise
  simulator --to collector --rate 5000 --out-of-order 0.01 --duplicates 0.005 --malformed 0.001

  # straight into Kafka (the raw topic; ingest validates it)
  simulator --to kafka --kafka-brokers 127.0.0.1:9092 --topic crm.raw

  # live demo: 400 leads over the last hour, then 120 new leads an hour, in real time
  simulator --live --to collector --collector http://127.0.0.1:8081/v1/events --leads 400 --accounts 80 --rate 200`
)

// config is everything the command needs, from flags, CRM_* variables and
// an optional YAML file.
type config struct {
	sim       simulator.Config
	seed      int
	start     string
	span      string
	to        string
	out       string
	truthDir  string
	collector string
	httpURL   string // deprecated alias of collector
	writeKey  string
	gzip      bool
	kafka     kafka.Config
	topic     string
	rate      float64
	live      bool
	backfill  time.Duration
	limit     int
	batch     int
}

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, cli.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

func parse(args []string, getenv func(string) string) (config, *cli.Flags, func() *slog.Logger, error) {
	c := config{sim: simulator.DefaultConfig()}
	d := c.sim
	f := cli.New("simulator", summary, examples)
	f.Int(&c.seed, "seed", "CRM_SIM_SEED", 1, "random seed: the same seed gives the same stream and truth")
	f.Int(&c.sim.Leads, "leads", "CRM_SIM_LEADS", d.Leads, "leads: arriving over --span (batch), or over --backfill (live)")
	f.Int(&c.sim.Accounts, "accounts", "CRM_SIM_ACCOUNTS", d.Accounts, "customer accounts")
	f.Int(&c.sim.Reps, "reps", "CRM_SIM_REPS", d.Reps, "sales reps (owner_id rep-01 …)")
	f.String(&c.start, "start", "CRM_SIM_START", d.Start.Format(time.RFC3339), "event time of the first day, RFC 3339 (batch mode)")
	f.String(&c.span, "span", "CRM_SIM_SPAN", "240d", "event time covered in batch mode: days (240d) or a Go duration (36h)")
	f.String(&c.sim.IDPrefix, "id-prefix", "CRM_SIM_ID_PREFIX", d.IDPrefix, "prefix of every generated id; change it to keep runs apart")
	f.Duration(&c.sim.DefaultFlowTimeout, "flow-timeout", "CRM_SIM_FLOW_TIMEOUT", d.DefaultFlowTimeout, "abandonment timeout of flows, for the truth (match the alert detector)")
	f.Float(&c.sim.OutOfOrderRate, "out-of-order", "CRM_SIM_OUT_OF_ORDER", 0, "fraction of events delivered late")
	f.Duration(&c.sim.MaxLateness, "max-lateness", "CRM_SIM_MAX_LATENESS", d.MaxLateness, "largest delivery delay of a late event")
	f.Float(&c.sim.DuplicateRate, "duplicates", "CRM_SIM_DUPLICATES", 0, "fraction of events delivered twice (same event_id)")
	f.Float(&c.sim.MalformedRate, "malformed", "CRM_SIM_MALFORMED", 0, "junk records injected per event (ingest must reject them)")
	f.String(&c.to, "to", "CRM_SIM_TO", "file", "output: file, collector or kafka")
	f.String(&c.out, "out", "CRM_SIM_OUT", "-", "file output: NDJSON path, - for stdout")
	f.String(&c.truthDir, "truth", "CRM_SIM_TRUTH", "", "write the ground truth (NDJSON files) into this directory")
	f.String(&c.collector, "collector", "CRM_INGEST_URL", "http://127.0.0.1:8081/v1/events", "collector output: the POST /v1/events URL")
	f.String(&c.httpURL, "http", "", "", "same as --to collector --collector URL")
	f.Secret(&c.writeKey, "write-key", "CRM_SIM_WRITE_KEY", "collector write key, sent as X-Write-Key")
	f.Bool(&c.gzip, "gzip", "CRM_SIM_GZIP", false, "gzip collector request bodies")
	f.Kafka(&c.kafka)
	f.String(&c.topic, "topic", "CRM_SIM_TOPIC", "crm.raw", "kafka output: topic (crm.raw is validated by ingest; crm.events skips it)")
	f.Float(&c.rate, "rate", "CRM_SIM_RATE", 0, "records per second; 0 = as fast as the output takes them")
	f.Bool(&c.live, "live", "CRM_SIM_LIVE", false, "live mode: event time follows the wall clock; leads keep arriving")
	f.Float(&c.sim.LeadsPerHour, "leads-per-hour", "CRM_SIM_LEADS_PER_HOUR", 120, "live mode: new leads per hour after the backfill")
	f.Duration(&c.backfill, "backfill", "CRM_SIM_BACKFILL", time.Hour, "live mode: start this long before now; the backfill goes out at once (within --rate)")
	f.Int(&c.limit, "limit", "CRM_SIM_LIMIT", 0, "stop after this many records; 0 = the stream's end (never, live)")
	f.Int(&c.batch, "batch", "CRM_SIM_BATCH", 500, "records per write")
	newLogger := f.Log()
	if err := f.Parse(args, getenv); err != nil {
		return c, f, nil, err
	}
	return c, f, newLogger, c.finish(time.Now())
}

// finish derives the simulator config and reports every problem at once.
func (c *config) finish(now time.Time) error {
	var errs []error
	if c.seed < 0 {
		errs = append(errs, fmt.Errorf("--seed %d must not be negative", c.seed))
	}
	c.sim.Seed = uint64(c.seed)
	if c.httpURL != "" {
		c.to, c.collector = "collector", c.httpURL
	}
	span, err := parseSpan(c.span)
	if err != nil {
		errs = append(errs, fmt.Errorf("--span: %w", err))
	}
	c.sim.Span = span
	if c.live {
		if c.backfill < time.Second {
			errs = append(errs, fmt.Errorf("--backfill %v must be at least 1s", c.backfill))
		} else {
			c.sim.Ramp = c.backfill
		}
		c.sim.Start = now.Add(-c.backfill).UTC().Truncate(time.Second)
		if c.sim.LeadsPerHour <= 0 {
			errs = append(errs, errors.New("--leads-per-hour must be positive in live mode"))
		}
	} else {
		c.sim.LeadsPerHour = 0
		if t, err := time.Parse(time.RFC3339, c.start); err != nil {
			errs = append(errs, fmt.Errorf("--start: %w", err))
		} else {
			c.sim.Start = t.UTC()
		}
	}
	switch c.to {
	case "file":
	case "collector":
		if !strings.HasPrefix(c.collector, "http://") && !strings.HasPrefix(c.collector, "https://") {
			errs = append(errs, fmt.Errorf("--collector %q: want an http(s) URL", c.collector))
		}
	case "kafka":
		if err := c.kafka.Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.topic == "" {
			errs = append(errs, errors.New("--topic must not be empty"))
		}
	default:
		errs = append(errs, fmt.Errorf("--to %q: want file, collector or kafka", c.to))
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

func run(args []string, getenv func(string) string) error {
	c, f, newLogger, err := parse(args, getenv)
	if err != nil {
		return err
	}
	if f.ValidateOnly() {
		for _, s := range f.Settings() {
			fmt.Println(s)
		}
		return nil
	}
	log := newLogger()
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
		BatchSize: c.batch, Limit: int64(c.limit), Logger: log,
	}
	log.Info("simulating", "seed", c.sim.Seed, "leads", c.sim.Leads, "accounts", c.sim.Accounts,
		"start", c.sim.Start, "span", c.sim.Span, "live", c.live, "leads_per_hour", c.sim.LeadsPerHour, "to", c.to)
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
	switch c.to {
	case "collector":
		return &simulator.HTTPSink{URL: c.collector, Gzip: c.gzip, WriteKey: c.writeKey}, nil
	case "kafka":
		opts, err := c.kafka.Opts()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.AllowAutoTopicCreation(), kgo.ClientID("crmstream-simulator"))
		return simulator.NewKafkaSink(c.topic, opts...)
	}
	if c.out == "-" {
		return simulator.NewFileSink(os.Stdout), nil
	}
	f, err := os.Create(c.out)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	return simulator.NewFileSink(f), nil
}
