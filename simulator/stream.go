package simulator

import (
	"strconv"
	"time"

	"github.com/crmstream/crmstream/event"
)

// Record kinds.
const (
	KindEvent     = "event"     // a real event, delivered in order
	KindLate      = "late"      // a real event delivered after later ones
	KindDuplicate = "duplicate" // a second delivery of an event already sent
	KindMalformed = "malformed" // junk that ingest must reject
)

// Record is one delivery: an encoded event (or junk) with its partition
// key. Value is owned by the caller once returned.
type Record struct {
	Key   string    // lead_id, else account_id; empty for junk without a key
	Value []byte    // one JSON object (canonical encoding, or junk)
	Time  time.Time // event time (occurred_at); for junk, that of its neighbour
	// At is when the record is delivered in event time: Time for in-order
	// events, later for late ones and duplicates. Live pacing waits for it.
	At   time.Time
	Kind string
}

// Stream turns a Generator's canonical stream into deliveries, adding
// late, duplicate and malformed records at the configured rates. The rates
// come from the generator's Config; the ground truth is about the canonical
// stream, which these knobs do not change.
//
// A Stream is not safe for concurrent use.
type Stream struct {
	g       *Generator
	cfg     *Config
	r       rng
	next    event.Event
	hasNext bool
	done    bool
	delayed []Record // min-heap by (At, seq)
	seqs    []uint64
	seq     uint64
	junk    int
	arena   []byte
	scratch []byte
}

// NewStream wraps g.
func NewStream(g *Generator) *Stream {
	return &Stream{g: g, cfg: &g.w.cfg, r: newRNG(g.w.cfg.Seed, 1<<60)}
}

// Generator returns the underlying generator.
func (s *Stream) Generator() *Generator { return s.g }

// Next stores the next delivery in *rec and reports whether there was one.
func (s *Stream) Next(rec *Record) bool {
	for {
		if !s.hasNext && !s.done {
			s.hasNext = s.g.Next(&s.next)
			s.done = !s.hasNext
		}
		if len(s.delayed) > 0 && (!s.hasNext || !s.delayed[0].At.After(s.next.OccurredAt)) {
			*rec = s.popDelayed()
			return true
		}
		if !s.hasNext {
			return false
		}
		e := &s.next
		s.hasNext = false
		t := e.OccurredAt
		r := Record{Key: e.Key(), Time: t, At: t, Kind: KindEvent}
		r.Value = s.encode(e)
		if s.cfg.MalformedRate > 0 && s.r.bernoulli(s.cfg.MalformedRate) {
			s.pushDelayed(s.malformed(e))
		}
		late := s.cfg.OutOfOrderRate > 0 && s.r.bernoulli(s.cfg.OutOfOrderRate)
		if late {
			r.Kind = KindLate
			r.At = t.Add(s.r.dur(time.Second, s.cfg.MaxLateness))
		}
		if s.cfg.DuplicateRate > 0 && s.r.bernoulli(s.cfg.DuplicateRate) {
			// A retry: after the original, however late that was.
			d := r
			d.Kind = KindDuplicate
			d.At = r.At.Add(s.r.dur(time.Millisecond, time.Minute))
			s.pushDelayed(d)
		}
		if late {
			s.pushDelayed(r)
			continue
		}
		*rec = r
		return true
	}
}

// encode appends the canonical JSON of e to an arena: one allocation per
// 64 KiB of records instead of one per record.
func (s *Stream) encode(e *event.Event) []byte {
	s.scratch = e.AppendJSON(s.scratch[:0])
	return s.keep(s.scratch)
}

func (s *Stream) keep(b []byte) []byte {
	if cap(s.arena)-len(s.arena) < len(b) {
		s.arena = make([]byte, 0, max(64<<10, len(b)))
	}
	n := len(s.arena)
	s.arena = append(s.arena, b...)
	return s.arena[n:len(s.arena):len(s.arena)]
}

// malformed makes a junk record of one of the kinds ingest must reject,
// next to e.
func (s *Stream) malformed(e *event.Event) Record {
	s.junk++
	id := s.cfg.IDPrefix + "-junk-" + strconv.Itoa(s.junk)
	ts := e.OccurredAt.Format(time.RFC3339Nano)
	key := e.Key()
	var v string
	switch s.r.IntN(6) {
	case 0: // truncated JSON
		full := string(e.AppendJSON(nil))
		v = full[:len(full)/2]
	case 1:
		v = `{"type":"page_view","occurred_at":"` + ts + `","lead_id":"` + key + `"}`
	case 2:
		v = `{"event_id":"` + id + `","type":"page_vue","occurred_at":"` + ts + `","lead_id":"` + key + `"}`
	case 3:
		v = `{"event_id":"` + id + `","type":"login","occurred_at":"yesterday at noon","account_id":"` + key + `"}`
	case 4:
		v = `{"event_id":"` + id + `","type":"page_view","occurred_at":"` + ts + `"}`
		key = ""
	default:
		v = `{"event_id":"` + id + `","type":"form_submit","occurred_at":"` + ts + `","lead_id":"` + key + `","properties":{"form":{"nested":true}}}`
	}
	return Record{Key: key, Value: s.keep([]byte(v)), Time: e.OccurredAt, At: e.OccurredAt, Kind: KindMalformed}
}

func (s *Stream) pushDelayed(r Record) {
	s.seq++
	s.delayed = append(s.delayed, r)
	s.seqs = append(s.seqs, s.seq)
	i := len(s.delayed) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.lessDelayed(i, p) {
			break
		}
		s.swapDelayed(i, p)
		i = p
	}
}

func (s *Stream) popDelayed() Record {
	top := s.delayed[0]
	n := len(s.delayed) - 1
	s.swapDelayed(0, n)
	s.delayed[n] = Record{}
	s.delayed, s.seqs = s.delayed[:n], s.seqs[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.lessDelayed(r, l) {
			m = r
		}
		if !s.lessDelayed(m, i) {
			break
		}
		s.swapDelayed(i, m)
		i = m
	}
	return top
}

func (s *Stream) lessDelayed(i, j int) bool {
	if c := s.delayed[i].At.Compare(s.delayed[j].At); c != 0 {
		return c < 0
	}
	return s.seqs[i] < s.seqs[j]
}

func (s *Stream) swapDelayed(i, j int) {
	s.delayed[i], s.delayed[j] = s.delayed[j], s.delayed[i]
	s.seqs[i], s.seqs[j] = s.seqs[j], s.seqs[i]
}
