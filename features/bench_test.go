package features_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/internal/benchcpu"
	"github.com/crmstream/crmstream/windows"
)

func benchEvents(n int) []event.Event {
	types := []event.Type{event.PageView, event.EmailOpen, event.EmailClick, event.EmailSent, event.FormSubmit, event.LeadUpdated}
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{ID: fmt.Sprintf("%08x-1d2c-4e7a-9b3f-%012d", i, i), Type: types[i%len(types)],
			OccurredAt: t0.Add(time.Duration(i) * 7 * time.Minute), LeadID: "lead-1", SessionID: fmt.Sprint("s", i/5),
			Properties: event.Properties{prop("page_type", "pricing"), prop("seniority", "vp")}}
	}
	return evs
}

// BenchmarkUpdate: one event applied to a lead's state.
func BenchmarkUpdate(b *testing.B) {
	set := mustLead(b)
	st := set.NewState()
	evs := benchEvents(4096)
	b.ReportAllocs()
	cpu := benchcpu.Now()
	i := 0
	for b.Loop() {
		st.Update(&evs[i&4095])
		i++
	}
	benchcpu.Report(b, cpu, "")
}

// BenchmarkVector: all lead features as of a time, into a reused Vector.
func BenchmarkVector(b *testing.B) {
	set := mustLead(b)
	st := set.NewState()
	evs := benchEvents(500)
	for i := range evs {
		st.Update(&evs[i])
	}
	var v features.Vector
	now := windows.SecOf(evs[len(evs)-1].OccurredAt)
	b.ReportAllocs()
	cpu := benchcpu.Now()
	for b.Loop() {
		st.Vector(now, &v)
	}
	benchcpu.Report(b, cpu, "")
}
