package connectors

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/crmstream/crmstream/event"
)

// FreshsalesConfig configures the Freshsales adapter.
type FreshsalesConfig struct {
	// Token is the shared secret sent as "Authorization: Bearer <token>"
	// (a custom header of the workflow's "Trigger webhook" action, or of the
	// forwarding app). Required.
	Token string
}

// Freshsales maps Freshsales (Freshworks CRM) product events in the
// Freshworks app-platform envelope: {"account_id", "domain", "event":
// "onDealUpdate", "region", "timestamp", "data": {"deal": …, "associations":
// …, "changes": …}}. Freshsales has no fixed outgoing webhook body of its
// own (a workflow's webhook body is whatever the admin writes); a small
// serverless app, or a workflow body written in this shape, forwards events.
type Freshsales struct{ cfg FreshsalesConfig }

// NewFreshsales returns the Freshsales adapter.
func NewFreshsales(cfg FreshsalesConfig) *Freshsales { return &Freshsales{cfg: cfg} }

// Name implements Adapter.
func (*Freshsales) Name() string { return "freshsales" }

// Verify checks the bearer token.
func (f *Freshsales) Verify(r *http.Request, _ []byte) error {
	return checkToken("bearer token", bearer(r), f.cfg.Token)
}

type freshsalesBody struct {
	AccountID json.RawMessage            `json:"account_id"`
	Event     string                     `json:"event"`
	Timestamp json.RawMessage            `json:"timestamp"`
	Data      map[string]json.RawMessage `json:"data"`
}

