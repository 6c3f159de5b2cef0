package windows

import "time"

// Sec is an event time in whole Unix seconds (UTC). It is the time unit of
// all window state: 4 bytes instead of the 24 of a time.Time, valid from 1970
// to 2106. The zero Sec means "never" / "empty" throughout the package, so
// events at exactly 1970-01-01T00:00:00Z are not representable.
type Sec uint32

// SecOf truncates t to whole seconds. Times before 1970 map to 0 and times
// after 2106 saturate.
func SecOf(t time.Time) Sec {
	u := t.Unix()
	switch {
	case u <= 0:
		return 0
	case u >= 1<<32-1:
		return 1<<32 - 1
	}
	return Sec(u)
}

// Time returns s as a UTC time.Time.
func (s Sec) Time() time.Time { return time.Unix(int64(s), 0).UTC() }

// Span is a duration in whole seconds: a window size, hop, gap or timeout.
// Window configuration is passed to the methods of the state types rather
// than stored in them, so that a million keys do not each carry a copy of the
// same configuration.
type Span uint32

// SpanOf converts d to a Span, truncating to whole seconds; it returns 1 for
// positive durations shorter than a second.
func SpanOf(d time.Duration) Span {
	s := d / time.Second
	if s <= 0 && d > 0 {
		return 1
	}
	if s > 1<<32-1 {
		return 1<<32 - 1
	}
	return Span(s)
}

// Duration returns s as a time.Duration.
func (s Span) Duration() time.Duration { return time.Duration(s) * time.Second }

// Common spans.
const (
	Minute Span = 60
	Hour   Span = 60 * Minute
	Day    Span = 24 * Hour
)

// add returns s+d saturating at the maximum Sec.
func (s Sec) add(d Span) Sec {
	if uint64(s)+uint64(d) > 1<<32-1 {
		return 1<<32 - 1
	}
	return s + Sec(d)
}

// Add returns s + d, saturating at the largest Sec instead of wrapping.
func (s Sec) Add(d Span) Sec { return s.add(d) }

// Sub returns s − d, saturating at 0.
func (s Sec) Sub(d Span) Sec {
	if Sec(d) > s {
		return 0
	}
	return s - Sec(d)
}
