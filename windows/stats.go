package windows

import "math"

// Stats aggregates a set of observations: count, sum, min, max and the
// event times of the first and last one. The zero value is an empty set.
// 32 bytes. Min and Max are float32: ample for the CRM quantities they hold
// (amounts, seats, scores), half the size of float64.
type Stats struct {
	Sum   float64 // sum of the values
	Count uint32  // number of observations (saturates at 2^32−1)
	Min   float32 // smallest value; meaningless when Count == 0
	Max   float32 // largest value; meaningless when Count == 0
	First Sec     // event time of the earliest observation; 0 when empty
	Last  Sec     // event time of the latest observation; 0 when empty
}

// Add records value v observed at event time t. Observations may arrive in
// any order: First and Last track the event times, not the arrival order.
func (s *Stats) Add(t Sec, v float64) {
	f := float32(v)
	if s.Count == 0 {
		s.Min, s.Max, s.First, s.Last = f, f, t, t
	} else {
		s.Min = min(s.Min, f)
		s.Max = max(s.Max, f)
		if t < s.First {
			s.First = t
		}
		if t > s.Last {
			s.Last = t
		}
	}
	if s.Count != math.MaxUint32 {
		s.Count++
	}
	s.Sum += v
}

// Merge adds the observations of o to s.
func (s *Stats) Merge(o Stats) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 {
		*s = o
		return
	}
	s.Min = min(s.Min, o.Min)
	s.Max = max(s.Max, o.Max)
	s.First = min(s.First, o.First)
	s.Last = max(s.Last, o.Last)
	s.Sum += o.Sum
	if c := uint64(s.Count) + uint64(o.Count); c > math.MaxUint32 {
		s.Count = math.MaxUint32
	} else {
		s.Count = uint32(c)
	}
}

// Mean returns Sum/Count, or 0 for an empty set.
func (s Stats) Mean() float64 {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / float64(s.Count)
}

// Empty reports whether no observation was added.
func (s Stats) Empty() bool { return s.Count == 0 }

// Last keeps the value with the latest event time ("last value" in event
// time, so an out-of-order older event does not overwrite a newer value).
// Ties keep the value added last. 8 bytes.
type Last struct {
	At Sec     // event time of V; 0 when empty
	V  float32 // the value
}

// Add records v at t if t is not older than the value held.
func (l *Last) Add(t Sec, v float64) {
	if t >= l.At {
		l.At, l.V = t, float32(v)
	}
}

// First keeps the value with the earliest event time. 8 bytes.
type First struct {
	At Sec     // event time of V; 0 when empty
	V  float32 // the value
}

// Add records v at t if First is empty or t is earlier than the value held.
func (f *First) Add(t Sec, v float64) {
	if f.At == 0 || t < f.At {
		f.At, f.V = t, float32(v)
	}
}
