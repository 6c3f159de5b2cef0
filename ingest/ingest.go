package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/crmstream/crmstream/connectors"
	"github.com/crmstream/crmstream/ingest/collector"
	"github.com/crmstream/crmstream/ingest/rejects"
	"github.com/crmstream/crmstream/ingest/relay"
	"github.com/crmstream/crmstream/ingest/sink"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/service"
	"github.com/crmstream/crmstream/internal/tracing"
	"go.opentelemetry.io/otel/trace"
)

// Config of an ingest process. Zero fields take the defaults of the parts.
type Config struct {
	Collector, Relay, Sink bool // which parts run; at least one

	Kafka      kafka.Config
	ClickHouse chstore.Config // used by the sink and the rejects log
	Partitions int32          // partitions of topics created when missing; default 4
	NoCreate   bool           // do not create missing topics (no admin rights on the cluster)

	HTTPAddr     string        // collector, /metrics, /healthz, /readyz; default 127.0.0.1:8081
	TLSCertFile  string        // with TLSKeyFile: serve HTTPS
	TLSKeyFile   string        //
	WriteKeys    []string      // collector write keys; none = open
	MaxBodyBytes int64         // collector body limit after decompression
	MaxItems     int           // collector events per request
	MaxInFlight  int           // collector concurrent requests
	RetryAfter   time.Duration // told to callers on 429/503

	RelayGroup string
	SinkGroup  string
	// InstanceID makes the relay and sink static group members
	// ("<id>-relay", "<id>-sink"): a restarted process (same id) takes its
	// partitions back at once instead of after the session timeout. Unique
	// per process, stable across restarts (a StatefulSet pod name).
	InstanceID string
	BatchRows  int           // sink
	FlushEvery time.Duration // sink
	PIIKey     []byte        // sink: hash e-mail, phone, name
	LagEvery   time.Duration // consumer-lag metric refresh; default 15 s
	// MaxSinkLag makes the collector answer 503 while the sink group is
	// more than this many records behind (0 = off): backpressure when the
	// sink runs in another process and its health is not visible here.
	MaxSinkLag int64
	// Webhooks holds the CRM adapters' secrets; each adapter with a secret
	// gets POST /v1/webhooks/<crm> on the collector's server.
	Webhooks connectors.Config

	Logger   *slog.Logger         // nil = discard
	Registry *prometheus.Registry // /metrics; nil = a new one
	Tracer   trace.TracerProvider // nil = off; spans per request and per produced/consumed record
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if !c.Collector && !c.Relay && !c.Sink {
		errs = append(errs, errors.New("no part to run: enable the collector, the relay or the sink"))
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.ClickHouse.Validate(); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate and a key"))
	}
	if c.MaxBodyBytes < 0 || c.MaxItems < 0 || c.MaxInFlight < 0 || c.BatchRows < 0 || c.FlushEvery < 0 || c.MaxSinkLag < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	if len(c.PIIKey) > 0 && len(c.PIIKey) < 16 {
		errs = append(errs, errors.New("PII key: at least 16 bytes"))
	}
	return errors.Join(errs...)
}

