package features

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// Set is a compiled, immutable list of feature definitions for one kind of
// entity (leads keyed by lead_id, accounts by account_id). It knows the
// layout of the per-key State, the order of the numeric and categorical
// features in a Vector, and the SQL that computes them. Safe for concurrent
// use.
type Set struct {
	name    string
	entity  string // key column: lead_id or account_id
	filters []Filter
	defs    []Def
	derived []Derived

	nums  []numFeature
	cats  []catFeature
	byNum map[string]int
	rings []ring
	slots []int // per def: byte offset of its lifetime slot in State.buf; ring index for windowed counts
	size  int   // bytes of State.buf
	// recent event ids kept as evidence, most recent first
	recent    int
	recentOff int
	hash      string
	hashID    uint32 // low bits of the fingerprint, stored in snapshots

	defFilter []int      // per def: filter index, −1 for MaxRank
	rankBits  [][]uint32 // per def: filter bit of each Rank
	catOf     []int      // per def: index in cats for LastStr, else −1

	numNames []string // NumNames, made once: not a new list per feature row

	// Compiled for the per-event path (State.Update, State.Vector): what
	// would otherwise be found by scanning filters and definitions for
	// every event.
	byType  typeTable      // filters of each event type
	anyType typeFilters    // filters with no Types (every type)
	grans   []windows.Span // distinct ring granularities; ring.gran is grans[ring.gi]
	life    []int          // indexes of the lifetime (unwindowed) defs
	wins    []winDef       // per def: its window's bucket span, for windowed counts
}

// typeFilters are the filters an event type passes: mask for those that
// need nothing else, prop for those whose property must still be checked.
type typeFilters struct{ mask, prop uint32 }

// typeTable maps event types to their filters: an open-addressing table
// on a hash of a few bytes of the type, cheaper per event than a map's hash
// of the whole string. Built once (entry), then read-only (get).
type typeTable struct {
	slots [typeSlots]typeSlot
	empty typeSlot // the type "" (an empty slot's mark)
}

type typeSlot struct {
	t  event.Type // "" = empty
	tf typeFilters
}

// typeSlots is a power of two well above the event types a Set names (36
// built-in ones), so probes stay short; more types than this would loop in
// entry, so NewSet bounds them (maxTypes).
const (
	typeSlots = 256
	maxTypes  = typeSlots / 2
)

func typeHash(t event.Type) int {
	n := len(t)
	if n == 0 {
		return 0
	}
	return (n*131 + int(t[0])*31 + int(t[n/2])*7 + int(t[n-1])) & (typeSlots - 1)
}

// entry returns the slot of t, claiming an empty one for a new type.
func (tt *typeTable) entry(t event.Type) *typeSlot {
	if t == "" {
		return &tt.empty
	}
	for i := typeHash(t); ; i = (i + 1) & (typeSlots - 1) {
		e := &tt.slots[i]
		if e.t == t || e.t == "" {
			e.t = t
			return e
		}
	}
}

// get returns the filters of t (none for a type no filter names).
func (tt *typeTable) get(t event.Type) typeFilters {
	if t == "" {
		return tt.empty.tf
	}
	for i := typeHash(t); ; i = (i + 1) & (typeSlots - 1) {
		e := &tt.slots[i]
		if e.t == t {
			return e.tf
		}
		if e.t == "" {
			return typeFilters{}
		}
	}
}

// winDef is a windowed count compiled: ring index and buckets covered.
type winDef struct {
	ring    int
	buckets int // 0: not a windowed count
}

// maxGrans bounds the distinct ring granularities (a stack array per event).
const maxGrans = 8

type numFeature struct {
	name      string
	def       int // index in defs, or −1 for a derived feature
	derived   int // index in derived when def < 0
	a, b      int // inputs of a derived feature (indexes in nums)
	transform Transform
	mask      uint32 // filters whose events are its evidence
	help      string
}

type catFeature struct {
	name   string
	prefix uint64 // hash state after "name=" (CatHash)
	def    int
	mask   uint32
	help   string
}

// ring is the bucket counters of one (filter, granularity).
type ring struct {
	filter int
	gran   windows.Span
	gi     int // index of gran in Set.grans
	n      int // buckets kept: the largest window on this pair
	width  int // bytes per counter: 1 for sub-day buckets, else 2
	off    int
}

