package connectors

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/crmstream/crmstream/event"
)

// ZohoConfig configures the Zoho CRM adapter.
type ZohoConfig struct {
	// Token is the value given as "token" when the notification channel was
	// enabled (POST /crm/v{n}/actions/watch); Zoho sends it back in every
	// notification body. Required.
	Token string
	// ChannelIDs, when set, are the only channel_id values accepted.
	ChannelIDs []string
}

// Zoho maps Zoho CRM instant notifications (the Notification API): one
// JSON object per notification naming the module, the operation and the
// affected record ids, optionally with the changed values
// (return_affected_field_values).
type Zoho struct{ cfg ZohoConfig }

// NewZoho returns the Zoho CRM adapter.
func NewZoho(cfg ZohoConfig) *Zoho { return &Zoho{cfg: cfg} }

// Name implements Adapter.
func (*Zoho) Name() string { return "zoho" }

type zohoBody struct {
	ServerTime     int64           `json:"server_time"` // ms since epoch
	Module         string          `json:"module"`
	IDs            []string        `json:"ids"`
	Operation      string          `json:"operation"` // insert, update, delete
	ChannelID      json.RawMessage `json:"channel_id"`
	Token          string          `json:"token"`
	AffectedValues []struct {
		RecordID string                     `json:"record_id"`
		Values   map[string]json.RawMessage `json:"values"`
	} `json:"affected_values"`
}

// Verify checks the channel token carried in the body (Zoho does not sign
// notifications) and, when configured, the channel id.
func (z *Zoho) Verify(_ *http.Request, body []byte) error {
	var b struct {
		Token     string          `json:"token"`
		ChannelID json.RawMessage `json:"channel_id"`
	}
	if json.Unmarshal(body, &b) != nil {
		return authErr("body is not a JSON object with a token")
	}
	if err := checkToken("channel token", b.Token, z.cfg.Token); err != nil {
		return err
	}
	if len(z.cfg.ChannelIDs) > 0 {
		ch := jsonString(b.ChannelID)
		for _, want := range z.cfg.ChannelIDs {
			if ch == want {
				return nil
			}
		}
		return authErr("channel_id %q is not one of the configured channels", ch)
	}
	return nil
}

// Map implements Adapter. Mapping (module, operation), one event per id:
//
//	Leads, Contacts  insert  lead_created;  update lead_updated
//	Deals            insert  deal_created;  update deal_won / deal_lost when
//	                 affected_values.Stage is "Closed Won" / starts "Closed Lost",
//	                 deal_stage_changed for another Stage; other updates rejected
//	Calls            insert  call_logged      (keyed by Who_Id / What_Id in affected_values)
//	Meetings, Events insert  meeting_scheduled (same)
//
// Leads and Contacts become lead_id "zoho:<id>"; a deal is keyed by its
// Contact_Name / Account_Name when affected_values carries them, else by
// account_id "zoho:deal:<id>". Deletions and other modules are rejected.
func (z *Zoho) Map(body []byte) ([]event.Event, []Reject, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, nil, payloadErr("expected a Zoho CRM notification JSON object")
	}
	var b zohoBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, nil, payloadErr("not a Zoho CRM notification: %v", err)
	}
	if b.Module == "" || b.Operation == "" {
		return nil, nil, payloadErr("module and operation are required")
	}
	var c collector
	if len(b.IDs) == 0 {
		c.reject(-1, b.Module, "ids is empty")
		return nil, c.rejects, nil
	}
	if b.ServerTime <= 0 {
		c.reject(-1, b.Module, "server_time is missing")
		return nil, c.rejects, nil
	}
	values := make(map[string]map[string]json.RawMessage, len(b.AffectedValues))
	for _, av := range b.AffectedValues {
		values[av.RecordID] = av.Values
	}
	op := strings.ToLower(b.Operation)
	for i, id := range b.IDs {
		if id == "" {
			c.reject(i, "", "empty record id")
			continue
		}
		v := values[id]
		str := func(k string) string { return zohoString(v[k]) }
		e := event.Event{
			ID:         eventID("zoho", jsonString(b.ChannelID), b.Module, op, id, strconv.FormatInt(b.ServerTime, 10)),
			OccurredAt: unixMillis(b.ServerTime),
			Source:     "zoho",
			OwnerID:    prefixed("zoho:user:", zohoLookupID(v["Owner"])),
		}
		var p props
		p.str("module", b.Module).str("operation", op)
		switch b.Module + "." + op {
		case "Leads.insert", "Contacts.insert", "Leads.update", "Contacts.update":
			e.Type = event.LeadCreated
			if op == "update" {
				e.Type = event.LeadUpdated
			}
			e.LeadID = "zoho:" + id
			e.Contact = event.Contact{
				Email: str("Email"), Phone: firstNonEmpty(str("Phone"), str("Mobile")),
				Company: str("Company"), Title: str("Designation"), Country: str("Country"),
				Name: strings.TrimSpace(str("First_Name") + " " + str("Last_Name")),
			}
			p.str("origin", str("Lead_Source")).str("industry", str("Industry"))
		case "Deals.insert", "Deals.update":
			e.LeadID = prefixed("zoho:", zohoLookupID(v["Contact_Name"]))
			e.AccountID = prefixed("zoho:account:", zohoLookupID(v["Account_Name"]))
			if e.LeadID == "" && e.AccountID == "" {
				e.AccountID = "zoho:deal:" + id
			}
			stage := str("Stage")
			amount, hasAmount := jsonNumber(v["Amount"])
			p.str("deal_id", id).str("stage", stage).num("amount", amount, hasAmount)
			switch {
			case op == "insert":
				e.Type = event.DealCreated
			case strings.EqualFold(stage, "Closed Won"):
				e.Type = event.DealWon
			case strings.HasPrefix(strings.ToLower(stage), "closed lost"), strings.HasPrefix(strings.ToLower(stage), "closed-lost"):
				e.Type = event.DealLost
			case stage != "":
				e.Type = event.DealStageChanged
			default:
				c.reject(i, id, "Deals update without Stage in affected_values is not mapped (enable return_affected_field_values)")
				continue
			}
		case "Calls.insert", "Meetings.insert", "Events.insert":
			e.Type = event.CallLogged
			if b.Module != "Calls" {
				e.Type = event.MeetingScheduled
			}
			e.LeadID = prefixed("zoho:", zohoLookupID(v["Who_Id"]))
			e.AccountID = prefixed("zoho:account:", zohoLookupID(v["What_Id"]))
			if e.LeadID == "" && e.AccountID == "" {
				c.reject(i, id, "%s notification has no Who_Id or What_Id in affected_values: no lead or account to attach it to", b.Module)
				continue
			}
		default:
			c.reject(i, id, "%s %s notifications are not mapped", b.Module, op)
			continue
		}
		e.Properties = p.done()
		c.add(i, id, e)
	}
	return c.events, c.rejects, nil
}

// zohoString reads a field value: a string, a number, or a picklist/lookup
// object's "name".
func zohoString(raw json.RawMessage) string {
	if s := jsonString(raw); s != "" {
		return s
	}
	var o struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Name
	}
	return ""
}

// zohoLookupID reads a lookup field: {"id": "…", "name": "…"} or a bare id.
func zohoLookupID(raw json.RawMessage) string {
	if s := jsonString(raw); s != "" {
		return s
	}
	var o struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return jsonString(o.ID)
	}
	return ""
}
