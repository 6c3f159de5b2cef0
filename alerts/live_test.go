package alerts

import (
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// liveHandler runs Windowed in a Live engine and records when (wall clock)
// each alert came out.
type liveHandler struct {
	w     *Windowed
	out   Output
	fired map[string]time.Time
}

func (h *liveHandler) Event(c *windows.Ctx, s *State, ev *event.Event) {
	h.w.Event(c, s, ev, &h.out)
	h.drain()
}

func (h *liveHandler) Timer(c *windows.Ctx, s *State, _ windows.TimerKind) {
	h.w.OnTimer(c, s, &h.out)
	h.drain()
}

func (h *liveHandler) Late(string, windows.Sec, windows.Sec, *event.Event) {}

func (h *liveHandler) drain() {
	for _, a := range h.out.Alerts {
		if a.Status == Fired {
			h.fired[a.Key()] = time.Now()
		}
	}
	h.out.Reset()
}

// TestLiveTimeliness measures, on the real wall clock, how long after its
// deadline an abandonment fires in Live mode, on an idle partition (the
// engine's IdleAfter decides) and on a busy one (events of other keys every
// 100 ms). Goal: within 5 s.
func TestLiveTimeliness(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of wall clock")
	}
	for _, tc := range []struct {
		name string
		busy bool
	}{{"idle", false}, {"busy", true}} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(DefaultConfig(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg := windows.Config{Mode: windows.Live, Lateness: 5 * time.Minute, IdleAfter: 2 * time.Second}
			h := &liveHandler{w: &Windowed{Detector: d, Ahead: cfg.Lateness}, fired: map[string]time.Time{}}
			eng := windows.New[State, *event.Event](cfg, h, Codec{})
			// The flow started so long ago that its deadline is 1.5 s ahead.
			deadline := time.Now().Add(1500 * time.Millisecond)
			start := deadline.Add(-30 * time.Minute)
			ev := &event.Event{ID: "s1", Type: event.FlowStarted, LeadID: "l1", OccurredAt: start,
				Properties: event.Properties{{Key: "flow", Kind: event.KindString, Str: "checkout"}}}
			eng.Process("l1", windows.SecOf(start), ev)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := 0; h.fired["l1"].IsZero(); i++ {
				now := <-tick.C
				if now.Sub(deadline) > 10*time.Second {
					t.Fatal("no alert 10 s after the deadline")
				}
				if tc.busy {
					pv := &event.Event{ID: "pv", Type: event.PageView, LeadID: "other", OccurredAt: now}
					eng.Process("other", windows.SecOf(now), pv)
				}
				eng.Advance(now)
			}
			delay := h.fired["l1"].Sub(deadline)
			t.Logf("%s partition: fired %v after the deadline", tc.name, delay.Round(time.Millisecond))
			if delay < 0 || delay > 5*time.Second {
				t.Fatalf("fired %v after the deadline, want within 5 s", delay)
			}
		})
	}
}
