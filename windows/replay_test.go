package windows

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLiveEqualsReplay runs the same data live (events arriving with a small
// transport delay, the wall clock advancing through quiet spells, so idle
// watermarks fire timers between events) and as a backfill (time follows the
// data only). Every output, in order, must be the same.
func TestLiveEqualsReplay(t *testing.T) {
	day := SecOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	const idle = 10 * time.Second
	for seed := range 100 {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		type arrival struct {
			ev testEvent
			at Sec // wall-clock arrival: event time + a delay below idle
		}
		var evs []arrival
		tm := day + 8*Sec(Hour)
		for range 50 + r.IntN(300) {
			if r.IntN(10) == 0 {
				tm += Sec(r.IntN(4 * 3600)) // quiet spells: idle watermarks
			} else {
				tm += Sec(r.IntN(300))
			}
			ev := testEvent{Key: string(rune('a' + r.IntN(5))), T: tm, V: float64(r.IntN(5))}
			evs = append(evs, arrival{ev, tm + Sec(r.IntN(int(idle/time.Second)))})
		}
		slices.SortStableFunc(evs, func(a, b arrival) int { return int(a.at) - int(b.at) })

		replay := &testHandler{day: day}
		re := New[testState, testEvent](Config{Mode: Backfill, IdleAfter: idle}, replay, testCodec{})
		live := &testHandler{day: day}
		le := New[testState, testEvent](Config{Mode: Live, IdleAfter: idle}, live, testCodec{})
		wall := evs[0].at
		idleFired := 0
		for _, a := range evs {
			// The wall clock ticks every second up to the arrival; skip
			// through long quiet spells a minute at a time.
			for wall < a.at {
				step := Sec(1)
				if a.at-wall > 120 {
					step = 60
				}
				wall += step
				n := len(live.out)
				le.Advance(wall.Time())
				idleFired += len(live.out) - n
			}
			re.Process(a.ev.Key, a.ev.T, a.ev)
			le.Process(a.ev.Key, a.ev.T, a.ev)
		}
		re.AdvanceTo(wall + Sec(Day))
		le.AdvanceTo(wall + Sec(Day))
		if !slices.Equal(live.out, replay.out) {
			for i := range min(len(live.out), len(replay.out)) {
				if live.out[i] != replay.out[i] {
					lo, hi := max(0, i-6), min(i+4, len(live.out), len(replay.out))
					t.Fatalf("seed %d: output %d: live %q, replay %q\nlive:\n%s\nreplay:\n%s", seed, i, live.out[i], replay.out[i],
						strings.Join(live.out[lo:hi], "\n"), strings.Join(replay.out[lo:hi], "\n"))
				}
			}
			t.Fatalf("seed %d: live %d outputs, replay %d", seed, len(live.out), len(replay.out))
		}
		if seed == 0 && idleFired == 0 {
			t.Fatal("no timer fired from an idle watermark: the test does not exercise live mode")
		}
	}
}
