package alerts

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// State is the detector's memory of one key (a lead, else an account). The
// scorer keeps one per key inside its per-key window state and checkpoints it
// with AppendBinary; the zero value is an empty, ready state.
//
// A State is owned by one partition worker: not safe for concurrent use.
// All times are Unix milliseconds of event time unless named "wall".
//
// The layout is sized for a million keys per process: what every lead uses
// is inline (192 bytes), what few keys need — flow attempts, account
// payment and inactivity tracking, churn, cooldowns — lives in a stateExtra
// allocated on first use. The lead id is the key itself (a flag), and the
// event ids of conversions and cancellations, which no alert shows, are not
// kept.
type State struct {
	key, account, owner string

	convertedAt int64 // earliest conversion (deal_won, subscription_started of a lead); 0 none
	firstScore  int64 // event time of the first lead score: the rise rule needs a baseline
	score       float64
	timerAt     int64 // the timer requested and not yet fired; 0 none

	leadQuiet quiet // engaged lead gone quiet

	rise []scorePoint // scores within HotRiseWindow, ascending: front is the minimum
	x    *stateExtra  // nil until a key needs it

	engaged  uint32 // engagement events seen, saturating
	isLead   bool   // the key is a lead id (its events carry lead_id = key)
	hasScore bool
	hotHigh  bool // a hot_lead fired and the score has not fallen below the rearm level
}

// stateExtra is the part of a State that most keys never need.
type stateExtra struct {
	paidAt    int64 // newest payment event (subscription started/renewed, plan change)
	cancelAt  int64 // newest subscription_cancelled
	acctQuiet quiet // paying account without login / feature use
	flows     []flow
	lastFire  [numKinds]int64 // condition time of the newest alert per kind (cooldown)
	churn     float64
	churnHigh bool // a churn_risk fired (or was suppressed) and the probability has not rearmed
}

// noExtra is what a State without stateExtra reads; never written.
var noExtra stateExtra

// ext returns the extra part, allocating it for a write.
func (s *State) ext() *stateExtra {
	if s.x == nil {
		s.x = new(stateExtra)
	}
	return s.x
}

// rx returns the extra part for reading; do not write through it.
func (s *State) rx() *stateExtra {
	if s.x == nil {
		return &noExtra
	}
	return s.x
}

// lead returns the lead id of the key, "" for an account.
func (s *State) lead() string {
	if s.isLead {
		return s.key
	}
	return ""
}

// Account returns the newest account id seen on the key's events.
func (s *State) Account() string { return s.account }

// Owner returns the newest owner id seen on the key's events.
func (s *State) Owner() string { return s.owner }

// SetParties records the account and owner of the key's newest event, like
// OnEvent does. A caller that interns these strings (one copy per partition,
// not per key) sets them first: OnEvent keeps an equal value it already has.
func (s *State) SetParties(account, owner string) {
	if account != "" && account != s.account {
		s.account = account
	}
	if owner != "" && owner != s.owner {
		s.owner = owner
	}
}

const numKinds = 5

func kindIndex(k Kind) int {
	switch k {
	case Abandonment:
		return 0
	case Inactivity:
		return 1
	case HotLead:
		return 2
	case ChurnRisk:
		return 3
	}
	return 4
}

// quiet tracks one inactivity rule: the last activity, and the episode that
// fired from it while it can still be retracted.
type quiet struct {
	base      int64 // newest activity (or start of payment for accounts)
	baseID    string
	firedBase int64 // base of the newest fired (or suppressed) episode; never refires for it
	// Retractable fired episode: live until firedDeadline + RetractWindow.
	live          bool
	firedDeadline int64
	firedBaseID   string
	firedWall     int64
}

type flowStatus uint8

const (
	flowOpen   flowStatus = iota // started, not completed, timeout not reached
	flowFired                    // alert fired; retractable until deadline + RetractWindow
	flowDone                     // completed or suppressed; kept to absorb late and duplicate events
	flowOrphan                   // a completion that arrived before its start
)

