package windows

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// randomStream returns events in arrival order: event times move forward by
// random steps (often within a session gap, sometimes hours), and each event
// arrives after a random delay, so the stream is out of order and some events
// fall beyond the 5-minute lateness.
func randomStream(r *rand.Rand, day Sec, n, keys int) []testEvent {
	type arrival struct {
		ev testEvent
		at Sec
	}
	evs := make([]arrival, 0, n)
	t := day + 8*Sec(Hour)
	for range n {
		switch p := r.IntN(100); {
		case p < 60:
			t += Sec(r.IntN(120))
		case p < 90:
			t += Sec(r.IntN(40 * 60))
		default:
			t += Sec(r.IntN(3 * 3600))
		}
		delay := Sec(0)
		if r.IntN(3) == 0 {
			delay = Sec(r.IntN(8 * 60)) // up to 8 min: some beyond the lateness
		}
		evs = append(evs, arrival{testEvent{Key: fmt.Sprintf("k%d", r.IntN(keys)), T: t, V: float64(r.IntN(12))}, t + delay})
	}
	slices.SortStableFunc(evs, func(a, b arrival) int { return int(a.at) - int(b.at) })
	out := make([]testEvent, len(evs))
	for i, a := range evs {
		out[i] = a.ev
	}
	return out
}

