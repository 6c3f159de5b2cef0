package scorer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/windows"
)

// WorkerConfig configures a Worker. Zero values take the defaults noted.
type WorkerConfig struct {
	Partition int32          // input partition (labels, late_events rows)
	Windows   windows.Config // lateness (default 5 min), mode (default Live), idle, key TTL
	// Detector, when set, runs the alert rules on every key (one Detector
	// serves all workers). Nil: no alerts.
	Detector *alerts.Detector
	// Features writes the feature vector of every score to crm.features.
	Features bool
	// Rescore is how long after a lead's or account's newest activity the
	// scorer emits a re-score while it stays warm (decayed engagement, or a
	// quiet account's rising risk). Default 24 h; negative disables.
	Rescore time.Duration
	// Models, when set, scores with the learned models (features/ +
	// models/) instead of the built-in rules, and feeds them their delayed
	// labels. Nil: rules.
	Models  *Models
	Now     func() time.Time // wall clock for scored_at; default time.Now
	Logger  *slog.Logger     // nil: discard
	Metrics *Metrics         // nil: not exported
}

// Worker scores the events of one input partition: it owns that partition's
// windows engine and per-key State and appends its output rows to a Batch.
// It needs no Kafka: a test, the eval harness or the Kafka runtime drive it
// with Process and Advance, and Flush hands the rows to a Sink.
//
// A Worker is not safe for concurrent use: one goroutine owns it.
type Worker struct {
	cfg    WorkerConfig
	eng    *windows.Engine[State, *event.Event]
	win    *alerts.Windowed
	aout   alerts.Output
	out    Batch
	m      *partitionMetrics
	logger *slog.Logger

	vec     features.Vector // reused per score: no allocation once grown
	scratch features.Vector // decoded pending vectors
	score   models.Score
	pvec    []byte

	offset  int64 // input offset of the record being processed; -1 when none
	next    int64 // 1 + offset of the newest record processed (0: none)
	reasons []byte
	meanRec float64 // mean checkpoint record size, for the state-bytes estimate

	// owners interns owner ids: a partition's keys share a few reps.
	owners map[string]string

	// vals is the chunk feature rows' values are copied into: one
	// allocation per valsChunk values instead of one per row. A chunk is
	// only appended to, never rewritten, so rows (which the sinks may keep)
	// never see each other's values.
	vals []float64
	// texts is the same for the rows' reasons JSON: one allocation per
	// textChunk bytes instead of one string per row.
	texts []byte
}

const (
	valsChunk = 4096
	textChunk = 64 << 10
)

// text returns b as a string carved from w.texts. The chunk is only
// appended to, so the string is never changed; it keeps its chunk alive only
// as long as a row holds it (rows live until their flush).
func (w *Worker) text(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(w.texts)-len(w.texts) < len(b) {
		w.texts = make([]byte, 0, max(textChunk, len(b)))
	}
	n := len(w.texts)
	w.texts = append(w.texts, b...)
	return unsafe.String(&w.texts[n], len(b))
}

// copyValues returns a copy of v for a feature row, carved from w.vals.
func (w *Worker) copyValues(v []float64) []float64 {
	if cap(w.vals)-len(w.vals) < len(v) {
		w.vals = make([]float64, 0, max(valsChunk, len(v)))
	}
	n := len(w.vals)
	w.vals = append(w.vals, v...)
	return w.vals[n:len(w.vals):len(w.vals)]
}

// maxInterned bounds an intern table; a full one starts over (keys keep
// their strings, only the sharing of new ones restarts).
const maxInterned = 4096

// party returns the id v of an event to store in a key's state whose
// current value is cur: "" or cur when unchanged (nothing to store), else a
// copy that owns its bytes — the decoder's strings are views into a larger
// buffer — shared through table when one is given.
func (w *Worker) party(v, cur string, table map[string]string) string {
	if v == "" || v == cur {
		return v
	}
	if table == nil {
		return strings.Clone(v)
	}
	if s, ok := table[v]; ok {
		return s
	}
	if len(table) >= maxInterned {
		clear(table)
	}
	s := strings.Clone(v)
	table[s] = s
	return s
}