const (
	recentIDs  = 2  // evidence event ids kept per key
	maxFilters = 32 // filters are bits of a uint32 mask
	maxCats    = 16 // categorical features per set (a stack array in Update)
)

// NewSet compiles definitions. It checks names, filters, windows and
// derived references, and returns every problem found.
func NewSet(name, entity string, filters []Filter, defs []Def, derived []Derived) (*Set, error) {
	s := &Set{name: name, entity: entity, filters: filters, defs: defs, derived: derived,
		byNum: map[string]int{}, recent: recentIDs}
	var errs []error
	if entity != "lead_id" && entity != "account_id" {
		errs = append(errs, fmt.Errorf("entity %q: want lead_id or account_id", entity))
	}
	if len(filters) > maxFilters {
		errs = append(errs, fmt.Errorf("%d filters: at most %d", len(filters), maxFilters))
	}
	fidx := map[string]int{}
	for i, f := range filters {
		if f.Name == "" {
			errs = append(errs, fmt.Errorf("filter %d: empty name", i))
		}
		if _, dup := fidx[f.Name]; dup {
			errs = append(errs, fmt.Errorf("filter %q: duplicate", f.Name))
		}
		if f.Prop != "" && len(f.Values) == 0 {
			errs = append(errs, fmt.Errorf("filter %q: Prop without Values", f.Name))
		}
		fidx[f.Name] = i
	}
	types := map[event.Type]bool{}
	for _, f := range filters {
		for _, t := range f.Types {
			types[t] = true
		}
	}
	if len(types) > maxTypes {
		errs = append(errs, fmt.Errorf("%d event types in filters: at most %d", len(types), maxTypes))
	}
	seen := map[string]bool{}
	s.slots = make([]int, len(defs))
	// rings first: they are the bulk of the state and are shared by all
	// windowed counts of one filter and granularity.
	ringOf := map[[2]int]int{}
	for i, d := range defs {
		if d.Name == "" || seen[d.Name] {
			errs = append(errs, fmt.Errorf("def %d %q: empty or duplicate name", i, d.Name))
		}
		seen[d.Name] = true
		fi, ok := fidx[d.Filter]
		if d.Agg != MaxRank && !ok {
			errs = append(errs, fmt.Errorf("def %q: unknown filter %q", d.Name, d.Filter))
			continue
		}
		switch d.Agg {
		case Count, Sum, LastNum, LastStr, Distinct, SinceLast, SinceFirst:
		case Decay:
			if d.HalfLife == 0 {
				errs = append(errs, fmt.Errorf("def %q: Decay without HalfLife", d.Name))
			}
		case MaxRank:
			if len(d.Ranks) == 0 {
				errs = append(errs, fmt.Errorf("def %q: MaxRank without Ranks", d.Name))
			}
			for _, r := range d.Ranks {
				if _, ok := fidx[r.Filter]; !ok {
					errs = append(errs, fmt.Errorf("def %q: unknown rank filter %q", d.Name, r.Filter))
				}
			}
		default:
			errs = append(errs, fmt.Errorf("def %q: unknown aggregation %d", d.Name, d.Agg))
		}
		if (d.Agg == Sum || d.Agg == LastNum || d.Agg == LastStr || d.Agg == Distinct) && d.Field == "" {
			errs = append(errs, fmt.Errorf("def %q: %v needs a Field", d.Name, d.Agg))
		}
		if strings.HasPrefix(d.Field, "$") && columns[d.Field] == nil {
			errs = append(errs, fmt.Errorf("def %q: unknown column field %q", d.Name, d.Field))
		}
		if d.Window.Size == 0 {
			continue
		}
		if d.Agg != Count {
			errs = append(errs, fmt.Errorf("def %q: windows support Count only", d.Name))
			continue
		}
		if d.Window.Gran == 0 || d.Window.Size%d.Window.Gran != 0 || d.Window.buckets() > 255 {
			errs = append(errs, fmt.Errorf("def %q: window %v: size must be 1–255 buckets of Gran", d.Name, d.Window))
			continue
		}
		key := [2]int{fi, int(d.Window.Gran)}
		r, ok := ringOf[key]
		if !ok {
			r = len(s.rings)
			ringOf[key] = r
			w := 2
			if d.Window.Gran < windows.Day {
				w = 1
			}
			s.rings = append(s.rings, ring{filter: fi, gran: d.Window.Gran, width: w})
		}
		s.rings[r].n = max(s.rings[r].n, d.Window.buckets())
		s.slots[i] = r
	}
	grans := map[windows.Span]bool{}
	for i := range s.rings {
		s.rings[i].off = s.size
		s.size += s.rings[i].n * s.rings[i].width
		grans[s.rings[i].gran] = true
	}
	if len(grans) > maxGrans {
		errs = append(errs, fmt.Errorf("%d window granularities: at most %d", len(grans), maxGrans))
	}
	for i, d := range defs {
		if d.Window.Size != 0 {
			continue
		}
		s.slots[i] = s.size
		s.size += slotSize(d.Agg)
	}
	s.recentOff = s.size
	s.size += 4 * s.recent

	s.defFilter = make([]int, len(defs))
	s.rankBits = make([][]uint32, len(defs))
	s.catOf = make([]int, len(defs))
	for i, d := range defs {
		s.defFilter[i], s.catOf[i] = -1, -1
		if fi, ok := fidx[d.Filter]; ok {
			s.defFilter[i] = fi
		}
		for _, r := range d.Ranks {
			s.rankBits[i] = append(s.rankBits[i], 1<<fidx[r.Filter])
		}
		var mask uint32
		if fi, ok := fidx[d.Filter]; ok {
			mask = 1 << fi
		}
		for _, r := range d.Ranks {
			if fi, ok := fidx[r.Filter]; ok {
				mask |= 1 << fi
			}
		}
		if d.Agg == LastStr {
			s.catOf[i] = len(s.cats)
			s.cats = append(s.cats, catFeature{name: d.Name, prefix: catPrefix(d.Name), def: i, mask: mask, help: d.Help})
			continue
		}
		s.byNum[d.Name] = len(s.nums)
		s.nums = append(s.nums, numFeature{name: d.Name, def: i, transform: d.Transform, mask: mask, help: d.Help})
	}
	for i, d := range derived {
		a, okA := s.byNum[d.A]
		b, okB := s.byNum[d.B]
		if !okA || !okB {
			errs = append(errs, fmt.Errorf("derived %q: unknown input %q or %q", d.Name, d.A, d.B))
			continue
		}
		if d.Op != Ratio && d.Op != Diff {
			errs = append(errs, fmt.Errorf("derived %q: unknown op %d", d.Name, d.Op))
		}
		if seen[d.Name] {
			errs = append(errs, fmt.Errorf("derived %q: duplicate name", d.Name))
		}
		seen[d.Name] = true
		s.byNum[d.Name] = len(s.nums)
		s.nums = append(s.nums, numFeature{name: d.Name, def: -1, derived: i, a: a, b: b, transform: d.Transform,
			mask: s.nums[a].mask | s.nums[b].mask, help: d.Help})
	}
	if len(s.cats) > maxCats {
		errs = append(errs, fmt.Errorf("%d categorical features: at most %d", len(s.cats), maxCats))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("feature set %s: %w", name, err)
	}
	s.compile()
	s.hash = s.fingerprint()
	s.hashID = uint32(windows.HashString(s.hash))
	s.numNames = make([]string, len(s.nums))
	for i, n := range s.nums {
		s.numNames[i] = n.name
	}
	return s, nil
}

