package dashboard

import (
	"context"
	"log/slog"
	"time"

	"github.com/crmstream/crmstream/dashboard/reports"
)

// auditWriter queues audit entries and inserts them in batches. enqueue
// never blocks: a full queue drops the entry and counts it.
type auditWriter struct {
	store interface {
		WriteAudit(context.Context, []reports.AuditEntry) error
	}
	queue chan reports.AuditEntry
	batch int
	flush time.Duration
	log   *slog.Logger
	m     *metrics
}

func newAuditWriter(store *reports.Reader, queue, batch int, flush time.Duration, log *slog.Logger, m *metrics) *auditWriter {
	return &auditWriter{store: store, queue: make(chan reports.AuditEntry, queue), batch: batch, flush: flush, log: log, m: m}
}

func (a *auditWriter) enqueue(e reports.AuditEntry) {
	select {
	case a.queue <- e:
	default:
		a.m.auditDrop.Inc()
	}
}

// run inserts queued entries until ctx ends, then drains the queue once.
func (a *auditWriter) run(ctx context.Context) {
	t := time.NewTicker(a.flush)
	defer t.Stop()
	buf := make([]reports.AuditEntry, 0, a.batch)
	write := func() {
		if len(buf) == 0 {
			return
		}
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.store.WriteAudit(wctx, buf)
		cancel()
		if err != nil {
			a.log.Warn("audit insert failed", "error", err, "entries", len(buf))
			a.m.auditDrop.Add(float64(len(buf)))
		} else {
			a.m.auditOK.Add(float64(len(buf)))
		}
		buf = buf[:0]
	}
	for {
		select {
		case e := <-a.queue:
			buf = append(buf, e)
			if len(buf) >= a.batch {
				write()
			}
		case <-t.C:
			write()
		case <-ctx.Done():
			for {
				select {
				case e := <-a.queue:
					buf = append(buf, e)
					if len(buf) >= a.batch {
						write()
					}
				default:
					write()
					return
				}
			}
		}
	}
}
