package scorer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/service"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ServeConfig is everything cmd/scorer configures.
type ServeConfig struct {
	Service    Config
	ClickHouse chstore.Config
	HTTPAddr   string // /metrics, /healthz, /readyz; default 127.0.0.1:8082
	CertFile   string
	KeyFile    string
	Alerts     bool  // run the alert rules and publish to crm.alerts
	Partitions int32 // partitions of topics created when missing; default 4
	NoCreate   bool  // do not create missing topics
	Logger     *slog.Logger
	Registry   *prometheus.Registry // nil: a fresh one
}

// Serve runs the scorer process: migrations, topics, the consumer group and
// the HTTP endpoints, until ctx is done. On the way out every partition
// finishes its records, flushes, checkpoints and commits before the
// connections close.
func Serve(ctx context.Context, c ServeConfig) error {
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := c.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8082"
	}
	if c.Partitions <= 0 {
		c.Partitions = 4
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	store, err := chstore.Open(octx, c.ClickHouse, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(octx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	kopts, err := c.Service.Kafka.Opts()
	if err != nil {
		return err
	}
	kc, err := kgo.NewClient(kopts...) // admin + alert producer
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer kc.Close()
	if !c.NoCreate {
		if err := kafka.EnsureTopics(octx, kc, kafka.DefaultTopics(c.Partitions)...); err != nil {
			return err
		}
	}
	sink := &CHSink{Conn: store.Conn, DB: store.DB}
	var det *alerts.Detector
	if c.Alerts {
		det, err = alerts.New(alerts.DefaultConfig(), alerts.Options{Logger: logger, Registerer: reg})
		if err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
		aw, err := alerts.NewWriter(store.Conn, store.DB, kc, kafka.TopicAlerts, alerts.WriterOptions{Logger: logger, Registerer: reg})
		if err != nil {
			return err
		}
		sink.Alerts = aw
	}
	svc, err := New(c.Service, Options{Sink: sink, Detector: det, Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	sink.Metrics = svc.Metrics()
	mux := http.NewServeMux()
	service.Mount(mux, reg, map[string]service.Check{"clickhouse": store.Ping, "kafka": svc.Ready})
	srv := &service.Server{Addr: c.HTTPAddr, Handler: mux, CertFile: c.CertFile, KeyFile: c.KeyFile, Logger: logger}
	err = service.RunAll(ctx, svc, srv)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
