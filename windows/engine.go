package windows

import (
	"fmt"
	"strings"
	"time"
)

// Mode selects how a partition's watermark advances.
type Mode uint8

const (
	// Live: the watermark follows the data and, when the partition has
	// been quiet for Config.IdleAfter of wall-clock time, the wall clock
	// (minus the allowed lateness), so windows and timers still fire.
	Live Mode = iota
	// Backfill: the watermark follows the data only (historical replay);
	// Advance is a no-op and AdvanceTo ends a replay.
	Backfill
)

// Config configures an Engine. The zero value is usable: see each field's
// default.
type Config struct {
	// Lateness is how far behind the newest event time an event may be and
	// still update its windows. Default 5 minutes.
	Lateness time.Duration
	// Mode is Live (default) or Backfill.
	Mode Mode
	// IdleAfter is the wall-clock quiet time after which a Live partition's
	// watermark follows the wall clock (to now − IdleAfter − Lateness). It is
	// also the transport delay assumed: events that reach the engine within
	// IdleAfter of their event time give the same results live as in a
	// replay. Default 10 seconds.
	IdleAfter time.Duration
	// KeyTTL evicts a key that received no event for this long in event
	// time and has no pending timer. Default 0: never evict.
	KeyTTL time.Duration
	// MaxFutureSkew (Live mode) bounds how far ahead of the wall clock an
	// event may move the watermark: an event stamped later than the last
	// Advance time + MaxFutureSkew (a client clock bug) is applied, but
	// raises the newest event time only to that bound, so one bad clock
	// cannot make every later event late. Such events are reported as
	// Future. Default 0: no bound.
	MaxFutureSkew time.Duration
}

func (c Config) withDefaults() Config {
	if c.Lateness <= 0 {
		c.Lateness = 5 * time.Minute
	}
	if c.IdleAfter <= 0 {
		c.IdleAfter = 10 * time.Second
	}
	return c
}

// Handler is the per-key processing an Engine drives. All calls for one
// engine come from the goroutine that calls the engine; s points into the
// engine's state and is valid only during the call.
type Handler[S any, E any] interface {
	// Event applies ev (at event time c.Time) to the key's state s. For a
	// new key s is the zero S and c.New is true. c.OutOfOrder marks an
	// event older than the newest one seen in the partition but within the
	// allowed lateness: results emitted now are corrections.
	Event(c *Ctx, s *S, ev E)
	// Timer is called once the watermark has passed a timer the handler
	// set; c.Time is the time the timer was set for, and c.Watermark equals
	// it: due timers run in time order as if the watermark stopped at each.
	Timer(c *Ctx, s *S, kind TimerKind)
	// Late receives an event beyond the allowed lateness (event time before
	// the watermark). The key's state is not changed; route it to a
	// late-events output — never drop it silently.
	Late(key string, t Sec, watermark Sec, ev E)
}

// Evicter is implemented by handlers that want to see a key's state once
// more before idle eviction removes it (to emit a final result).
type Evicter[S any] interface {
	Evict(c *Ctx, s *S)
}

// Codec encodes a key's state for snapshots and the changelog. Decode must
// reject malformed input with an error (wrapping ErrCorrupt) and never panic:
// changelog records are read back from Kafka.
type Codec[S any] interface {
	Encode(e *Enc, s *S)
	Decode(d *Dec, s *S) error
}

// Outcome says what Process did with an event.
type Outcome uint8

// Outcomes of Process.
const (
	InOrder    Outcome = iota // at or after the newest event time seen
	OutOfOrder                // older than the newest, within the lateness: state updated
	Late                      // beyond the lateness: sent to Handler.Late only
	Future                    // applied, but ahead of wall clock + MaxFutureSkew: watermark clamped
)

// Counters are an engine's running totals, for metrics.
type Counters struct {
	Events      uint64 // events applied to state (in order + out of order)
	OutOfOrder  uint64 // of which out of order
	Late        uint64 // events beyond the lateness
	TimersFired uint64
	Evicted     uint64
	Future      uint64 // events whose watermark contribution was clamped
}

