package models

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Tier is the bucket reps act on.
type Tier string

// Tiers.
const (
	Hot  Tier = "hot"
	Warm Tier = "warm"
	Cold Tier = "cold"
)

// Tiers holds the score thresholds of the tiers (0–100).
type Tiers struct {
	Hot  uint8 `json:"hot"`  // score ≥ Hot is hot; default 80
	Warm uint8 `json:"warm"` // score ≥ Warm is warm; default 50
}

func (t Tiers) withDefaults() Tiers {
	if t.Hot == 0 {
		t.Hot = 80
	}
	if t.Warm == 0 {
		t.Warm = 50
	}
	return t
}

// Of returns the tier of a score.
func (t Tiers) Of(score uint8) Tier {
	switch {
	case score >= t.Hot:
		return Hot
	case score >= t.Warm:
		return Warm
	}
	return Cold
}

// MaxReasons is the number of positive and of negative reasons a Score
// carries.
const MaxReasons = 3

// MaxEvidence is the number of event ids a Reason cites.
const MaxEvidence = 2

// Reason is one feature's contribution to a score.
type Reason struct {
	Feature      string  // feature name, e.g. "pricing_views_7d" or "origin"
	Value        float64 // raw numeric value (numeric features)
	Category     string  // the value of a categorical feature ("paid_search"); "" for numeric ones
	Contribution float64 // log-odds added to the score's logit (positive raises it)
	// Evidence holds the ids of the events behind the value (newest first);
	// NEvidence of them are set.
	Evidence  [MaxEvidence]string
	NEvidence int
}

// Score is a model's answer for one vector. It is a plain value with fixed
// arrays, so scoring does not allocate; its strings are shared with the
// Vector and the model and never mutated.
type Score struct {
	Probability float64 // calibrated probability of the label
	Score       uint8   // round(100·Probability)
	Tier        Tier
	Version     string  // model version that produced it
	Confidence  float64 // weight of the learned model in the blend, 0–1
	Rule        float64 // probability of the transparent cold-start rule
	Learned     float64 // calibrated probability of the learned model alone
	Logit       float64 // log-odds of Probability

	Positive  [MaxReasons]Reason // strongest contributions raising the score, largest first
	NPositive int
	Negative  [MaxReasons]Reason // strongest contributions lowering it, most negative first
	NNegative int
}

// Reasons returns the positive then the negative reasons (a view into s).
func (s *Score) Reasons() ([]Reason, []Reason) {
	return s.Positive[:s.NPositive], s.Negative[:s.NNegative]
}

// AppendReasonsJSON appends the reasons as the JSON stored in the reasons
// column of crm.lead_scores / crm.churn_scores:
//
//	{"positive":[{"feature":"pricing_views_7d","value":3,"contribution":0.71,"evidence":["ev-9"]}],
//	 "negative":[...],"rule":0.12,"learned":0.3,"confidence":0.9}
func (s *Score) AppendReasonsJSON(dst []byte) []byte {
	dst = append(dst, `{"positive":`...)
	dst = appendReasons(dst, s.Positive[:s.NPositive])
	dst = append(dst, `,"negative":`...)
	dst = appendReasons(dst, s.Negative[:s.NNegative])
	dst = append(dst, `,"rule":`...)
	dst = appendFloat(dst, s.Rule)
	dst = append(dst, `,"learned":`...)
	dst = appendFloat(dst, s.Learned)
	dst = append(dst, `,"confidence":`...)
	dst = appendFloat(dst, s.Confidence)
	return append(dst, '}')
}

func appendReasons(dst []byte, rs []Reason) []byte {
	dst = append(dst, '[')
	for i := range rs {
		r := &rs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"feature":`...)
		dst = appendString(dst, r.Feature)
		if r.Category != "" {
			dst = append(dst, `,"category":`...)
			dst = appendString(dst, r.Category)
		} else {
			dst = append(dst, `,"value":`...)
			dst = appendFloat(dst, r.Value)
		}
		dst = append(dst, `,"contribution":`...)
		dst = appendFloat(dst, r.Contribution)
		dst = append(dst, `,"evidence":[`...)
		for j := 0; j < r.NEvidence; j++ {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, r.Evidence[j])
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, ']')
}

func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	k := math.Round(f * 1e4)
	if math.Abs(k) < 1e10 {
		return appendTenThousandths(dst, k)
	}
	return strconv.AppendFloat(dst, k/1e4, 'g', -1, 64)
}

// appendTenThousandths appends k/1e4 (|k| < 1e10, an integer) as
// strconv.AppendFloat(dst, k/1e4, 'g', -1, 64) does, at a fraction of its
// cost: below 1e6 that format is plain decimal (no exponent), and the
// shortest decimal that reads back as the double nearest k/1e4 is k/1e4
// itself with its trailing zeros dropped (doubles there are far closer
// together than 1e-4, so no shorter decimal maps to the same one).
func appendTenThousandths(dst []byte, k float64) []byte {
	if k < 0 || k == 0 && math.Signbit(k) {
		dst = append(dst, '-') // k/1e4 of −0 is −0, which 'g' writes "-0"
		k = -k
	}
	n := uint64(k)
	ip, frac := n/10000, n%10000
	if ip < 10 {
		dst = append(dst, byte('0'+ip))
	} else {
		dst = strconv.AppendUint(dst, ip, 10)
	}
	// four decimals without their trailing zeros, appended byte by byte
	d1, d2, d3, d4 := byte('0'+frac/1000), byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10)
	switch {
	case frac == 0:
		return dst
	case d4 != '0':
		return append(dst, '.', d1, d2, d3, d4)
	case d3 != '0':
		return append(dst, '.', d1, d2, d3)
	case d2 != '0':
		return append(dst, '.', d1, d2)
	}
	return append(dst, '.', d1)
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	// plain ASCII (ids, feature names, most values) is copied as is; eight
	// bytes at a time, then byte by byte
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainWord(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))) {
			break
		}
	}
	for ; i < len(s); i++ {
		if !plainJSON[s[i]] {
			return appendStringEscaped(append(append(dst, '"'), s[:i]...), s[i:])
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// plainWord reports whether none of the 8 bytes of x needs escaping or is
// outside ASCII (each subtraction sets a byte's high bit where its test
// holds; a borrow can only flag bytes above a byte already flagged). Where
// it says false, the byte loop decides.
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	ctl := x - 0x20*ones                      // high bit set where a byte < 0x20
	quote := (x ^ '"'*ones) - ones            // where a byte is '"'
	backslash := (x ^ '\\'*ones) - ones       // where a byte is '\\'
	return (ctl|quote|backslash|x)&highs == 0 // x: bytes ≥ 0x80
}

// plainJSON marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendStringEscaped appends the rest s of a JSON string and its closing
// quote, escaping quotes, backslashes and control characters and replacing
// invalid UTF-8 with U+FFFD.
func appendStringEscaped(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
		default:
			dst = utf8.AppendRune(dst, r) // invalid bytes became U+FFFD
		}
	}
	return append(dst, '"')
}