// flow is one attempt at one flow by one key.
type flow struct {
	name      string
	status    flowStatus
	start     int64 // first flow_started of the attempt (completion time for orphans)
	startID   string
	deadline  int64 // newest start + timeout: the attempt is abandoned after it
	step      string
	stepAt    int64
	stepID    string
	cart      float64
	currency  string
	firedWall int64
}

type scorePoint struct {
	at    int64
	score float64
}

// Key returns the key the state belongs to ("" before its first event).
func (s *State) Key() string { return s.key }

// Size estimates the bytes s holds, for state-size metrics.
func (s *State) Size() int {
	n := int(unsafe.Sizeof(*s)) + len(s.key) + len(s.account) + len(s.owner) +
		len(s.leadQuiet.baseID) + len(s.leadQuiet.firedBaseID) + 16*cap(s.rise)
	if x := s.x; x != nil {
		n += int(unsafe.Sizeof(*x)) + len(x.acctQuiet.baseID) + len(x.acctQuiet.firedBaseID)
		for i := range x.flows {
			f := &x.flows[i]
			n += int(unsafe.Sizeof(*f)) + len(f.name) + len(f.startID) + len(f.step) + len(f.stepID) + len(f.currency)
		}
	}
	return n
}

// stateVersion is the first byte of every snapshot; bump it when the layout
// changes and keep decoding the old one.
const stateVersion = 2 // 2: firstScore

// AppendBinary appends a compact snapshot of s to dst (varints and
// length-prefixed strings, about 100–300 bytes for a typical key).
//
// The layout is version 2's; the conversion and cancellation event ids it
// has room for are written empty (no alert uses them).
func (s *State) AppendBinary(dst []byte) ([]byte, error) {
	x := s.rx()
	w := writer{b: dst}
	w.byte(stateVersion)
	w.str(s.key)
	w.str(s.lead())
	w.str(s.account)
	w.str(s.owner)
	w.int(0) // newest event time (versions ≤ 2 kept it; nothing reads it)
	w.int(s.convertedAt)
	w.str("") // conversion event id
	w.int(x.paidAt)
	w.int(x.cancelAt)
	w.str("") // cancellation event id
	w.uint(uint64(s.engaged))
	for _, q := range []*quiet{&s.leadQuiet, &x.acctQuiet} {
		w.int(q.base)
		w.str(q.baseID)
		w.int(q.firedBase)
		w.bool(q.live)
		w.int(q.firedDeadline)
		w.str(q.firedBaseID)
		w.int(q.firedWall)
	}
	w.uint(uint64(len(x.flows)))
	for i := range x.flows {
		f := &x.flows[i]
		w.str(f.name)
		w.byte(byte(f.status))
		w.int(f.start)
		w.str(f.startID)
		w.int(f.deadline)
		w.str(f.step)
		w.int(f.stepAt)
		w.str(f.stepID)
		w.float(f.cart)
		w.str(f.currency)
		w.int(f.firedWall)
	}
	for _, t := range x.lastFire {
		w.int(t)
	}
	w.float(s.score)
	w.bool(s.hasScore)
	w.bool(s.hotHigh)
	w.uint(uint64(len(s.rise)))
	for _, p := range s.rise {
		w.int(p.at)
		w.float(p.score)
	}
	w.float(x.churn)
	w.bool(x.churnHigh)
	w.int(s.timerAt)
	w.int(s.firstScore)
	return w.b, nil
}

// MarshalBinary returns the snapshot of s.
func (s *State) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// ErrCorruptState is returned (wrapped) by UnmarshalBinary for a snapshot it
// cannot read.
var ErrCorruptState = errors.New("alerts: corrupt state snapshot")

