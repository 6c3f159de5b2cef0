package alerts

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// Scenario files (testdata/*.txt) drive a real windows.Engine with the
// detector inside, the way the scorer does. Commands, one per line:
//
//	config key=value ...               detector / engine settings (before the first event)
//	event  T type id k=v ...           an event at time T; lead=, account=, owner= set ids, other k=v are properties
//	score  T key value id              a lead score for key's current state
//	churn  T key prob id               a churn probability
//	advance T                          the newest time seen becomes T (timers fire)
//	idle   T                           a Live partition idle until wall clock T (watermark = T - lateness)
//	restart                            snapshot every key, rebuild the engine from the snapshot
//	expect STATUS KIND KEY [k=v ...]   the next alert of KEY has these status, kind and fields (reason~=a_b: reason contains "a b")
//	expect none                        no alert produced since the last expect
//	expect late ID                     event ID was beyond the lateness
//
// T is "HH:MM[:SS]" on day 0 (2026-11-02) or "dN/HH:MM[:SS]" on day N.
// Every file ends with an implicit "expect none". Invariants checked on
// every alert: a fired id is never fired twice, a retraction names an id
// fired before.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

var day0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func parseT(t *testing.T, s string) time.Time {
	t.Helper()
	d := 0
	if rest, ok := strings.CutPrefix(s, "d"); ok {
		n, hm, ok := strings.Cut(rest, "/")
		if !ok {
			t.Fatalf("bad time %q", s)
		}
		var err error
		if d, err = strconv.Atoi(n); err != nil {
			t.Fatalf("bad day in %q", s)
		}
		s = hm
	}
	if strings.Count(s, ":") == 1 {
		s += ":00"
	}
	hms, err := time.Parse("15:04:05", s)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return day0.AddDate(0, 0, d).Add(time.Duration(hms.Hour())*time.Hour +
		time.Duration(hms.Minute())*time.Minute + time.Duration(hms.Second())*time.Second)
}

// input is what the scenario engine carries per Process call.
type input struct {
	ev    *event.Event
	score *Score
	churn bool
}

type harness struct {
	t     *testing.T
	w     *Windowed
	out   Output
	late  []string
	now   time.Time // wall clock
	wcfg  windows.Config
	eng   *windows.Engine[State, input]
	queue []Alert // produced, not yet expected
	fired map[string]bool
	line  int
}

func (h *harness) Event(c *windows.Ctx, s *State, in input) {
	switch {
	case in.ev != nil:
		h.w.Event(c, s, in.ev, &h.out)
	case in.churn:
		h.w.ChurnScore(c, s, *in.score, &h.out)
	default:
		h.w.LeadScore(c, s, *in.score, &h.out)
	}
	h.drain()
}

func (h *harness) Timer(c *windows.Ctx, s *State, kind windows.TimerKind) {
	if kind != h.w.Timer {
		h.t.Fatalf("line %d: unexpected timer kind %d", h.line, kind)
	}
	h.w.OnTimer(c, s, &h.out)
	h.drain()
}

func (h *harness) Late(key string, t, wm windows.Sec, in input) {
	if in.ev != nil {
		h.late = append(h.late, in.ev.ID)
	}
}

func (h *harness) drain() {
	for _, a := range h.out.Alerts {
		if err := a.Validate(); err != nil {
			h.t.Fatalf("line %d: invalid alert: %v", h.line, err)
		}
		switch a.Status {
		case Fired:
			if h.fired[a.ID] {
				h.t.Fatalf("line %d: alert %s fired twice", h.line, a.ID)
			}
			h.fired[a.ID] = true
		case Retracted:
			if !h.fired[a.ID] {
				h.t.Fatalf("line %d: retraction of unknown alert %s", h.line, a.ID)
			}
		}
	}
	h.queue = append(h.queue, h.out.Alerts...)
	if len(h.out.Timers) != 0 {
		h.t.Fatalf("line %d: Windowed left timer requests behind", h.line)
	}
	h.out.Reset()
}

