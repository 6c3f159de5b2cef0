package simulator

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmstream/crmstream/event"
)

const day = 24 * time.Hour

// Flow names and their steps.
var flowSteps = map[string][]string{
	"signup":       {"email", "company", "verify"},
	"onboarding":   {"invite_team", "connect_data", "import"},
	"demo_booking": {"pick_slot", "details"},
	"checkout":     {"cart", "billing", "payment"},
}

// lead simulates one lead day by day. Everything it does before its sales
// process starts depends on its hidden intent and firmographics only, never
// on the drawn outcome: the label leaks into behaviour only as the sales
// process happens (meetings, deal stages, the purchase itself).
type lead struct {
	w   *world
	r   rng
	b   builder
	id  string
	idx int

	created time.Time
	z, fit  float64 // hidden intent; firmographic log-odds
	p       float64 // true conversion probability
	size    int     // index into companySizes
	cc      int     // index into countries
	contact event.Contact

	converted  bool
	convAt     time.Time // planned conversion (deal_won or checkout)
	selfServe  bool
	salesStart time.Time // a sales process (won or lost) runs from here
	salesEnd   time.Time
	lifeEnd    time.Time // no events from here on

	d            int // next day to generate
	emailPhase   int
	webinarPhase int
	emailBad     bool
	unsubscribed bool
	bounced      bool
	demoAsked    bool
	signedUp     bool
	mql          bool
	pageViews    int
	sessions     int
	checkouts    int                    // abandoned browsing checkouts so far
	times        []time.Duration        // scratch: the day's session offsets
	flowFree     map[string]time.Time   // no new flow of that name before this
	episodes     map[string]Abandonment // by the flow_started event id, reported when emitted
	plan         []event.Event          // planned events (sales process), sorted later by the cursor

	engaged    int
	quiet      quiet
	convSeen   bool
	firstConv  time.Time
	truthState LeadTruth
}