// Map implements Adapter. Mapping:
//
//	onContactCreate / onLeadCreate     lead_created
//	onContactUpdate / onLeadUpdate     lead_updated
//	onDealCreate                       deal_created
//	onDealUpdate                       deal_won / deal_lost when the deal's stage
//	                                   (associations.deal_stage) is won / lost,
//	                                   deal_stage_changed when changes name deal_stage_id;
//	                                   other updates rejected
//	onSalesActivityCreate              call_logged / meeting_scheduled / email_sent by
//	                                   the activity type's name
//
// Contacts become lead_id "freshsales:<id>", sales accounts account_id
// "freshsales:account:<id>".
func (f *Freshsales) Map(body []byte) ([]event.Event, []Reject, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, nil, payloadErr("expected a Freshsales event JSON object")
	}
	var b freshsalesBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, nil, payloadErr("not a Freshsales event: %v", err)
	}
	if b.Event == "" || b.Data == nil {
		return nil, nil, payloadErr("event and data are required")
	}
	var c collector
	kind := ""
	switch b.Event {
	case "onContactCreate", "onContactUpdate", "onLeadCreate", "onLeadUpdate":
		kind = "contact"
		if strings.HasPrefix(b.Event, "onLead") {
			kind = "lead"
		}
	case "onDealCreate", "onDealUpdate":
		kind = "deal"
	case "onSalesActivityCreate":
		kind = "sales_activity"
	default:
		c.reject(0, b.Event, "event %q is not mapped", b.Event)
		return nil, c.rejects, nil
	}
	var rec map[string]json.RawMessage
	if json.Unmarshal(b.Data[kind], &rec) != nil || rec == nil {
		c.reject(0, b.Event, "data.%s is missing or not an object", kind)
		return nil, c.rejects, nil
	}
	var assoc map[string]json.RawMessage
	_ = json.Unmarshal(b.Data["associations"], &assoc) // optional
	str := func(k string) string { return jsonString(rec[k]) }
	id := str("id")
	ref := kind + ":" + id
	if id == "" {
		c.reject(0, ref, "data.%s.id is missing", kind)
		return nil, c.rejects, nil
	}
	at := flexTime(b.Timestamp)
	if at.IsZero() {
		at = firstTime(str("updated_at"), str("created_at"))
	}
	if at.IsZero() {
		c.reject(0, ref, "timestamp is missing or unreadable")
		return nil, c.rejects, nil
	}
	e := event.Event{
		ID:         eventID("freshsales", jsonString(b.AccountID), b.Event, id, string(bytes.TrimSpace(b.Timestamp)), str("updated_at")),
		OccurredAt: at,
		Source:     "freshsales",
		OwnerID:    prefixed("freshsales:user:", str("owner_id")),
		AccountID:  prefixed("freshsales:account:", str("sales_account_id")),
	}
	var p props
	switch kind {
	case "contact", "lead":
		e.Type = event.LeadCreated
		if strings.HasSuffix(b.Event, "Update") {
			e.Type = event.LeadUpdated
		}
		e.LeadID = "freshsales:" + id
		e.Contact = event.Contact{
			Email: str("email"), Phone: firstNonEmpty(str("mobile_number"), str("work_number")),
			Name:  strings.TrimSpace(str("first_name") + " " + str("last_name")),
			Title: str("job_title"), Country: str("country"), Company: str("company_name"),
		}
	case "deal":
		e.LeadID = prefixed("freshsales:", freshsalesFirstID(assoc["contacts"]))
		if e.LeadID == "" && e.AccountID == "" {
			e.AccountID = "freshsales:deal:" + id
		}
		amount, hasAmount := jsonNumber(rec["amount"])
		var stage struct {
			Name         string `json:"name"`
			ForecastType string `json:"forecast_type"`
		}
		_ = json.Unmarshal(assoc["deal_stage"], &stage)
		p.str("deal_id", id).str("stage", firstNonEmpty(stage.Name, str("deal_stage_id"))).num("amount", amount, hasAmount)
		won := strings.EqualFold(stage.ForecastType, "won") || strings.Contains(strings.ToLower(stage.Name), "won")
		lost := strings.EqualFold(stage.ForecastType, "lost") || strings.Contains(strings.ToLower(stage.Name), "lost")
		switch {
		case b.Event == "onDealCreate":
			e.Type = event.DealCreated
		case won:
			e.Type = event.DealWon
		case lost:
			e.Type = event.DealLost
		case freshsalesChanged(b.Data["changes"], "deal_stage_id"):
			e.Type = event.DealStageChanged
		default:
			c.reject(0, ref, "deal update without a deal_stage_id change is not mapped")
			return nil, c.rejects, nil
		}
	case "sales_activity":
		var typ struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(assoc["sales_activity_type"], &typ)
		name := strings.ToLower(firstNonEmpty(typ.Name, str("sales_activity_type_name")))
		switch {
		case strings.Contains(name, "call"):
			e.Type = event.CallLogged
		case strings.Contains(name, "meeting"):
			e.Type = event.MeetingScheduled
		case strings.Contains(name, "email"):
			e.Type = event.EmailSent
		default:
			c.reject(0, ref, "sales activity type %q is not mapped (call, meeting and email are)", name)
			return nil, c.rejects, nil
		}
		switch str("targetable_type") {
		case "Contact", "Lead":
			e.LeadID = prefixed("freshsales:", str("targetable_id"))
		case "SalesAccount":
			e.AccountID = prefixed("freshsales:account:", str("targetable_id"))
		case "Deal":
			e.AccountID = firstNonEmpty(e.AccountID, prefixed("freshsales:deal:", str("targetable_id")))
		}
		p.str("title", str("title"))
	}
	e.Properties = p.done()
	c.add(0, ref, e)
	return c.events, c.rejects, nil
}

// freshsalesFirstID returns the id of the first object of a list.
func freshsalesFirstID(raw json.RawMessage) string {
	var list []struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return ""
	}
	return jsonString(list[0].ID)
}

// freshsalesChanged reports whether the update's changes name field, in
// either {"model_changes": {"field": [old, new]}} or {"field": [old, new]}.
func freshsalesChanged(raw json.RawMessage, field string) bool {
	var ch struct {
		ModelChanges map[string]json.RawMessage `json:"model_changes"`
	}
	if json.Unmarshal(raw, &ch) == nil && ch.ModelChanges[field] != nil {
		return true
	}
	var flat map[string]json.RawMessage
	return json.Unmarshal(raw, &flat) == nil && flat[field] != nil
}