func runScenario(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := DefaultConfig()
	h := &harness{t: t, fired: map[string]bool{}, now: day0}
	h.wcfg = windows.Config{Mode: windows.Backfill, Lateness: 5 * time.Minute}
	ahead := true
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		d, err := New(cfg, Options{Now: func() time.Time { return h.now }})
		if err != nil {
			t.Fatal(err)
		}
		h.w = &Windowed{Detector: d, Timer: 3}
		if ahead {
			h.w.Ahead = h.wcfg.Lateness
		}
		h.eng = windows.New[State, input](h.wcfg, h, Codec{})
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h.line++
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		switch fs[0] {
		case "config":
			if started {
				t.Fatalf("line %d: config after the first event", h.line)
			}
			for _, kv := range fs[1:] {
				k, v, _ := strings.Cut(kv, "=")
				dur := func() time.Duration {
					d, err := time.ParseDuration(v)
					if err != nil {
						t.Fatalf("line %d: %s: %v", h.line, kv, err)
					}
					return d
				}
				switch {
				case k == "lateness":
					h.wcfg.Lateness = dur()
				case k == "ahead":
					ahead = v == "true"
				case k == "mode" && v == "live":
					h.wcfg.Mode = windows.Live
					h.wcfg.IdleAfter = time.Second
				case k == "flow_timeout":
					cfg.FlowTimeout = dur()
				case strings.HasPrefix(k, "flow_timeout."):
					if cfg.FlowTimeouts == nil {
						cfg.FlowTimeouts = map[string]time.Duration{}
					}
					cfg.FlowTimeouts[strings.TrimPrefix(k, "flow_timeout.")] = dur()
				case k == "account_quiet":
					cfg.AccountQuiet = dur()
				case k == "lead_quiet":
					cfg.LeadQuiet = dur()
				case strings.HasPrefix(k, "cooldown."):
					cfg.Cooldown[Kind(strings.TrimPrefix(k, "cooldown."))] = dur()
				case k == "retract_window":
					cfg.RetractWindow = dur()
				default:
					t.Fatalf("line %d: unknown config %q", h.line, k)
				}
			}
		case "event":
			start()
			if len(fs) < 4 {
				t.Fatalf("line %d: event T type id ...", h.line)
			}
			at := parseT(t, fs[1])
			e := &event.Event{ID: fs[3], Type: event.Type(fs[2]), OccurredAt: at}
			for _, kv := range fs[4:] {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "lead":
					e.LeadID = v
				case "account":
					e.AccountID = v
				case "owner":
					e.OwnerID = v
				default:
					p := event.Property{Key: k, Kind: event.KindString, Str: v}
					if n, err := strconv.ParseFloat(v, 64); err == nil {
						p = event.Property{Key: k, Kind: event.KindNumber, Num: n}
					}
					e.Properties = append(e.Properties, p)
				}
			}
			slices.SortFunc(e.Properties, func(a, b event.Property) int { return strings.Compare(a.Key, b.Key) })
			h.now = later(h.now, at)
			h.eng.Process(e.Key(), windows.SecOf(at), input{ev: e})
		case "score", "churn":
			start()
			at := parseT(t, fs[1])
			v, err := strconv.ParseFloat(fs[3], 64)
			if err != nil {
				t.Fatalf("line %d: %v", h.line, err)
			}
			h.now = later(h.now, at)
			h.eng.Process(fs[2], windows.SecOf(at), input{score: &Score{EventID: fs[4], EventTime: at, Value: v}, churn: fs[0] == "churn"})
		case "advance":
			start()
			at := parseT(t, fs[1])
			h.now = later(h.now, at)
			h.eng.AdvanceTo(windows.SecOf(at.Add(-h.wcfg.Lateness)))
		case "idle":
			start()
			at := parseT(t, fs[1])
			h.eng.Advance(h.now) // marks the partition quiet since h.now
			h.now = at
			h.eng.Advance(at)
		case "restart":
			start()
			snap := map[string][]byte{}
			if err := h.eng.Snapshot(func(k string, v []byte) error { snap[k] = slices.Clone(v); return nil }); err != nil {
				t.Fatal(err)
			}
			meta := h.eng.Meta()
			h.eng = windows.New[State, input](h.wcfg, h, Codec{})
			for k, v := range snap {
				if err := h.eng.Restore(k, v); err != nil {
					t.Fatalf("line %d: restore %s: %v", h.line, k, err)
				}
			}
			if err := h.eng.RestoreMeta(meta); err != nil {
				t.Fatal(err)
			}
		case "expect":
			start()
			h.expect(fs[1:])
		default:
			t.Fatalf("line %d: unknown command %q", h.line, fs[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	h.expect([]string{"none"})
}

func (h *harness) expect(args []string) {
	t := h.t
	if len(args) == 0 {
		t.Fatalf("line %d: expect what?", h.line)
	}
	switch args[0] {
	case "none":
		if len(h.queue) > 0 {
			t.Fatalf("line %d: unexpected alerts: %s", h.line, describe(h.queue))
		}
		return
	case "late":
		if !slices.Contains(h.late, args[1]) {
			t.Fatalf("line %d: event %s was not late (late: %v)", h.line, args[1], h.late)
		}
		return
	}
	if len(args) < 3 {
		t.Fatalf("line %d: expect STATUS KIND KEY", h.line)
	}
	if len(h.queue) == 0 {
		t.Fatalf("line %d: expected %v, got no alert", h.line, args)
	}
	// The first queued alert of that key, kind and status: alerts of one
	// key keep their order, alerts of different keys due together need not.
	i := slices.IndexFunc(h.queue, func(a Alert) bool {
		return string(a.Status) == args[0] && string(a.Kind) == args[1] && a.Key() == args[2]
	})
	if i < 0 {
		t.Fatalf("line %d: expected %s %s %s, got %s", h.line, args[0], args[1], args[2], describe(h.queue))
	}
	a := h.queue[i]
	for _, b := range h.queue[:i] {
		if b.Key() == a.Key() {
			t.Fatalf("line %d: expected %s %s %s, got first %s", h.line, args[0], args[1], args[2], describe([]Alert{b}))
		}
	}
	h.queue = slices.Delete(h.queue, i, i+1)
	for _, kv := range args[3:] {
		k, want, _ := strings.Cut(kv, "=")
		var got string
		switch k {
		case "flow":
			got = a.Details.Flow
		case "step":
			got = a.Details.Step
		case "cart_value":
			got = num(a.Details.CartValue)
		case "currency":
			got = a.Details.Currency
		case "subject":
			got = a.Details.Subject
		case "rule":
			got = a.Details.Rule
		case "owner":
			got = a.OwnerID
		case "account":
			got = a.AccountID
		case "score":
			got = num(a.Score)
		case "evidence":
			got = strings.Join(a.Evidence, ",")
		case "event_time":
			got = a.EventTime.Format(time.RFC3339)
			want = parseT(t, want).Format(time.RFC3339)
		case "fired_at": // wall clock of the harness
			got = a.FiredAt.Format(time.RFC3339)
			want = parseT(t, want).Format(time.RFC3339)
		case "retracted_by":
			got = a.Details.RetractedBy
		case "reason~":
			got, want = a.Reason, strings.ReplaceAll(want, "_", " ")
			if !strings.Contains(got, want) {
				t.Fatalf("line %d: reason %q lacks %q", h.line, got, want)
			}
			continue
		default:
			t.Fatalf("line %d: unknown field %q", h.line, k)
		}
		if got != want {
			t.Fatalf("line %d: %s = %q, want %q (alert %s)", h.line, k, got, want, describe([]Alert{a}))
		}
	}
}

func describe(as []Alert) string {
	var b strings.Builder
	for _, a := range as {
		b.WriteString("\n\t" + string(a.Status) + " " + string(a.Kind) + " " + a.Key() + " at " +
			a.EventTime.Format(time.RFC3339) + ": " + a.Reason)
	}
	return b.String()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
