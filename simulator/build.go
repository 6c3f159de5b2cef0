package simulator

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmstream/crmstream/event"
)

// builder makes one entity's events: ids "<prefix>-<entity>-<seq>", the
// owner and key filled in, properties sorted by key as event.Properties
// requires.
type builder struct {
	prefix  string // "<IDPrefix>-<entity>-"
	leadID  string
	account string
	owner   string
	seq     int
	buf     []event.Event
}

func (b *builder) add(t time.Time, typ event.Type, source string, props ...event.Property) *event.Event {
	b.seq++
	e := event.Event{
		ID:         b.prefix + strconv.Itoa(b.seq),
		Type:       typ,
		OccurredAt: t.UTC().Truncate(time.Millisecond),
		LeadID:     b.leadID,
		AccountID:  b.account,
		OwnerID:    b.owner,
		Source:     source,
	}
	if len(props) > 0 {
		p := event.Properties(props)
		if !slices.IsSortedFunc(p, cmpProp) {
			p = slices.Clone(p)
			slices.SortFunc(p, cmpProp)
		}
		e.Properties = p
	}
	b.buf = append(b.buf, e)
	return &b.buf[len(b.buf)-1]
}

func cmpProp(a, b event.Property) int { return strings.Compare(a.Key, b.Key) }

func str(k, v string) event.Property { return event.Property{Key: k, Kind: event.KindString, Str: v} }

func num(k string, v float64) event.Property {
	return event.Property{Key: k, Kind: event.KindNumber, Num: v}
}

// round2 rounds money to cents.
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
