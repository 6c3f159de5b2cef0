package simulator

import (
	"math"
	"strconv"

	"github.com/crmstream/crmstream/event"
)

// category is one value of a firmographic attribute: its share of the
// population and its effect on the conversion log-odds.
type category struct {
	name   string
	weight float64
	effect float64
}

func weights(cs []category) []float64 {
	w := make([]float64, len(cs))
	for i, c := range cs {
		w[i] = c.weight
	}
	return w
}

var (
	industries = []category{
		{"software", 3, 0.4}, {"retail", 2, -0.2}, {"finance", 1.5, 0.2}, {"healthcare", 1, 0},
		{"manufacturing", 1.5, -0.1}, {"education", 1, -0.4}, {"media", 1, -0.2}, {"logistics", 1, 0.1},
	}
	companySizes = []category{
		{"1-10", 3, -0.5}, {"11-50", 3, 0}, {"51-200", 2, 0.3}, {"201-1000", 1.2, 0.4}, {"1001+", 0.8, 0.2},
	}
	seniorities = []category{
		{"ic", 3, -0.3}, {"manager", 3, 0}, {"director", 2, 0.3}, {"vp", 1, 0.4}, {"cxo", 1, 0.2},
	}
	// origins mirror the Olist marketing funnel; the effect here also
	// shifts the hidden intent (referrals arrive keener than display ads).
	origins = []category{
		{"organic_search", 3, 0.1}, {"paid_search", 2, 0}, {"social", 1.5, -0.4}, {"referral", 0.6, 0.6},
		{"email", 1, 0}, {"direct_traffic", 1.2, 0.2}, {"display", 0.8, -0.5}, {"unknown", 1, -0.3},
	}
	campaignsByOrigin = map[string][]string{
		"paid_search": {"search-brand", "search-generic"},
		"social":      {"social-launch", "social-retarget"},
		"email":       {"newsletter", "partner-blast"},
		"display":     {"display-retarget"},
	}
	titles = map[string][]string{
		"ic":       {"Analyst", "Engineer", "Specialist"},
		"manager":  {"Sales Manager", "Marketing Manager", "Ops Manager"},
		"director": {"Director of Sales", "Director of Marketing"},
		"vp":       {"VP Sales", "VP Revenue"},
		"cxo":      {"CEO", "COO", "CRO"},
	}
	firstNames = []string{"Ana", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi", "Luca", "Mara", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tariq"}
	lastNames  = []string{"Silva", "Müller", "Smith", "Dubois", "Rossi", "Novak", "Okafor", "Tanaka", "García", "Berg", "Kowalski", "Haddad"}
	companies  = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Soylent", "Cyberdyne", "Wonka"}
	features   = []string{"pipeline", "reports", "email_sync", "calendar", "dashboards", "automation", "api", "forecasting", "territories", "cpq", "ai_assist", "audit_log"}
	plans      = []struct {
		name string
		mrr  float64 // per seat
	}{{"starter", 25}, {"growth", 60}, {"enterprise", 140}}
)

// country is how a lead's country and phone look in the source systems: the
// varied spellings are there to exercise normalization.
type country struct {
	spellings []string
	phones    []string // formats; each # is a random digit
	currency  string
}

var countries = []country{
	{[]string{"US", "us", "USA", "United States", "united states"}, []string{"+1 415-555-0###", "(415) 555-0###", "415.555.0###", "+1 (212) 555 0###"}, "USD"},
	{[]string{"DE", "Germany", "DEU", "de"}, []string{"+49 30 1234###", "030 1234###", "0049 30 1234###"}, "EUR"},
	{[]string{"GB", "United Kingdom", "GBR", "gb"}, []string{"+44 20 7946 0###", "020 7946 0###"}, "GBP"},
	{[]string{"FR", "France", "fr", "FRA"}, []string{"+33 1 23 45 6# ##", "01 23 45 6# ##"}, "EUR"},
	{[]string{"BR", "Brazil", "BRA", "br"}, []string{"+55 11 91234-5###", "(11) 91234-5###"}, "BRL"},
}

var countryWeights = []float64{4, 2, 1.5, 1, 1.5}

// fillDigits replaces each # in format with a random digit.
func fillDigits(r rng, format string) string {
	b := []byte(format)
	for i := range b {
		if b[i] == '#' {
			b[i] = byte('0' + r.IntN(10))
		}
	}
	return string(b)
}

// landingPages holds the world's landing pages and their effect on
// conversion (drawn once per seed).
type landingPage struct {
	id     string
	weight float64
	effect float64
}

func newLandingPages(r rng) []landingPage {
	lps := make([]landingPage, 24)
	for i := range lps {
		lps[i] = landingPage{
			id:     "lp-" + strconv.Itoa(100+i),
			weight: math.Exp(r.NormFloat64()),
			effect: 0.35 * r.NormFloat64(),
		}
	}
	return lps
}

// IsLeadActivity reports whether t counts as a sign of life of a lead
// (what keeps an engaged lead from counting as quiet): any lead event but
// outbound e-mail, bounces and CRM enrichment. These are the alert
// detector's rules (alerts.Config defaults).
func IsLeadActivity(t event.Type) bool {
	switch t {
	case event.EmailSent, event.EmailBounce, event.LeadUpdated:
		return false
	}
	return true
}

// IsLeadEngagement reports whether t makes a lead "engaged": eligible for
// inactivity once it has Config.EngagedEvents of them.
func IsLeadEngagement(t event.Type) bool {
	switch t {
	case event.FormSubmit, event.DemoRequested, event.ContentDownload, event.WebinarAttended,
		event.EmailClick, event.FlowStarted, event.FlowCompleted, event.LeadQualified,
		event.MeetingScheduled, event.MeetingHeld:
		return true
	}
	return false
}

// IsAccountActivity reports whether t is product use by an account (what
// keeps a paying account from counting as inactive).
func IsAccountActivity(t event.Type) bool { return t == event.Login || t == event.FeatureUsed }