// compile builds the per-event lookup tables of a valid Set.
func (s *Set) compile() {
	for i := range s.filters {
		f := &s.filters[i]
		bit := uint32(1) << i
		add := func(tf typeFilters) typeFilters {
			if f.Prop != "" {
				tf.prop |= bit
			} else {
				tf.mask |= bit
			}
			return tf
		}
		if len(f.Types) == 0 {
			s.anyType = add(s.anyType)
			continue
		}
		for _, t := range f.Types {
			e := s.byType.entry(t)
			e.tf = add(e.tf)
		}
	}
	for i := range s.rings {
		r := &s.rings[i]
		r.gi = slices.Index(s.grans, r.gran)
		if r.gi < 0 {
			r.gi = len(s.grans)
			s.grans = append(s.grans, r.gran)
		}
	}
	s.wins = make([]winDef, len(s.defs))
	for i, d := range s.defs {
		if d.Window.Size != 0 {
			s.wins[i] = winDef{ring: s.slots[i], buckets: d.Window.buckets()}
			continue
		}
		s.life = append(s.life, i)
	}
}

// match returns the mask of the filters ev passes (Filter.Match of each).
func (s *Set) match(ev *event.Event) uint32 {
	tf := s.byType.get(ev.Type)
	m, p := tf.mask|s.anyType.mask, tf.prop|s.anyType.prop
	for p != 0 {
		i := bits.TrailingZeros32(p)
		p &= p - 1
		f := &s.filters[i]
		if slices.Contains(f.Values, ev.Properties.String(f.Prop)) {
			m |= 1 << i
		}
	}
	return m
}