// refOutputs computes, by brute force and independently of the engine, what
// the test handler must output: late events, and per key its idle timers,
// sessions and closed hours, once the watermark has passed everything.
func refOutputs(day Sec, stream []testEvent, lateness Span) (late []string, perKey map[string][]string, accepted map[string][]testEvent) {
	h := &testHandler{day: day}
	var maxEvent, wm Sec
	idle := map[string]Sec{}
	lastT := map[string]Sec{}
	perKey = map[string][]string{}
	accepted = map[string][]testEvent{}
	fireIdle := func(upTo Sec) {
		var keys []string
		for k, at := range idle {
			if at != 0 && at <= upTo {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			perKey[k] = append(perKey[k], fmt.Sprintf("idle %s %s last=%s", k, h.fmtT(idle[k]), h.fmtT(lastT[k])))
			idle[k] = 0
		}
	}
	for _, ev := range stream {
		if ev.T < wm {
			late = append(late, fmt.Sprintf("late %s %s wm=%s", ev.Key, h.fmtT(ev.T), h.fmtT(wm)))
			continue
		}
		if ev.T > maxEvent {
			maxEvent = ev.T
			wm = max(wm, maxEvent.Sub(lateness))
		}
		fireIdle(wm)
		accepted[ev.Key] = append(accepted[ev.Key], ev)
		lastT[ev.Key] = max(lastT[ev.Key], ev.T)
		idle[ev.Key] = lastT[ev.Key].Add(testIdle)
	}
	fireIdle(^Sec(0))
	for k, evs := range accepted {
		sorted := slices.Clone(evs)
		slices.SortStableFunc(sorted, func(a, b testEvent) int { return int(a.T) - int(b.T) })
		// Sessions: consecutive times less than the gap apart.
		start, end, n := sorted[0].T, sorted[0].T, uint32(0)
		for _, e := range sorted {
			if e.T-end >= Sec(testGap) {
				perKey["session "+k] = append(perKey["session "+k], fmt.Sprintf("session %s %s", k, h.sess(start, end, n)))
				start, n = e.T, 0
			}
			end = e.T
			n++
		}
		perKey["session "+k] = append(perKey["session "+k], fmt.Sprintf("session %s %s", k, h.sess(start, end, n)))
		// Hours with data, in order.
		var hours []Sec
		count := map[Sec]uint32{}
		sum := map[Sec]float64{}
		for _, e := range sorted {
			ws := WindowStart(Hour, e.T)
			if count[ws] == 0 {
				hours = append(hours, ws)
			}
			count[ws]++
			sum[ws] += e.V
		}
		for _, ws := range hours {
			perKey["hour "+k] = append(perKey["hour "+k], fmt.Sprintf("hour %s %s n=%d sum=%g", k, h.fmtT(ws), count[ws], sum[ws]))
		}
	}
	return late, perKey, accepted
}

// TestEngineMatchesReference compares the engine, driven by random
// out-of-order streams, with refOutputs; and the same run with a restore from
// the changelog at random points must give exactly the same output sequence.
func TestEngineMatchesReference(t *testing.T) {
	day := SecOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	seeds := 80
	if testing.Short() {
		seeds = 50
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		stream := randomStream(r, day, 100+r.IntN(500), 1+r.IntN(8))
		wantLate, want, accepted := refOutputs(day, stream, 5*Minute)

		run := func(restoreEvery int) []string {
			s := &scenario{t: t, cfg: Config{Mode: Backfill}, changelog: map[string][]byte{}, day: day}
			s.newEngine()
			for i, ev := range stream {
				s.eng.Process(ev.Key, ev.T, ev)
				if restoreEvery > 0 && i%restoreEvery == restoreEvery-1 {
					s.restore()
				}
			}
			s.eng.AdvanceTo(^Sec(0) - 1)
			// Final state per key, checked against the reference below.
			for k, evs := range accepted {
				st := s.eng.Get(k)
				if st == nil {
					t.Fatalf("seed %d: key %s missing", seed, k)
				}
				checkState(t, seed, k, st, evs)
			}
			return s.h.out
		}
		out := run(0)
		gotLate := []string{}
		got := map[string][]string{}
		for _, line := range out {
			f := strings.Fields(line)
			switch f[0] {
			case "late":
				gotLate = append(gotLate, line)
			case "idle":
				got[f[1]] = append(got[f[1]], line)
			case "session", "hour":
				got[f[0]+" "+f[1]] = append(got[f[0]+" "+f[1]], line)
			}
		}
		if !slices.Equal(gotLate, wantLate) && !(len(gotLate) == 0 && len(wantLate) == 0) {
			t.Fatalf("seed %d: late events\n got %q\nwant %q", seed, gotLate, wantLate)
		}
		for k, w := range want {
			if !slices.Equal(got[k], w) {
				t.Fatalf("seed %d: %s\n got %q\nwant %q", seed, k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: output groups %d, want %d", seed, len(got), len(want))
		}
		if restored := run(1 + r.IntN(40)); !slices.Equal(restored, out) {
			t.Fatalf("seed %d: output with restores differs from the plain run", seed)
		}
	}
}

// checkState compares a key's final windows with brute-force values over the
// events the engine accepted for it.
func checkState(t *testing.T, seed int, k string, st *testState, evs []testEvent) {
	t.Helper()
	var want Stats
	var d Distinct
	var last testEvent
	newest := evs[0].T
	for _, e := range evs {
		want.Add(e.T, e.V)
		d.AddHash(Hash(uint64(e.V)))
		if e.T >= last.T {
			last = e
		}
		newest = max(newest, e.T)
	}
	if st.Vals != want || st.Pages != d || st.LastV.V != float32(last.V) {
		t.Fatalf("seed %d key %s: stats %+v want %+v", seed, k, st.Vals, want)
	}
	var recent uint32
	cur := WindowStart(Hour, newest)
	var curN uint32
	for _, e := range evs {
		if uint32(newest)/60-uint32(e.T)/60 < 60 {
			recent++
		}
		if WindowStart(Hour, e.T) == cur {
			curN++
		}
	}
	if got := st.Recent.Total(Minute, newest); got != recent {
		t.Fatalf("seed %d key %s: last-hour count %d, want %d", seed, k, got, recent)
	}
	if st.Hour.Start != cur || st.Hour.Cur.Count != curN {
		t.Fatalf("seed %d key %s: hour %d/%d, want %d/%d", seed, k, st.Hour.Start, st.Hour.Cur.Count, cur, curN)
	}
}
