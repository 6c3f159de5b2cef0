package importer

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws "[#####.....] 4213/8842  47.6%  12345 ev/s  ETA 0:03".
// In a terminal it redraws one line in place; otherwise (CI logs) it writes
// a line at most every interval.
type progress struct {
	w           io.Writer
	interactive bool
	every       time.Duration
	total       int
	now         func() time.Time
	start, last time.Time
}

const barWidth = 30

func newProgress(w io.Writer, interactive bool, every time.Duration, total int, now func() time.Time) *progress {
	if every <= 0 {
		every = 5 * time.Second
		if interactive {
			every = 200 * time.Millisecond
		}
	}
	t := now()
	return &progress{w: w, interactive: interactive, every: every, total: total, now: now, start: t, last: t}
}

func (p *progress) update(done int) {
	if p.w == nil {
		return
	}
	t := p.now()
	if t.Sub(p.last) < p.every {
		return
	}
	p.last = t
	p.draw(done, t, false)
}

func (p *progress) finish(done int) {
	if p.w == nil {
		return
	}
	p.draw(done, p.now(), true)
}

func (p *progress) draw(done int, t time.Time, final bool) {
	fmt.Fprint(p.w, Bar(done, p.total, t.Sub(p.start)))
	switch {
	case final || !p.interactive:
		fmt.Fprint(p.w, "\n")
	default:
		fmt.Fprint(p.w, "\r")
	}
}

// Bar renders one progress line (no newline): a bar, the count, the
// percentage, the rate and the estimated time left.
func Bar(done, total int, elapsed time.Duration) string {
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	filled := int(frac * barWidth)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	eta := "--:--"
	switch {
	case done >= total:
		eta = "0:00"
	case rate > 0:
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		eta = fmt.Sprintf("%d:%02d", int(left.Minutes()), int(left.Seconds())%60)
	}
	return fmt.Sprintf("[%s%s] %d/%d %5.1f%% %8.0f ev/s ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), done, total, frac*100, rate, eta)
}
