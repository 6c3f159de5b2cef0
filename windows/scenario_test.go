package windows

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scenario files (testdata/*.txt) drive an engine with the test handler and
// check every output it makes, in order. Commands, one per line (# starts a
// comment):
//
//	config lateness=5m mode=live|backfill idle=10s ttl=2h skew=1m   (before any event)
//	day 2026-01-01                 date that times refer to (default 2026-01-01)
//	event KEY TIME [VALUE]         Process; TIME is [dN ]HH:MM[:SS]
//	wall TIME                      Advance(wall clock) — live mode
//	advance TIME                   AdvanceTo(watermark)
//	state KEY                      output the key's windows as a "state" line
//	restore                        checkpoint to a changelog, rebuild the engine from it
//	expect LINE                    the next output must be LINE
//	expect-wm TIME                 the watermark must be TIME
//	keys N                         the engine must hold N keys
//
// Every output must be expected before the next command that can produce
// more, and none may be left at the end. Each backfill scenario runs twice:
// as written, and with a restore from the changelog before every command,
// which must not change any output.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) { runScenario(t, f, false) })
		t.Run(name+"/restore-every-step", func(t *testing.T) { runScenario(t, f, true) })
	}
}

type scenario struct {
	t         *testing.T
	cfg       Config
	h         *testHandler
	eng       *Engine[testState, testEvent]
	changelog map[string][]byte
	meta      []byte
	day       Sec
}

func (s *scenario) parseTime(f string) (Sec, error) {
	var days Sec
	if d, rest, ok := strings.Cut(f, " "); ok && strings.HasPrefix(d, "d") {
		n, err := strconv.Atoi(d[1:])
		if err != nil {
			return 0, fmt.Errorf("bad day %q", d)
		}
		days, f = Sec(n), rest
	}
	parts := strings.Split(f, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("bad time %q", f)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("bad time %q", f)
		}
		v[i] = n
	}
	return s.day + days*Sec(Day) + Sec(v[0]*3600+v[1]*60+v[2]), nil
}

func (s *scenario) newEngine() {
	s.h = &testHandler{day: s.day}
	s.eng = New[testState, testEvent](s.cfg, s.h, testCodec{})
}

// restore writes a checkpoint into the changelog (as a compacted topic would
// keep it: last value per key, tombstones remove) and rebuilds the engine
// from it, keeping the outputs not yet checked.
func (s *scenario) restore() {
	s.t.Helper()
	err := s.eng.Checkpoint(func(k string, v []byte) error {
		if v == nil {
			delete(s.changelog, k)
		} else {
			s.changelog[k] = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.meta = s.eng.Meta()
	pending := s.h.out
	s.newEngine()
	s.h.out = pending
	if err := s.eng.RestoreMeta(s.meta); err != nil {
		s.t.Fatal(err)
	}
	for k, v := range s.changelog {
		if err := s.eng.Restore(k, v); err != nil {
			s.t.Fatal(err)
		}
	}
}

func runScenario(t *testing.T, path string, chaos bool) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	s := &scenario{t: t, cfg: Config{Mode: Backfill}, changelog: map[string][]byte{}}
	s.day = SecOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s.newEngine()
	sc := bufio.NewScanner(fh)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if i := strings.Index(text, "#"); i >= 0 {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" {
			continue
		}
		cmd, arg, _ := strings.Cut(text, " ")
		fail := func(format string, a ...any) {
			t.Helper()
			t.Fatalf("%s:%d: %s: %s", path, line, text, fmt.Sprintf(format, a...))
		}
		if cmd != "expect" && cmd != "expect-wm" && cmd != "keys" && len(s.h.out) > 0 {
			fail("unexpected output before this command: %q", s.h.out)
		}
		if chaos && cmd != "expect" && cmd != "config" && cmd != "day" {
			if s.cfg.Mode == Live {
				t.Skip("live scenarios keep wall-clock idleness, which a restore resets")
			}
			s.restore()
		}
		switch cmd {
		case "config":
			for _, kv := range strings.Fields(arg) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "mode":
					s.cfg.Mode = map[string]Mode{"live": Live, "backfill": Backfill}[v]
				case "lateness", "idle", "ttl", "skew":
					d, err := time.ParseDuration(v)
					if err != nil {
						fail("%v", err)
					}
					switch k {
					case "lateness":
						s.cfg.Lateness = d
					case "idle":
						s.cfg.IdleAfter = d
					case "ttl":
						s.cfg.KeyTTL = d
					case "skew":
						s.cfg.MaxFutureSkew = d
					}
				default:
					fail("unknown config %q", k)
				}
			}
			s.newEngine()
		case "day":
			d, err := time.Parse(time.DateOnly, arg)
			if err != nil {
				fail("%v", err)
			}
			s.day = SecOf(d)
			s.newEngine()
		case "event":
			f := strings.Fields(arg)
			if len(f) < 2 {
				fail("want KEY TIME [VALUE]")
			}
			rest := f[1:]
			ts := rest[0]
			if strings.HasPrefix(ts, "d") && len(rest) > 1 {
				ts, rest = ts+" "+rest[1], rest[1:]
			}
			v := 1.0
			if len(rest) > 1 {
				if v, err = strconv.ParseFloat(rest[1], 64); err != nil {
					fail("%v", err)
				}
			}
			at, err := s.parseTime(ts)
			if err != nil {
				fail("%v", err)
			}
			s.eng.Process(f[0], at, testEvent{Key: f[0], T: at, V: v})
		case "wall":
			at, err := s.parseTime(arg)
			if err != nil {
				fail("%v", err)
			}
			s.eng.Advance(at.Time())
		case "advance":
			at, err := s.parseTime(arg)
			if err != nil {
				fail("%v", err)
			}
			s.eng.AdvanceTo(at)
		case "state":
			st := s.eng.Get(arg)
			if st == nil {
				s.h.out = append(s.h.out, "state "+arg+" none")
				break
			}
			h := s.h
			s.h.out = append(s.h.out, fmt.Sprintf("state %s hour=%s/%d prev=%s/%d sess=%s prevsess=%s done=%d n=%d sum=%g min=%g max=%g first=%s last=%s distinct=%d lastv=%g",
				arg, h.fmtT(st.Hour.Start), st.Hour.Cur.Count, h.fmtT(st.Hour.PrevStart), st.Hour.Prev.Count,
				h.sess(st.Sess.Start, st.Sess.End, st.Sess.Events), h.sess(st.Sess.PrevStart, st.Sess.PrevEnd, st.Sess.PrevEvents), st.Sess.Done,
				st.Vals.Count, st.Vals.Sum, st.Vals.Min, st.Vals.Max, h.fmtT(st.Vals.First), h.fmtT(st.Vals.Last), st.Pages.Estimate(), st.LastV.V))
		case "restore":
			if !chaos {
				s.restore()
			}
		case "expect":
			if len(s.h.out) == 0 {
				fail("no output")
			}
			if got := s.h.out[0]; got != arg {
				fail("got %q", got)
			}
			s.h.out = s.h.out[1:]
		case "expect-wm":
			at, err := s.parseTime(arg)
			if err != nil {
				fail("%v", err)
			}
			if got := s.eng.Watermark(); got != at {
				fail("watermark %s", s.h.fmtT(got))
			}
		case "keys":
			n, _ := strconv.Atoi(arg)
			if s.eng.Len() != n {
				fail("engine holds %d keys", s.eng.Len())
			}
		default:
			fail("unknown command")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(s.h.out) > 0 {
		t.Fatalf("%s: unexpected output at end: %q", path, s.h.out)
	}
}
