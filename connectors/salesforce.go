package connectors

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/crmstream/crmstream/event"
)

// SalesforceConfig configures the Salesforce adapter.
type SalesforceConfig struct {
	// Token is the shared secret the forwarder sends as
	// "Authorization: Bearer <token>". Required.
	Token string
}

// Salesforce maps Change Data Capture events. Salesforce does not POST
// change events to arbitrary URLs itself: a forwarder (a Pub/Sub API or
// CometD subscriber, or an Apex/Flow callout) relays each event's decoded
// JSON payload here, authenticated with a shared token.
//
// Accepted bodies: one change event payload ({"ChangeEventHeader": …,
// fields…}), a CometD/Streaming API message ({"data": {"payload": …,
// "event": {"replayId": …}}, "channel": "/data/LeadChangeEvent"}), or a JSON
// array of either.
type Salesforce struct{ cfg SalesforceConfig }

// NewSalesforce returns the Salesforce adapter.
func NewSalesforce(cfg SalesforceConfig) *Salesforce { return &Salesforce{cfg: cfg} }

// Name implements Adapter.
func (*Salesforce) Name() string { return "salesforce" }

// Verify checks the forwarder's bearer token.
func (s *Salesforce) Verify(r *http.Request, _ []byte) error {
	return checkToken("bearer token", bearer(r), s.cfg.Token)
}

type sfHeader struct {
	EntityName      string   `json:"entityName"`
	RecordIDs       []string `json:"recordIds"`
	ChangeType      string   `json:"changeType"`
	TransactionKey  string   `json:"transactionKey"`
	SequenceNumber  int64    `json:"sequenceNumber"`
	CommitTimestamp int64    `json:"commitTimestamp"` // ms since epoch
	CommitUser      string   `json:"commitUser"`
	ChangedFields   []string `json:"changedFields"`
}

// Map implements Adapter. Mapping (entityName / changeType):
//
//	Lead, Contact   CREATE  lead_created; UPDATE lead_updated (changed_fields),
//	                        lead_qualified when Status becomes a qualified status
//	Opportunity     CREATE  deal_created; UPDATE with StageName deal_won (IsWon, or
//	                        StageName "Closed Won"), deal_lost ("Closed Lost" or IsClosed
//	                        without IsWon), else deal_stage_changed
//	Task            CREATE  call_logged (TaskSubtype Call) or email_sent (Email)
//	Event           CREATE  meeting_scheduled
//
// One event per record id (Salesforce merges identical changes to several
// records into one message). Lead and Contact ids become lead_id
// "salesforce:<id>", AccountId account_id "salesforce:<id>". An UPDATE
// carries only changed fields, so an Opportunity update has no AccountId
// unless the channel is configured with enriched fields (AccountId,
// ContactId); without one the event is keyed by account_id
// "salesforce:deal:<id>". GAP_ and DELETE/UNDELETE events are rejected
// with a reason.
func (s *Salesforce) Map(body []byte) ([]event.Event, []Reject, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil, payloadErr("empty body")
	}
	var items []json.RawMessage
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, nil, payloadErr("not a JSON array: %v", err)
		}
	case '{':
		items = []json.RawMessage{body}
	default:
		return nil, nil, payloadErr("expected a change event object or an array of them")
	}
	var c collector
	for i, raw := range items {
		s.mapOne(&c, i, raw)
	}
	return c.events, c.rejects, nil
}

