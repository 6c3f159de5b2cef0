package scorer

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time the process used so far (user + system, all
// threads). Benchmarks report CPU time per operation beside wall time,
// because the machines they run on are shared: wall time per op grows with
// other people's load, CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op and the matching rate per CPU-second.
func reportCPU(b *testing.B, start time.Duration, unit string) {
	d := cpuTime() - start
	if d <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/d.Seconds(), unit+"/cpu-s")
}
