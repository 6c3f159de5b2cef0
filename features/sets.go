package features

import (
	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/windows"
)

// Funnel ranks of the lead's furthest stage (feature funnel_stage).
const (
	StageVisitor     = 1 // any page_view
	StageLead        = 2 // lead_created
	StageMQL         = 3 // lead_qualified stage=mql, form_submit, demo_requested
	StageOpportunity = 4 // deal_created
	StageWon         = 5 // deal_won
)

// LeadFilters are the event filters of the lead features.
func LeadFilters() []Filter {
	return []Filter{
		{Name: "touch", Types: []event.Type{event.PageView, event.EmailOpen, event.EmailClick, event.FormSubmit,
			event.ContentDownload, event.WebinarAttended, event.DemoRequested, event.FlowStarted, event.FlowStep,
			event.FlowCompleted, event.AdClick, event.CallLogged, event.MeetingScheduled, event.MeetingHeld}},
		{Name: "page_view", Types: []event.Type{event.PageView}},
		{Name: "pricing", Types: []event.Type{event.PageView}, Prop: "page_type", Values: []string{"pricing"}},
		{Name: "email_sent", Types: []event.Type{event.EmailSent}},
		{Name: "email_open", Types: []event.Type{event.EmailOpen}},
		{Name: "email_click", Types: []event.Type{event.EmailClick}},
		{Name: "intent", Types: []event.Type{event.FormSubmit, event.DemoRequested, event.ContentDownload, event.WebinarAttended}},
		{Name: "sales", Types: []event.Type{event.CallLogged, event.MeetingScheduled, event.MeetingHeld}},
		{Name: "unreachable", Types: []event.Type{event.EmailUnsubscribe, event.EmailBounce}},
		{Name: "profile", Types: []event.Type{event.LeadCreated, event.LeadUpdated, event.LeadQualified}},
		{Name: "campaign", Types: []event.Type{event.LeadCreated, event.LeadUpdated, event.EmailClick, event.AdClick}},
		{Name: "created", Types: []event.Type{event.LeadCreated}},
		{Name: "mql", Types: []event.Type{event.LeadQualified}, Prop: "stage", Values: []string{"mql", "sql"}},
		{Name: "hand_raise", Types: []event.Type{event.FormSubmit, event.DemoRequested}},
		{Name: "deal", Types: []event.Type{event.DealCreated, event.DealStageChanged}},
		{Name: "won", Types: []event.Type{event.DealWon}},
	}
}

// LeadDefs are the lead features.
func LeadDefs() []Def {
	return []Def{
		{Name: "touches_1h", Agg: Count, Window: Hour, Filter: "touch", Transform: Log1p, Help: "engagement events in the last hour (15-min buckets)"},
		{Name: "touches_24h", Agg: Count, Window: Day, Filter: "touch", Transform: Log1p, Help: "engagement events in the last 24 h (hourly buckets)"},
		{Name: "touches_7d", Agg: Count, Window: Week, Filter: "touch", Transform: Log1p, Help: "engagement events in the last 7 days"},
		{Name: "touches_30d", Agg: Count, Window: Month, Filter: "touch", Transform: Log1p, Help: "engagement events in the last 30 days (5-day buckets)"},
		{Name: "page_views_7d", Agg: Count, Window: Week, Filter: "page_view", Transform: Log1p},
		{Name: "page_views_30d", Agg: Count, Window: Month, Filter: "page_view", Transform: Log1p},
		{Name: "pricing_views_7d", Agg: Count, Window: Week, Filter: "pricing", Transform: Log1p, Help: "pricing-page views in the last 7 days"},
		{Name: "pricing_views_30d", Agg: Count, Window: Month, Filter: "pricing", Transform: Log1p},
		{Name: "emails_sent_30d", Agg: Count, Window: Month, Filter: "email_sent", Transform: Log1p},
		{Name: "email_opens_30d", Agg: Count, Window: Month, Filter: "email_open", Transform: Log1p},
		{Name: "email_clicks_30d", Agg: Count, Window: Month, Filter: "email_click", Transform: Log1p},
		{Name: "intent_30d", Agg: Count, Window: Month, Filter: "intent", Transform: Log1p, Help: "forms, demo requests, downloads, webinars in 30 days"},
		{Name: "sales_touches_30d", Agg: Count, Window: Month, Filter: "sales", Transform: Log1p, Help: "calls and meetings in 30 days"},
		{Name: "engagement", Agg: Decay, HalfLife: 3 * windows.Day, Filter: "touch", Transform: Log1p, Help: "engagement events, each counting half after 3 days"},
		{Name: "intent_decayed", Agg: Decay, HalfLife: 7 * windows.Day, Filter: "intent", Transform: Log1p, Help: "hand-raising events, half-life 7 days"},
		{Name: "pricing_decayed", Agg: Decay, HalfLife: 3 * windows.Day, Filter: "pricing", Transform: Log1p, Help: "pricing-page views, half-life 3 days"},
		{Name: "page_views_total", Agg: Count, Filter: "page_view", Transform: Log1p},
		{Name: "sessions", Agg: Distinct, Filter: "touch", Field: "$session_id", Transform: Log1p, Help: "distinct sessions (estimate)"},
		{Name: "days_since_touch", Agg: SinceLast, Filter: "touch", Transform: Fresh7, Help: "days since the last engagement; −1 = never"},
		{Name: "lead_age_days", Agg: SinceFirst, Filter: "created", Transform: Fresh30, Help: "days since lead_created"},
		{Name: "unreachable", Agg: Count, Filter: "unreachable", Transform: Clip01, Help: "unsubscribes and bounces"},
		{Name: "funnel_stage", Agg: MaxRank, Ranks: []Rank{
			{Filter: "page_view", Rank: StageVisitor}, {Filter: "created", Rank: StageLead},
			{Filter: "mql", Rank: StageMQL}, {Filter: "hand_raise", Rank: StageMQL},
			{Filter: "deal", Rank: StageOpportunity}, {Filter: "won", Rank: StageWon},
		}, Help: "furthest funnel stage: 1 visitor … 5 won"},
		{Name: "origin", Agg: LastStr, Filter: "profile", Field: "origin"},
		{Name: "landing_page_id", Agg: LastStr, Filter: "profile", Field: "landing_page_id"},
		{Name: "campaign", Agg: LastStr, Filter: "campaign", Field: "campaign"},
		{Name: "industry", Agg: LastStr, Filter: "profile", Field: "industry"},
		{Name: "company_size", Agg: LastStr, Filter: "profile", Field: "company_size"},
		{Name: "seniority", Agg: LastStr, Filter: "profile", Field: "seniority"},
		{Name: "country", Agg: LastStr, Filter: "profile", Field: "$country"},
	}
}

