package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// lagWatcher exports the consumer lag of the groups run by this process
// (committed offset to partition end, from kadm) as
// crmstream_ingest_consumer_lag_records{group,topic,partition}.
type lagWatcher struct {
	adm    *kadm.Client
	groups []string
	every  time.Duration
	log    *slog.Logger
	gauge  *prometheus.GaugeVec

	mu     sync.Mutex
	totals map[string]int64 // group → records behind, at the last refresh
}

func newLagWatcher(adm *kadm.Client, groups []string, every time.Duration, log *slog.Logger, reg prometheus.Registerer) (*lagWatcher, error) {
	w := &lagWatcher{adm: adm, groups: groups, every: every, log: log, totals: map[string]int64{}, gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "crmstream_ingest_consumer_lag_records", Help: "Records between a group's committed offset and the partition end.",
	}, []string{"group", "topic", "partition"})}
	if err := reg.Register(w.gauge); err != nil {
		return nil, fmt.Errorf("lag metric: %w", err)
	}
	return w, nil
}

// Run refreshes the gauge every w.every until ctx is done.
func (w *lagWatcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		w.refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *lagWatcher) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lags, err := w.adm.Lag(ctx, w.groups...)
	if err != nil {
		w.log.Debug("consumer lag", "error", err)
		return
	}
	for _, l := range lags {
		var total int64
		for _, ml := range l.Lag.Sorted() {
			if ml.Err == nil {
				w.gauge.WithLabelValues(l.Group, ml.Topic, strconv.Itoa(int(ml.Partition))).Set(float64(ml.Lag))
				total += ml.Lag
			}
		}
		w.mu.Lock()
		w.totals[l.Group] = total
		w.mu.Unlock()
	}
}

// behind returns how many records group was behind at the last refresh (0
// before the first, or when the group has no commits).
func (w *lagWatcher) behind(group string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.totals[group]
}