// keyMeta is the engine's bookkeeping for one key, beside its state.
type keyMeta struct {
	key    string             // a copy of its own: never a view into an input record
	last   Sec                // newest event time of the key (eviction)
	timers [MaxTimers + 1]Sec // due time per slot; 0 = none
	// armed has a bit per slot: the timer heap holds an item that stands
	// for the slot's timer, at or before its due time (setSlot, fire). A
	// bit instead of the item's time keeps an entry of the scorer in the
	// 352-byte size class instead of 384: it may cost an extra heap item
	// now and then (a timer moved earlier, or set again after a clear).
	armed uint8
	dirty bool // changed since the last Checkpoint
	gone  bool // deleted or evicted
	del   bool // Ctx.Delete was called
}

type entry[S any] struct {
	keyMeta
	state S
}

// Engine holds the per-key state of one partition, its watermark and its
// timers. It is not safe for concurrent use: one goroutine (the partition's
// worker) owns it and makes every call.
type Engine[S any, E any] struct {
	lateness  Span
	idleAfter Span
	cfg       Config
	h         Handler[S, E]
	evicter   Evicter[S]
	codec     Codec[S]

	keys  keyIndex[S]
	heap  timerHeap[S]
	dirty []*entry[S]

	maxEvent Sec // newest event time seen
	wm       Sec // watermark: events before it are late

	activeWall time.Time // wall time of the last Advance that saw events
	wall       Sec       // wall time of the last Advance (Live), for MaxFutureSkew
	skew       Span
	seen       bool // events processed since the last Advance

	ctx Ctx
	cur *entry[S] // the entry whose handler call is running
	enc Enc
	n   Counters
}

// New returns an engine for one partition. codec may be nil when snapshots
// are not needed (Checkpoint and Snapshot then fail).
func New[S any, E any](cfg Config, h Handler[S, E], codec Codec[S]) *Engine[S, E] {
	cfg = cfg.withDefaults()
	e := &Engine[S, E]{
		cfg:       cfg,
		lateness:  SpanOf(cfg.Lateness),
		idleAfter: SpanOf(cfg.IdleAfter),
		skew:      SpanOf(cfg.MaxFutureSkew),
		h:         h,
		codec:     codec,
		keys:      newKeyIndex[S](),
	}
	e.evicter, _ = h.(Evicter[S])
	e.ctx.eng = e
	return e
}

// Watermark returns the current watermark: events older than it are late,
// timers up to it have fired.
func (e *Engine[S, E]) Watermark() Sec { return e.wm }

// MaxEventTime returns the newest event time seen.
func (e *Engine[S, E]) MaxEventTime() Sec { return e.maxEvent }

// Len returns the number of keys held.
func (e *Engine[S, E]) Len() int { return e.keys.len() }

// Counters returns the running totals.
func (e *Engine[S, E]) Counters() Counters { return e.n }

// Get returns the state of key, or nil. The pointer is valid until the next
// call on the engine; do not keep it.
func (e *Engine[S, E]) Get(key string) *S {
	if en := e.keys.get(key); en != nil {
		return &en.state
	}
	return nil
}

