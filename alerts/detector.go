package alerts

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crmstream/crmstream/event"
)

// TimerKind is the kind of every timer the detector requests. One timer per
// key is enough: it is set to the earliest pending deadline, and OnTimer
// re-evaluates everything due, so a stale or duplicate timer is harmless.
const TimerKind = "alerts"

// Timer asks the caller to call OnTimer for Key once its clock reaches At.
// A later request for the same key may replace an earlier one or be added
// beside it; both are correct.
type Timer struct {
	Key  string
	Kind string
	At   time.Time
}

// Score is a model output the detector watches: a lead score (0–100) for
// OnLeadScore, a churn probability (0–1) for OnChurnScore.
type Score struct {
	EventID   string    // the event that was scored (evidence, episode id)
	EventTime time.Time // its event time
	Value     float64
}

// Output collects what one call produced: alert states to publish, in order,
// and timers to set. Reset it between calls and reuse it to save allocations.
type Output struct {
	Alerts []Alert
	Timers []Timer
}

// Reset empties o, keeping its capacity.
func (o *Output) Reset() {
	clear(o.Alerts)
	o.Alerts = o.Alerts[:0]
	o.Timers = o.Timers[:0]
}

// Detector applies the alert rules to per-key State. It holds only
// configuration, metrics and the wall clock, so one Detector serves every
// partition worker: safe for concurrent use as long as each State is used by
// one goroutine at a time.
type Detector struct {
	cfg    Config
	wall   func() time.Time
	logger *slog.Logger

	fired      *prometheus.CounterVec
	retracted  *prometheus.CounterVec
	suppressed *prometheus.CounterVec
}

// Options are the injected dependencies of a Detector; every field may be
// left zero.
type Options struct {
	Logger     *slog.Logger          // nil discards
	Registerer prometheus.Registerer // nil registers nothing
	Now        func() time.Time      // wall clock stamped on alerts; nil is time.Now
}

// New returns a Detector for cfg.
func New(cfg Config, o Options) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("alerts config: %w", err)
	}
	d := &Detector{cfg: cfg, wall: o.Now, logger: o.Logger}
	if d.wall == nil {
		d.wall = time.Now
	}
	if d.logger == nil {
		d.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d.logger = d.logger.With("component", "alerts")
	d.fired = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crmstream_alerts_fired_total", Help: "Alerts fired, by kind.",
	}, []string{"kind"})
	d.retracted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crmstream_alerts_retracted_total", Help: "Fired alerts retracted by late events, by kind.",
	}, []string{"kind"})
	d.suppressed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crmstream_alerts_suppressed_total", Help: "Episodes not alerted, by kind and reason (cooldown, converted, churned).",
	}, []string{"kind", "reason"})
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{d.fired, d.retracted, d.suppressed} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register alerts metrics: %w", err)
			}
		}
	}
	return d, nil
}

// Config returns the detector's rules.
func (d *Detector) Config() Config { return d.cfg }

func ms(t time.Time) int64 { return t.UnixMilli() }