func slotSize(a Agg) int {
	switch a {
	case Count, SinceLast, SinceFirst, LastStr:
		return 4
	case Sum:
		return 8
	case LastNum, Decay:
		return 8 // Sec + float32
	case Distinct:
		return 16
	case MaxRank:
		return 1
	}
	return 0
}

// fingerprint identifies the feature schema: a model trained on one Set
// refuses to load into a Set with another fingerprint.
func (s *Set) fingerprint() string {
	var b strings.Builder
	b.WriteString(s.entity)
	for _, f := range s.filters {
		fmt.Fprintf(&b, "|f:%s:%v:%s:%v", f.Name, f.Types, f.Prop, f.Values)
	}
	for _, d := range s.defs {
		fmt.Fprintf(&b, "|d:%s:%d:%d:%d:%s:%s:%v:%d:%d", d.Name, d.Agg, d.Window.Size, d.Window.Gran, d.Filter, d.Field, d.Ranks, d.Transform, d.HalfLife)
	}
	for _, d := range s.derived {
		fmt.Fprintf(&b, "|x:%s:%d:%s:%s:%g:%d", d.Name, d.Op, d.A, d.B, d.Scale, d.Transform)
	}
	return s.name + "-" + strconv.FormatUint(windows.HashString(b.String()), 16)
}

// Name is the set's name ("lead", "account").
func (s *Set) Name() string { return s.name }

// Entity is the key column of the entity: "lead_id" or "account_id".
func (s *Set) Entity() string { return s.entity }

// Fingerprint identifies the definitions (names, windows, filters,
// transforms). Model artifacts record it.
func (s *Set) Fingerprint() string { return s.hash }

// NumNames returns the names of the numeric features in Vector.Num order.
// The slice is shared by every caller (the scorer puts it on each feature
// row): do not modify it; its capacity is its length, so append copies.
func (s *Set) NumNames() []string { return s.numNames[:len(s.numNames):len(s.numNames)] }

// CatNames returns the names of the categorical features in Vector.Cat order.
func (s *Set) CatNames() []string {
	out := make([]string, len(s.cats))
	for i, c := range s.cats {
		out[i] = c.name
	}
	return out
}

// CatIndex returns the position of the categorical feature name in
// Vector.Cat (a scan of at most 16 names: no allocation, unlike CatNames).
func (s *Set) CatIndex(name string) (int, bool) {
	for i := range s.cats {
		if s.cats[i].name == name {
			return i, true
		}
	}
	return -1, false
}

// NumName returns the name of numeric feature i.
func (s *Set) NumName(i int) string { return s.nums[i].name }

// CatName returns the name of categorical feature i.
func (s *Set) CatName(i int) string { return s.cats[i].name }

// Len returns the number of numeric and categorical features.
func (s *Set) Len() (nums, cats int) { return len(s.nums), len(s.cats) }

// Input maps the raw value x of numeric feature i to the model input.
func (s *Set) Input(i int, x float64) float64 { return apply(s.nums[i].transform, x) }

// Index returns the position of the numeric feature name in Vector.Num.
func (s *Set) Index(name string) (int, bool) { i, ok := s.byNum[name]; return i, ok }

// StateBytes is the size of the fixed part of a State's buffer.
func (s *Set) StateBytes() int { return s.size }
