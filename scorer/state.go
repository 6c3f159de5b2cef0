package scorer

import (
	"fmt"

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/windows"
)

// Timer kinds of a key (windows.MaxTimers = 7 in all). The scorer owns the
// assignment so that the parts sharing a key's state never collide.
const (
	TimerAlerts  windows.TimerKind = 0 // alerts.Windowed
	TimerRescore windows.TimerKind = 1 // daily re-score of a fading lead / quiet account
	// TimerFeatures is the first kind left to features/ and models/ (2–6).
	TimerFeatures windows.TimerKind = 2
)

// Key kinds.
const (
	kindLead    = 1
	kindAccount = 2
)

// State is everything the scorer keeps per key (lead, else account). It is
// owned by the partition's worker goroutine.
//
// It is sized with the engine's bookkeeping (56 bytes) so that one key is
// one 352-byte allocation (plus its rule or feature state; TestStateSize
// keeps it there): the account and owner ids live once, in Alerts (owner
// ids interned per partition), and no field keeps a view into an input
// record alive.
type State struct {
	// Offset is 1 + the input offset of the newest record applied to this
	// key. After a restore, records the key already reflects are skipped,
	// so a replay from an older checkpoint applies each record once.
	Offset int64
	// Seen holds hashes of the key's latest event ids: an event id seen
	// again (a client retry, a relay replay) is counted once.
	Seen     [8]uint32
	SeenNext uint8
	Kind     uint8
	Churned  bool // account: cancelled and not renewed since
	// LabelDone: the learned label was positive (a lead converted): no new
	// pending label.
	LabelDone bool
	Updates   uint32      // rows emitted for the key: lead_current version
	VerAt     windows.Sec // newest event or re-score time: lead_current version
	Newest    windows.Sec // newest event time

	// Rule-based scoring (no WorkerConfig.Models): one of them, by Kind,
	// allocated on the key's first event.
	Lead    *LeadRules
	Account *AccountRules
	// Learned scoring (WorkerConfig.Models): feature state and pending label.
	ML learnedKey
	// Alerts is the detector's state; it also holds the key's account and
	// owner ids (with or without a detector).
	Alerts alerts.State
}

// AccountID is the account of the key's newest event that had one.
func (s *State) AccountID() string { return s.Alerts.Account() }

// OwnerID is the owner of the key's newest event that had one.
func (s *State) OwnerID() string { return s.Alerts.Owner() }

// seen reports whether id was seen recently, and records it.
func (s *State) seen(id string) bool {
	h := uint32(windows.HashString(id))
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	for _, x := range s.Seen {
		if x == h {
			return true
		}
	}
	s.Seen[s.SeenNext%uint8(len(s.Seen))] = h
	s.SeenNext = (s.SeenNext + 1) % uint8(len(s.Seen))
	return false
}

func (s *State) version() uint64 { return uint64(s.VerAt)<<20 | uint64(s.Updates&0xfffff) }

// stateVersion 3: the account and owner ids are no longer written ahead of
// the alerts state, which holds them.
const stateVersion = 3

// stateCodec encodes State for the changelog (see windows.Codec). m gives
// the feature sets to restore learned state with (nil: rules only).
type stateCodec struct{ m *Models }

func (sc stateCodec) Encode(e *windows.Enc, s *State) {
	e.U8(stateVersion)
	e.Uvarint(uint64(s.Offset))
	for _, h := range s.Seen {
		e.U32(h)
	}
	e.U8(s.SeenNext)
	e.U8(s.Kind)
	e.Uvarint(uint64(s.Updates))
	e.Sec(s.VerAt)
	e.Sec(s.Newest)
	e.U8(b2u(s.Churned) | b2u(s.Lead != nil)<<1 | b2u(s.Account != nil)<<2)
	if l := s.Lead; l != nil {
		encodeLeadRules(e, l)
	}
	if a := s.Account; a != nil {
		encodeAccountRules(e, a)
	}
	alerts.Codec{}.Encode(e, &s.Alerts)
	encodeLearned(e, &s.ML, s.LabelDone)
}

func encodeLeadRules(e *windows.Enc, l *LeadRules) {
	e.F32(l.Eng)
	e.Sec(l.EngAt)
	l.Days.Encode(e)
	l.Sess.Encode(e)
	l.Pages.Encode(e)
	e.Sec(l.DemoAt)
	e.Sec(l.MeetingAt)
	e.Sec(l.PricingAt)
	e.B = append(e.B, l.Fit[:]...)
	e.U8(b2u(l.Converted) | b2u(l.Unsub)<<1)
}

func encodeAccountRules(e *windows.Enc, a *AccountRules) {
	a.Active.Encode(e)
	e.U16(uint16(a.Tickets))
	a.NPS.Encode(e)
	a.MRR.Encode(e)
	e.Sec(a.DowngradeAt)
	e.Sec(a.SeatsCutAt)
	e.Sec(a.PaidAt)
	e.U8(b2u(a.Churned))
	e.String(a.Plan)
}

func encodeLearned(e *windows.Enc, lk *learnedKey, done bool) {
	var fb []byte
	if lk.F != nil {
		fb = lk.F.AppendBinary(nil)
	}
	e.Bytes(fb)
	e.Bytes(lk.Pending)
	e.U8(b2u(done))
}