// Process applies one event at event time t to key's state. Timers that the
// event's advance of the watermark makes due fire first (they are earlier in
// event time), then the event is applied — or handed to Handler.Late when it
// is beyond the allowed lateness.
func (e *Engine[S, E]) Process(key string, t Sec, ev E) Outcome {
	if t < e.wm {
		e.n.Late++
		e.h.Late(key, t, e.wm, ev)
		return Late
	}
	e.seen = true
	out := InOrder
	switch {
	case t < e.maxEvent:
		out = OutOfOrder
		e.n.OutOfOrder++
	case e.skew > 0 && e.wall != 0 && e.cfg.Mode == Live && t > e.wall.add(e.skew):
		out = Future
		e.n.Future++
		if c := e.wall.add(e.skew); c > e.maxEvent {
			e.maxEvent = c
			e.raise(c.Sub(e.lateness))
		}
	default:
		e.maxEvent = t
		e.raise(t.Sub(e.lateness))
	}
	en := e.keys.get(key)
	isNew := en == nil
	if isNew {
		en = &entry[S]{}
		// Cloned: a decoder's key is a view into a larger buffer, which a
		// long-lived key would keep alive.
		en.key = strings.Clone(key)
		e.keys.put(en)
	}
	e.n.Events++
	if t > en.last {
		en.last = t
	}
	e.cur = en
	e.ctx.reset(&en.keyMeta, t, e.wm)
	e.ctx.New = isNew
	e.ctx.OutOfOrder = out == OutOfOrder
	e.h.Event(&e.ctx, &en.state, ev)
	e.touch(en)
	if e.cfg.KeyTTL > 0 && !en.gone {
		e.setSlot(en, evictSlot, en.last.add(SpanOf(e.cfg.KeyTTL)))
	}
	e.fire() // timers the handler set at or before the watermark
	return out
}

// Advance tells a Live engine the wall-clock time. If no event arrived
// since the previous call and the partition has been quiet for IdleAfter, the
// watermark moves up to now − IdleAfter − Lateness and due timers fire. Call it
// periodically (e.g. every second) from the owning goroutine. In Backfill
// mode it does nothing.
func (e *Engine[S, E]) Advance(now time.Time) {
	if e.cfg.Mode != Live {
		return
	}
	e.wall = SecOf(now)
	if e.seen || e.activeWall.IsZero() {
		e.seen = false
		e.activeWall = now
		return
	}
	if now.Sub(e.activeWall) < e.cfg.IdleAfter {
		return
	}
	// now − IdleAfter bounds the event time of anything still in flight to
	// this partition (events reach it within IdleAfter of happening); minus
	// the lateness, as for the data-driven watermark. With that margin a
	// live run fires each key's timers in the same place among the key's
	// events as a replay of the same data.
	e.raise(SecOf(now).Sub(e.lateness + e.idleAfter))
}

// AdvanceTo raises the watermark to at least wm and fires due timers. Use it
// to end a replay ("the data is complete up to wm") or in tests.
func (e *Engine[S, E]) AdvanceTo(wm Sec) { e.raise(wm) }

// raise moves the watermark up (never down) and fires the timers it passes.
func (e *Engine[S, E]) raise(wm Sec) {
	if wm > e.wm {
		e.wm = wm
	}
	e.fire()
}

// fire pops and runs every timer at or before the watermark. A handler may
// set new timers while they fire; those due are run in the same loop.
func (e *Engine[S, E]) fire() {
	for len(e.heap) > 0 && e.heap[0].at <= e.wm {
		it := e.heap.pop()
		en := it.e
		bit := uint8(1) << it.slot()
		if en.gone || en.armed&bit == 0 {
			continue // stale: another item stood for the slot, or the key is gone
		}
		en.armed &^= bit
		due := en.timers[it.slot()]
		if due == 0 {
			continue // cleared
		}
		if due != it.at {
			// Moved later since this item was pushed (an earlier time has an
			// item of its own, popped before this one): re-arm at its time
			// (even when already due, to keep firing in time order).
			en.armed |= bit
			e.heap.push(newTimerItem(en, due, it.slot()))
			continue
		}
		en.timers[it.slot()] = 0
		if it.slot() == evictSlot {
			e.maybeEvict(en)
			continue
		}
		e.n.TimersFired++
		e.cur = en
		// The handler sees the watermark at the timer's own time, as if it
		// had moved in small steps: what a timer does cannot depend on how
		// far the watermark jumped (a replay jumps, a live partition creeps).
		e.ctx.reset(&en.keyMeta, due, due)
		e.h.Timer(&e.ctx, &en.state, TimerKind(it.slot()))
		e.touch(en)
	}
}