func newLead(w *world, idx int, created time.Time) *lead {
	id := w.cfg.IDPrefix + "-lead-" + pad(idx, 6)
	l := &lead{
		w: w, r: newRNG(w.cfg.Seed, uint64(idx)<<1), id: id, idx: idx, created: created,
		flowFree: make(map[string]time.Time, 4), episodes: make(map[string]Abandonment, 2),
	}
	owner := w.rep(l.r)
	l.b = builder{prefix: id + "-", leadID: id, owner: owner}
	l.quiet = quiet{kind: InactiveLead, key: id, owner: owner, period: w.cfg.LeadQuiet}
	r := l.r

	ind := r.pick(weights(industries))
	l.size = r.pick(weights(companySizes))
	sen := r.pick(weights(seniorities))
	org := r.pick(weights(origins))
	lp := w.landingPages[r.pick(w.lpWeights)]
	l.z = r.NormFloat64() + 0.5*origins[org].effect
	l.fit = industries[ind].effect + companySizes[l.size].effect + seniorities[sen].effect + origins[org].effect + lp.effect
	l.p = sigmoid(w.baseLogit + l.fit + w.intentWeight*l.z)
	l.converted = r.bernoulli(l.p)

	// Identity, spelled the way real sources spell it.
	l.cc = r.pick(countryWeights)
	c := countries[l.cc]
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	company := companies[r.IntN(len(companies))] + " " + strconv.Itoa(idx%97)
	domain := strings.ToLower(strings.Fields(company)[0]) + strconv.Itoa(idx%97) + ".example"
	email := first + "." + last + "@" + domain
	switch r.IntN(3) {
	case 0:
		email = strings.ToLower(email)
	case 1:
		email = "  " + strings.ToUpper(email[:1]) + email[1:] + " "
	}
	l.emailBad = r.bernoulli(0.04)
	if l.emailBad {
		email = strings.ToLower(first) + "@" + domain + "x"
	}
	l.contact = event.Contact{
		Email:   email,
		Phone:   fillDigits(r, c.phones[r.IntN(len(c.phones))]),
		Name:    first + "  " + last,
		Company: company,
		Country: c.spellings[r.IntN(len(c.spellings))],
		Title:   titles[seniorities[sen].name][r.IntN(len(titles[seniorities[sen].name]))],
	}
	l.emailPhase = r.IntN(7)
	l.webinarPhase = r.IntN(30)

	horizon := w.cfg.ConversionHorizon
	l.lifeEnd = created.Add(horizon + 30*day)
	if l.converted {
		// Conversion comes 15–88 % of the horizon in; keener leads sooner.
		frac := 0.15 + math.Min(0.73, l.r.gamma(2, 0.1*math.Exp(-0.3*l.z)))
		l.convAt = created.Add(time.Duration(frac * float64(horizon))).Truncate(time.Hour).Add(r.dur(0, time.Hour))
		l.selfServe = r.bernoulli([]float64{0.6, 0.45, 0.2, 0.1, 0.05}[l.size])
		if !l.selfServe {
			cycle := r.dur(7*day, 30*day)
			l.salesStart = maxTime(l.convAt.Add(-cycle), created.Add(5*day))
			l.salesEnd = l.convAt
		}
		l.lifeEnd = l.convAt.Add(2 * day)
	} else if r.bernoulli(0.35 * sigmoid(1.5*l.z-0.5)) {
		// A sales process that ends lost: driven by intent, like the won ones.
		l.salesStart = created.Add(r.dur(5*day, time.Duration(0.75*float64(horizon))))
		l.salesEnd = l.salesStart.Add(r.dur(10*day, 40*day))
	}

	l.truthState = LeadTruth{
		LeadID: id, OwnerID: owner, CreatedAt: created, Intent: l.z, Fit: l.fit, Probability: l.p,
	}
	if end := w.end; !end.IsZero() && created.Add(horizon).After(end) {
		l.truthState.Censored = true
	}

	// The lead record itself, with firmographics and contact.
	props := []event.Property{
		str("company_size", companySizes[l.size].name),
		str("industry", industries[ind].name),
		str("landing_page_id", lp.id),
		str("origin", origins[org].name),
		str("seniority", seniorities[sen].name),
	}
	if cs := campaignsByOrigin[origins[org].name]; len(cs) > 0 {
		props = append(props, str("campaign", cs[r.IntN(len(cs))]))
	}
	e := l.b.add(created, event.LeadCreated, "crm", props...)
	e.Contact = l.contact
	l.first()
	l.planSales()
	if r.bernoulli(0.35) {
		// Enrichment: a later update corrects firmographics and phone.
		t := created.Add(r.dur(day, 25*day))
		ns := min(len(companySizes)-1, l.size+r.IntN(2))
		e := l.planned(t, event.LeadUpdated, "crm", str("company_size", companySizes[ns].name), str("seniority", seniorities[sen].name))
		e.Contact = event.Contact{Phone: fillDigits(r, c.phones[r.IntN(len(c.phones))]), Country: c.spellings[r.IntN(len(c.spellings))]}
	}
	return l
}

// first is the visit that created the lead: a session right after it.
func (l *lead) first() {
	l.session(l.created.Add(l.r.dur(time.Second, 2*time.Minute)), true)
}

// planned adds an event to the plan (emitted on its day).
func (l *lead) planned(t time.Time, typ event.Type, source string, props ...event.Property) *event.Event {
	saved := l.b.buf
	l.b.buf = l.plan
	l.b.add(t, typ, source, props...)
	l.plan = l.b.buf
	l.b.buf = saved
	return &l.plan[len(l.plan)-1]
}