// NewWorker returns a worker with empty state.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rescore == 0 {
		cfg.Rescore = 24 * time.Hour
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		cfg:    cfg,
		m:      cfg.Metrics.partition(cfg.Partition),
		logger: logger.With("component", "scorer", "partition", cfg.Partition),
		offset: -1,
		owners: make(map[string]string),
	}
	if cfg.Detector != nil {
		ahead := time.Duration(0)
		if cfg.Windows.Mode == windows.Live {
			ahead = cfg.Windows.Lateness
			if ahead <= 0 {
				ahead = 5 * time.Minute
			}
		}
		w.win = &alerts.Windowed{Detector: cfg.Detector, Timer: TimerAlerts, Ahead: ahead}
	}
	if cfg.Models != nil {
		m := *cfg.Models // a copy: workers share the caller's Models
		m.defaults()
		w.cfg.Models = &m
	}
	w.eng = windows.New[State, *event.Event](cfg.Windows, (*handler)(w), stateCodec{m: w.cfg.Models})
	return w
}

// Process applies the record at input offset off (−1 when not from Kafka).
// A record at an offset below NextOffset was applied already and is skipped.
func (w *Worker) Process(off int64, ev *event.Event) windows.Outcome {
	if off >= 0 && off < w.next {
		w.m.replayed.Inc()
		return windows.InOrder
	}
	w.offset = off
	out := w.eng.Process(ev.Key(), windows.SecOf(ev.OccurredAt), ev)
	w.offset = -1
	if off >= 0 {
		w.next = off + 1
	}
	switch out {
	case windows.InOrder:
		w.m.inOrder.Inc()
	case windows.OutOfOrder:
		w.m.outOfOrder.Inc()
	case windows.Late:
		w.m.late.Inc()
		w.m.lateRows.Inc()
	case windows.Future:
		w.m.future.Inc()
	}
	return out
}

// Advance passes the wall clock to a Live engine (idle partitions move on);
// call it about every 500 ms.
func (w *Worker) Advance(now time.Time) {
	w.eng.Advance(now)
	w.m.keys.Set(float64(w.eng.Len()))
	if wm := w.eng.Watermark(); wm != 0 {
		w.m.wmDelay.Set(now.Sub(wm.Time()).Seconds())
	}
}

// AdvanceTo raises the watermark to t (end of a replay): timers up to t fire.
func (w *Worker) AdvanceTo(t time.Time) { w.eng.AdvanceTo(windows.SecOf(t)) }

// NextOffset is the input offset to resume from: 1 + the newest processed.
func (w *Worker) NextOffset() int64 { return w.next }

// Pending is the number of output rows not yet flushed.
func (w *Worker) Pending() int { return w.out.Len() }

// Keys is the number of keys held.
func (w *Worker) Keys() int { return w.eng.Len() }

// Engine exposes the windows engine, e.g. for its Counters.
func (w *Worker) Engine() *windows.Engine[State, *event.Event] { return w.eng }

// Flush writes the pending rows to sink; on success they are dropped, on
// error they are kept for the next attempt.
func (w *Worker) Flush(ctx context.Context, sink Sink) error {
	if w.out.Len() == 0 {
		return nil
	}
	if err := sink.Write(ctx, &w.out); err != nil {
		return fmt.Errorf("partition %d: flush %d rows: %w", w.cfg.Partition, w.out.Len(), err)
	}
	w.out.Reset()
	return nil
}

// Checkpoint hands fn every key changed since the last checkpoint (nil value
// = deleted), then the partition record: meta (engine time and NextOffset).
// Write the meta record last: it says which input offset the state reflects.
func (w *Worker) Checkpoint(fn func(key string, value []byte) error, meta func(value []byte) error) error {
	n, size := 0, 0
	err := w.eng.Checkpoint(func(k string, v []byte) error {
		n++
		size += len(v)
		return fn(k, v)
	})
	if err != nil {
		return err
	}
	if n > 0 {
		w.meanRec = 0.9*w.meanRec + 0.1*float64(size)/float64(n)
		if w.meanRec == 0 {
			w.meanRec = float64(size) / float64(n)
		}
	}
	w.m.stateBytes.Set(w.meanRec * float64(w.eng.Len()))
	return meta(w.encodeMeta())
}

