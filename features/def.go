package features

import (
	"fmt"
	"slices"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// Agg is the aggregation a Def computes over the events its filter matches.
type Agg uint8

// Aggregations. Windowed definitions (Window.Size > 0) support only Count;
// the others aggregate over the whole life of the key.
const (
	Count      Agg = iota + 1 // number of matching events
	Sum                       // sum of the numeric Field
	LastNum                   // Field of the matching event with the latest event time
	LastStr                   // non-empty string Field with the latest event time (categorical)
	Distinct                  // estimated distinct non-empty values of Field (linear counting, 128 bits)
	SinceLast                 // days from the latest matching event to the vector time; −1 if none
	SinceFirst                // days from the earliest matching event to the vector time; −1 if none
	MaxRank                   // largest Rank among the Ranks whose filter matched (funnel stage)
	Decay                     // Σ 2^(−age/HalfLife) over matching events: engagement that fades
)

var aggNames = [...]string{Count: "count", Sum: "sum", LastNum: "last", LastStr: "last_str",
	Distinct: "distinct", SinceLast: "since_last", SinceFirst: "since_first", MaxRank: "max_rank", Decay: "decay"}

func (a Agg) String() string {
	if int(a) < len(aggNames) && aggNames[a] != "" {
		return aggNames[a]
	}
	return fmt.Sprintf("agg(%d)", a)
}

// Window is a sliding event-time window counted in buckets of Gran seconds
// aligned on the Unix epoch: as of time t it covers the Size/Gran buckets
// ending with the bucket that holds t, up to t. The zero Window is the
// whole life of the key.
//
// Bucketed windows are what makes the state small (one counter per bucket)
// and what lets the ClickHouse SQL reproduce them exactly
// (intDiv(ts, Gran) > intDiv(asof, Gran) − Size/Gran).
type Window struct {
	Size windows.Span // window length in seconds; 0 = lifetime
	Gran windows.Span // bucket length in seconds; Size is a multiple of it
}

// The windows the built-in feature sets use. Month is coarse on purpose
// (5-day buckets): 6 counters instead of 30.
var (
	Lifetime = Window{}
	Hour     = Window{Size: windows.Hour, Gran: 15 * windows.Minute}
	Day      = Window{Size: windows.Day, Gran: windows.Hour}
	Week     = Window{Size: 7 * windows.Day, Gran: windows.Day}
	Month    = Window{Size: 30 * windows.Day, Gran: 5 * windows.Day}
	Days35   = Window{Size: 35 * windows.Day, Gran: windows.Day}
)

func (w Window) buckets() int {
	if w.Gran == 0 {
		return 0
	}
	return int(w.Size / w.Gran)
}

// Filter selects events: by type (empty Types = every type) and optionally by
// a string property equal to one of Values. Filters are named; definitions
// refer to them by name, and reasons cite the events a filter matched.
type Filter struct {
	Name   string
	Types  []event.Type
	Prop   string   // optional: property that must equal one of Values
	Values []string // allowed values of Prop
}

// Match reports whether ev passes the filter.
func (f *Filter) Match(ev *event.Event) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, ev.Type) {
		return false
	}
	if f.Prop != "" {
		return slices.Contains(f.Values, ev.Properties.String(f.Prop))
	}
	return true
}

// Transform maps a raw feature value to the model's input. Raw values are
// what reasons show ("pricing_views_7d = 3"); inputs are what weights see.
type Transform uint8

// Transforms.
const (
	Identity Transform = iota
	Log1p              // log(1+max(x,0)): counts and amounts, heavy-tailed
	Fresh7             // exp(−x/7) for x ≥ 0, 0 for x < 0 ("never"): recency in days, decays by e every 7 days
	Fresh30            // exp(−x/30), as Fresh7
	Clip01             // x clamped to [0, 1]: rates
	Clip10             // x clamped to [0, 10]: ratios such as velocity and trend
)

// Rank gives events that match Filter the rank Rank (MaxRank definitions).
type Rank struct {
	Filter string
	Rank   uint8
}

// Def declares one feature. From the Def alone the package derives the
// streaming state and update code and the ClickHouse aggregate that
// computes the same value as of a point in time.
type Def struct {
	Name      string
	Agg       Agg
	Window    Window       // only for Count; zero = lifetime
	Filter    string       // name of a Filter of the Set; "" for MaxRank
	Field     string       // property name, or "$session_id", "$lead_id", "$source", "$owner_id", "$country", "$title", "$company"
	Ranks     []Rank       // MaxRank only
	HalfLife  windows.Span // Decay only: an event counts half after this long
	Transform Transform    // model input; Identity by default
	Help      string       // one line for documentation and dashboards
}

// Op combines two features into a derived one.
type Op uint8

// Operations of derived features.
const (
	Ratio Op = iota + 1 // Scale·A/B, 0 when B = 0
	Diff                // A − B
)

// Derived is a feature computed from two others (definitions or earlier
// derived features) of the same Set, after aggregation, by the same Go code
// on both the streaming and the SQL path.
type Derived struct {
	Name      string
	Op        Op
	A, B      string
	Scale     float64 // Ratio only; 0 means 1
	Transform Transform
	Help      string
}

// columns of crm.events that a Field may name with a "$" prefix.
var columns = map[string]func(*event.Event) string{
	"$session_id": func(e *event.Event) string { return e.SessionID },
	"$lead_id":    func(e *event.Event) string { return e.LeadID },
	"$source":     func(e *event.Event) string { return e.Source },
	"$owner_id":   func(e *event.Event) string { return e.OwnerID },
	"$country":    func(e *event.Event) string { return e.Contact.Country },
	"$title":      func(e *event.Event) string { return e.Contact.Title },
	"$company":    func(e *event.Event) string { return e.Contact.Company },
}