// planSales plans the sales process: meetings, deal stages and the outcome.
func (l *lead) planSales() {
	r := l.r
	if l.selfServe {
		return // planned in day(): a purchase session at convAt
	}
	if l.salesStart.IsZero() {
		return
	}
	dealID := l.id + "-deal"
	amount := round2(float64([]int{3, 8, 25, 80, 250}[l.size]) * 12 * plans[min(l.size/2, 2)].mrr * r.uniform(0.8, 1.3))
	cur := countries[l.cc].currency
	t := l.salesStart
	l.planned(t, event.MeetingScheduled, "crm", str("meeting", "discovery"))
	t = t.Add(r.dur(day, 4*day))
	if !l.converted && !r.bernoulli(0.85) {
		return // no-show
	}
	l.planned(t, event.MeetingHeld, "crm", str("meeting", "discovery"))
	l.planned(t.Add(time.Hour), event.LeadQualified, "crm", str("stage", "sql"))
	l.planned(t.Add(r.dur(2*time.Hour, 30*time.Hour)), event.CallLogged, "crm", str("outcome", "connected"))
	if !l.converted && !r.bernoulli(0.7) {
		return
	}
	t = t.Add(r.dur(2*time.Hour, 2*day))
	l.planned(t, event.DealCreated, "crm", str("deal_id", dealID), str("stage", "discovery"), num("amount", amount), str("currency", cur))
	end := l.salesEnd
	span := end.Sub(t)
	if span < 4*time.Hour {
		end = t.Add(4 * time.Hour)
		span = 4 * time.Hour
	}
	l.planned(t.Add(span/3), event.DealStageChanged, "crm", str("deal_id", dealID), str("stage", "proposal"))
	if l.converted || r.bernoulli(0.5) {
		l.planned(t.Add(2*span/3), event.DealStageChanged, "crm", str("deal_id", dealID), str("stage", "negotiation"))
	}
	if l.converted {
		l.planned(end, event.DealWon, "crm", str("deal_id", dealID), num("amount", amount), str("currency", cur))
		l.planned(end.Add(r.dur(time.Hour, day)), event.SubscriptionStarted, "crm",
			str("plan", plans[min(l.size/2, 2)].name), num("mrr", round2(amount/12)), str("currency", cur))
	} else {
		l.planned(end, event.DealLost, "crm", str("deal_id", dealID), str("reason", []string{"price", "timing", "competitor", "no_decision"}[r.IntN(4)]))
	}
}

// activity is the lead's engagement multiplier on day d: higher with
// intent, decaying as interest fades (slower for keen leads), raised
// while a sales process runs (won or lost alike).
func (l *lead) activity(t time.Time) float64 {
	d := t.Sub(l.created).Hours() / 24
	tau := 12 * math.Exp(0.4*l.z)
	a := math.Exp(0.8*l.z) * (0.08 + math.Exp(-d/tau))
	if !l.salesStart.IsZero() && !t.Before(l.salesStart) && t.Before(l.salesEnd) {
		a *= 1.6
	}
	return a
}

// step generates the events of the next day. It returns the time before
// which every event is generated, and whether the lead has more to do.
func (l *lead) step() (until time.Time, more bool) {
	r := l.r
	start := l.created.Add(time.Duration(l.d) * day)
	end := start.Add(day)
	d := l.d
	l.d++
	if !start.Before(l.lifeEnd) {
		return time.Time{}, false
	}
	// Planned events of the day.
	keep := l.plan[:0]
	for _, e := range l.plan {
		if e.OccurredAt.Before(end) {
			l.b.buf = append(l.b.buf, e)
		} else {
			keep = append(keep, e)
		}
	}
	l.plan = keep
	bought := l.converted && !l.convAt.After(start)
	if bought {
		return end, true // a customer now: no more lead behaviour
	}
	a := l.activity(start.Add(12 * time.Hour))
	l.times = l.times[:0]
	for range r.poisson(0.7 * a) {
		l.times = append(l.times, r.workTime())
	}
	slices.Sort(l.times) // sessions in order: less for the cursor to sort
	for _, off := range l.times {
		t := start.Add(off)
		if d == 0 && t.Before(l.created) {
			t = l.created.Add(r.dur(time.Hour, 6*time.Hour))
		}
		if l.converted && !t.Before(l.convAt) {
			continue
		}
		l.session(t, false)
	}
	if l.converted && l.selfServe && !l.convAt.Before(start) && l.convAt.Before(end) {
		l.purchase(l.convAt)
	}
	// Weekly nurture e-mail.
	if d%7 == l.emailPhase && !l.unsubscribed && !l.bounced && d > 0 {
		l.email(start.Add(10*time.Hour+r.dur(0, time.Hour)), d/7)
	}
	// Monthly webinar.
	if d%30 == l.webinarPhase && r.bernoulli(0.08*math.Exp(0.7*l.z)*(0.3+math.Exp(-float64(d)/30))) {
		l.b.add(start.Add(16*time.Hour), event.WebinarAttended, "web", str("webinar", "monthly-"+strconv.Itoa(d/30)))
	}
	if r.bernoulli(0.02 * a) {
		l.b.add(start.Add(r.workTime()), event.AdClick, "ads", str("campaign", "retargeting"), str("utm_source", "linkedin"))
	}
	return end, true
}

