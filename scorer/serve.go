package scorer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/service"
	"github.com/crmstream/crmstream/internal/tracing"
	"github.com/crmstream/crmstream/models"
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
	Alerts     bool // run the alert rules and publish to crm.alerts
	// AlertRules are the detector's rules; the zero value means
	// alerts.DefaultConfig(). RetractWindow is raised to the lateness.
	AlertRules alerts.Config
	// Rules scores with the built-in rules instead of the learned models
	// (features/ + models/, kept on their registry champion).
	Rules bool
	// LeadTiers and ChurnTiers are the learned models' tier thresholds;
	// zero: the defaults (hot ≥ 80, warm ≥ 50).
	LeadTiers, ChurnTiers models.Tiers
	Partitions            int32 // partitions of topics created when missing; default 4
	NoCreate              bool  // do not create missing topics
	Logger                *slog.Logger
	Registry              *prometheus.Registry // nil: a fresh one
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
	// admin + alert producer (a publish span per alert, in the flush's trace)
	kc, err := kgo.NewClient(append(kopts, tracing.KafkaOpts(c.Service.Tracer, "crmstream-scorer-alerts", "")...)...)
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
		rules := c.AlertRules
		if rules.FlowTimeout == 0 {
			rules = alerts.DefaultConfig()
		}
		if lateness := c.Service.Windows.Lateness; rules.RetractWindow < lateness {
			rules.RetractWindow = lateness // a late event within the lateness may still retract
		}
		det, err = alerts.New(rules, alerts.Options{Logger: logger, Registerer: reg})
		if err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
		aw, err := alerts.NewWriter(store.Conn, store.DB, kc, kafka.TopicAlerts, alerts.WriterOptions{Logger: logger, Registerer: reg})
		if err != nil {
			return err
		}
		sink.Alerts = aw
	}
	var parts []service.Runner
	if !c.Rules {
		mm, runners, err := learnedModels(c, store, sink, logger, reg)
		if err != nil {
			return err
		}
		c.Service.models = mm
		parts = append(parts, runners...)
	}
	svc, err := New(c.Service, Options{Sink: sink, Detector: det, Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	sink.Metrics = svc.Metrics()
	mux := http.NewServeMux()
	service.Mount(mux, reg, map[string]service.Check{"clickhouse": store.Ping, "kafka": svc.Ready})
	srv := &service.Server{Addr: c.HTTPAddr, Handler: mux, CertFile: c.CertFile, KeyFile: c.KeyFile, Logger: logger}
	err = service.RunAll(ctx, append(parts, svc, srv)...)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// learnedModels builds the lead and churn models on the built-in feature
// sets, with drift alerts, registry watchers (live promotion and rollback)
// and a loop writing their progressive-validation metrics every minute.
func learnedModels(c ServeConfig, store *chstore.Store, sink *CHSink, logger *slog.Logger, reg prometheus.Registerer) (*Models, []service.Runner, error) {
	ls, err := features.Lead()
	if err != nil {
		return nil, nil, err
	}
	as, err := features.Account()
	if err != nil {
		return nil, nil, err
	}
	onDrift := func(d models.Drift) {
		logger.Warn("model drift", "model", d.Model, "version", d.Version, "signal", d.Signal, "direction", d.Direction, "labels", d.Labels)
		if sink.Alerts == nil {
			return
		}
		reason := fmt.Sprintf("Model %s %s: %s drifted (direction %+d, mean before %.3f) after %d labels.", d.Model, d.Version, d.Signal, d.Direction, d.Mean, d.Labels)
		a := alerts.NewModelDrift(d.Model, d.Version, d.Signal, d.Mean, 0, d.At, time.Now(), reason)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sink.Alerts.Write(ctx, []alerts.Alert{a}); err != nil {
			logger.Warn("model drift alert", "error", err)
		}
	}
	lc := models.LeadConfig(ls)
	lc.Logger, lc.Registerer, lc.OnDrift, lc.Tiers = logger, reg, onDrift, c.LeadTiers
	lead, err := models.New(lc)
	if err != nil {
		return nil, nil, fmt.Errorf("lead model: %w", err)
	}
	cc := models.ChurnConfig(as)
	cc.Logger, cc.Registerer, cc.OnDrift, cc.Tiers = logger, reg, onDrift, c.ChurnTiers
	churn, err := models.New(cc)
	if err != nil {
		return nil, nil, fmt.Errorf("churn model: %w", err)
	}
	registry := models.NewRegistry(store.Conn, store.DB, logger, nil)
	var runners []service.Runner
	for _, m := range []*models.Model{lead, churn} {
		w, err := models.NewWatcher(registry, m, models.WatcherConfig{Logger: logger, Registerer: reg})
		if err != nil {
			return nil, nil, err
		}
		runners = append(runners, w)
	}
	runners = append(runners, service.RunFunc(func(ctx context.Context) error {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				for _, m := range []*models.Model{lead, churn} {
					if err := registry.WriteMetrics(ctx, m.Name(), m.Version(), now, m.Metrics()); err != nil {
						logger.Warn("write model metrics", "model", m.Name(), "error", err)
					}
				}
			}
		}
	}))
	return &Models{Lead: lead, Churn: churn}, runners, nil
}
