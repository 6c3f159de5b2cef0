// Command notifier delivers alerts to reps: it consumes the crm.alerts topic
// and posts each alert (and each retraction) to the webhook its owner is
// routed to, with retries, a circuit breaker per endpoint and a dead-letter
// topic. /metrics, /healthz and /readyz are served on 127.0.0.1:8083.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/service"
	"github.com/crmstream/crmstream/notifier"
)

const examples = `  notifier                                 # no webhook: alerts are written to the log (local development)
  notifier --routes routes.yaml            # against make up's Kafka
  CRM_NOTIFIER_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/XXXX notifier   # one channel for everyone
  CRM_NOTIFIER_ROUTES=/etc/crmstream/routes.yaml CRM_KAFKA_BROKERS=k1:9092 notifier
  notifier --routes routes.yaml --max-attempts 12 --breaker-open 1m
  notifier --routes routes.yaml --validate   # check the routing table and settings, then exit

  routes.yaml:
    default: team
    endpoints:
      team:  {url: "https://hooks.slack.com/services/T000/B000/XXXX"}
      rep-7: {url: "https://crm.example.com/hooks/rep-7", timeout: 5s}
    owners:
      rep-7: rep-7`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, cli.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var (
		kc         kafka.Config
		web        cli.HTTP
		routesPath string
		webhook    string
		failures   int
		parts      int
		noCreate   bool
	)
	c := notifier.DefaultConfig()
	d := c
	f := cli.New("notifier", "deliver alerts from the Kafka topic crm.alerts to the webhooks of their owners (Slack-compatible JSON), with retries, per-endpoint circuit breakers and the dead-letter topic crm.alerts.dlq.", examples)
	f.String(&routesPath, "routes", "CRM_NOTIFIER_ROUTES", "", "routing table, YAML or JSON: owner_id → endpoint name → webhook URL, with a default")
	f.Secret(&webhook, "webhook-url", "CRM_NOTIFIER_WEBHOOK_URL", "one webhook for every owner, instead of --routes; with neither, alerts are only logged")
	f.HTTP(&web, "127.0.0.1:8083")
	f.Kafka(&kc)
	f.String(&c.Topic, "topic", "CRM_NOTIFIER_TOPIC", d.Topic, "topic of alerts to deliver")
	f.String(&c.DLQTopic, "dlq-topic", "CRM_NOTIFIER_DLQ_TOPIC", d.DLQTopic, "dead-letter topic")
	f.String(&c.Group, "group", "CRM_NOTIFIER_GROUP", d.Group, "consumer group")
	f.Int(&c.MaxAttempts, "max-attempts", "CRM_NOTIFIER_MAX_ATTEMPTS", d.MaxAttempts, "attempts that reach an endpoint before an alert is dead-lettered")
	f.Duration(&c.BackoffBase, "backoff-base", "CRM_NOTIFIER_BACKOFF_BASE", d.BackoffBase, "wait after the first failed attempt; doubles each time, with jitter")
	f.Duration(&c.BackoffMax, "backoff-max", "CRM_NOTIFIER_BACKOFF_MAX", d.BackoffMax, "longest wait between attempts")
	f.Duration(&c.AttemptTimeout, "attempt-timeout", "CRM_NOTIFIER_ATTEMPT_TIMEOUT", d.AttemptTimeout, "timeout of one HTTP attempt (an endpoint's own timeout wins)")
	f.Int(&failures, "breaker-failures", "CRM_NOTIFIER_BREAKER_FAILURES", int(d.BreakerFailures), "consecutive failures that open an endpoint's circuit breaker")
	f.Duration(&c.BreakerOpen, "breaker-open", "CRM_NOTIFIER_BREAKER_OPEN", d.BreakerOpen, "how long an open breaker refuses requests before a trial")
	f.Int(&c.DedupeSize, "dedupe-size", "CRM_NOTIFIER_DEDUPE_SIZE", d.DedupeSize, "alert ids remembered to skip repeats")
	f.Int(&c.QueueSize, "queue-size", "CRM_NOTIFIER_QUEUE_SIZE", d.QueueSize, "alerts waiting per endpoint before polling pauses")
	f.Duration(&c.MaxAge, "max-age", "CRM_NOTIFIER_MAX_AGE", d.MaxAge, "skip alerts whose condition is older than this (history replayed by a backfill); 0 = deliver all")
	f.Duration(&c.CommitEvery, "commit-every", "CRM_NOTIFIER_COMMIT_EVERY", d.CommitEvery, "how often offsets of finished records are committed")
	f.Int(&parts, "partitions", "CRM_KAFKA_PARTITIONS", 4, "partitions of topics created when missing")
	f.Bool(&noCreate, "no-create-topics", "CRM_KAFKA_NO_CREATE_TOPICS", false, "do not create missing topics")
	logger := f.Log()
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	var errs []error
	if failures < 1 {
		errs = append(errs, fmt.Errorf("--breaker-failures: must be ≥ 1, got %d", failures))
	}
	c.BreakerFailures = uint32(max(failures, 1))
	var routes notifier.Routes
	switch {
	case routesPath != "" && webhook != "":
		errs = append(errs, errors.New("--routes and --webhook-url: give one"))
	case routesPath != "":
		var err error
		if routes, err = notifier.LoadRoutes(routesPath); err != nil {
			errs = append(errs, err)
		}
	case webhook != "":
		routes = notifier.SingleRoute(webhook)
		if err := routes.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--webhook-url: %w", err))
		}
	default:
		routes = notifier.SingleRoute(notifier.LogURL)
	}
	if err := errors.Join(append(errs, c.Validate(), kc.Validate())...); err != nil {
		return err
	}
	if f.ValidateOnly() {
		for _, s := range f.Settings() {
			fmt.Println(s)
		}
		fmt.Printf("routes: %d endpoints, %d owners, default %q\n", len(routes.Endpoints), len(routes.Owners), routes.Default)
		return nil
	}
	log := logger()
	if routesPath == "" && webhook == "" {
		log.Warn("no webhook configured: alerts are written to this log, not delivered (set --routes or --webhook-url)")
	}
	kc.ClientID = "crmstream-notifier"
	opts, err := kc.Opts()
	if err != nil {
		return err
	}
	reg := service.NewRegistry()
	opts = append(opts, kgo.WithHooks(kprom.NewMetrics("crmstream_notifier_kafka", kprom.Registerer(reg))))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !noCreate {
		admin, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("kafka client: %w", err)
		}
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = kafka.EnsureTopics(tctx, admin,
			kafka.TopicSpec{Name: c.Topic, Partitions: int32(parts)}, kafka.TopicSpec{Name: c.DLQTopic, Partitions: 1})
		cancel()
		admin.Close()
		if err != nil {
			return err
		}
	}
	n, err := notifier.New(c, routes, opts, notifier.Options{Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	defer n.Close()

	mux := http.NewServeMux()
	service.Mount(mux, reg, map[string]service.Check{"kafka": n.Ready})
	srv := &service.Server{Addr: web.Addr, Handler: mux, CertFile: web.CertFile, KeyFile: web.KeyFile, Logger: log}
	log.Info("notifier starting", "routes", routesPath, "endpoints", len(routes.Endpoints), "http", web.Addr)
	err = service.RunAll(ctx, srv, n)
	log.Info("notifier stopped", "error", err)
	return err
}
