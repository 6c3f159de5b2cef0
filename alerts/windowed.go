package alerts

import (
	"fmt"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// Windowed runs a Detector inside a windows.Engine handler: it turns the
// engine's watermark into the detector clock and the detector's timer
// requests into the engine's per-key timer of kind Timer.
//
// # Firing ahead of the watermark
//
// The engine fires timers when its watermark, the newest event time minus
// the allowed lateness, reaches them. An abandonment deadline left to the
// watermark would alert Lateness (default 5 minutes) after the fact. So in
// Live mode set Ahead to the engine's Lateness: the detector's clock is then
// watermark + Ahead, which is the partition's newest event time while data
// flows and the wall clock once the partition is idle, and its timers are
// set Ahead earlier. An alert fires as soon as its condition is true at the
// newest time seen; an event that arrives later but within the lateness and
// disproves it retracts it. In Backfill mode leave Ahead at 0: alerts fire
// only once the watermark has passed, no late event can reach them, and a
// replay gives the final answer with no retractions.
type Windowed struct {
	Detector *Detector
	Timer    windows.TimerKind // the key's timer slot the scorer assigns to alerts
	Ahead    time.Duration     // Live: the engine's Lateness; Backfill: 0
}

// clock is the detector's now in a handler call.
func (w *Windowed) clock(c *windows.Ctx) time.Time {
	return c.Watermark.Time().Add(w.Ahead)
}

// Event applies ev; call it from Handler.Event with the key's alert state.
func (w *Windowed) Event(c *windows.Ctx, st *State, ev *event.Event, out *Output) {
	if ev.Type == event.Erased {
		*st = State{}
		c.ClearTimer(w.Timer)
		return
	}
	n := len(out.Timers)
	st.SetKey(c.Key) // the engine's copy of the key: no second one per key
	w.Detector.OnEvent(st, ev, w.clock(c), out)
	w.setTimers(c, out, n)
}

// OnTimer handles the alert timer; call it from Handler.Timer when kind is
// w.Timer.
func (w *Windowed) OnTimer(c *windows.Ctx, st *State, out *Output) {
	n := len(out.Timers)
	st.timerAt = 0 // the engine's slot is free now: any pending deadline re-arms it
	st.SetKey(c.Key)
	w.Detector.OnTimer(st, w.clock(c), out)
	w.setTimers(c, out, n)
}

// LeadScore feeds a lead score computed for the current event.
func (w *Windowed) LeadScore(c *windows.Ctx, st *State, s Score, out *Output) {
	n := len(out.Timers)
	st.SetKey(c.Key)
	w.Detector.OnLeadScore(st, s, w.clock(c), out)
	w.setTimers(c, out, n)
}

// ChurnScore feeds a churn probability computed for the current event.
func (w *Windowed) ChurnScore(c *windows.Ctx, st *State, s Score, out *Output) {
	n := len(out.Timers)
	st.SetKey(c.Key)
	w.Detector.OnChurnScore(st, s, w.clock(c), out)
	w.setTimers(c, out, n)
}

// setTimers moves the engine timer to the newest request made since out
// held n timers, and consumes those requests.
func (w *Windowed) setTimers(c *windows.Ctx, out *Output, n int) {
	if len(out.Timers) == n {
		return
	}
	at := out.Timers[len(out.Timers)-1].At.Add(-w.Ahead)
	sec := windows.SecOf(at)
	if sec.Time().Before(at) {
		sec++ // round up: never fire before the deadline
	}
	c.SetTimer(w.Timer, sec)
	out.Timers = out.Timers[:n]
}

// Codec adapts State to windows.Enc / windows.Dec, for a scorer state that
// embeds it.
type Codec struct{}

// Encode appends st as one length-prefixed field.
func (Codec) Encode(e *windows.Enc, st *State) {
	b, _ := st.AppendBinary(nil) // AppendBinary cannot fail
	e.Bytes(b)
}

// Decode reads what Encode wrote.
func (Codec) Decode(d *windows.Dec, st *State) error {
	b := d.Bytes()
	if err := d.Err(); err != nil {
		return fmt.Errorf("alerts state: %w", err)
	}
	if err := st.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("alerts state: %w: %w", windows.ErrCorrupt, err)
	}
	return nil
}