// encodeMeta: u8 version, varint next offset, then the engine's Meta.
func (w *Worker) encodeMeta() []byte {
	var e windows.Enc
	e.U8(1)
	e.Uvarint(uint64(w.next))
	e.Bytes(w.eng.Meta())
	return e.B
}

// Restore loads one key's record from the changelog (nil = deleted).
func (w *Worker) Restore(key string, value []byte) error { return w.eng.Restore(key, value) }

// RestoreMeta loads the partition record; NextOffset then returns the input
// offset the restored state reflects.
func (w *Worker) RestoreMeta(value []byte) error {
	d := windows.Dec{B: value}
	v := d.U8()
	next := int64(d.Uvarint())
	em := d.Bytes()
	if err := d.Done(); err != nil {
		return fmt.Errorf("partition %d meta: %w", w.cfg.Partition, err)
	}
	if v != 1 {
		return fmt.Errorf("partition %d meta: %w: version %d", w.cfg.Partition, windows.ErrCorrupt, v)
	}
	if err := w.eng.RestoreMeta(em); err != nil {
		return fmt.Errorf("partition %d: %w", w.cfg.Partition, err)
	}
	w.next = next
	return nil
}

// handler is the Worker seen as a windows.Handler.
type handler Worker

func (h *handler) Event(c *windows.Ctx, s *State, ev *event.Event) {
	w := (*Worker)(h)
	if ev.Type == event.Erased {
		// GDPR erasure: forget the key entirely, write nothing for it.
		w.m.erased.Inc()
		c.Delete()
		return
	}
	if w.offset >= 0 && s.Offset > w.offset {
		w.m.replayed.Inc() // the restored state of this key already has it
		return
	}
	if w.offset >= 0 {
		s.Offset = w.offset + 1
	}
	if s.seen(ev.ID) {
		w.m.dup.Inc()
		w.m.dupRows.Inc()
		return
	}
	t := c.Time
	if s.Kind == 0 {
		s.Kind = kindAccount
		if ev.LeadID != "" {
			s.Kind = kindLead
		}
	}
	s.Alerts.SetParties(w.party(ev.AccountID, s.AccountID(), nil), w.party(ev.OwnerID, s.OwnerID(), w.owners))
	s.Newest = max(s.Newest, t)
	s.VerAt = max(s.VerAt, t)
	s.Updates++

	switch ev.Type {
	case event.SubscriptionCancelled:
		s.Churned = true
	case event.SubscriptionStarted, event.SubscriptionRenewed, event.PlanUpgraded:
		s.Churned = false
	}
	if w.cfg.Models == nil {
		if s.Kind == kindLead {
			if s.Lead == nil {
				s.Lead = new(LeadRules)
			}
			s.Lead.Apply(ev, t)
		} else {
			if s.Account == nil {
				s.Account = new(AccountRules)
			}
			s.Account.Apply(ev, t)
		}
	}
	if w.win != nil {
		w.win.Event(c, &s.Alerts, ev, &w.aout)
	}
	if w.cfg.Models != nil {
		w.scoreLearned(c, s, ev)
	} else if s.Kind == kindLead {
		w.scoreLead(c, s, ev.ID, ev.OccurredAt, s.Newest)
	} else {
		w.scoreAccount(c, s, ev.ID, ev.OccurredAt, s.Newest)
	}
	w.drainAlerts()
	if w.cfg.Rescore > 0 {
		c.SetTimer(TimerRescore, s.Newest.Add(windows.SpanOf(w.cfg.Rescore)))
	}
}

