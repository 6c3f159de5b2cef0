package windows

// Tumbling aggregates observations in fixed, aligned, non-overlapping windows
// of a size given to each call ([Start, Start+size), aligned to the Unix
// epoch, so every key's hours or days line up). It keeps the current window
// and the one before it, so an out-of-order event for the previous window
// (within the allowed lateness) still lands in it. 72 bytes.
//
// The size is not stored: pass the same size to every call on one value.
// A Tumbling is a plain value; it is not safe for concurrent use (the engine
// gives each key's state to one goroutine).
type Tumbling struct {
	Cur       Stats // the current (latest) window
	Prev      Stats // the latest window before Cur that received data
	Start     Sec   // start of Cur; 0 when empty
	PrevStart Sec   // start of Prev; 0 when empty
}

// WindowStart returns the start of the size-aligned window holding t.
func WindowStart(size Span, t Sec) Sec {
	if size == 0 {
		return t
	}
	return t - t%Sec(size)
}

// Add records v at t. It reports whether the observation was kept: false
// means t belongs to a window older than the two kept, which the caller
// should count as too late (the engine's watermark normally prevents it).
// When t opens a new window, Cur moves to Prev (and the old Prev is
// discarded): call Closing first if the closed window must be emitted.
func (w *Tumbling) Add(size Span, t Sec, v float64) bool {
	ws := WindowStart(size, t)
	switch {
	case w.Start == 0 || ws == w.Start:
		w.Start = ws
		w.Cur.Add(t, v)
	case ws > w.Start:
		w.Prev, w.PrevStart = w.Cur, w.Start
		w.Cur, w.Start = Stats{}, ws
		w.Cur.Add(t, v)
	case ws == w.PrevStart:
		w.Prev.Add(t, v)
	case ws > w.PrevStart:
		// A window between Prev and Cur that had no data yet: it becomes
		// Prev, the older one is dropped.
		w.Prev, w.PrevStart = Stats{}, ws
		w.Prev.Add(t, v)
	default:
		return false
	}
	return true
}

// End returns the end (exclusive) of the current window, or 0 when empty:
// the event time at which a window-close timer should fire.
func (w *Tumbling) End(size Span) Sec {
	if w.Start == 0 {
		return 0
	}
	return w.Start.add(size)
}

// At returns the aggregate of the window holding t, or an empty Stats when
// that window is not kept (no data, or too old).
func (w *Tumbling) At(size Span, t Sec) Stats {
	switch ws := WindowStart(size, t); {
	case w.Start != 0 && ws == w.Start:
		return w.Cur
	case w.PrevStart != 0 && ws == w.PrevStart:
		return w.Prev
	}
	return Stats{}
}
