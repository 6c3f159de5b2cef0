package scorer

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// RulesVersion is the model_version of scores from the built-in rules.
const RulesVersion = "rules-v1"

// Tier thresholds on the 0–100 score.
const (
	HotAt  = 80
	WarmAt = 50
)

// Tier names a score band: hot ≥ 80, warm ≥ 50, else cold.
func Tier(score uint8) string {
	switch {
	case score >= HotAt:
		return "hot"
	case score >= WarmAt:
		return "warm"
	}
	return "cold"
}

// engagementHalfLife is how fast engagement fades without new activity.
const engagementHalfLife = 7 * windows.Day

// engagementWeight is the engagement each event type adds (negative ones
// take it away). Types not listed add nothing.
var engagementWeight = map[event.Type]float32{
	event.PageView: 1, event.EmailOpen: 1, event.EmailClick: 3, event.AdClick: 2,
	event.FormSubmit: 8, event.ContentDownload: 5, event.WebinarAttended: 8,
	event.DemoRequested: 20, event.FlowStarted: 4, event.FlowStep: 1, event.FlowCompleted: 10,
	event.CallLogged: 5, event.MeetingScheduled: 15, event.MeetingHeld: 20,
	event.LeadQualified: 15, event.DealCreated: 15, event.DealStageChanged: 5,
	event.EmailUnsubscribe: -15, event.EmailBounce: -5, event.DealLost: -30,
}

// LeadRules is the state of the transparent rule-based lead score: fit from
// the contact (who they are) plus engagement with exponential decay (what
// they did lately). 100 bytes; no pointers.
type LeadRules struct {
	Eng       float32                     // engagement, decayed to EngAt
	EngAt     windows.Sec                 // event time Eng refers to
	Days      windows.Hopping[[14]uint16] // events per day, last 14 days
	Sess      windows.Session             // web sessions (30 min gap)
	Pages     windows.Distinct            // distinct pages viewed
	DemoAt    windows.Sec                 // latest demo request
	MeetingAt windows.Sec                 // latest meeting scheduled or held
	PricingAt windows.Sec                 // latest pricing page view
	Fit       [fitN]uint8                 // fit points per criterion
	Converted bool
	Unsub     bool
}

const sessionGap = 30 * windows.Minute

// Fit criteria and their points (sum ≤ 40).
const (
	fitSeniority = iota // title: VP/C-level/head/director 15, manager/lead 8
	fitBusiness         // e-mail on a company domain 10
	fitCompany          // company name known 5
	fitPhone            // phone known 5
	fitSize             // company_size ≥ 50 5
	fitN
)

var fitNames = [fitN]string{"title_seniority", "business_email", "company_known", "phone_known", "company_size"}