func tm(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// OnEvent applies e to st (the state of e.Key()) and evaluates every rule at
// now, the detector clock (see Windowed). An event that proves a deadline
// passed (a completion or activity after it) fires that episode first even
// if the clock has not reached it. A late event may retract alerts it
// disproves. An event.Erased tombstone resets st.
func (d *Detector) OnEvent(st *State, e *event.Event, now time.Time, out *Output) {
	if e.Type == event.Erased {
		*st = State{}
		return
	}
	t, n := ms(e.OccurredAt), ms(now)
	if st.key == "" {
		st.key = strings.Clone(e.Key())
	}
	if e.LeadID != "" {
		st.isLead = true // e.Key() is the lead id
	}
	// Strings kept in the state are copies: a decoded event's strings are
	// views into its record, which a long-lived key would keep alive.
	st.SetParties(cloneIfNew(e.AccountID, st.account), cloneIfNew(e.OwnerID, st.owner))

	if e.Type.IsConversion() && st.isLead {
		if st.convertedAt == 0 || t < st.convertedAt {
			st.convertedAt = t
		}
		d.retractConverted(st, t, e.ID, out)
	}
	if IsPayment(e.Type) {
		x := st.ext()
		x.paidAt = max(x.paidAt, t)
		if e.Type == event.SubscriptionStarted {
			d.touch(st, &x.acctQuiet, t, n, e.ID, out)
		}
	}
	if e.Type == event.SubscriptionCancelled {
		x := st.ext()
		x.cancelAt = max(x.cancelAt, t)
		if q := &x.acctQuiet; q.live && t <= q.firedDeadline && x.cancelAt > x.paidAt {
			q.live = false
			d.emit(st, d.inactivityAlert(st, q, "account", Retracted, e.ID), out)
		}
	}
	if IsAccountActivity(e.Type) {
		d.touch(st, &st.ext().acctQuiet, t, n, e.ID, out)
	}
	if IsLeadActivity(e.Type) && st.isLead {
		d.touch(st, &st.leadQuiet, t, n, e.ID, out)
	}
	if IsEngagement(e.Type) && st.engaged < 1<<31 {
		st.engaged++
	}
	switch e.Type {
	case event.FlowStarted:
		d.flowStarted(st, e, t)
	case event.FlowStep:
		d.flowStep(st, e, t)
	case event.FlowCompleted:
		d.flowCompleted(st, e, t, n, out)
	}
	d.due(st, n, out)
}

// SetKey names the key of a fresh state; OnEvent does it from the event.
func (st *State) SetKey(key string) {
	if st.key == "" {
		st.key = key
	}
}

// OnTimer evaluates st at now after a timer fired (or at any time: it is
// idempotent). Conditions that became true without any new event, like
// abandonment and inactivity, fire here.
func (d *Detector) OnTimer(st *State, now time.Time, out *Output) {
	n := ms(now)
	if st.timerAt != 0 && st.timerAt <= n {
		st.timerAt = 0
	}
	d.due(st, n, out)
}

// OnLeadScore feeds a new lead score (0–100) of st's lead (set st's key
// first with SetKey if the score is its first input): hot_lead fires
// when it crosses HotThreshold upward, or rises by HotRise within
// HotRiseWindow — for a lead first scored at least HotRiseWindow earlier,
// so that the ramp-up of a new lead is not taken for a jump.
func (d *Detector) OnLeadScore(st *State, s Score, now time.Time, out *Output) {
	c := &d.cfg
	t, v := ms(s.EventTime), s.Value
	st.isLead = true
	prev := st.score
	if !st.hasScore || t < st.firstScore {
		st.firstScore = t
	}
	st.score, st.hasScore = v, true
	if st.hotHigh && v < c.HotThreshold-c.HotRearm {
		st.hotHigh = false
	}
	// Minimum of the scores within the window before this one.
	from := t - c.HotRiseWindow.Milliseconds()
	i := 0
	for i < len(st.rise) && st.rise[i].at < from {
		i++
	}
	st.rise = st.rise[:copy(st.rise, st.rise[i:])]
	low, hasLow := 0.0, len(st.rise) > 0
	if hasLow {
		low = st.rise[0].score
	}
	j := len(st.rise)
	for j > 0 && st.rise[j-1].score >= v {
		j--
	}
	st.rise = append(st.rise[:j], scorePoint{at: t, score: v})
	if len(st.rise) > 32 { // cannot happen with integer scores; bounds garbage input
		st.rise = append(st.rise[:1], st.rise[len(st.rise)-31:]...)
	}

	rule := ""
	switch {
	case st.hotHigh:
	case v >= c.HotThreshold && prev < c.HotThreshold:
		rule = "threshold"
	case hasLow && v-low >= c.HotRise && t-st.firstScore >= c.HotRiseWindow.Milliseconds():
		// A rise needs a baseline from before the window: a new lead's
		// first-day ramp-up is not a jump.
		rule = "rise"
	}
	if rule == "" {
		d.due(st, ms(now), out)
		return
	}
	if v >= c.HotThreshold {
		st.hotHigh = true
	}
	st.rise = append(st.rise[:0], scorePoint{at: t, score: v}) // the next rise starts from here
	switch {
	case st.convertedAt != 0 && st.convertedAt <= t:
		d.suppressed.WithLabelValues(string(HotLead), "converted").Inc()
	case d.cooling(st, HotLead, t):
	default:
		var reason string
		if rule == "threshold" {
			reason = fmt.Sprintf("Lead score rose to %s, past the hot threshold %s (was %s).", num(v), num(c.HotThreshold), num(prev))
		} else {
			reason = fmt.Sprintf("Lead score rose %s points within %s, from %s to %s.", num(v-low), human(c.HotRiseWindow), num(low), num(v))
			prev = low
		}
		a := d.base(st, HotLead, EpisodeID(HotLead, st.key, s.EventID), t, ms(now))
		a.Score = v
		a.Reason = reason
		a.Evidence = []string{s.EventID}
		a.Details.PrevScore = prev
		a.Details.Threshold = c.HotThreshold
		a.Details.Rule = rule
		d.emit(st, a, out)
	}
	d.due(st, ms(now), out)
}

// OnChurnScore feeds a new churn probability (0–1) of st's account:
// churn_risk fires when it crosses ChurnThreshold upward.
func (d *Detector) OnChurnScore(st *State, s Score, now time.Time, out *Output) {
	c := &d.cfg
	t, v := ms(s.EventTime), s.Value
	if st.account == "" && !st.isLead {
		st.account = st.key
	}
	x := st.ext()
	prev := x.churn
	x.churn = v
	if x.churnHigh && v < c.ChurnThreshold-c.ChurnRearm {
		x.churnHigh = false
	}
	if !x.churnHigh && v >= c.ChurnThreshold {
		x.churnHigh = true
		switch {
		case x.cancelAt > x.paidAt && x.cancelAt <= t:
			d.suppressed.WithLabelValues(string(ChurnRisk), "churned").Inc()
		case d.cooling(st, ChurnRisk, t):
		default:
			a := d.base(st, ChurnRisk, EpisodeID(ChurnRisk, st.key, s.EventID), t, ms(now))
			a.Score = v
			a.Reason = fmt.Sprintf("Churn risk is %s%%, past the threshold %s%% (was %s%%).",
				num(100*v), num(100*c.ChurnThreshold), num(100*prev))
			a.Evidence = []string{s.EventID}
			a.Details.PrevScore = prev
			a.Details.Threshold = c.ChurnThreshold
			d.emit(st, a, out)
		}
	}
	d.due(st, ms(now), out)
}

// due fires every condition true at now, prunes what can no longer change,
// and requests the next timer.
func (d *Detector) due(st *State, now int64, out *Output) {
	c := &d.cfg
	keep := c.RetractWindow.Milliseconds()
	if x := st.x; x != nil {
		for i := range x.flows {
			f := &x.flows[i]
			if f.status != flowOpen || now <= f.deadline {
				continue
			}
			d.fireFlow(st, f, now, out)
		}
		d.dueQuiet(st, &x.acctQuiet, "account", now, now, out)
	}
	d.dueQuiet(st, &st.leadQuiet, "lead", now, now, out)

	if x := st.x; x != nil {
		// Prune: finished attempts once no late event can change them.
		x.flows = slices.DeleteFunc(x.flows, func(f flow) bool {
			return f.status != flowOpen && now > f.deadline+keep
		})
		if over := len(x.flows) - c.MaxFlows; over > 0 {
			// Drop the oldest finished attempts first, then the oldest open ones.
			for i := 0; i < len(x.flows) && over > 0; {
				if x.flows[i].status == flowDone || x.flows[i].status == flowOrphan {
					x.flows = slices.Delete(x.flows, i, i+1)
					over--
					continue
				}
				i++
			}
			if over > 0 {
				x.flows = slices.Delete(x.flows, 0, over)
			}
		}
		if len(x.flows) == 0 {
			x.flows = nil // a key's one-off attempt leaves no array behind
		}
		if q := &x.acctQuiet; q.live && now > q.firedDeadline+keep {
			q.live = false
		}
	}
	if q := &st.leadQuiet; q.live && now > q.firedDeadline+keep {
		q.live = false
	}

	if next := d.next(st); next != 0 && (st.timerAt == 0 || next < st.timerAt || st.timerAt <= now) {
		st.timerAt = next
		out.Timers = append(out.Timers, Timer{Key: st.key, Kind: TimerKind, At: tm(next)})
	}
}

// next is the earliest time at which a condition of st can become true.
func (d *Detector) next(st *State) int64 {
	var n int64
	at := func(t int64) {
		if t != 0 && (n == 0 || t < n) {
			n = t
		}
	}
	if x := st.x; x != nil {
		for i := range x.flows {
			if x.flows[i].status == flowOpen {
				at(x.flows[i].deadline + 1)
			}
		}
		if dl, ok := d.quietDeadline(st, &x.acctQuiet, "account"); ok {
			at(dl + 1)
		}
	}
	if dl, ok := d.quietDeadline(st, &st.leadQuiet, "lead"); ok {
		at(dl + 1)
	}
	return n
}

// cooling reports (and counts) whether an alert of kind at condition time t
// falls in the cooldown of the previous one.
func (d *Detector) cooling(st *State, k Kind, t int64) bool {
	last := st.rx().lastFire[kindIndex(k)]
	if last != 0 && abs(t-last) < d.cfg.Cooldown[k].Milliseconds() {
		d.suppressed.WithLabelValues(string(k), "cooldown").Inc()
		return true
	}
	return false
}

// base fills the fields every alert of st shares.
func (d *Detector) base(st *State, k Kind, id string, cond, now int64) Alert {
	wall := d.wall().UTC()
	score := st.score
	if k == ChurnRisk {
		score = st.rx().churn
	}
	return Alert{
		ID: id, Kind: k,
		LeadID: st.lead(), AccountID: st.account, OwnerID: st.owner,
		FiredAt: wall, EventTime: tm(cond), Status: Fired, Score: score,
		Details:   Details{DetectedAt: tm(now)},
		UpdatedAt: wall,
	}
}

// emit publishes a, recording cooldown for fired alerts.
func (d *Detector) emit(st *State, a Alert, out *Output) {
	switch a.Status {
	case Fired:
		st.ext().lastFire[kindIndex(a.Kind)] = ms(a.EventTime)
		d.fired.WithLabelValues(string(a.Kind)).Inc()
	case Retracted:
		d.retracted.WithLabelValues(string(a.Kind)).Inc()
	}
	out.Alerts = append(out.Alerts, a)
}

// ---- abandonment ----

// current returns the attempt of flow name that an event at t belongs to:
// the newest one started at or before t.
func (st *State) current(name string, t int64) *flow {
	var c *flow
	if st.x == nil {
		return nil
	}
	for i := range st.x.flows {
		f := &st.x.flows[i]
		if f.name == name && f.status != flowOrphan && f.start <= t && (c == nil || f.start >= c.start) {
			c = f
		}
	}
	return c
}

func (d *Detector) flowStarted(st *State, e *event.Event, t int64) {
	name := e.Properties.String("flow")
	timeout := d.cfg.Timeout(name).Milliseconds()
	x := st.ext()
	for i := range x.flows {
		f := &x.flows[i]
		if f.name != name {
			continue
		}
		if f.startID == e.ID { // a duplicate delivery
			return
		}
		if f.status == flowOrphan && f.start >= t && f.start <= t+timeout {
			// The completion arrived first: this attempt is already done.
			f.status, f.start, f.startID, f.deadline = flowDone, t, strings.Clone(e.ID), t+timeout
			slices.SortStableFunc(x.flows, func(a, b flow) int { return cmp.Compare(a.start, b.start) })
			return
		}
	}
	if c := st.current(name, t); c != nil && c.status == flowOpen && t <= c.deadline {
		// Started again before the timeout: the same attempt, with more time.
		c.deadline = max(c.deadline, t+timeout)
		setCart(c, e)
		return
	}
	f := flow{name: strings.Clone(name), status: flowOpen, start: t, startID: strings.Clone(e.ID), deadline: t + timeout}
	setCart(&f, e)
	i, _ := slices.BinarySearchFunc(x.flows, t, func(f flow, t int64) int { return cmp.Compare(f.start, t+1) })
	x.flows = slices.Insert(x.flows, i, f)
}

func (d *Detector) flowStep(st *State, e *event.Event, t int64) {
	c := st.current(e.Properties.String("flow"), t)
	if c == nil || c.status == flowOrphan {
		return
	}
	if t >= c.stepAt {
		if s := e.Properties.String("step"); s != "" {
			c.step, c.stepAt, c.stepID = cloneIfNew(s, c.step), t, strings.Clone(e.ID)
		}
	}
	setCart(c, e)
}

func (d *Detector) flowCompleted(st *State, e *event.Event, t, now int64, out *Output) {
	name := e.Properties.String("flow")
	c := st.current(name, t)
	if c == nil {
		x := st.ext()
		x.flows = append(x.flows, flow{name: strings.Clone(name), status: flowOrphan, start: t, startID: strings.Clone(e.ID), deadline: t})
		slices.SortStableFunc(x.flows, func(a, b flow) int { return cmp.Compare(a.start, b.start) })
		return
	}
	switch c.status {
	case flowOpen:
		if t > c.deadline {
			// Completed after the timeout: the attempt was abandoned first.
			// Detected no later than the clock reaching the deadline.
			d.fireFlow(st, c, max(now, c.deadline), out)
		}
		c.status = flowDone
	case flowFired:
		if t <= c.deadline {
			d.emit(st, d.flowAlert(st, c, Retracted, e.ID, "the flow was completed in time after all"), out)
		}
		c.status = flowDone
	}
}

func setCart(f *flow, e *event.Event) {
	if v, ok := e.Properties.Number("cart_value"); ok && v > 0 {
		f.cart = v
		if cur := e.Properties.String("currency"); cur != "" {
			f.currency = cloneIfNew(cur, f.currency)
		}
	}
}

func (d *Detector) fireFlow(st *State, f *flow, now int64, out *Output) {
	if st.convertedAt != 0 && st.convertedAt <= f.deadline {
		f.status = flowDone
		d.suppressed.WithLabelValues(string(Abandonment), "converted").Inc()
		return
	}
	if d.cooling(st, Abandonment, f.deadline) {
		f.status = flowDone
		return
	}
	f.status = flowFired
	f.firedWall = ms(d.wall())
	a := d.flowAlert(st, f, Fired, "", "")
	a.Details.DetectedAt = tm(now)
	d.emit(st, a, out)
}

// flowAlert builds the abandonment alert of f; a retraction names the event
// that disproved it (by) and why, in words.
func (d *Detector) flowAlert(st *State, f *flow, status Status, by, why string) Alert {
	a := d.base(st, Abandonment, EpisodeID(Abandonment, st.key, f.name, f.startID), f.deadline, f.deadline)
	a.FiredAt = tm(f.firedWall)
	a.Status = status
	a.Details.DetectedAt = time.Time{}
	a.Evidence = []string{f.startID}
	if f.stepID != "" {
		a.Evidence = append(a.Evidence, f.stepID)
	}
	name := f.name
	if name == "" {
		name = "a flow"
	}
	timeout := d.cfg.Timeout(f.name)
	a.Reason = fmt.Sprintf("Started %s at %s and did not complete it within %s", name,
		tm(f.start).Format("2006-01-02 15:04 UTC"), human(timeout))
	if f.step != "" {
		a.Reason += "; last step reached: " + f.step
	}
	if f.cart > 0 {
		a.Reason += "; cart value " + strconv.FormatFloat(f.cart, 'f', 2, 64)
		if f.currency != "" {
			a.Reason += " " + f.currency
		}
	}
	a.Reason += "."
	a.Details.Flow, a.Details.Step = f.name, f.step
	a.Details.CartValue, a.Details.Currency = f.cart, f.currency
	a.Details.StartedAt = tm(f.start)
	a.Details.Timeout = timeout.String()
	if status == Retracted {
		a.UpdatedAt = d.wall().UTC()
		a.Reason = "Retracted: " + why + ". " + a.Reason
		a.Details.RetractedBy = by
	}
	return a
}

// retractConverted retracts lead alerts whose condition came after a
// conversion at t that arrived late.
func (d *Detector) retractConverted(st *State, t int64, by string, out *Output) {
	for i := range st.rx().flows {
		f := &st.x.flows[i]
		if f.status == flowFired && t <= f.deadline {
			f.status = flowDone
			d.emit(st, d.flowAlert(st, f, Retracted, by, "the lead had converted before"), out)
		}
	}
	if q := &st.leadQuiet; q.live && t <= q.firedDeadline {
		q.live = false
		d.emit(st, d.inactivityAlert(st, q, "lead", Retracted, by), out)
	}
}

// ---- inactivity ----

// touch records activity at t; activity inside a fired quiet spell proves the
// alert wrong.
func (d *Detector) touch(st *State, q *quiet, t, clock int64, id string, out *Output) {
	subject := "lead"
	if q != &st.leadQuiet {
		subject = "account"
	}
	// Activity after the deadline ends a spell that had already reached it:
	// fire first (the timer may not have fired yet when the watermark lags),
	// detected no later than the clock reaching the deadline.
	if dl, ok := d.quietDeadline(st, q, subject); ok && t > dl {
		d.dueQuiet(st, q, subject, t, max(clock, dl), out)
	}
	if t > q.base {
		q.base, q.baseID = t, strings.Clone(id)
	}
	if q.live && t > q.firedBase && t <= q.firedDeadline {
		q.live = false
		d.emit(st, d.inactivityAlert(st, q, subject, Retracted, id), out)
	}
}

// quietDeadline returns when the quiet spell of q ends, if its rule applies
// to st now and it has not fired for this spell yet.
func (d *Detector) quietDeadline(st *State, q *quiet, subject string) (int64, bool) {
	if q.base == 0 || q.firedBase == q.base {
		return 0, false
	}
	if subject == "account" {
		// Accounts only: a lead's subscription_started is its conversion,
		// not a paying account to watch.
		if x := st.rx(); st.isLead || x.paidAt == 0 || x.cancelAt >= x.paidAt {
			return 0, false
		}
		return q.base + d.cfg.AccountQuiet.Milliseconds(), true
	}
	if !st.isLead || st.convertedAt != 0 || st.engaged < uint32(d.cfg.EngagedMin) {
		return 0, false
	}
	return q.base + d.cfg.LeadQuiet.Milliseconds(), true
}

// dueQuiet fires q's spell if its deadline is before now; detected is the
// detector clock recorded in the alert.
func (d *Detector) dueQuiet(st *State, q *quiet, subject string, now, detected int64, out *Output) {
	dl, ok := d.quietDeadline(st, q, subject)
	if !ok || now <= dl {
		return
	}
	q.firedBase = q.base
	if d.cooling(st, Inactivity, dl) {
		return
	}
	q.live, q.firedDeadline, q.firedBaseID, q.firedWall = true, dl, q.baseID, ms(d.wall())
	a := d.inactivityAlert(st, q, subject, Fired, "")
	a.Details.DetectedAt = tm(detected)
	d.emit(st, a, out)
}

func (d *Detector) inactivityAlert(st *State, q *quiet, subject string, status Status, by string) Alert {
	quietFor := d.cfg.LeadQuiet
	if subject == "account" {
		quietFor = d.cfg.AccountQuiet
	}
	a := d.base(st, Inactivity, EpisodeID(Inactivity, st.key, subject, strconv.FormatInt(q.firedBase, 10)), q.firedDeadline, q.firedDeadline)
	a.FiredAt = tm(q.firedWall)
	a.Status = status
	a.Details.DetectedAt = time.Time{}
	if q.firedBaseID != "" {
		a.Evidence = []string{q.firedBaseID}
	}
	last := tm(q.firedBase).Format("2006-01-02 15:04 UTC")
	if subject == "account" {
		name := st.account
		if name == "" {
			name = st.key
		}
		a.Reason = fmt.Sprintf("Paying account %s has not logged in or used a feature for %s (last activity %s).", name, human(quietFor), last)
	} else {
		a.Reason = fmt.Sprintf("Engaged lead has gone quiet for %s (last activity %s).", human(quietFor), last)
	}
	a.Details.Subject = subject
	a.Details.StartedAt = tm(q.firedBase)
	a.Details.Timeout = quietFor.String()
	if status == Retracted {
		a.UpdatedAt = d.wall().UTC()
		a.Reason = "Retracted: a late event shows activity in time. " + a.Reason
		a.Details.RetractedBy = by
	}
	return a
}

// num formats a score without trailing zeros.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// human formats a rule duration the way a rep reads it.
func human(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	case d%time.Hour == 0:
		n := int(d / time.Hour)
		if n == 1 {
			return "1 hour"
		}
		return strconv.Itoa(n) + " hours"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	}
	return d.String()
}

// cloneIfNew returns a copy of v to store in place of cur, or cur itself
// when equal (no copy).
func cloneIfNew(v, cur string) string {
	if v == cur {
		return cur
	}
	return strings.Clone(v)
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
