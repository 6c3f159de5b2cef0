package alerts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// State is the detector's memory of one key (a lead, else an account). The
// scorer keeps one per key inside its per-key window state and checkpoints it
// with AppendBinary; the zero value is an empty, ready state.
//
// A State is owned by one partition worker: not safe for concurrent use.
// All times are Unix milliseconds of event time unless named "wall".
type State struct {
	key, lead, account, owner string

	seen int64 // newest event time seen

	convertedAt int64 // earliest conversion (deal_won, subscription_started of a lead); 0 none
	convertedID string
	paidAt      int64 // newest payment event (subscription started/renewed, plan change)
	cancelAt    int64 // newest subscription_cancelled
	cancelID    string
	engaged     uint32 // engagement events seen, saturating

	leadQuiet quiet // engaged lead gone quiet
	acctQuiet quiet // paying account without login / feature use

	flows []flow

	lastFire [numKinds]int64 // condition time of the newest alert per kind (cooldown)

	score      float64 // newest lead score, 0–100
	hasScore   bool
	firstScore int64        // event time of the first lead score: the rise rule needs a baseline
	hotHigh    bool         // a hot_lead fired and the score has not fallen below the rearm level
	rise       []scorePoint // scores within HotRiseWindow, ascending: front is the minimum
	churn      float64
	churnHigh  bool // a churn_risk fired (or was suppressed) and the probability has not rearmed

	timerAt int64 // the timer requested and not yet fired; 0 none
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
	n := 200 + len(s.key) + len(s.lead) + len(s.account) + len(s.owner) + len(s.convertedID) +
		len(s.cancelID) + len(s.leadQuiet.baseID) + len(s.acctQuiet.baseID) + 16*len(s.rise)
	for i := range s.flows {
		f := &s.flows[i]
		n += 80 + len(f.name) + len(f.startID) + len(f.step) + len(f.stepID) + len(f.currency)
	}
	return n
}

// stateVersion is the first byte of every snapshot; bump it when the layout
// changes and keep decoding the old one.
const stateVersion = 2 // 2: firstScore

// AppendBinary appends a compact snapshot of s to dst (varints and
// length-prefixed strings, about 100–300 bytes for a typical key).
func (s *State) AppendBinary(dst []byte) ([]byte, error) {
	w := writer{b: dst}
	w.byte(stateVersion)
	w.str(s.key)
	w.str(s.lead)
	w.str(s.account)
	w.str(s.owner)
	w.int(s.seen)
	w.int(s.convertedAt)
	w.str(s.convertedID)
	w.int(s.paidAt)
	w.int(s.cancelAt)
	w.str(s.cancelID)
	w.uint(uint64(s.engaged))
	for _, q := range []*quiet{&s.leadQuiet, &s.acctQuiet} {
		w.int(q.base)
		w.str(q.baseID)
		w.int(q.firedBase)
		w.bool(q.live)
		w.int(q.firedDeadline)
		w.str(q.firedBaseID)
		w.int(q.firedWall)
	}
	w.uint(uint64(len(s.flows)))
	for i := range s.flows {
		f := &s.flows[i]
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
	for _, t := range s.lastFire {
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
	w.float(s.churn)
	w.bool(s.churnHigh)
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
	n.key = r.str()
	n.lead = r.str()
	n.account = r.str()
	n.owner = r.str()
	n.seen = r.int()
	n.convertedAt = r.int()
	n.convertedID = r.str()
	n.paidAt = r.int()
	n.cancelAt = r.int()
	n.cancelID = r.str()
	n.engaged = uint32(min(r.uint(), math.MaxUint32))
	for _, q := range []*quiet{&n.leadQuiet, &n.acctQuiet} {
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
		n.flows = make([]flow, nf)
	}
	for i := range n.flows {
		f := &n.flows[i]
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
	for i := range n.lastFire {
		n.lastFire[i] = r.int()
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
	n.churn = r.float()
	n.churnHigh = r.bool()
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
	slices.SortStableFunc(n.flows, func(a, b flow) int { return cmpInt(a.start, b.start) })
	*s = n
	return nil
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

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