// scoreLead emits the lead's score as of asOf for the event (or re-score)
// eventID at eventTime.
func (w *Worker) scoreLead(c *windows.Ctx, s *State, eventID string, eventTime time.Time, asOf windows.Sec) uint8 {
	if s.Lead == nil {
		s.Lead = new(LeadRules) // restored from a run with models
	}
	score, prob, reasons := s.Lead.Score(asOf, w.reasons[:0])
	w.reasons = reasons
	w.out.Leads = append(w.out.Leads, LeadScore{
		LeadID: c.Key, AccountID: s.AccountID(), OwnerID: s.OwnerID(),
		EventID: eventID, EventTime: eventTime, ScoredAt: w.cfg.Now().UTC(),
		Score: score, Probability: prob, Tier: Tier(score), ModelVersion: RulesVersion,
		Reasons: w.text(reasons), Converted: s.Lead.Converted, Version: s.version(),
	})
	if w.win != nil {
		w.win.LeadScore(c, &s.Alerts, alerts.Score{EventID: eventID, EventTime: eventTime, Value: float64(score)}, &w.aout)
	}
	if w.cfg.Features {
		l := s.Lead
		fit := 0
		for _, p := range l.Fit {
			fit += int(p)
		}
		w.out.Features = append(w.out.Features, FeatureRow{
			Entity: "lead", EntityID: c.Key, EventID: eventID, EventTime: eventTime, Names: leadFeatureNames,
			Values: w.copyValues([]float64{float64(fit), float64(l.engAt(asOf)), float64(l.Days.Sum(windows.Day, asOf, 7)),
				float64(l.Sess.Count()), float64(l.Pages.Estimate())}),
		})
	}
	return score
}

var leadFeatureNames = []string{"fit", "engagement", "events_7d", "sessions", "distinct_pages"}

func (w *Worker) scoreAccount(c *windows.Ctx, s *State, eventID string, eventTime time.Time, asOf windows.Sec) uint8 {
	if s.Account == nil {
		s.Account = new(AccountRules)
	}
	score, prob, reasons := s.Account.Score(asOf, w.reasons[:0])
	w.reasons = reasons
	w.out.Churn = append(w.out.Churn, ChurnScore{
		AccountID: c.Key, OwnerID: s.OwnerID(), EventID: eventID, EventTime: eventTime,
		ScoredAt: w.cfg.Now().UTC(), Score: score, Probability: prob, Tier: Tier(score),
		ModelVersion: RulesVersion, Reasons: w.text(reasons), Plan: s.Account.Plan,
		MRR: float64(s.Account.MRR.V), Churned: s.Churned, Version: s.version(),
	})
	if w.win != nil {
		w.win.ChurnScore(c, &s.Alerts, alerts.Score{EventID: eventID, EventTime: eventTime, Value: prob}, &w.aout)
	}
	return score
}

func (w *Worker) drainAlerts() {
	if len(w.aout.Alerts) > 0 {
		w.out.Alerts = append(w.out.Alerts, w.aout.Alerts...)
	}
	w.aout.Reset()
}

func (h *handler) Timer(c *windows.Ctx, s *State, kind windows.TimerKind) {
	w := (*Worker)(h)
	switch kind {
	case TimerAlerts:
		if w.win != nil {
			w.win.OnTimer(c, &s.Alerts, &w.aout)
			w.drainAlerts()
		}
	case TimerLeadLabel, TimerChurnLabel:
		if w.cfg.Models != nil {
			w.labelTimer(c, s, kind)
		}
	case TimerRescore:
		// A re-score row keyed by its own time: idempotent on replay.
		s.VerAt = max(s.VerAt, c.Time)
		s.Updates++
		id := "rescore@" + strconv.FormatInt(int64(c.Time), 10)
		var score uint8
		if w.cfg.Models != nil {
			score = w.rescoreLearned(c, s, id)
		} else if s.Kind == kindLead {
			score = w.scoreLead(c, s, id, c.Time.Time(), c.Time)
		} else {
			score = w.scoreAccount(c, s, id, c.Time.Time(), c.Time)
		}
		w.drainAlerts()
		// Keep re-scoring daily while it matters: a warm lead fading, an
		// account not yet at full risk.
		converted := s.LabelDone || s.Lead != nil && s.Lead.Converted
		if s.Kind == kindLead && score >= WarmAt && !converted ||
			s.Kind == kindAccount && score < 100 && !s.Churned && c.Time-s.Newest < windows.Sec(60*windows.Day) {
			c.SetTimer(TimerRescore, c.Time.Add(windows.SpanOf(w.cfg.Rescore)))
		}
	}
}

func (h *handler) Late(key string, t, wm windows.Sec, ev *event.Event) {
	w := (*Worker)(h)
	w.out.Late = append(w.out.Late, LateEvent{
		EventID: ev.ID, Key: key, Type: string(ev.Type), OccurredAt: ev.OccurredAt,
		Watermark: wm.Time(), Partition: w.cfg.Partition, ReceivedAt: w.cfg.Now().UTC(),
	})
}
