package windows

// Session tracks gap-based session windows: observations less than gap apart
// belong to one session; a quiet spell of gap or more ends it, so a session
// ending at End is closed for good once event time reaches End+gap.
// It keeps the latest session and the one before it (so an out-of-order
// event can still extend or merge them) and running totals over every
// session that is finished. 32 bytes.
//
// Out of order: an event between the previous and the latest session that is
// within gap of both merges them into one (the classic session merge); one
// older than the previous session, or not within gap of it, is folded into
// the totals as a session of its own (Add reports false for it when it is
// older than both kept sessions). The engine's watermark keeps such events
// rare: with a 5-minute allowed lateness and a 30-minute gap they cannot
// happen for sessions that are closed.
type Session struct {
	Start, End         Sec    // the latest session; 0 when none
	PrevStart, PrevEnd Sec    // the session before it; 0 when none
	Events, PrevEvents uint32 // observations in each
	Done               uint32 // sessions finished before Prev (saturates)
	DoneSec            uint32 // their total duration, seconds (saturates)
}

// Add records an observation at t. It reports whether t extended or
// started one of the two kept sessions; false means t was counted as an old
// session of its own in Done/DoneSec.
func (s *Session) Add(gap Span, t Sec) bool {
	switch {
	case s.Start == 0:
		s.Start, s.End, s.Events = t, t, 1
	case t >= s.Start && t <= s.End:
		s.Events++
	case t > s.End:
		if t-s.End < Sec(gap) {
			s.End = t
			s.Events++
			return true
		}
		// A new latest session; the latest becomes Prev, Prev is finished.
		s.finishPrev()
		s.PrevStart, s.PrevEnd, s.PrevEvents = s.Start, s.End, s.Events
		s.Start, s.End, s.Events = t, t, 1
	case s.Start-t < Sec(gap):
		// Extends the latest session backwards; may now reach Prev.
		s.Start = t
		s.Events++
		if s.PrevStart != 0 && s.Start-s.PrevEnd < Sec(gap) {
			s.Start = s.PrevStart
			s.Events += s.PrevEvents
			s.PrevStart, s.PrevEnd, s.PrevEvents = 0, 0, 0
		}
	case s.PrevStart != 0 && t >= s.PrevStart && t <= s.PrevEnd:
		s.PrevEvents++
	case s.PrevStart != 0 && t > s.PrevEnd && t-s.PrevEnd < Sec(gap):
		s.PrevEnd = t
		s.PrevEvents++
	case s.PrevStart != 0 && t < s.PrevStart && s.PrevStart-t < Sec(gap):
		s.PrevStart = t
		s.PrevEvents++
	case s.PrevStart == 0 || t > s.PrevEnd:
		// Between Prev (or nothing) and the latest session, near neither:
		// it becomes Prev, the old Prev is finished.
		s.finishPrev()
		s.PrevStart, s.PrevEnd, s.PrevEvents = t, t, 1
	default:
		s.addDone(0)
		return false
	}
	return true
}

func (s *Session) finishPrev() {
	if s.PrevStart != 0 {
		s.addDone(uint32(s.PrevEnd - s.PrevStart))
	}
}

func (s *Session) addDone(d uint32) {
	if s.Done != ^uint32(0) {
		s.Done++
	}
	if s.DoneSec+d < s.DoneSec {
		s.DoneSec = ^uint32(0)
	} else {
		s.DoneSec += d
	}
}

// Closes returns the event time at which the latest session closes (its end
// plus gap) — when a session-close timer should fire — or 0 when none.
func (s *Session) Closes(gap Span) Sec {
	if s.Start == 0 {
		return 0
	}
	return s.End.add(gap)
}

// Open reports whether the latest session is still open at event time now.
func (s *Session) Open(gap Span, now Sec) bool {
	return s.Start != 0 && now < s.End.add(gap)
}

// Duration returns the length of the latest session in seconds.
func (s *Session) Duration() uint32 {
	if s.Start == 0 {
		return 0
	}
	return uint32(s.End - s.Start)
}

// Count returns the number of sessions seen: finished, previous and latest.
func (s *Session) Count() uint32 {
	n := s.Done
	if s.PrevStart != 0 {
		n++
	}
	if s.Start != 0 {
		n++
	}
	return n
}

// Closing reports the kept sessions (older first) that are closed at event
// time now (End+gap ≤ now) and ended after after, the End of the last session
// a handler already emitted. It returns the new value of after and the close
// time of the next kept session still open (0 if none) — where to set the
// session-close timer. The pattern for emitting each session exactly once:
//
//	after, next := s.Closing(gap, c.Watermark, st.Emitted, emit)
//	st.Emitted = after
//	c.SetTimer(kindSessionClose, next) // 0 clears it
func (s *Session) Closing(gap Span, now, after Sec, fn func(start, end Sec, events uint32)) (Sec, Sec) {
	var next Sec
	visit := func(start, end Sec, events uint32) {
		if start == 0 || end <= after {
			return
		}
		if c := end.add(gap); c <= now {
			fn(start, end, events)
			after = end
		} else if next == 0 {
			next = c
		}
	}
	visit(s.PrevStart, s.PrevEnd, s.PrevEvents)
	visit(s.Start, s.End, s.Events)
	return after, next
}