// UnmarshalBinary replaces s with the snapshot in b. It never panics: a
// truncated or garbled snapshot returns an error wrapping ErrCorruptState
// and leaves s unchanged.
func (s *State) UnmarshalBinary(b []byte) error {
	r := reader{b: b}
	v := r.byte()
	if v < 1 || v > stateVersion {
		if r.err != nil {
			return r.fail()
		}
		return fmt.Errorf("%w: version %d", ErrCorruptState, v)
	}
	var n State
	var x stateExtra
	n.key = r.str()
	lead := r.str()
	n.isLead = lead != ""
	if n.isLead && n.key == "" {
		n.key = lead
	}
	n.account = r.str()
	n.owner = r.str()
	_ = r.int() // newest event time
	n.convertedAt = r.int()
	_ = r.str() // conversion event id (versions ≤ 2 kept it)
	x.paidAt = r.int()
	x.cancelAt = r.int()
	_ = r.str() // cancellation event id
	n.engaged = uint32(min(r.uint(), math.MaxUint32))
	for _, q := range []*quiet{&n.leadQuiet, &x.acctQuiet} {
		q.base = r.int()
		q.baseID = r.str()
		q.firedBase = r.int()
		q.live = r.bool()
		q.firedDeadline = r.int()
		q.firedBaseID = r.str()
		q.firedWall = r.int()
	}
	nf := r.count(12)
	if nf > 0 {
		x.flows = make([]flow, nf)
	}
	for i := range x.flows {
		f := &x.flows[i]
		f.name = r.str()
		f.status = flowStatus(r.byte())
		if f.status > flowOrphan {
			r.setErr("flow status")
		}
		f.start = r.int()
		f.startID = r.str()
		f.deadline = r.int()
		f.step = r.str()
		f.stepAt = r.int()
		f.stepID = r.str()
		f.cart = r.float()
		f.currency = r.str()
		f.firedWall = r.int()
	}
	for i := range x.lastFire {
		x.lastFire[i] = r.int()
	}
	n.score = r.float()
	n.hasScore = r.bool()
	n.hotHigh = r.bool()
	nr := r.count(2)
	if nr > 0 {
		n.rise = make([]scorePoint, nr)
	}
	for i := range n.rise {
		n.rise[i] = scorePoint{at: r.int(), score: r.float()}
	}
	x.churn = r.float()
	x.churnHigh = r.bool()
	n.timerAt = r.int()
	if v >= 2 {
		n.firstScore = r.int()
	}
	if r.err == nil && len(r.b) != 0 {
		r.setErr("trailing bytes")
	}
	if r.err != nil {
		return r.fail()
	}
	slices.SortStableFunc(x.flows, func(a, b flow) int { return cmp.Compare(a.start, b.start) })
	if !x.empty() {
		n.x = &x
	}
	*s = n
	return nil
}

// empty reports whether x holds nothing (a State need not allocate it).
func (x *stateExtra) empty() bool {
	return x.paidAt == 0 && x.cancelAt == 0 && x.acctQuiet == (quiet{}) && len(x.flows) == 0 &&
		x.lastFire == [numKinds]int64{} && x.churn == 0 && !x.churnHigh
}

type writer struct{ b []byte }

func (w *writer) byte(v byte)     { w.b = append(w.b, v) }
func (w *writer) uint(v uint64)   { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) int(v int64)     { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) float(v float64) { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }
func (w *writer) str(v string) {
	w.uint(uint64(len(v)))
	w.b = append(w.b, v...)
}
func (w *writer) bool(v bool) {
	if v {
		w.byte(1)
	} else {
		w.byte(0)
	}
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) setErr(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorruptState, what)
	}
}

func (r *reader) fail() error {
	if r.err == nil {
		r.setErr("truncated")
	}
	return r.err
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.setErr("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.setErr("bool")
	return false
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.setErr("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.setErr("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) float() float64 {
	if r.err != nil || len(r.b) < 8 {
		r.setErr("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *reader) str() string {
	n := r.uint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.setErr("string length")
		return ""
	}
	v := string(r.b[:n])
	r.b = r.b[n:]
	return v
}

// count reads a slice length, rejecting lengths the remaining bytes cannot
// hold (each element is at least minSize bytes), so garbage cannot make it
// allocate gigabytes.
func (r *reader) count(minSize int) int {
	n := r.uint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/minSize) {
		r.setErr("slice length")
		return 0
	}
	return int(n)
}
