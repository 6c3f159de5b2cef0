package models

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// modelMetrics are the Prometheus metrics of one Model, labelled by the
// model's name (a constant label: lead or churn).
type modelMetrics struct {
	labels    prometheus.Counter
	positives prometheus.Counter
	drift     *prometheus.CounterVec
}

func newModelMetrics(m *Model, reg prometheus.Registerer) (*modelMetrics, error) {
	cl := prometheus.Labels{"model": m.cfg.Name}
	mm := &modelMetrics{
		labels: prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_models_labels_total",
			Help: "Delayed labels learned from.", ConstLabels: cl}),
		positives: prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_models_positive_labels_total",
			Help: "Positive labels learned from.", ConstLabels: cl}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crmstream_models_drift_total",
			Help: "Drift detections by signal (log_loss or a feature).", ConstLabels: cl}, []string{"signal"}),
	}
	gauge := func(name, help string, f func(Metrics) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: cl},
			func() float64 { return f(m.Metrics()) })
	}
	cs := []prometheus.Collector{mm.labels, mm.positives, mm.drift,
		gauge("crmstream_models_auc_ratio", "Progressive-validation AUC.", func(x Metrics) float64 { return x.AUC }),
		gauge("crmstream_models_log_loss_ratio", "Progressive-validation mean log loss.", func(x Metrics) float64 { return x.LogLoss }),
		gauge("crmstream_models_calibration_error_ratio", "Progressive-validation expected calibration error.", func(x Metrics) float64 { return x.ECE }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crmstream_models_confidence_ratio",
			Help: "Weight of the learned model in the blend with the cold-start rule.", ConstLabels: cl},
			func() float64 { m.mu.RLock(); defer m.mu.RUnlock(); return m.confidence() }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return mm, nil
}
