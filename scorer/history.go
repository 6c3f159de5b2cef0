package scorer

import (
	"context"
	"time"
)

// DefaultHistoryEvery is how long, in event time, a key's score history may
// go without a row while its score stays the same (Config.HistoryEvery).
const DefaultHistoryEvery = time.Hour

// history decides which score rows go to the history tables (lead_scores,
// churn_scores, and their features rows). A row is written when it is the
// key's first since the process took the partition, when its score, tier,
// model version or converted/churned flag differs from the key's last
// written row, or when that row is HistoryEvery or more older in event
// time; the others are marked Quiet. Quiet rows still update
// lead_current / account_current, so the current score is always the newest.
//
// It remembers the last written row per key only while it can still
// suppress one: keys whose last row is older than the newest event time
// minus every are forgotten (their next row is written anyway), so memory
// follows the keys active in the last interval, not all keys. The marks are
// not checkpointed: after a restart or a rebalance each key's first row is
// written again, one extra history point, harmless (same keys, same value).
//
// One per partition worker; not safe for concurrent use.
type history struct {
	every  int64 // seconds; ≤ 0: every row is written
	marks  map[string]historyMark
	newest int64 // newest event time seen (unix s)
	swept  int64 // newest at the last sweep
	quiet  map[historyRow]struct{}
}

type historyMark struct {
	at          int64 // event time of the last written row (unix s)
	tier, model string
	score       uint8
	flag        bool // converted / churned
}

type historyRow struct{ key, eventID string }

func newHistory(every time.Duration) *history {
	return &history{every: int64(every / time.Second), marks: map[string]historyMark{}, quiet: map[historyRow]struct{}{}}
}

// mark sets Quiet on the rows of b that add nothing to the history.
func (h *history) mark(b *Batch) {
	if h == nil || h.every <= 0 {
		return
	}
	clear(h.quiet)
	for i := range b.Leads {
		r := &b.Leads[i]
		r.Quiet = !h.keep(r.LeadID, r.EventTime, r.Score, r.Tier, r.ModelVersion, r.Converted)
		if r.Quiet {
			h.quiet[historyRow{r.LeadID, r.EventID}] = struct{}{}
		}
	}
	for i := range b.Churn {
		r := &b.Churn[i]
		r.Quiet = !h.keep(r.AccountID, r.EventTime, r.Score, r.Tier, r.ModelVersion, r.Churned)
		if r.Quiet {
			h.quiet[historyRow{r.AccountID, r.EventID}] = struct{}{}
		}
	}
	if len(h.quiet) > 0 {
		for i := range b.Features {
			f := &b.Features[i]
			_, f.Quiet = h.quiet[historyRow{f.EntityID, f.EventID}]
		}
	}
	if h.newest-h.swept >= h.every {
		h.sweep()
	}
}

// keep reports whether a row of key goes to the history, and remembers it.
func (h *history) keep(key string, t time.Time, score uint8, tier, model string, flag bool) bool {
	at := t.Unix()
	h.newest = max(h.newest, at)
	m, ok := h.marks[key]
	if ok && m.score == score && m.tier == tier && m.model == model && m.flag == flag && at-m.at < h.every {
		return false
	}
	if ok && at < m.at {
		at = m.at // an out-of-order correction: the interval runs from the newest written row
	}
	h.marks[key] = historyMark{at: at, tier: tier, model: model, score: score, flag: flag}
	return true
}

// sweep forgets keys whose next row would be written anyway.
func (h *history) sweep() {
	for k, m := range h.marks {
		if h.newest-m.at >= h.every {
			delete(h.marks, k)
		}
	}
	h.swept = h.newest
}

// historySink marks a partition's batches before handing them to the sink.
type historySink struct {
	h    *history
	next Sink
}

func (s historySink) Write(ctx context.Context, b *Batch) error {
	s.h.mark(b)
	return s.next.Write(ctx, b)
}