func (l *lead) email(t time.Time, week int) {
	r := l.r
	campaign := "nurture-" + strconv.Itoa(week)
	l.b.add(t, event.EmailSent, "email", str("campaign", campaign))
	if l.emailBad {
		l.b.add(t.Add(r.dur(time.Minute, 10*time.Minute)), event.EmailBounce, "email", str("campaign", campaign))
		l.bounced = true
		return
	}
	fade := float64(week) * 0.05
	if !r.bernoulli(sigmoid(-0.7 + 0.8*l.z - fade)) {
		if r.bernoulli(0.01 * math.Exp(-0.7*l.z)) {
			l.b.add(t.Add(r.dur(time.Hour, 30*time.Hour)), event.EmailUnsubscribe, "email", str("campaign", campaign))
			l.unsubscribed = true
		}
		return
	}
	open := t.Add(r.dur(5*time.Minute, 20*time.Hour))
	l.b.add(open, event.EmailOpen, "email", str("campaign", campaign))
	if r.bernoulli(sigmoid(-1.3 + 0.9*l.z)) {
		link := []string{"pricing", "case-study", "webinar", "product-tour"}[r.IntN(4)]
		click := open.Add(r.dur(10*time.Second, 5*time.Minute))
		l.b.add(click, event.EmailClick, "email", str("campaign", campaign), str("link", link))
		if link == "pricing" || r.bernoulli(0.5) {
			l.session(click.Add(r.dur(time.Second, 30*time.Second)), false)
		}
	} else if r.bernoulli(0.03 * math.Exp(-0.7*l.z)) {
		l.b.add(open.Add(r.dur(time.Minute, time.Hour)), event.EmailUnsubscribe, "email", str("campaign", campaign))
		l.unsubscribed = true
	}
}

var pageTypes = []string{"home", "product", "pricing", "docs", "blog", "careers"}