// Run runs the enabled parts until ctx is done or one fails, then shuts down
// in order (see the package doc). It returns the first failure.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8081"
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	base, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	opts := func(client string) []kgo.Opt {
		m := kprom.NewMetrics("crmstream_ingest", kprom.Subsystem("kafka"), kprom.Registerer(reg),
			kprom.WithStaticLabel(prometheus.Labels{"client": client}))
		o := append(append([]kgo.Opt(nil), base...), kgo.WithHooks(m), kgo.WithLogger(kgoLogger(log, client)))
		return append(o, tracing.KafkaOpts(cfg.Tracer, client, "")...)
	}

	// The producer: idempotent with acks=all (franz-go's defaults, kept).
	producer, err := kgo.NewClient(append(opts("producer"), kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("kafka producer: %w", err)
	}
	defer producer.Close()
	if !cfg.NoCreate {
		tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := kafka.EnsureTopics(tctx, producer, kafka.DefaultTopics(cfg.Partitions)...)
		cancel()
		if err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
	}

	store, err := chstore.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	rejectLog, err := rejects.New(rejects.Config{Conn: store.Conn, Database: store.DB, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}

	checks := map[string]service.Check{
		"kafka": func(ctx context.Context) error { return producer.Ping(ctx) },
		"clickhouse": func(ctx context.Context) error {
			return store.Ping(ctx)
		},
	}
	var parts []service.Runner
	var sk *sink.Sink
	if cfg.Sink {
		sk, err = sink.New(sink.Config{
			Opts: opts("sink"), Group: cfg.SinkGroup, InstanceID: suffix(cfg.InstanceID, "-sink"), Conn: store.Conn, Database: store.DB,
			BatchRows: cfg.BatchRows, FlushEvery: cfg.FlushEvery, PIIKey: cfg.PIIKey,
			Logger: log, Registerer: reg,
		})
		if err != nil {
			return err
		}
		defer sk.Close()
		checks["sink"] = func(context.Context) error { return sk.Healthy() }
		parts = append(parts, sk)
	}
	if cfg.Relay {
		rl, err := relay.New(relay.Config{Opts: opts("relay"), Group: cfg.RelayGroup, InstanceID: suffix(cfg.InstanceID, "-relay"), Rejects: rejectLog, Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		defer rl.Close()
		parts = append(parts, rl)
	}
	var lw *lagWatcher
	sinkGroup := or(cfg.SinkGroup, "crmstream-sink")
	if cfg.Relay || cfg.Sink || (cfg.Collector && cfg.MaxSinkLag > 0) {
		var groups []string
		if cfg.Relay {
			groups = append(groups, or(cfg.RelayGroup, "crmstream-relay"))
		}
		if cfg.Sink || cfg.MaxSinkLag > 0 {
			groups = append(groups, sinkGroup)
		}
		every := cfg.LagEvery
		if every <= 0 {
			every = 15 * time.Second
		}
		lw, err = newLagWatcher(kadm.NewClient(producer), groups, every, log, reg)
		if err != nil {
			return err
		}
		parts = append(parts, lw)
	}
	mux := http.NewServeMux()
	if cfg.Collector {
		c := collector.Config{
			Producer: producer, WriteKeys: cfg.WriteKeys, MaxBodyBytes: cfg.MaxBodyBytes, MaxItems: cfg.MaxItems,
			MaxInFlight: cfg.MaxInFlight, RetryAfter: cfg.RetryAfter, Rejects: rejectLog, Logger: log, Registerer: reg,
		}
		c.Ready = func() error {
			if sk != nil {
				if err := sk.Healthy(); err != nil {
					return err
				}
			}
			if cfg.MaxSinkLag > 0 {
				if n := lw.behind(sinkGroup); n > cfg.MaxSinkLag {
					return fmt.Errorf("sink is %d records behind (limit %d)", n, cfg.MaxSinkLag)
				}
			}
			return nil
		}
		h, err := collector.New(c)
		if err != nil {
			return err
		}
		mux.Handle("POST /v1/events", tracing.HTTPHandler(cfg.Tracer, "POST /v1/events", h))
		mux.Handle("/v1/events", h) // 405 with Allow for other methods
		adapters := cfg.Webhooks.Adapters()
		connectors.Mount(mux, adapters, h.Publish, connectors.HandlerOptions{
			Logger: log, Metrics: connectors.NewMetrics(reg),
			OnReject: func(_ context.Context, adapter string, body []byte, rejected []connectors.Reject) error {
				now := time.Now().UTC()
				for _, r := range rejected {
					rejectLog.Add(rejects.Reject{Origin: "webhook:" + adapter, EventID: r.Ref, Reason: r.Reason, Payload: body, ReceivedAt: now})
				}
				return nil
			},
		})
		for _, a := range adapters {
			log.Info("webhook adapter mounted", "path", connectors.Path(a))
		}
		checks["collector"] = func(context.Context) error { return h.Ready() }
	}
	service.Mount(mux, reg, checks)
	parts = append(parts, &service.Server{Addr: cfg.HTTPAddr, Handler: mux, CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSKeyFile, Logger: log})

	// The rejects log outlives the parts that feed it, so the last
	// requests' rejections are written too.
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = rejectLog.Run(wctx) })
	log.Info("ingest running", "collector", cfg.Collector, "relay", cfg.Relay, "sink", cfg.Sink, "http", cfg.HTTPAddr)
	err = service.RunAll(ctx, parts...)
	stopWriter()
	wg.Wait()
	log.Info("ingest stopped", "error", err)
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func suffix(id, s string) string {
	if id == "" {
		return ""
	}
	return id + s
}

// kgoLogger routes franz-go's logs (warnings and errors) to slog.
func kgoLogger(log *slog.Logger, client string) kgo.Logger {
	return kgo.BasicLogger(slogWriter{log.With("component", "kafka", "client", client)}, kgo.LogLevelWarn, nil)
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
