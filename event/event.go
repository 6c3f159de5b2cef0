package event

import (
	"strings"
	"time"
)

// Event is one canonical CRM event (schema version 1). Values returned by
// Parse are validated and normalized; the zero value is not a valid event.
//
// An Event is a plain value: safe to copy, not safe to mutate concurrently.
type Event struct {
	ID         string    // event_id: idempotency key, 1–128 characters
	Type       Type      // what happened
	OccurredAt time.Time // event time, UTC
	LeadID     string    // the person; LeadID or AccountID is set
	AccountID  string    // the company / customer account
	OwnerID    string    // the rep who owns the lead or account
	SessionID  string    // web or app session
	Source     string    // web, email, crm, product, support, hubspot, …
	Contact    Contact   // identity attributes, normalized
	Properties Properties
}

// Key is the partitioning key of the event: the lead when known, else the
// account. Events of one key keep their order through every topic.
func (e *Event) Key() string {
	if e.LeadID != "" {
		return e.LeadID
	}
	return e.AccountID
}

// Contact holds identity attributes. Parse lower-cases Email, formats Phone as
// E.164 when it can be parsed, and maps Country to ISO 3166-1 alpha-2.
type Contact struct {
	Email   string
	Phone   string
	Name    string
	Company string
	Country string
	Title   string
}

// IsZero reports whether no contact attribute is set.
func (c Contact) IsZero() bool { return c == Contact{} }

// Kind is the JSON type of a property value.
type Kind uint8

// Property value kinds.
const (
	KindString Kind = iota + 1
	KindNumber
	KindBool
)

// Property is one entry of Event.Properties. Exactly one of Str, Num, Bool is
// meaningful, chosen by Kind.
type Property struct {
	Key  string
	Kind Kind
	Str  string
	Num  float64
	Bool bool
}

// Properties are the type-specific details of an event, sorted by key. A
// slice rather than a map: events carry few properties, and a slice costs one
// allocation where a map costs many.
type Properties []Property

// Get returns the property named key.
func (p Properties) Get(key string) (Property, bool) {
	for i := range p {
		if p[i].Key == key {
			return p[i], true
		}
	}
	return Property{}, false
}

// String returns the property as a string; numbers and bools are not
// converted.
func (p Properties) String(key string) string {
	if v, ok := p.Get(key); ok && v.Kind == KindString {
		return v.Str
	}
	return ""
}

// Number returns the property as a number. A string holding a number (as
// some sources send "129.00") is accepted too.
func (p Properties) Number(key string) (float64, bool) {
	v, ok := p.Get(key)
	if !ok {
		return 0, false
	}
	switch v.Kind {
	case KindNumber:
		return v.Num, true
	case KindString:
		return parseNumber(v.Str)
	}
	return 0, false
}

// Type is the event type: one of the constants below or "custom.<name>".
type Type string

// The event types of schema version 1.
const (
	LeadCreated           Type = "lead_created"
	LeadUpdated           Type = "lead_updated"
	LeadQualified         Type = "lead_qualified"
	EmailSent             Type = "email_sent"
	EmailOpen             Type = "email_open"
	EmailClick            Type = "email_click"
	EmailBounce           Type = "email_bounce"
	EmailUnsubscribe      Type = "email_unsubscribe"
	AdClick               Type = "ad_click"
	PageView              Type = "page_view"
	FormSubmit            Type = "form_submit"
	ContentDownload       Type = "content_download"
	WebinarAttended       Type = "webinar_attended"
	DemoRequested         Type = "demo_requested"
	FlowStarted           Type = "flow_started"
	FlowStep              Type = "flow_step"
	FlowCompleted         Type = "flow_completed"
	CallLogged            Type = "call_logged"
	MeetingScheduled      Type = "meeting_scheduled"
	MeetingHeld           Type = "meeting_held"
	DealCreated           Type = "deal_created"
	DealStageChanged      Type = "deal_stage_changed"
	DealWon               Type = "deal_won"
	DealLost              Type = "deal_lost"
	Login                 Type = "login"
	FeatureUsed           Type = "feature_used"
	SeatAdded             Type = "seat_added"
	SeatRemoved           Type = "seat_removed"
	SubscriptionStarted   Type = "subscription_started"
	SubscriptionRenewed   Type = "subscription_renewed"
	PlanUpgraded          Type = "plan_upgraded"
	PlanDowngraded        Type = "plan_downgraded"
	SubscriptionCancelled Type = "subscription_cancelled"
	TicketOpened          Type = "ticket_opened"
	TicketResolved        Type = "ticket_resolved"
	NPSSubmitted          Type = "nps_submitted"

	// Erased is the tombstone written by a GDPR erasure: every stateful
	// stage forgets the key it names. Outside the schema's names on purpose:
	// Parse rejects it, so no source can erase a lead; Decode, which reads
	// the pipeline's own topic, accepts it.
	Erased Type = "internal.erased"
)

// Types lists the built-in types in schema order.
var Types = []Type{
	LeadCreated, LeadUpdated, LeadQualified,
	EmailSent, EmailOpen, EmailClick, EmailBounce, EmailUnsubscribe, AdClick,
	PageView, FormSubmit, ContentDownload, WebinarAttended, DemoRequested,
	FlowStarted, FlowStep, FlowCompleted,
	CallLogged, MeetingScheduled, MeetingHeld, DealCreated, DealStageChanged, DealWon, DealLost,
	Login, FeatureUsed, SeatAdded, SeatRemoved,
	SubscriptionStarted, SubscriptionRenewed, PlanUpgraded, PlanDowngraded, SubscriptionCancelled,
	TicketOpened, TicketResolved, NPSSubmitted,
}

var builtin = func() map[Type]struct{} {
	m := make(map[Type]struct{}, len(Types))
	for _, t := range Types {
		m[t] = struct{}{}
	}
	return m
}()

// IsBuiltin reports whether t is one of the schema's named types.
func (t Type) IsBuiltin() bool { _, ok := builtin[t]; return ok }

// IsCustom reports whether t is a well-formed "custom.<name>" type.
func (t Type) IsCustom() bool {
	name, ok := strings.CutPrefix(string(t), "custom.")
	if !ok || len(name) < 1 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Valid reports whether t is accepted by schema version 1.
func (t Type) Valid() bool { return t.IsBuiltin() || t.IsCustom() }

// IsConversion reports whether t marks a lead's conversion (the label of the
// lead model).
func (t Type) IsConversion() bool { return t == DealWon || t == SubscriptionStarted }
