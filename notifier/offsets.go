package notifier

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tracker knows, per assigned partition, which consumed records are
// finished (delivered, skipped or dead-lettered) and so which offset may be
// committed: the end of the finished prefix. Records finish out of order
// (endpoints work independently); the commit never passes an unfinished
// one. Safe for concurrent use.
type tracker struct {
	mu    sync.Mutex
	parts map[tp]*partTrack
}

type tp struct {
	topic     string
	partition int32
}

type partTrack struct {
	queue []*entry    // consumed records in offset order, unfinished prefix first
	ready *kgo.Record // last record of the finished prefix, not yet committed
	gone  bool        // revoked or lost: finishing no longer counts
}

// entry is one consumed record's place in its partition's queue.
type entry struct {
	rec  *kgo.Record
	done bool
	part *partTrack
}

func newTracker() *tracker { return &tracker{parts: map[tp]*partTrack{}} }

// add registers a consumed record (records of a partition arrive in order).
func (t *tracker) add(r *kgo.Record) *entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := tp{r.Topic, r.Partition}
	p := t.parts[k]
	if p == nil {
		p = &partTrack{}
		t.parts[k] = p
	}
	e := &entry{rec: r, part: p}
	p.queue = append(p.queue, e)
	return e
}

// finish marks e done and advances its partition's finished prefix.
func (t *tracker) finish(e *entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.done = true
	p := e.part
	if p.gone {
		return
	}
	i := 0
	for i < len(p.queue) && p.queue[i].done {
		p.ready = p.queue[i].rec
		i++
	}
	if i > 0 {
		clear(p.queue[:i])
		p.queue = p.queue[i:]
	}
}

// owned reports whether e's partition is still assigned to this member.
func (t *tracker) owned(e *entry) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !e.part.gone
}

// committable returns the records to commit (one per partition that
// advanced) and forgets them; partitions limits it to some (nil: all).
func (t *tracker) committable(partitions map[string][]int32) []*kgo.Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*kgo.Record
	for k, p := range t.parts {
		if partitions != nil && !contains(partitions[k.topic], k.partition) {
			continue
		}
		if p.ready != nil {
			out = append(out, p.ready)
			p.ready = nil
		}
	}
	return out
}

// drop forgets partitions (revoked or lost); their unfinished records will
// be consumed again by whoever owns them next.
func (t *tracker) drop(partitions map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic, ps := range partitions {
		for _, p := range ps {
			k := tp{topic, p}
			if pt := t.parts[k]; pt != nil {
				pt.gone = true
				delete(t.parts, k)
			}
		}
	}
}

// pending counts unfinished records (for the in-flight gauge and tests).
func (t *tracker) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.parts {
		for _, e := range p.queue {
			if !e.done {
				n++
			}
		}
	}
	return n
}

func contains(ps []int32, p int32) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}