var freeMail = []string{"gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com", "icloud.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "web.de", "mail.ru", "yandex.ru", "qq.com", "163.com"}

// Apply updates the rules' state with an event at event time t.
func (l *LeadRules) Apply(ev *event.Event, t windows.Sec) {
	if !ev.Contact.IsZero() {
		l.fit(ev)
	}
	if w, ok := engagementWeight[ev.Type]; ok {
		l.Eng = l.engAt(t) + w
		if t > l.EngAt {
			l.EngAt = t
		}
	}
	l.Days.Add(windows.Day, t, 1)
	switch ev.Type {
	case event.PageView:
		l.Sess.Add(sessionGap, t)
		page := ev.Properties.String("path")
		if page == "" {
			page = ev.Properties.String("url")
		}
		l.Pages.AddString(page)
		if strings.Contains(page, "pricing") {
			l.PricingAt = max(l.PricingAt, t)
		}
	case event.DemoRequested:
		l.DemoAt = max(l.DemoAt, t)
	case event.MeetingScheduled, event.MeetingHeld:
		l.MeetingAt = max(l.MeetingAt, t)
	case event.EmailUnsubscribe:
		l.Unsub = true
	}
	if ev.Type.IsConversion() {
		l.Converted = true
	}
}

// engAt returns engagement decayed to event time t. An out-of-order event
// (t before EngAt) is not decayed "backwards": it adds at full weight.
func (l *LeadRules) engAt(t windows.Sec) float32 {
	if t <= l.EngAt || l.Eng == 0 {
		return l.Eng
	}
	return l.Eng * float32(math.Exp2(-float64(t-l.EngAt)/float64(engagementHalfLife)))
}

func (l *LeadRules) fit(ev *event.Event) {
	c := &ev.Contact
	if c.Title != "" {
		t := strings.ToLower(c.Title)
		switch {
		case containsAny(t, "chief", "ceo", "cto", "cfo", "cmo", "coo", "cio", "vp", "vice president", "head", "director", "founder", "owner", "president"):
			l.Fit[fitSeniority] = 15
		case containsAny(t, "manager", "lead", "principal", "senior"):
			l.Fit[fitSeniority] = 8
		default:
			l.Fit[fitSeniority] = 0
		}
	}
	if _, domain, ok := strings.Cut(c.Email, "@"); ok {
		if slices.Contains(freeMail, domain) {
			l.Fit[fitBusiness] = 0
		} else {
			l.Fit[fitBusiness] = 10
		}
	}
	if c.Company != "" {
		l.Fit[fitCompany] = 5
	}
	if c.Phone != "" {
		l.Fit[fitPhone] = 5
	}
	if n, ok := ev.Properties.Number("company_size"); ok {
		l.Fit[fitSize] = 0
		if n >= 50 {
			l.Fit[fitSize] = 5
		}
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// reason is one contribution to a rule score, in score points.
type reason struct {
	feature      string
	value        float64
	contribution float64
}

// Score returns the lead's score as of event time now, its probability
// (a logistic map of the score, not calibrated) and the reasons as JSON in the
// shape of models.Score.AppendReasonsJSON (contributions in score points)
// appended to dst.
func (l *LeadRules) Score(now windows.Sec, dst []byte) (uint8, float64, []byte) {
	var rs [fitN + 4]reason
	n := 0
	fit := 0
	for i, p := range l.Fit {
		fit += int(p)
		if p > 0 {
			rs[n] = reason{fitNames[i], 1, float64(p)}
			n++
		}
	}
	eng := float64(l.engAt(now))
	engPts := 0.0
	if eng > 0 {
		engPts = 60 * (1 - math.Exp(-eng/25))
	}
	rs[n] = reason{"engagement", round2(eng), round2(engPts)}
	n++
	if d := l.Days.Sum(windows.Day, now, 7); d > 0 {
		rs[n] = reason{"events_7d", float64(d), 0}
		n++
	}
	if l.Unsub {
		rs[n] = reason{"unsubscribed", 1, -10}
		n++
	}
	if l.DemoAt != 0 && now-l.DemoAt < windows.Sec(30*windows.Day) {
		rs[n] = reason{"demo_requested_30d", 1, 0}
		n++
	}
	total := float64(fit) + engPts
	if l.Unsub {
		total -= 10
	}
	if l.Converted {
		total = 100
	}
	total = math.Max(0, math.Min(100, math.Round(total)))
	score := uint8(total)
	prob := 1 / (1 + math.Exp(-(total-60)/10))
	return score, prob, appendReasons(dst, rs[:n], prob)
}

// appendReasons writes reasons as {"positive":[…],"negative":[…],"rule":p,
// "learned":0,"confidence":0}: the three largest positive and negative
// contributions; zero contributions count as positive context.
func appendReasons(dst []byte, rs []reason, prob float64) []byte {
	slices.SortStableFunc(rs, func(a, b reason) int {
		switch {
		case a.contribution > b.contribution:
			return -1
		case a.contribution < b.contribution:
			return 1
		}
		return 0
	})
	dst = append(dst, `{"positive":[`...)
	k := 0
	for _, r := range rs {
		if r.contribution < 0 || k == 3 {
			continue
		}
		dst = appendReason(dst, r, k > 0)
		k++
	}
	dst = append(dst, `],"negative":[`...)
	k = 0
	for i := len(rs) - 1; i >= 0 && k < 3; i-- {
		if rs[i].contribution >= 0 {
			break
		}
		dst = appendReason(dst, rs[i], k > 0)
		k++
	}
	dst = append(dst, `],"rule":`...)
	dst = strconv.AppendFloat(dst, round2(prob), 'f', -1, 64)
	return append(dst, `,"learned":0,"confidence":0}`...)
}

func appendReason(dst []byte, r reason, comma bool) []byte {
	if comma {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"feature":`...)
	dst = strconv.AppendQuote(dst, r.feature)
	dst = append(dst, `,"value":`...)
	dst = strconv.AppendFloat(dst, r.value, 'f', -1, 64)
	dst = append(dst, `,"contribution":`...)
	dst = strconv.AppendFloat(dst, r.contribution, 'f', -1, 64)
	return append(dst, `,"evidence":[]}`...)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// AccountRules is the state of the rule-based churn score of an account:
// activity trend, support load, satisfaction and plan changes.
type AccountRules struct {
	Active      windows.Hopping[[28]uint16] // logins and feature use per day
	Tickets     int16                       // open tickets (opened − resolved)
	NPS         windows.Last                // latest NPS answer
	MRR         windows.Last                // latest MRR
	DowngradeAt windows.Sec
	SeatsCutAt  windows.Sec
	PaidAt      windows.Sec // latest payment (subscription started/renewed/upgraded)
	Churned     bool
	Plan        string
}

// IsAccountEvent reports whether ev feeds the churn rules.
func IsAccountEvent(t event.Type) bool {
	switch t {
	case event.Login, event.FeatureUsed, event.SeatAdded, event.SeatRemoved,
		event.SubscriptionStarted, event.SubscriptionRenewed, event.PlanUpgraded,
		event.PlanDowngraded, event.SubscriptionCancelled, event.TicketOpened,
		event.TicketResolved, event.NPSSubmitted:
		return true
	}
	return false
}

// Apply updates the churn state with an event at t.
func (a *AccountRules) Apply(ev *event.Event, t windows.Sec) {
	switch ev.Type {
	case event.Login, event.FeatureUsed:
		a.Active.Add(windows.Day, t, 1)
	case event.TicketOpened:
		a.Tickets = min(a.Tickets+1, 1000)
	case event.TicketResolved:
		a.Tickets = max(a.Tickets-1, 0)
	case event.NPSSubmitted:
		if v, ok := ev.Properties.Number("score"); ok {
			a.NPS.Add(t, v)
		}
	case event.PlanDowngraded:
		a.DowngradeAt = max(a.DowngradeAt, t)
	case event.SeatRemoved:
		a.SeatsCutAt = max(a.SeatsCutAt, t)
	case event.SubscriptionCancelled:
		a.Churned = true
	case event.SubscriptionStarted, event.SubscriptionRenewed, event.PlanUpgraded:
		a.PaidAt = max(a.PaidAt, t)
		a.Churned = false
	}
	if p := ev.Properties.String("plan"); p != "" && p != a.Plan {
		a.Plan = strings.Clone(p)
	}
	if m, ok := ev.Properties.Number("mrr"); ok {
		a.MRR.Add(t, m)
	}
}

// Score returns the churn risk as of now (0–100, probability = score/100)
// and the reasons JSON appended to dst.
func (a *AccountRules) Score(now windows.Sec, dst []byte) (uint8, float64, []byte) {
	var rs [6]reason
	n := 0
	total := 10.0
	recent := float64(a.Active.Sum(windows.Day, now, 7))
	all := float64(a.Active.Sum(windows.Day, now, 28))
	prior := (all - recent) / 3 // average per 7 days over the 21 before
	if prior > 0 {
		if drop := 1 - recent/prior; drop > 0 {
			pts := 40 * math.Min(drop, 1)
			rs[n] = reason{"activity_drop_7d", round2(drop), round2(pts)}
			n++
			total += pts
		}
	}
	if all > 0 && a.Active.Sum(windows.Day, now, 14) == 0 {
		rs[n] = reason{"inactive_14d", 1, 25}
		n++
		total += 25
	}
	if a.Tickets > 0 {
		pts := math.Min(float64(a.Tickets)*5, 20)
		rs[n] = reason{"open_tickets", float64(a.Tickets), pts}
		n++
		total += pts
	}
	if a.NPS.At != 0 && a.NPS.V <= 6 {
		rs[n] = reason{"nps_detractor", float64(a.NPS.V), 15}
		n++
		total += 15
	}
	if a.DowngradeAt != 0 && now-a.DowngradeAt < windows.Sec(30*windows.Day) {
		rs[n] = reason{"downgraded_30d", 1, 15}
		n++
		total += 15
	}
	if recent > 0 {
		pts := -math.Min(recent, 10)
		rs[n] = reason{"activity_7d", recent, pts}
		n++
		total += pts
	}
	if a.Churned {
		total = 100
	}
	total = math.Max(0, math.Min(100, math.Round(total)))
	return uint8(total), total / 100, appendReasons(dst, rs[:n], total/100)
}
