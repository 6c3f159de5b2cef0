package windows

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/crmstream/crmstream/internal/benchcpu"
)

// benchState is the default window set of the platform notes: a 1-hour
// tumbling window, a 60 × 1-minute sliding window and a 30-minute session.
type benchState struct {
	Hour   Tumbling
	Recent Hopping[[60]uint16]
	Sess   Session
}

func (s *benchState) add(t Sec, v float64) {
	s.Hour.Add(Hour, t, v)
	s.Recent.Add(Minute, t, 1)
	s.Sess.Add(30*Minute, t)
}

// BenchmarkWindowUpdate measures one update of the default window set of a
// key among 100 k, in event-time order with a little jitter.
func BenchmarkWindowUpdate(b *testing.B) {
	const keys = 100_000
	states := make([]benchState, keys)
	t := t0
	i := 0
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		k := (i * 7919) % keys
		states[k].add(t-Sec(i&63), float64(i&15))
		i++
		if i%16 == 0 {
			t++
		}
	}
	benchcpu.Report(b, cpu, "updates")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

type benchHandler struct{ late int }

func (h *benchHandler) Event(c *Ctx, s *benchState, ev float64) {
	s.add(c.Time, ev)
	c.SetTimer(0, s.Sess.Closes(30*Minute)) // session close
	c.SetTimer(1, c.Time.Add(Hour))         // inactivity
}
func (h *benchHandler) Timer(c *Ctx, s *benchState, kind TimerKind) {}
func (h *benchHandler) Late(key string, t, wm Sec, ev float64)      { h.late++ }

type benchCodec struct{}

func (benchCodec) Encode(e *Enc, s *benchState) {
	s.Hour.Encode(e)
	s.Recent.Encode(e)
	s.Sess.Encode(e)
}
func (benchCodec) Decode(d *Dec, s *benchState) error {
	s.Hour.Decode(d)
	s.Recent.Decode(d)
	s.Sess.Decode(d)
	return d.Err()
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("lead-%08d", i)
	}
	return keys
}

// BenchmarkEngineProcess measures Engine.Process with the default window set
// and two timers per key (session close, inactivity) over 100 k active keys,
// in steady state: watermark advancing, timers firing, keys re-armed.
func BenchmarkEngineProcess(b *testing.B) {
	const n = 100_000
	keys := benchKeys(n)
	h := &benchHandler{}
	e := New[benchState, float64](Config{Mode: Backfill}, h, benchCodec{})
	t := t0
	// Warm up: every key present, heap and map grown.
	for i := range 4 * n {
		e.Process(keys[(i*7919)%n], t, 1)
		if i%4 == 0 {
			t++
		}
	}
	i := 0
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		e.Process(keys[(i*7919)%n], t-Sec(i&127), 1)
		i++
		if i%4 == 0 {
			t++
		}
	}
	benchcpu.Report(b, cpu, "events")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(e.Counters().TimersFired)/float64(b.N+4*n), "timers/event")
}

// BenchmarkMemoryPerKey measures the heap held per active key by an engine
// with the default window set and two pending timers per key, at 1 M keys
// (key strings of 13 bytes included). Run with -benchtime=1x.
func BenchmarkMemoryPerKey(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		keys := benchKeys(n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := New[benchState, float64](Config{Mode: Backfill}, &benchHandler{}, benchCodec{})
		for i, k := range keys {
			e.Process(k, t0+Sec(i/100), 1)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/key")
		b.ReportMetric(float64(e.Len()), "keys")
		var enc int
		_ = e.Snapshot(func(_ string, v []byte) error { enc += len(v); return nil })
		b.ReportMetric(float64(enc)/n, "snapshot-bytes/key")
		runtime.KeepAlive(e)
		runtime.KeepAlive(keys)
	}
}

// BenchmarkCheckpoint measures encoding changed keys for the changelog.
func BenchmarkCheckpoint(b *testing.B) {
	const n = 10_000
	keys := benchKeys(n)
	e := New[benchState, float64](Config{Mode: Backfill}, &benchHandler{}, benchCodec{})
	for i := range 5 * n {
		e.Process(keys[i%n], t0+Sec(i/10), 1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Process(keys[i%n], t0+Sec(5*n/10+i/10), 1)
		i++
		_ = e.Checkpoint(func(string, []byte) error { return nil })
	}
}

// BenchmarkEngineBursts is the engine in a CRM-like steady state: 100 k
// keys, each active in bursts of 10 events a few seconds apart (a web
// session), so a key's session and inactivity timers fire once per burst
// rather than once per event as in BenchmarkEngineProcess.
func BenchmarkEngineBursts(b *testing.B) {
	const n = 100_000
	keys := benchKeys(n)
	e := New[benchState, float64](Config{Mode: Backfill}, &benchHandler{}, benchCodec{})
	t := t0
	step := func(i int) {
		burst := i / 10
		e.Process(keys[(burst*7919)%n], t, 1)
		if i%8 == 0 {
			t++
		}
	}
	for i := range 20 * n { // every key through two bursts: map, heap grown
		step(i)
	}
	i := 20 * n
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		step(i)
		i++
	}
	benchcpu.Report(b, cpu, "events")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
