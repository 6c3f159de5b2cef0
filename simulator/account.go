package simulator

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/crmstream/crmstream/event"
)

// account simulates one paying customer day by day. Its hidden health
// drifts (mean-reverting) and now and then takes a lasting shock (the
// champion leaves, a competitor arrives); usage, tickets, NPS, seats and
// plan changes follow the health, and at each monthly renewal it cancels
// with a probability set by the health then.
type account struct {
	w       *world
	r       rng
	b       builder
	id      string
	started time.Time

	h0, h     float64 // long-run and current health
	seats     int
	plan      int
	cc        int
	renewal   time.Time // next renewal
	churned   bool
	churnedAt time.Time
	survive   float64 // probability of having survived every renewal so far
	d         int
	nextRisk  time.Time

	quiet quiet
	paid  bool
	h00   float64
	times []time.Duration // scratch: the day's login offsets
}

// renewalLogit is the log-odds of cancelling at a renewal, given health.
func renewalLogit(h float64) float64 { return -3.6 - 1.5*h }

func newAccount(w *world, idx int, started time.Time, existing bool) *account {
	id := w.cfg.IDPrefix + "-acct-" + pad(idx, 5)
	a := &account{w: w, r: newRNG(w.cfg.Seed, uint64(idx)<<1|1), id: id, started: started, survive: 1}
	owner := w.rep(a.r)
	a.b = builder{prefix: id + "-", account: id, owner: owner}
	a.quiet = quiet{kind: InactiveAccount, key: id, owner: owner, period: w.cfg.AccountQuiet}
	r := a.r
	a.h0 = r.NormFloat64()
	a.h00 = a.h0
	a.h = a.h0 + 0.3*r.NormFloat64()
	a.plan = r.pick([]float64{5, 3, 1})
	a.seats = 1 + int(r.gamma(1.2, []float64{3, 10, 30}[a.plan]))
	a.cc = r.pick(countryWeights)
	a.renewal = started.Add(30 * day)
	if existing {
		a.renewal = started.Add(r.dur(day, 30*day)) // mid-cycle when the stream starts
	}
	a.nextRisk = started
	a.b.add(started, event.SubscriptionStarted, "billing", a.subProps()...)
	return a
}

func (a *account) mrr() float64 { return round2(float64(a.seats) * plans[a.plan].mrr) }

func (a *account) subProps() []event.Property {
	return []event.Property{
		str("currency", countries[a.cc].currency), num("mrr", a.mrr()),
		str("plan", plans[a.plan].name), num("seats", float64(a.seats)),
	}
}