func (sc stateCodec) decodeLearned(d *windows.Dec, lk *learnedKey, done *bool, m *models.Model) error {
	fb := d.Bytes()
	pend := d.Bytes()
	*done = d.U8() != 0
	if err := d.Err(); err != nil {
		return err
	}
	if len(pend) > 0 {
		lk.Pending = append([]byte(nil), pend...)
	}
	if len(fb) > 0 {
		if m == nil {
			return nil // learned state without models configured: dropped
		}
		st, err := m.Set().RestoreState(fb)
		if err != nil {
			// A feature-schema change: start the key's features afresh
			// rather than fail the partition.
			lk.F, lk.Pending = nil, nil
			return nil
		}
		lk.F = st
	}
	return nil
}

// Decode reads every state version the scorer has shipped: version 1 (rule
// state of both kinds inline; learned state of both kinds, added later in
// the same version, optional) is migrated to the current layout; version 2
// has the account and owner ids of the key ahead of the rule state.
func (sc stateCodec) Decode(d *windows.Dec, s *State) error {
	v := d.U8()
	if err := d.Err(); err != nil {
		return err
	}
	if v < 1 || v > stateVersion {
		return fmt.Errorf("%w: scorer state version %d", windows.ErrCorrupt, v)
	}
	s.Offset = int64(d.Uvarint())
	for i := range s.Seen {
		s.Seen[i] = d.U32()
	}
	s.SeenNext = d.U8() % uint8(len(s.Seen))
	s.Kind = d.U8()
	s.Updates = uint32(d.Uvarint())
	s.VerAt = d.Sec()
	s.Newest = d.Sec()
	var account, owner string
	if v < 3 {
		account, owner = d.String(), d.String()
	}
	if err := sc.decodeRest(d, v, s); err != nil {
		return err
	}
	// The alerts state holds them when a detector ran; else they are here.
	if s.Alerts.Account() != "" {
		account = ""
	}
	if s.Alerts.Owner() != "" {
		owner = ""
	}
	s.Alerts.SetParties(account, owner)
	return nil
}

func (sc stateCodec) decodeRest(d *windows.Dec, v uint8, s *State) error {
	if v == 1 {
		return sc.decodeV1(d, s)
	}
	flags := d.U8()
	s.Churned = flags&1 != 0
	if flags&2 != 0 {
		s.Lead = new(LeadRules)
		decodeLeadRules(d, s.Lead)
	}
	if flags&4 != 0 {
		s.Account = new(AccountRules)
		decodeAccountRules(d, s.Account)
	}
	if err := d.Err(); err != nil {
		return err
	}
	if err := (alerts.Codec{}).Decode(d, &s.Alerts); err != nil {
		return fmt.Errorf("alerts state: %w", err)
	}
	if err := sc.decodeLearned(d, &s.ML, &s.LabelDone, sc.model(s.Kind)); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	return d.Err()
}

func (sc stateCodec) model(kind uint8) *models.Model {
	switch {
	case sc.m == nil:
		return nil
	case kind == kindLead:
		return sc.m.Lead
	}
	return sc.m.Churn
}

// decodeV1 reads the rest of a version-1 record: both rule states inline,
// the alerts, then (in records written after the models were wired in) the
// learned state of both kinds.
func (sc stateCodec) decodeV1(d *windows.Dec, s *State) error {
	var l LeadRules
	var a AccountRules
	decodeLeadRules(d, &l)
	decodeAccountRules(d, &a)
	if err := d.Err(); err != nil {
		return err
	}
	if err := (alerts.Codec{}).Decode(d, &s.Alerts); err != nil {
		return fmt.Errorf("alerts state: %w", err)
	}
	s.Churned = a.Churned
	if sc.m == nil { // keep the rule state the key's kind uses
		if s.Kind == kindLead {
			s.Lead = &l
		} else {
			s.Account = &a
		}
	}
	if len(d.B) == 0 {
		return d.Err() // written before the learned state existed
	}
	var lead, acct learnedKey
	var leadDone, acctDone bool
	if err := sc.decodeLearned(d, &lead, &leadDone, sc.model(kindLead)); err != nil {
		return fmt.Errorf("lead features: %w", err)
	}
	if err := sc.decodeLearned(d, &acct, &acctDone, sc.model(kindAccount)); err != nil {
		return fmt.Errorf("account features: %w", err)
	}
	s.ML, s.LabelDone = acct, acctDone
	if s.Kind == kindLead {
		s.ML, s.LabelDone = lead, leadDone
	}
	return d.Err()
}

func decodeLeadRules(d *windows.Dec, l *LeadRules) {
	l.Eng = d.F32()
	l.EngAt = d.Sec()
	l.Days.Decode(d)
	l.Sess.Decode(d)
	l.Pages.Decode(d)
	l.DemoAt = d.Sec()
	l.MeetingAt = d.Sec()
	l.PricingAt = d.Sec()
	for i := range l.Fit {
		l.Fit[i] = d.U8()
	}
	f := d.U8()
	l.Converted, l.Unsub = f&1 != 0, f&2 != 0
}

func decodeAccountRules(d *windows.Dec, a *AccountRules) {
	a.Active.Decode(d)
	a.Tickets = int16(d.U16())
	a.NPS.Decode(d)
	a.MRR.Decode(d)
	a.DowngradeAt = d.Sec()
	a.SeatsCutAt = d.Sec()
	a.PaidAt = d.Sec()
	a.Churned = d.U8() != 0
	a.Plan = d.String()
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
