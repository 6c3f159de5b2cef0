package windows_test

import (
	"fmt"
	"time"

	"github.com/crmstream/crmstream/windows"
)

// visits is a per-key state: page views per minute over the last hour, and
// web sessions with a 30-minute gap.
type visits struct {
	Recent  windows.Hopping[[60]uint16]
	Sess    windows.Session
	Emitted windows.Sec
}

const closeSession windows.TimerKind = 0

type visitHandler struct{}

func (visitHandler) Event(c *windows.Ctx, s *visits, page string) {
	s.Recent.Add(windows.Minute, c.Time, 1)
	s.Sess.Add(30*windows.Minute, c.Time)
	c.SetTimer(closeSession, s.Sess.Closes(30*windows.Minute))
	fmt.Printf("%s viewed %s: %d views in the last hour\n", c.Key, page, s.Recent.Total(windows.Minute, c.Time))
}

func (visitHandler) Timer(c *windows.Ctx, s *visits, _ windows.TimerKind) {
	after, next := s.Sess.Closing(30*windows.Minute, c.Watermark, s.Emitted, func(start, end windows.Sec, n uint32) {
		fmt.Printf("%s session closed: %d views in %v\n", c.Key, n, end.Time().Sub(start.Time()))
	})
	s.Emitted = after
	c.SetTimer(closeSession, next)
}

func (visitHandler) Late(key string, t, wm windows.Sec, page string) {
	fmt.Printf("%s late: %s at %s, watermark %s\n", key, page, t.Time().Format("15:04"), wm.Time().Format("15:04"))
}

func Example() {
	eng := windows.New[visits, string](windows.Config{Mode: windows.Backfill}, visitHandler{}, nil)
	at := func(hhmm string) windows.Sec {
		t, _ := time.Parse("2006-01-02 15:04", "2026-03-02 "+hhmm)
		return windows.SecOf(t)
	}
	eng.Process("lead-1", at("10:00"), "/pricing")
	eng.Process("lead-1", at("10:12"), "/docs")
	eng.Process("lead-1", at("10:09"), "/pricing") // out of order, within the 5-minute lateness
	eng.Process("lead-2", at("11:00"), "/home")    // watermark 10:55: lead-1's session closed at 10:42
	eng.Process("lead-1", at("10:30"), "/blog")    // before the watermark: late
	// Output:
	// lead-1 viewed /pricing: 1 views in the last hour
	// lead-1 viewed /docs: 2 views in the last hour
	// lead-1 viewed /pricing: 2 views in the last hour
	// lead-1 session closed: 3 views in 12m0s
	// lead-2 viewed /home: 1 views in the last hour
	// lead-1 late: /blog at 10:30, watermark 10:55
}
