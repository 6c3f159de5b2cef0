package windows

import (
	"fmt"
	"strings"
)

// testState is the per-key state the engine tests use: one of each window
// kind, the way features/ composes them.
type testState struct {
	Hour    Tumbling            // 1-hour tumbling
	Recent  Hopping[[60]uint16] // last 60 minutes by the minute
	Sess    Session             // 30-minute gap
	Vals    Stats               // every value
	Pages   Distinct            // distinct values
	LastV   Last                // latest value
	Emitted Sec                 // End of the last session emitted
}

const (
	tkSession TimerKind = iota // next session close
	tkIdle                     // one hour without events
	tkHour                     // tumbling window close
)

const (
	testGap  = 30 * Minute
	testIdle = Hour
)

type testEvent struct {
	Key string
	T   Sec
	V   float64
}

// testHandler records every output as a line of text, so scenario files and
// the property test can compare them.
type testHandler struct {
	out []string
	day Sec // midnight of the scenario's day, for formatting
}

func (h *testHandler) fmtT(t Sec) string { return fmtSec(h.day, t) }

func fmtSec(day, t Sec) string {
	if t == 0 {
		return "-"
	}
	var b strings.Builder
	if t < day {
		return fmt.Sprintf("@%d", t)
	}
	d := (t - day) / Sec(Day)
	if d > 0 {
		fmt.Fprintf(&b, "d%d ", d)
	}
	r := (t - day) % Sec(Day)
	fmt.Fprintf(&b, "%02d:%02d", r/3600, r/60%60)
	if r%60 != 0 {
		fmt.Fprintf(&b, ":%02d", r%60)
	}
	return b.String()
}

func (h *testHandler) Event(c *Ctx, s *testState, ev testEvent) {
	s.Hour.Add(Hour, c.Time, ev.V)
	s.Recent.Add(Minute, c.Time, 1)
	s.Sess.Add(testGap, c.Time)
	s.Vals.Add(c.Time, ev.V)
	s.Pages.AddHash(Hash(uint64(ev.V)))
	s.LastV.Add(c.Time, ev.V)
	c.SetTimer(tkIdle, s.Vals.Last.Add(testIdle))
	if end, cur := WindowStart(Hour, c.Time).Add(Hour), c.Timer(tkHour); cur == 0 || end < cur {
		c.SetTimer(tkHour, end) // the earliest hour not yet emitted closes first
	}
	h.sessionTimer(c, s)
	ooo := ""
	if c.OutOfOrder {
		ooo = " ooo"
	}
	h.out = append(h.out, fmt.Sprintf("upd %s %s%s hour=%d recent=%d sess=%s",
		c.Key, h.fmtT(c.Time), ooo, s.Hour.At(Hour, c.Time).Count, s.Recent.Total(Minute, s.Vals.Last), h.sess(s.Sess.Start, s.Sess.End, s.Sess.Events)))
}

func (h *testHandler) sess(start, end Sec, n uint32) string {
	return fmt.Sprintf("%s-%s/%d", h.fmtT(start), h.fmtT(end), n)
}

func (h *testHandler) sessionTimer(c *Ctx, s *testState) {
	after, next := s.Sess.Closing(testGap, c.Watermark, s.Emitted, func(start, end Sec, n uint32) {
		h.out = append(h.out, fmt.Sprintf("session %s %s", c.Key, h.sess(start, end, n)))
	})
	s.Emitted = after
	c.SetTimer(tkSession, next)
}

func (h *testHandler) Timer(c *Ctx, s *testState, kind TimerKind) {
	switch kind {
	case tkSession:
		h.sessionTimer(c, s)
	case tkIdle:
		h.out = append(h.out, fmt.Sprintf("idle %s %s last=%s", c.Key, h.fmtT(c.Time), h.fmtT(s.Vals.Last)))
	case tkHour:
		// Emit every kept hour that has closed, then wait for the next.
		for _, w := range []struct {
			start Sec
			st    Stats
		}{{s.Hour.PrevStart, s.Hour.Prev}, {s.Hour.Start, s.Hour.Cur}} {
			if w.start != 0 && w.start.Add(Hour) == c.Time {
				h.out = append(h.out, fmt.Sprintf("hour %s %s n=%d sum=%g", c.Key, h.fmtT(w.start), w.st.Count, w.st.Sum))
			}
		}
		if end := s.Hour.End(Hour); end > c.Time {
			c.SetTimer(tkHour, end)
		}
	}
}

func (h *testHandler) Late(key string, t, wm Sec, ev testEvent) {
	h.out = append(h.out, fmt.Sprintf("late %s %s wm=%s", key, h.fmtT(t), h.fmtT(wm)))
}

func (h *testHandler) Evict(c *Ctx, s *testState) {
	h.out = append(h.out, fmt.Sprintf("evict %s last=%s", c.Key, h.fmtT(s.Vals.Last)))
}

type testCodec struct{}

func (testCodec) Encode(e *Enc, s *testState) {
	e.U8(1)
	s.Hour.Encode(e)
	s.Recent.Encode(e)
	s.Sess.Encode(e)
	s.Vals.Encode(e)
	s.Pages.Encode(e)
	s.LastV.Encode(e)
	e.Sec(s.Emitted)
}

func (testCodec) Decode(d *Dec, s *testState) error {
	if v := d.U8(); v != 1 && d.Err() == nil {
		return fmt.Errorf("%w: state version %d", ErrCorrupt, v)
	}
	s.Hour.Decode(d)
	s.Recent.Decode(d)
	s.Sess.Decode(d)
	s.Vals.Decode(d)
	s.Pages.Decode(d)
	s.LastV.Decode(d)
	s.Emitted = d.Sec()
	return d.Err()
}
