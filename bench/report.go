package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of sorted durations by the
// nearest-rank method; 0 for none.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// writeReport prints one table per scenario, each target's rate as a ratio
// to crmstream's, and the closing e2e_events_per_second line (crmstream in
// the backlog scenario).
func writeReport(w io.Writer, rs []Result) {
	base := map[string]Result{}
	for _, r := range rs {
		if r.Target == Crmstream && r.Err == "" {
			base[r.Scenario] = r
		}
	}
	scenario := ""
	var tw *tabwriter.Writer
	for _, r := range rs {
		if r.Scenario != scenario {
			if tw != nil {
				tw.Flush()
			}
			scenario = r.Scenario
			fmt.Fprintf(w, "\n## %s\n", scenario)
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "target\tevents\toffered/s\tstartup\telapsed\tevents/s\tsustained/s\trate vs crmstream\tdrain\tcpu µs/ev\tby process\tcpu vs crmstream\tclickhouse µs/ev\t+ merges after\tbroker+harness µs/ev\tpeak RSS MB\tleads\tgrowth B/lead\tp50 ms\tp99 ms\tprobes seen\tdone by\tload before\tload after\t")
		}
		if r.Err != "" {
			fmt.Fprintf(tw, "%s\t%d\tERROR: %s\t\n", r.Target, r.Events, oneLine(r.Err, 200))
			continue
		}
		ratio, cpuRatio := "-", "-"
		if b, ok := base[r.Scenario]; ok {
			if r.Rate == 0 && b.EventsPerSecond() > 0 {
				ratio = fmt.Sprintf("%.2f×", r.EventsPerSecond()/b.EventsPerSecond())
			}
			if b.CPU > 0 {
				cpuRatio = fmt.Sprintf("%.2f×", float64(r.CPU)/float64(b.CPU)*float64(b.Events)/float64(r.Events))
			}
		}
		offered, drain := "backlog", "-"
		if r.Rate > 0 {
			offered = fmt.Sprintf("%.0f", r.ProduceRate)
			drain = r.Drain.Round(time.Millisecond).String()
		}
		p50, p99, seen := "-", "-", "-"
		if r.Probes > 0 {
			p50 = fmt.Sprintf("%.0f", ms(Percentile(r.Latencies, 0.5)))
			p99 = fmt.Sprintf("%.0f", ms(Percentile(r.Latencies, 0.99)))
			seen = fmt.Sprintf("%d/%d", len(r.Latencies), r.Probes)
		}
		perLead := "-"
		if r.Leads > 0 {
			perLead = fmt.Sprintf("%.0f", float64(r.PeakRSS-r.ReadyRSS)/float64(r.Leads))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.0f\t%.0f\t%s\t%s\t%.2f\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Target, r.Events, offered, r.Startup.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond),
			r.EventsPerSecond(), r.Sustained, ratio, drain,
			perEvent(r.CPU, r.Events), strings.Join(r.ChildCPU, " "), cpuRatio, perEvent(r.CHCPU, r.Events), perEvent(r.CHAfterCPU, r.Events), perEvent(r.HarnessCPU, r.Events), float64(r.PeakRSS)/(1<<20), r.Leads, perLead,
			p50, p99, seen, r.DoneBy, r.LoadBefore, r.LoadAfter)
	}
	if tw != nil {
		tw.Flush()
	}
	fmt.Fprintf(w, "\nleads: distinct leads in the scenario's data; growth B/lead: (peak RSS at the end − RSS when ready) / leads, an upper bound of state per lead (it includes batches and buffers); × 1e6 for RSS per million leads.\n")
	fmt.Fprintf(w, "e2e_events_per_second %.0f\n", base["backlog"].EventsPerSecond())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perEvent(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}

func oneLine(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\t' {
			b[i] = ' '
		}
	}
	if len(b) > n {
		b = append(b[:n], "…"...)
	}
	return string(b)
}