func (s *Salesforce) mapOne(c *collector, i int, raw json.RawMessage) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		c.reject(i, "", "not a JSON object: %v", err)
		return
	}
	replayID := ""
	// CometD message: {"data": {"payload": {...}, "event": {"replayId": 1}}}.
	if data, ok := fields["data"]; ok {
		var msg struct {
			Payload map[string]json.RawMessage `json:"payload"`
			Event   struct {
				ReplayID json.Number `json:"replayId"`
			} `json:"event"`
		}
		if err := json.Unmarshal(data, &msg); err != nil || msg.Payload == nil {
			c.reject(i, "", "data.payload is not a change event object")
			return
		}
		fields, replayID = msg.Payload, msg.Event.ReplayID.String()
	}
	var h sfHeader
	rawHeader, ok := fields["ChangeEventHeader"]
	if !ok {
		c.reject(i, replayID, "ChangeEventHeader is missing: not a Change Data Capture event")
		return
	}
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		c.reject(i, replayID, "ChangeEventHeader is malformed: %v", err)
		return
	}
	ref := h.TransactionKey
	if ref == "" {
		ref = replayID
	}
	if len(h.RecordIDs) == 0 {
		c.reject(i, ref, "ChangeEventHeader.recordIds is empty")
		return
	}
	if h.CommitTimestamp <= 0 {
		c.reject(i, ref, "ChangeEventHeader.commitTimestamp is missing")
		return
	}
	str := func(k string) string { return jsonString(fields[k]) }
	for _, id := range h.RecordIDs {
		if id == "" || strings.HasSuffix(id, "*") {
			c.reject(i, ref, "record id %q is a wildcard or empty (a field type conversion event)", id)
			continue
		}
		e := event.Event{
			ID: eventID("salesforce", h.TransactionKey, strconv.FormatInt(h.SequenceNumber, 10), id,
				h.ChangeType, strconv.FormatInt(h.CommitTimestamp, 10)),
			OccurredAt: unixMillis(h.CommitTimestamp),
			Source:     "salesforce",
			OwnerID:    prefixed("salesforce:", str("OwnerId")),
		}
		var p props
		p.str("entity", h.EntityName).str("change_type", h.ChangeType)
		switch h.EntityName + "/" + h.ChangeType {
		case "Lead/CREATE", "Contact/CREATE":
			e.Type = event.LeadCreated
			e.LeadID = "salesforce:" + id
			e.AccountID = prefixed("salesforce:", str("AccountId"))
			e.Contact = sfContact(fields)
			p.str("origin", str("LeadSource")).str("industry", str("Industry"))
		case "Lead/UPDATE", "Contact/UPDATE":
			e.Type = event.LeadUpdated
			e.LeadID = "salesforce:" + id
			e.Contact = sfContact(fields)
			if st := str("Status"); strings.Contains(strings.ToLower(st), "qualified") && !strings.Contains(strings.ToLower(st), "unqualified") {
				e.Type = event.LeadQualified
				p.str("stage", "sql")
			}
			p.str("changed_fields", strings.Join(h.ChangedFields, ","))
		case "Opportunity/CREATE", "Opportunity/UPDATE":
			e.AccountID = prefixed("salesforce:", str("AccountId"))
			e.LeadID = prefixed("salesforce:", str("ContactId"))
			if e.AccountID == "" && e.LeadID == "" {
				e.AccountID = "salesforce:deal:" + id
			}
			stage := str("StageName")
			amount, hasAmount := jsonNumber(fields["Amount"])
			p.str("deal_id", id).str("stage", stage).num("amount", amount, hasAmount).str("currency", str("CurrencyIsoCode"))
			switch {
			case h.ChangeType == "CREATE":
				e.Type = event.DealCreated
			case jsonBool(fields["IsWon"]) || strings.EqualFold(stage, "Closed Won"):
				e.Type = event.DealWon
			case strings.EqualFold(stage, "Closed Lost") || (jsonBool(fields["IsClosed"]) && !jsonBool(fields["IsWon"])):
				e.Type = event.DealLost
			case stage != "":
				e.Type = event.DealStageChanged
			default:
				c.reject(i, ref, "Opportunity update without StageName/IsWon/IsClosed is not mapped (changed: %s)", strings.Join(h.ChangedFields, ","))
				continue
			}
		case "Task/CREATE", "Event/CREATE":
			who, what := str("WhoId"), str("WhatId")
			e.LeadID = prefixed("salesforce:", who)
			e.AccountID = prefixed("salesforce:", firstNonEmpty(str("AccountId"), what))
			if e.LeadID == "" && e.AccountID == "" {
				c.reject(i, ref, "%s has neither WhoId, WhatId nor AccountId: no lead or account to attach it to", h.EntityName)
				continue
			}
			if h.EntityName == "Event" {
				e.Type = event.MeetingScheduled
			} else {
				switch str("TaskSubtype") {
				case "Call":
					e.Type = event.CallLogged
				case "Email", "ListEmail":
					e.Type = event.EmailSent
				default:
					c.reject(i, ref, "Task with TaskSubtype %q is not mapped (Call and Email are)", str("TaskSubtype"))
					continue
				}
			}
			p.str("subject", str("Subject"))
		default:
			c.reject(i, ref, "%s %s events are not mapped", h.EntityName, h.ChangeType)
			continue
		}
		e.Properties = p.done()
		c.add(i, ref, e)
	}
}

// sfContact reads the standard Lead/Contact fields. Name is a compound
// field in change events: {"FirstName": …, "LastName": …}.
func sfContact(fields map[string]json.RawMessage) event.Contact {
	str := func(k string) string { return jsonString(fields[k]) }
	var c event.Contact
	var name struct{ FirstName, LastName string }
	if json.Unmarshal(fields["Name"], &name) == nil {
		c.Name = strings.TrimSpace(name.FirstName + " " + name.LastName)
	} else {
		c.Name = str("Name")
	}
	c.Email = str("Email")
	c.Phone = firstNonEmpty(str("Phone"), str("MobilePhone"))
	c.Company = str("Company")
	c.Title = str("Title")
	c.Country = firstNonEmpty(str("Country"), str("MailingCountry"))
	return c
}

func prefixed(prefix, id string) string {
	if id == "" {
		return ""
	}
	return prefix + id
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// jsonString returns a JSON string value, or the text of a number; "" for
// anything else (null, objects, absent).
func jsonString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch {
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// jsonNumber reads a JSON number or a string holding one.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	s := jsonString(raw)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func jsonBool(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "true"
}
