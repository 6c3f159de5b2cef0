package importer

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/crmstream/crmstream/event"
)

// Publisher stores events durably at the destination: the crm.events topic
// (KafkaPublisher) or the collector (HTTPPublisher).
type Publisher interface {
	// Publish stores events in the given order. Refused lists the events
	// the destination rejected (by index into events) with its reason; an
	// error means none of the batch can be assumed stored.
	Publish(ctx context.Context, events []event.Event) ([]Refused, error)
}

// Refused is an event the destination would not take.
type Refused struct {
	Index  int
	Reason string
}

// Config configures an import. Publisher is required.
type Config struct {
	Publisher Publisher
	// BatchSize is the number of events per Publish call. Default 1,000.
	BatchSize int
	// Progress receives the progress bar; nil shows none.
	Progress io.Writer
	// Interactive redraws the bar in place (a terminal); otherwise a line
	// is written every ProgressEvery.
	Interactive bool
	// ProgressEvery is the redraw interval. Default 200 ms interactive,
	// 5 s otherwise.
	ProgressEvery time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock for rates and ETA; default time.Now.
	Now func() time.Time
}

// Summary is the outcome of an import.
type Summary struct {
	Read     int            // rows read (accepted + rejected)
	Accepted int            // events published
	Rejected []Reject       // rows not published, with line and reason
	ByType   map[string]int // published events per type
	First    time.Time      // earliest occurred_at published
	Last     time.Time      // latest occurred_at published
	Elapsed  time.Duration  // wall time of the publish phase
}

// Sort orders items by event time; rows of equal time keep their file and
// line order, so a lead_created and a deal_won at the same instant stay as
// the files had them.
func Sort(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int { return a.Event.OccurredAt.Compare(b.Event.OccurredAt) })
}

// Run publishes batches (already sorted with Sort, rejects already
// collected while reading) in order, drawing progress, and returns the
// summary. It stops at the first Publish error: what was published before
// it stays published, and a rerun is harmless (event ids are idempotent).
func Run(ctx context.Context, cfg Config, items []Item, readRejects []Reject) (Summary, error) {
	if cfg.Publisher == nil {
		return Summary{}, fmt.Errorf("importer: no publisher")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := Summary{Read: len(items) + len(readRejects), Rejected: slices.Clone(readRejects), ByType: map[string]int{}}
	bar := newProgress(cfg.Progress, cfg.Interactive, cfg.ProgressEvery, len(items), cfg.Now)
	start := cfg.Now()
	batch := make([]event.Event, 0, cfg.BatchSize)
	for off := 0; off < len(items); off += cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			bar.finish(s.Accepted)
			return s, err
		}
		part := items[off:min(off+cfg.BatchSize, len(items))]
		batch = batch[:0]
		for _, it := range part {
			batch = append(batch, it.Event)
		}
		refused, err := cfg.Publisher.Publish(ctx, batch)
		if err != nil {
			bar.finish(s.Accepted)
			s.Elapsed = cfg.Now().Sub(start)
			return s, fmt.Errorf("publish rows %d–%d: %w", off+1, off+len(part), err)
		}
		skip := map[int]bool{}
		for _, r := range refused {
			if r.Index >= 0 && r.Index < len(part) {
				skip[r.Index] = true
				s.Rejected = append(s.Rejected, Reject{File: part[r.Index].File, Line: part[r.Index].Line, Reason: "destination refused: " + r.Reason})
			}
		}
		for i, it := range part {
			if skip[i] {
				continue
			}
			s.Accepted++
			s.ByType[string(it.Event.Type)]++
			if s.First.IsZero() || it.Event.OccurredAt.Before(s.First) {
				s.First = it.Event.OccurredAt
			}
			if it.Event.OccurredAt.After(s.Last) {
				s.Last = it.Event.OccurredAt
			}
		}
		bar.update(off + len(part))
	}
	bar.finish(len(items))
	s.Elapsed = cfg.Now().Sub(start)
	slices.SortFunc(s.Rejected, func(a, b Reject) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	log.Info("import done", "accepted", s.Accepted, "rejected", len(s.Rejected), "elapsed", s.Elapsed)
	return s, nil
}

// WriteSummary prints the summary for people: totals, events per type, the
// event-time range, the rate, and up to maxRejects rejects (all with -1).
func WriteSummary(w io.Writer, s Summary, maxRejects int) {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Accepted) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "read %d rows: %d accepted, %d rejected; published in %s (%.0f events/s)\n",
		s.Read, s.Accepted, len(s.Rejected), s.Elapsed.Round(time.Millisecond), rate)
	types := make([]string, 0, len(s.ByType))
	for t := range s.ByType {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		fmt.Fprintf(w, "  %-24s %d\n", t, s.ByType[t])
	}
	if s.Accepted > 0 {
		fmt.Fprintf(w, "event time %s … %s\n", s.First.Format(time.RFC3339), s.Last.Format(time.RFC3339))
	}
	for i, r := range s.Rejected {
		if maxRejects >= 0 && i >= maxRejects {
			fmt.Fprintf(w, "… and %d more rejects (see --rejects)\n", len(s.Rejected)-i)
			break
		}
		fmt.Fprintf(w, "rejected %s\n", r)
	}
}