// session is one web visit: page views, then maybe a download, a form, a
// demo request or a flow, all sharing a session_id.
func (l *lead) session(t time.Time, first bool) time.Time {
	r := l.r
	z := l.z
	l.sessions++
	sid := l.id + "-s" + strconv.Itoa(l.sessions)
	w := []float64{0.15, 0.25 * math.Exp(0.2*z), 0.10 * math.Exp(0.9*z), 0.12 * math.Exp(0.4*z), 0.25 * math.Exp(-0.4*z), 0.04 * math.Exp(-1.0*z)}
	n := 1 + r.poisson(1.8*math.Exp(0.25*z))
	sawPricing := false
	for i := range n {
		pt := pageTypes[r.pick(w)]
		sawPricing = sawPricing || pt == "pricing"
		props := []event.Property{str("page_type", pt), str("url", "https://www.example.com/"+pt+"/"+strconv.Itoa(r.IntN(20)))}
		if i == 0 && first {
			props = append(props, str("referrer", "https://www.google.com/"), str("utm_source", "google"))
		}
		e := l.b.add(t, event.PageView, "web", props...)
		e.SessionID = sid
		l.pageViews++
		t = t.Add(r.dur(15*time.Second, 3*time.Minute))
	}
	mql := func(t time.Time, why string) {
		if !l.mql {
			l.mql = true
			l.b.add(t.Add(r.dur(time.Minute, 30*time.Minute)), event.LeadQualified, "crm", str("stage", "mql"), str("trigger", why))
			if r.bernoulli(0.5) {
				l.b.add(t.Add(r.dur(day, 3*day)), event.CallLogged, "crm", str("outcome", []string{"connected", "voicemail"}[r.IntN(2)]))
			}
		}
	}
	if l.pageViews >= 8 {
		mql(t, "page_views")
	}
	if r.bernoulli(0.05 * math.Exp(0.3*z)) {
		e := l.b.add(t, event.ContentDownload, "web", str("asset", []string{"ebook-pipeline", "report-benchmarks", "template-forecast"}[r.IntN(3)]))
		e.SessionID = sid
		mql(t, "content_download")
		t = t.Add(r.dur(10*time.Second, time.Minute))
	}
	if r.bernoulli(0.04 * math.Exp(0.5*z)) {
		e := l.b.add(t, event.FormSubmit, "web", str("form", []string{"contact", "newsletter", "trial"}[r.IntN(3)]))
		e.SessionID = sid
		mql(t, "form_submit")
		t = t.Add(r.dur(10*time.Second, time.Minute))
	}
	if !l.demoAsked && r.bernoulli(0.025*math.Exp(1.2*z)) {
		l.demoAsked = true
		e := l.b.add(t, event.DemoRequested, "web")
		e.SessionID = sid
		mql(t, "demo_requested")
		t = t.Add(r.dur(5*time.Second, 30*time.Second))
		ok, end := l.flow(t, "demo_booking", sid, r.bernoulli(sigmoid(1.0+0.5*z)), 0)
		if ok {
			l.b.add(end.Add(r.dur(time.Minute, 10*time.Minute)), event.MeetingScheduled, "crm", str("meeting", "demo"))
			held := end.Add(r.dur(day, 5*day))
			if r.bernoulli(0.8) && (!l.converted || held.Before(l.convAt)) {
				l.b.add(held, event.MeetingHeld, "crm", str("meeting", "demo"))
			}
		}
		t = end.Add(r.dur(5*time.Second, time.Minute))
	}
	if !l.signedUp && r.bernoulli(0.03*math.Exp(0.8*z)) {
		ok, end := l.flow(t, "signup", sid, r.bernoulli(sigmoid(0.3+0.8*z)), 0)
		t = end
		if ok {
			l.signedUp = true
			l.flow(end.Add(r.dur(2*time.Minute, 20*time.Minute)), "onboarding", sid, r.bernoulli(sigmoid(-0.2+0.9*z)), 0)
		}
	} else if sawPricing && r.bernoulli(0.04*math.Exp(0.8*z)*math.Pow(0.5, float64(l.checkouts))) {
		// Browsing checkouts before buying are abandoned, fewer each time;
		// the purchase itself is planned separately (purchase).
		l.checkouts++
		l.flow(t, "checkout", sid, false, l.cartValue())
	}
	return t
}

func (l *lead) cartValue() float64 {
	seats := []float64{3, 8, 25, 80, 250}[l.size]
	return round2(seats * plans[min(l.size/2, 2)].mrr * l.r.uniform(0.5, 1.5))
}

// purchase is the self-serve conversion: a pricing visit and a completed
// checkout, then the subscription.
func (l *lead) purchase(t time.Time) {
	r := l.r
	l.sessions++
	sid := l.id + "-s" + strconv.Itoa(l.sessions)
	e := l.b.add(t, event.PageView, "web", str("page_type", "pricing"), str("url", "https://www.example.com/pricing/0"))
	e.SessionID = sid
	t = t.Add(r.dur(20*time.Second, 2*time.Minute))
	if free := l.flowFree["checkout"]; t.Before(free) {
		t = free
	}
	cart := l.cartValue()
	_, end := l.flowAt(t, "checkout", sid, true, cart, false)
	l.b.add(end.Add(r.dur(time.Second, 10*time.Second)), event.SubscriptionStarted, "product",
		str("plan", plans[min(l.size/2, 2)].name), num("mrr", cart), str("currency", countries[l.cc].currency))
}

// flow runs a flow from t: started, steps, and completed when complete is
// true (a few complete only after the timeout, which still counts as
// abandoned). It records the abandonment truth and returns whether the flow
// completed in time and when the lead left it.
func (l *lead) flow(t time.Time, name, sid string, complete bool, cart float64) (bool, time.Time) {
	if t.Before(l.flowFree[name]) {
		return false, t // one open episode per lead and flow
	}
	return l.flowAt(t, name, sid, complete, cart, l.r.bernoulli(0.03))
}