// LeadDerived are the lead features computed from others.
func LeadDerived() []Derived {
	return []Derived{
		{Name: "email_ctr_30d", Op: Ratio, A: "email_clicks_30d", B: "emails_sent_30d", Transform: Clip01, Help: "e-mail click-through over 30 days"},
		{Name: "velocity", Op: Ratio, A: "touches_24h", B: "touches_7d", Scale: 7, Transform: Clip10, Help: "24 h engagement vs the 7-day daily average"},
		{Name: "pages_per_session", Op: Ratio, A: "page_views_total", B: "sessions", Transform: Log1p},
	}
}

// AccountFilters are the event filters of the account features.
func AccountFilters() []Filter {
	return []Filter{
		{Name: "login", Types: []event.Type{event.Login}},
		{Name: "feature", Types: []event.Type{event.FeatureUsed}},
		{Name: "seats", Types: []event.Type{event.SeatAdded, event.SeatRemoved, event.SubscriptionStarted, event.PlanUpgraded, event.PlanDowngraded}},
		{Name: "ticket", Types: []event.Type{event.TicketOpened}},
		{Name: "nps", Types: []event.Type{event.NPSSubmitted}},
		{Name: "subscription", Types: []event.Type{event.SubscriptionStarted, event.SubscriptionRenewed, event.PlanUpgraded, event.PlanDowngraded}},
		{Name: "downgrade", Types: []event.Type{event.PlanDowngraded, event.SeatRemoved}},
	}
}

// AccountDefs are the account (churn) features.
func AccountDefs() []Def {
	return []Def{
		{Name: "logins_7d", Agg: Count, Window: Week, Filter: "login", Transform: Log1p},
		{Name: "logins_35d", Agg: Count, Window: Days35, Filter: "login", Transform: Log1p},
		{Name: "days_since_login", Agg: SinceLast, Filter: "login", Transform: Fresh7, Help: "−1 = never"},
		{Name: "active_users", Agg: Distinct, Filter: "login", Field: "$lead_id", Transform: Log1p, Help: "distinct users who logged in (lifetime, estimate)"},
		{Name: "feature_breadth", Agg: Distinct, Filter: "feature", Field: "feature", Transform: Log1p, Help: "distinct features used (lifetime, estimate)"},
		{Name: "feature_uses_7d", Agg: Count, Window: Week, Filter: "feature", Transform: Log1p},
		{Name: "seats", Agg: LastNum, Filter: "seats", Field: "seats", Transform: Log1p},
		{Name: "tickets_30d", Agg: Count, Window: Month, Filter: "ticket", Transform: Log1p},
		{Name: "tickets_total", Agg: Count, Filter: "ticket", Transform: Log1p},
		{Name: "nps", Agg: LastNum, Filter: "nps", Field: "score", Help: "latest NPS answer 0–10 (0 = none)"},
		{Name: "mrr", Agg: LastNum, Filter: "subscription", Field: "mrr", Transform: Log1p},
		{Name: "downgrades", Agg: Count, Filter: "downgrade", Transform: Log1p},
		{Name: "customer_days", Agg: SinceFirst, Filter: "subscription", Transform: Fresh30},
		{Name: "onboarding", Agg: SinceFirst, Filter: "subscription", Transform: Fresh7, Help: "1 for a new customer, ~0 after three weeks: how little of its usage could be seen yet"},
		{Name: "plan", Agg: LastStr, Filter: "subscription", Field: "plan"},
	}
}

// AccountDerived are the account features computed from others.
func AccountDerived() []Derived {
	return []Derived{
		{Name: "logins_prior_28d", Op: Diff, A: "logins_35d", B: "logins_7d", Transform: Log1p},
		{Name: "login_trend", Op: Ratio, A: "logins_7d", B: "logins_prior_28d", Scale: 4, Transform: Clip10, Help: "7-day login rate vs the prior 28 days"},
		{Name: "logins_per_seat_7d", Op: Ratio, A: "logins_7d", B: "seats", Transform: Log1p, Help: "logins in 7 days per seat: usage as a share of what is paid for"},
		{Name: "logins_per_seat_35d", Op: Ratio, A: "logins_35d", B: "seats", Transform: Log1p, Help: "logins in 35 days per seat"},
		{Name: "uses_per_login_7d", Op: Ratio, A: "feature_uses_7d", B: "logins_7d", Transform: Log1p, Help: "feature uses per login in 7 days: depth of use"},
	}
}

// Lead compiles the built-in lead feature set.
func Lead() (*Set, error) {
	return NewSet("lead", "lead_id", LeadFilters(), LeadDefs(), LeadDerived())
}

// Account compiles the built-in account feature set.
func Account() (*Set, error) {
	return NewSet("account", "account_id", AccountFilters(), AccountDefs(), AccountDerived())
}
