package event

import (
	"strings"
	"sync"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Normalize brings identity attributes to one form so that the same person
// looks the same from every source: e-mail trimmed and lower-cased, phone as
// E.164 when it parses (with the contact's country as the default region),
// country as ISO 3166-1 alpha-2 when it is a code or an English name, source
// lower-cased, other strings trimmed. Values it cannot normalize are kept as
// given (trimmed): an odd phone number is not a reason to lose an event.
// Normalize is idempotent.
func (e *Event) Normalize() {
	e.ID = strings.TrimSpace(e.ID)
	e.LeadID = strings.TrimSpace(e.LeadID)
	e.AccountID = strings.TrimSpace(e.AccountID)
	e.OwnerID = strings.TrimSpace(e.OwnerID)
	e.SessionID = strings.TrimSpace(e.SessionID)
	e.Source = strings.ToLower(strings.TrimSpace(e.Source))
	e.OccurredAt = e.OccurredAt.UTC()
	c := &e.Contact
	if c.IsZero() {
		return
	}
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	c.Name = collapseSpace(c.Name)
	c.Company = strings.TrimSpace(c.Company)
	c.Title = strings.TrimSpace(c.Title)
	c.Country = NormalizeCountry(c.Country)
	c.Phone = NormalizePhone(c.Phone, c.Country)
}

// phoneCache remembers normalized phone numbers: a lead sends the same
// number with every identified event, and parsing one costs tens of
// microseconds (phonenumbers' regular expressions), more than the rest of
// Parse. Bounded, safe for concurrent use.
var phoneCache = func() *lru.Cache[phoneKey, string] {
	c, _ := lru.New[phoneKey, string](1 << 16)
	return c
}()

type phoneKey struct{ phone, region string }

// NormalizePhone returns phone in E.164 (+4930123456) when it parses as a
// possible number, taking region (ISO alpha-2) as the default for numbers
// written without a country code; otherwise the trimmed input.
func NormalizePhone(phone, region string) string {
	phone = strings.TrimSpace(phone)
	if phone == "" || (len(phone) > 1 && phone[0] == '+' && isDigits(phone[1:]) && len(phone) <= 16) {
		return phone // empty, or already E.164
	}
	k := phoneKey{phone, region}
	if v, ok := phoneCache.Get(k); ok {
		return v
	}
	v := normalizePhone(phone, region)
	phoneCache.Add(k, v)
	return v
}

func normalizePhone(phone, region string) string {
	if region == "" || len(region) != 2 {
		region = "ZZ" // unknown region: only numbers with a leading + parse
	}
	num, err := phonenumbers.Parse(phone, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return phone
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// NormalizeCountry maps an ISO 3166-1 alpha-2 or alpha-3 code, a numeric
// code, or an English country name ("Germany", "united states") to its
// alpha-2 code ("DE", "US"). Anything else is returned trimmed.
func NormalizeCountry(country string) string {
	country = strings.TrimSpace(country)
	if country == "" {
		return ""
	}
	if code, ok := lookupLower(countryNames(), country); ok {
		return code
	}
	if len(country) <= 3 {
		if r, err := language.ParseRegion(country); err == nil && r.IsCountry() {
			return r.String()
		}
	}
	return country
}

// collapseSpace is strings.Join(strings.Fields(s), " "): words separated by
// one space, no space around them. It allocates only when that changes s.
func collapseSpace(s string) string {
	tidy := true
	for i := 0; i < len(s) && tidy; i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf: // a Unicode space maybe: the general way
			tidy = false
		case c == ' ':
			tidy = i > 0 && i < len(s)-1 && s[i+1] != ' '
		case c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
			tidy = false
		}
	}
	if tidy {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for f := range strings.FieldsSeq(s) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	return b.String()
}

// lookupLower is m[strings.ToLower(k)] without allocating for short ASCII
// keys (lower-cased on the stack).
func lookupLower(m map[string]string, k string) (string, bool) {
	var buf [64]byte
	if len(k) > len(buf) {
		v, ok := m[strings.ToLower(k)]
		return v, ok
	}
	b := buf[:len(k)]
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= utf8.RuneSelf {
			v, ok := m[strings.ToLower(k)]
			return v, ok
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	v, ok := m[string(b)] // no copy: the compiler looks up the bytes
	return v, ok
}

// countryNames maps lower-cased English names and common aliases to alpha-2
// codes, built once from x/text's CLDR tables rather than a hand-kept list.
var countryNames = sync.OnceValue(func() map[string]string {
	names := display.English.Regions()
	m := make(map[string]string, 300)
	for _, code := range strings.Fields(countryCodes) {
		r := language.MustParseRegion(code)
		if n := names.Name(r); n != "" {
			m[strings.ToLower(n)] = code
		}
	}
	for alias, code := range map[string]string{
		"usa": "US", "u.s.": "US", "u.s.a.": "US", "united states of america": "US", "america": "US",
		"uk": "GB", "u.k.": "GB", "great britain": "GB", "england": "GB", "britain": "GB",
		"deutschland": "DE", "españa": "ES", "brasil": "BR", "méxico": "MX", "holland": "NL",
		"the netherlands": "NL", "south korea": "KR", "korea": "KR", "russia": "RU", "czech republic": "CZ",
		"uae": "AE", "ivory coast": "CI", "türkiye": "TR", "turkey": "TR", "viet nam": "VN",
	} {
		m[alias] = code
	}
	return m
})

// countryCodes are the officially assigned ISO 3166-1 alpha-2 codes.
const countryCodes = `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE
IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC
MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT
ZA ZM ZW`