func (l *lead) flowAt(t time.Time, name, sid string, complete bool, cart float64, late bool) (bool, time.Time) {
	r := l.r
	timeout := l.w.cfg.flowTimeout(name)
	steps := flowSteps[name]
	start := t
	props := []event.Property{str("flow", name)}
	if cart > 0 {
		props = append(props, num("cart_value", cart), str("currency", countries[l.cc].currency))
	}
	e := l.b.add(t, event.FlowStarted, "web", props...)
	e.SessionID = sid
	startID := e.ID
	reach := len(steps)
	if !complete {
		reach = r.IntN(len(steps))
	}
	// Steps fit well inside the timeout so completion is unambiguous.
	gapMax := min(4*time.Minute, timeout*7/10/time.Duration(len(steps)+1))
	last := ""
	for i := range reach {
		t = t.Add(r.dur(10*time.Second, gapMax))
		e := l.b.add(t, event.FlowStep, "web", str("flow", name), str("step", steps[i]), num("step_index", float64(i+1)))
		e.SessionID = sid
		last = steps[i]
	}
	ep := Abandonment{LeadID: l.id, OwnerID: l.b.owner, Flow: name, StartedAt: start.Truncate(time.Millisecond), Timeout: timeout, LastStep: last}
	l.flowFree[name] = start.Add(timeout + 2*time.Minute)
	if complete {
		done := t.Add(r.dur(10*time.Second, gapMax))
		if late {
			done = start.Add(timeout + r.dur(2*time.Minute, time.Hour))
			l.flowFree[name] = done.Add(time.Minute)
		}
		props := []event.Property{str("flow", name)}
		if cart > 0 {
			props = append(props, num("cart_value", cart), str("currency", countries[l.cc].currency))
		}
		e := l.b.add(done, event.FlowCompleted, "web", props...)
		e.SessionID = sid
		ep.CompletedAt = done.Truncate(time.Millisecond)
		t = done
	}
	ep.Abandoned = ep.CompletedAt.IsZero() || ep.CompletedAt.Sub(ep.StartedAt) > timeout
	if ep.Abandoned {
		ep.ConditionAt = ep.StartedAt.Add(timeout)
	}
	l.episodes[startID] = ep
	return complete && !late, t
}

// observe sees the lead's events in time order and keeps the inactivity
// truth.
func (l *lead) observe(e *event.Event) {
	out := l.w.truth
	if e.Type == event.FlowStarted {
		if ep, ok := l.episodes[e.ID]; ok {
			out.Abandonment(ep)
			delete(l.episodes, e.ID)
		}
	}
	if l.convSeen {
		return
	}
	if e.Type.IsConversion() {
		l.convSeen = true
		l.firstConv = e.OccurredAt
		l.quiet.disarm(e.OccurredAt, out)
		return
	}
	if IsLeadEngagement(e.Type) && !l.quiet.eligible {
		l.engaged++
		if l.engaged >= l.w.cfg.EngagedEvents {
			l.quiet.arm(e.OccurredAt)
			return
		}
	}
	if IsLeadActivity(e.Type) && l.quiet.eligible {
		l.quiet.activity(e.OccurredAt, out)
	}
}

// finish closes the lead's truth at the stream end (zero: no end).
func (l *lead) finish(end time.Time) {
	if end.IsZero() {
		end = farFuture
	}
	l.quiet.check(end, time.Time{}, l.w.truth)
	l.quiet.eligible = false
	l.w.truth.Lead(l.truth())
}

// truth is the lead's record, with the outcome as it happened.
func (l *lead) truth() LeadTruth {
	t := l.truthState
	if l.converted {
		t.Converted = true
		t.ConvertedAt = l.convAt
		if l.convSeen {
			t.ConvertedAt = l.firstConv
		}
	}
	return t
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	if len(s) >= width {
		return s
	}
	return strings.Repeat("0", width-len(s)) + s
}
