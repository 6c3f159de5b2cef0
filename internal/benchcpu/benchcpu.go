// Package benchcpu lets benchmarks report CPU time per operation beside wall
// time. The machines benchmarks run on are shared: wall time per operation
// grows with other people's load, CPU time much less, so cpu-ns/op is the
// figure to compare across runs.
package benchcpu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// clockTick is the unit of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on
// Linux for every architecture Go supports).
const clockTick = 10 * time.Millisecond

// Process is the CPU time (user + system) process pid has used so far, from
// /proc/<pid>/stat: for the processes a benchmark runs beside it (the
// services under test, the ClickHouse server).
func Process(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("proc stat: short")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("proc stat: %w", err)
	}
	return time.Duration(ut+st) * clockTick, nil
}