// step generates one day.
func (a *account) step() (time.Time, bool) {
	r := a.r
	start := a.started.Add(time.Duration(a.d) * day)
	end := start.Add(day)
	a.d++
	n0 := len(a.b.buf) // this day's events start here
	if a.churned {
		return time.Time{}, false
	}
	if w := a.w.end; !w.IsZero() && !start.Before(w) {
		return time.Time{}, false
	}
	// Health: mean reversion, noise, rare lasting shocks.
	a.h += 0.08*(a.h0-a.h) + 0.15*r.NormFloat64()
	if r.bernoulli(0.002) {
		a.h0 -= r.uniform(0.8, 1.8)
	} else if r.bernoulli(0.001) {
		a.h0 += r.uniform(0.5, 1.0)
	}
	h := a.h
	if g := a.w.cfg.RiskGrid; g > 0 {
		for a.nextRisk.Before(end) {
			if !a.nextRisk.Before(start) {
				a.w.truth.ChurnRisk(ChurnRisk{AccountID: a.id, At: a.nextRisk, Probability: sigmoid(renewalLogit(h))})
			}
			a.nextRisk = a.nextRisk.Add(g)
		}
	}

	// Product use: active users log in on weekdays, then use features.
	wd := start.Add(12 * time.Hour).Weekday()
	dayFactor := 1.0
	if wd == time.Saturday || wd == time.Sunday {
		dayFactor = 0.15
	}
	active := float64(a.seats) * sigmoid(0.3+1.3*h)
	breadth := max(2, min(len(features), int(4+3*h+r.uniform(0, 3))))
	// Draw the day's login times first and sort them, so the day comes out
	// nearly in order and the cursor's sort has little to move.
	a.times = a.times[:0]
	for range r.poisson(0.9 * active * dayFactor) {
		a.times = append(a.times, r.workTime())
	}
	slices.Sort(a.times)
	for _, off := range a.times {
		t := start.Add(off)
		user := "u" + strconv.Itoa(r.IntN(a.seats)+1)
		a.b.add(t, event.Login, "product", str("user", user))
		for range r.poisson(1.2 * math.Exp(0.3*h)) {
			t = t.Add(r.dur(20*time.Second, 15*time.Minute))
			a.b.add(t, event.FeatureUsed, "product", str("feature", features[r.IntN(breadth)]), str("user", user))
		}
	}
	// Support.
	for range r.poisson(0.04 * math.Sqrt(float64(a.seats)) * math.Exp(-0.7*h)) {
		t := start.Add(r.workTime())
		prio := "normal"
		if r.bernoulli(sigmoid(-1 - h)) {
			prio = "high"
		}
		tid := a.id + "-t" + strconv.Itoa(a.b.seq)
		a.b.add(t, event.TicketOpened, "support", str("ticket_id", tid), str("priority", prio))
		// Resolved later; the cursor holds it back until its time comes.
		a.b.add(t.Add(r.dur(time.Hour, 4*day)), event.TicketResolved, "support", str("ticket_id", tid))
	}
	if a.d%91 == 45 && r.bernoulli(0.5) {
		score := math.Round(7 + 1.8*h + 1.3*r.NormFloat64())
		a.b.add(start.Add(r.workTime()), event.NPSSubmitted, "support", num("score", math.Max(0, math.Min(10, score))))
	}
	// Seats and plan follow health.
	if r.bernoulli(0.02) {
		switch {
		case h > 0.5 && r.bernoulli(0.7), h >= -0.3 && h <= 0.5 && r.bernoulli(0.5):
			a.seats++
			a.b.add(start.Add(r.workTime()), event.SeatAdded, "product", num("seats", float64(a.seats)))
		case a.seats > 1:
			a.seats--
			a.b.add(start.Add(r.workTime()), event.SeatRemoved, "product", num("seats", float64(a.seats)))
		}
	}
	if r.bernoulli(0.004) {
		if h > 0.8 && a.plan < 2 {
			a.plan++
			a.b.add(start.Add(r.workTime()), event.PlanUpgraded, "billing", a.subProps()...)
		} else if h < -0.5 && a.plan > 0 {
			a.plan--
			a.b.add(start.Add(r.workTime()), event.PlanDowngraded, "billing", a.subProps()...)
		}
	}
	// Renewal: cancel or renew.
	if a.renewal.Before(end) {
		t := a.renewal
		p := sigmoid(renewalLogit(h))
		if r.bernoulli(p) {
			a.b.add(t, event.SubscriptionCancelled, "billing", append(a.subProps(), str("reason", []string{"price", "not_using", "competitor", "budget"}[r.IntN(4)]))...)
			a.churned = true
			a.churnedAt = t.Truncate(time.Millisecond)
			a.survive *= 1 - p
			// Nothing of today after the cancellation: no logins, no plan
			// change (a payment event would make the account paying again).
			kept := a.b.buf[:n0]
			for _, e := range a.b.buf[n0:] {
				if !e.OccurredAt.After(a.churnedAt) {
					kept = append(kept, e)
				}
			}
			clear(a.b.buf[len(kept):])
			a.b.buf = kept
			return end, true // drain what is left, then stop
		}
		a.survive *= 1 - p
		a.b.add(t, event.SubscriptionRenewed, "billing", a.subProps()...)
		a.renewal = a.renewal.Add(30 * day)
	}
	return end, true
}

// observe keeps the inactivity truth from the account's events in time
// order.
func (a *account) observe(e *event.Event) {
	out := a.w.truth
	switch {
	case e.Type == event.SubscriptionStarted && !a.paid:
		a.paid = true
		a.quiet.arm(e.OccurredAt)
	case e.Type == event.SubscriptionCancelled:
		a.quiet.disarm(e.OccurredAt, out)
	case IsAccountActivity(e.Type) && a.quiet.eligible:
		a.quiet.activity(e.OccurredAt, out)
	}
}

func (a *account) finish(end time.Time) {
	endedAt := end
	churned, churnedAt := a.churned, a.churnedAt
	if churned && !end.IsZero() && !churnedAt.Before(end) {
		churned, churnedAt = false, time.Time{} // after the stream: not seen
	}
	if churned {
		endedAt = churnedAt
	}
	if end.IsZero() {
		end = farFuture
	}
	a.quiet.check(end, time.Time{}, a.w.truth)
	a.quiet.eligible = false
	a.w.truth.Account(AccountTruth{
		AccountID: a.id, OwnerID: a.b.owner, StartedAt: a.started.Truncate(time.Millisecond), Health: a.h00,
		Probability: 1 - a.survive, Churned: churned, ChurnedAt: churnedAt, EndedAt: endedAt,
	})
}
