package models

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	Interval   time.Duration         // poll period; default 10 s
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics
}

// Watcher keeps a Model on its champion: it polls the Registry and loads
// the champion's artifact into the model when the champion changes
// (promotion or rollback), without restarting the scorer. Not safe for
// concurrent use of Poll; Run is the usual way.
type Watcher struct {
	reg      *Registry
	m        *Model
	cfg      WatcherConfig
	logger   *slog.Logger
	seq      uint64 // promotion row applied (or failed) last
	swaps    prometheus.Counter
	failures prometheus.Counter
}

// NewWatcher returns a watcher of m's champion in reg.
func NewWatcher(reg *Registry, m *Model, cfg WatcherConfig) (*Watcher, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cl := prometheus.Labels{"model": m.Name()}
	w := &Watcher{reg: reg, m: m, cfg: cfg, logger: cfg.Logger.With("component", "model-watcher", "model", m.Name()),
		swaps: prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_models_swaps_total",
			Help: "Live model swaps after a promotion or rollback.", ConstLabels: cl}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "crmstream_models_watch_errors_total",
			Help: "Failed registry polls or artifact loads.", ConstLabels: cl}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{w.swaps, w.failures} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("model watcher: register metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Poll checks the champion once and loads it if it changed. It reports
// whether the model was swapped. An artifact the model refuses (another
// feature schema) is not retried until the champion changes again.
func (w *Watcher) Poll(ctx context.Context) (bool, error) {
	version, seq, err := w.reg.Champion(ctx, w.m.Name())
	if errors.Is(err, ErrNoChampion) {
		return false, nil
	}
	if err != nil {
		w.failures.Inc()
		return false, err
	}
	if seq == w.seq {
		return false, nil
	}
	if version == w.m.Version() {
		w.seq = seq
		return false, nil
	}
	a, _, err := w.reg.Get(ctx, w.m.Name(), version)
	if err == nil {
		err = w.m.Load(a)
	}
	if err != nil {
		w.failures.Inc()
		if errors.Is(err, ErrIncompatible) || errors.Is(err, ErrNotFound) {
			w.seq = seq // a bad champion stays bad: wait for the next promotion
		}
		return false, fmt.Errorf("load champion %s: %w", version, err)
	}
	w.seq = seq
	w.swaps.Inc()
	w.logger.Info("champion loaded", "version", version, "seq", seq)
	return true, nil
}

// Run polls every Interval until ctx ends; poll errors are logged and
// retried at the next tick. It returns nil when ctx is cancelled.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			w.logger.Warn("model watch", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
