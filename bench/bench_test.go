package bench

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, c := range []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(hundred...), 0.99, 99 * time.Millisecond},
		{ms(hundred...), 1, 100 * time.Millisecond},
		{ms(hundred...), 0, 1 * time.Millisecond},
	} {
		if got := Percentile(c.in, c.q); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.in, c.q, got, c.want)
		}
	}
}

func TestSustained(t *testing.T) {
	t0 := time.Unix(0, 0)
	ss := []sample{{t0, 0}, {t0.Add(time.Second), 100}, {t0.Add(2 * time.Second), 500}, {t0.Add(3 * time.Second), 900}, {t0.Add(4 * time.Second), 1000}}
	// 10 % (100) at 1 s, 90 % (900) at 3 s: 800 events in 2 s.
	if got := sustained(ss, 1000); got != 400 {
		t.Errorf("sustained = %v, want 400", got)
	}
	if got := sustained(ss[:2], 1000); got != 0 {
		t.Errorf("sustained without 90 %% = %v, want 0", got)
	}
}

func TestProbeQueries(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ps := []*probe{{EventID: "e1", LeadID: "l1", EventTime: t0, Partition: 0, Offset: 7},
		{EventID: "e2", LeadID: "l1", EventTime: t0.Add(2 * time.Second), Partition: 3, Offset: 9},
		{EventID: "e3", LeadID: "l2", EventTime: t0, Partition: 1, Offset: 0}}
	for _, c := range []struct {
		name     string
		q        probeQuery
		wantSQL  string
		wantArgs []any
		rows     []string
		wantSeen []bool // per probe
	}{
		{"lead table", leadEventQuery{table: "lead_scores"},
			"SELECT event_id FROM db.lead_scores WHERE lead_id IN (?,?)", []any{"l1", "l2"},
			[]string{"e1", "e3"}, []bool{true, false, true}},
		// l1's newest score is for an event one second after e1 and before
		// e2; l2 has none.
		{"current score", currentScoreQuery{},
			"SELECT concat(lead_id, ' ', toString(toUInt32(max(event_time)))) FROM db.lead_current WHERE lead_id IN (?,?) GROUP BY lead_id",
			[]any{"l1", "l2"}, []string{"l1 " + strconv.FormatInt(t0.Unix()+1, 10)}, []bool{true, false, false}},
		{"floor", offsetQuery{table: "floor_events"},
			"SELECT toString(partition) || ':' || toString(offset) FROM db.floor_events WHERE (partition, offset) IN ((0,7),(3,9),(1,0))", nil,
			[]string{"3:9"}, []bool{false, true, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sql, args := c.q.toSQL("db", ps)
			if sql != c.wantSQL || !slices.Equal(args, c.wantArgs) {
				t.Errorf("toSQL = %q %v, want %q %v", sql, args, c.wantSQL, c.wantArgs)
			}
			rows := map[string]bool{}
			for _, r := range c.rows {
				rows[r] = true
			}
			seen := c.q.seen(rows)
			for i, p := range ps {
				if got := seen(p); got != c.wantSeen[i] {
					t.Errorf("probe %s seen = %v, want %v", p.EventID, got, c.wantSeen[i])
				}
			}
		})
	}
}

// TestDataCycles: replayed cycles keep the pool's shape with fresh ids and
// later times, and the stream is deterministic.
func TestDataCycles(t *testing.T) {
	cfg := DataConfig{Pool: 300, Leads: 2000, Accounts: 50}
	d, err := NewData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := NewData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var first, again, other event.Event
	ids := map[string]bool{}
	var lastTime time.Time
	for i := 0; i < 3*len(d.pool); i++ {
		d.Next(&first)
		d2.Next(&other)
		if first.ID != other.ID || !first.OccurredAt.Equal(other.OccurredAt) {
			t.Fatalf("event %d differs between two generators: %s vs %s", i, first.ID, other.ID)
		}
		if ids[first.ID] {
			t.Fatalf("event id %s repeats at %d", first.ID, i)
		}
		ids[first.ID] = true
		if i%len(d.pool) == 0 && i > 0 {
			if !first.OccurredAt.After(lastTime) {
				t.Fatalf("cycle %d starts at %v, not after the previous cycle's end %v", i/len(d.pool), first.OccurredAt, lastTime)
			}
			if !strings.HasSuffix(first.Key(), "~"+string(rune('0'+i/len(d.pool)))) {
				t.Fatalf("cycle %d key %q has no cycle suffix", i/len(d.pool), first.Key())
			}
		}
		lastTime = first.OccurredAt
		if err := first.Validate(); err != nil {
			t.Fatalf("event %d does not validate: %v", i, err)
		}
	}
	d.Reset()
	d.Next(&again)
	if again.ID != d.pool[0].ID {
		t.Errorf("after Reset the first event is %s, want %s", again.ID, d.pool[0].ID)
	}
	if got := d.LeadsPer(2*len(d.pool) + 1); got != 3*d.leads {
		t.Errorf("LeadsPer = %d, want %d", got, 3*d.leads)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c := DefaultConfig()
	c.Targets = []string{"flink"}
	c.Rates = []int{0}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "flink") || !strings.Contains(err.Error(), "rate 0") {
		t.Errorf("Validate = %v, want both problems", err)
	}
}
