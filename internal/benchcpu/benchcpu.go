// Package benchcpu lets benchmarks report CPU time per operation beside wall
// time. The machines benchmarks run on are shared: wall time per operation
// grows with other people's load, CPU time much less, so cpu-ns/op is the
// figure to compare across runs.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Now is the CPU time the process used so far (user + system, all threads).
func Now() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Report adds cpu-ns/op, and the matching rate per CPU-second named by unit
// (e.g. "events") when unit is not empty, for the b.N operations run since
// start (a value of Now).
func Report(b *testing.B, start time.Duration, unit string) {
	d := Now() - start
	if d <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if unit != "" {
		b.ReportMetric(float64(b.N)/d.Seconds(), unit+"/cpu-s")
	}
}