// maybeEvict removes an idle key unless a handler timer is still pending, in
// which case eviction is retried after the latest one.
func (e *Engine[S, E]) maybeEvict(en *entry[S]) {
	var latest Sec
	for k := range MaxTimers {
		latest = max(latest, en.timers[k])
	}
	if latest != 0 {
		e.setSlot(en, evictSlot, latest)
		return
	}
	if e.evicter != nil {
		e.cur = en
		e.ctx.reset(&en.keyMeta, e.wm, e.wm)
		e.evicter.Evict(&e.ctx, &en.state)
	}
	e.n.Evicted++
	en.del = true
	e.touch(en)
}

// touch records a change of en for the next Checkpoint and carries out a
// deletion requested by the handler.
func (e *Engine[S, E]) touch(en *entry[S]) {
	if e.codec == nil { // no checkpoints: nothing to track
		if en.del && !en.gone {
			en.gone = true
			e.keys.del(en)
		}
		return
	}
	if en.del && !en.gone {
		en.gone = true
		e.keys.del(en)
		if !en.dirty {
			en.dirty = true
			e.dirty = append(e.dirty, en)
		}
		return
	}
	if !en.dirty {
		en.dirty = true
		e.dirty = append(e.dirty, en)
	}
}

// setSlot sets the due time of a timer slot (0 clears it).
//
// An armed slot whose timer moves later keeps its item, which re-arms at
// the new time when it pops (timers that move on every event push
// nothing). Otherwise — no item, a timer moved earlier, or set after a
// clear (the item's time is not known then) — an item is pushed at the new
// time; an item left behind that way is skipped or re-armed when it pops,
// and the timer still fires once, at its time.
func (e *Engine[S, E]) setSlot(en *entry[S], slot int, at Sec) {
	prev := en.timers[slot]
	en.timers[slot] = at
	if at == 0 {
		return // the armed item, if any, is skipped when it pops
	}
	bit := uint8(1) << slot
	if en.armed&bit == 0 || prev == 0 || at < prev {
		en.armed |= bit
		e.heap.push(newTimerItem(en, at, uint8(slot)))
	}
}

// Ctx is what a Handler call may use besides the state: the key, the time,
// the watermark, and the key's timers. The engine reuses one Ctx; it is
// valid only during the call.
type Ctx struct {
	Key        string
	Time       Sec  // event time of the event, or the time the timer was set for
	Watermark  Sec  // the partition's watermark
	New        bool // Event: the key had no state before
	OutOfOrder bool // Event: older than the newest event seen, within lateness

	m   *keyMeta
	eng scheduler
}

type scheduler interface {
	setTimer(m *keyMeta, kind TimerKind, at Sec)
}

func (c *Ctx) reset(m *keyMeta, t, wm Sec) {
	c.Key, c.Time, c.Watermark, c.m = m.key, t, wm, m
	c.New, c.OutOfOrder = false, false
}

// SetTimer sets the key's timer of this kind to fire when the watermark
// reaches at (replacing any earlier setting of the kind). A time at or before
// the watermark fires before the engine call returns. It panics on a kind ≥
// MaxTimers: that is a programming error, not input.
func (c *Ctx) SetTimer(kind TimerKind, at Sec) {
	if kind >= MaxTimers {
		panic(fmt.Sprintf("windows: timer kind %d out of range", kind))
	}
	c.eng.setTimer(c.m, kind, at)
}

// ClearTimer cancels the key's timer of this kind.
func (c *Ctx) ClearTimer(kind TimerKind) { c.SetTimer(kind, 0) }

// Timer returns when the key's timer of this kind is due, or 0.
func (c *Ctx) Timer(kind TimerKind) Sec {
	if kind >= MaxTimers {
		return 0
	}
	return c.m.timers[kind]
}

// Delete forgets the key once the call returns (e.g. a GDPR erasure): its
// state and timers are dropped and the next Checkpoint writes a tombstone.
func (c *Ctx) Delete() { c.m.del = true }

func (e *Engine[S, E]) setTimer(m *keyMeta, kind TimerKind, at Sec) {
	if en := e.cur; en != nil && &en.keyMeta == m && !en.gone {
		e.setSlot(en, int(kind), at)
	}
}
