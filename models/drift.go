package models

import "math"

// PageHinkley detects a change in the mean of a signal in either direction
// (Page 1954; Hinkley 1971): it accumulates deviations from the running mean
// beyond a tolerance Delta and alarms when the accumulated sum departs from
// its extreme by more than Lambda. After an alarm it restarts, so it learns
// the new level. The zero value is not usable; use NewPageHinkley.
type PageHinkley struct {
	Delta  float64 // tolerated change of the mean
	Lambda float64 // alarm threshold on the cumulative deviation
	MinN   uint64  // observations before alarms are possible
	n      uint64
	mean   float64
	up, dn float64 // cumulative sums for an increase / a decrease
	upMin  float64
	dnMax  float64
	Alarms uint64 // alarms raised so far
}

// NewPageHinkley returns a detector. Typical values for a log-loss signal:
// delta 0.005, lambda 50, minN 100.
func NewPageHinkley(delta, lambda float64, minN uint64) *PageHinkley {
	return &PageHinkley{Delta: delta, Lambda: lambda, MinN: minN}
}

// Add observes x and reports whether the mean has changed. +1 means it
// rose, −1 it fell, 0 no change.
func (ph *PageHinkley) Add(x float64) int {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	ph.n++
	ph.mean += (x - ph.mean) / float64(ph.n)
	ph.up += x - ph.mean - ph.Delta
	ph.dn += x - ph.mean + ph.Delta
	ph.upMin = min(ph.upMin, ph.up)
	ph.dnMax = max(ph.dnMax, ph.dn)
	if ph.n < ph.MinN {
		return 0
	}
	dir := 0
	switch {
	case ph.up-ph.upMin > ph.Lambda:
		dir = 1
	case ph.dnMax-ph.dn > ph.Lambda:
		dir = -1
	}
	if dir != 0 {
		ph.Alarms++
		*ph = PageHinkley{Delta: ph.Delta, Lambda: ph.Lambda, MinN: ph.MinN, Alarms: ph.Alarms}
	}
	return dir
}
