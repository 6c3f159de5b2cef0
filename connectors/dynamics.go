package connectors

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmstream/crmstream/event"
)

// DynamicsConfig configures the Dynamics 365 (Dataverse) adapter.
type DynamicsConfig struct {
	// Key is the secret of the webhook registration: either the
	// WebhookKey (sent by Dataverse as the query parameter "code") or the
	// value of an HttpHeader key/value pair named Header. Required.
	Key string
	// Header is the header that carries Key when the webhook is registered
	// with HttpHeader authentication. Default "X-Api-Key".
	Header string
}

// Dynamics maps Dynamics 365 / Dataverse webhooks: the body is the JSON
// serialization of a RemoteExecutionContext (MessageName,
// PrimaryEntityName, PrimaryEntityId, InputParameters with the Target
// entity and its Attributes as key/value pairs).
type Dynamics struct{ cfg DynamicsConfig }

// NewDynamics returns the Dynamics 365 adapter.
func NewDynamics(cfg DynamicsConfig) *Dynamics {
	if cfg.Header == "" {
		cfg.Header = "X-Api-Key"
	}
	return &Dynamics{cfg: cfg}
}

// Name implements Adapter.
func (*Dynamics) Name() string { return "dynamics" }

// Verify checks the WebhookKey (?code=) or the configured header.
func (d *Dynamics) Verify(r *http.Request, _ []byte) error {
	presented := r.URL.Query().Get("code")
	if presented == "" {
		presented = r.Header.Get(d.cfg.Header)
	}
	return checkToken("webhook key (?code= or "+d.cfg.Header+")", presented, d.cfg.Key)
}

type kv struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type dynamicsContext struct {
	MessageName        string `json:"MessageName"`
	PrimaryEntityName  string `json:"PrimaryEntityName"`
	PrimaryEntityID    string `json:"PrimaryEntityId"`
	OperationID        string `json:"OperationId"`
	OperationCreatedOn string `json:"OperationCreatedOn"`
	OrganizationID     string `json:"OrganizationId"`
	InputParameters    []kv   `json:"InputParameters"`
}

type dynamicsEntity struct {
	Attributes  []kv   `json:"Attributes"`
	ID          string `json:"Id"`
	LogicalName string `json:"LogicalName"`
}

type dynamicsRef struct {
	ID          string `json:"Id"`
	LogicalName string `json:"LogicalName"`
}

// Map implements Adapter. Mapping (PrimaryEntityName, MessageName):
//
//	lead, contact  Create lead_created; Update lead_updated, or lead_qualified
//	               when a lead's statecode becomes 1 (Qualified)
//	opportunity    Create deal_created; Update deal_won / deal_lost for statecode
//	               1 / 2, deal_stage_changed when stepname or salesstage changes,
//	               other updates rejected; Win / Lose messages deal_won / deal_lost
//	phonecall      Create call_logged;  appointment Create meeting_scheduled;
//	email          Create email_sent — keyed by regardingobjectid
//
// Leads and contacts become lead_id "dynamics:<id>", accounts account_id
// "dynamics:account:<id>"; an opportunity with no parentaccountid,
// parentcontactid or customerid is keyed "dynamics:deal:<id>".
func (d *Dynamics) Map(body []byte) ([]event.Event, []Reject, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, nil, payloadErr("expected a RemoteExecutionContext JSON object")
	}
	var ctx dynamicsContext
	if err := json.Unmarshal(body, &ctx); err != nil {
		return nil, nil, payloadErr("not a RemoteExecutionContext: %v", err)
	}
	if ctx.MessageName == "" || ctx.PrimaryEntityName == "" {
		return nil, nil, payloadErr("MessageName and PrimaryEntityName are required")
	}
	var c collector
	id := ctx.PrimaryEntityID
	ref := ctx.PrimaryEntityName + ":" + id
	if id == "" || id == "00000000-0000-0000-0000-000000000000" {
		c.reject(0, ref, "PrimaryEntityId is missing")
		return nil, c.rejects, nil
	}
	at := dynamicsDate(ctx.OperationCreatedOn)
	if at.IsZero() {
		c.reject(0, ref, "OperationCreatedOn is missing or not a /Date(ms)/ value")
		return nil, c.rejects, nil
	}
	attrs := map[string]json.RawMessage{}
	for _, p := range ctx.InputParameters {
		if p.Key != "Target" {
			continue
		}
		var target dynamicsEntity
		if json.Unmarshal(p.Value, &target) == nil {
			for _, a := range target.Attributes {
				attrs[a.Key] = a.Value
			}
		}
	}
	str := func(k string) string { return jsonString(attrs[k]) }
	ref2 := func(k string) dynamicsRef {
		var r dynamicsRef
		_ = json.Unmarshal(attrs[k], &r)
		return r
	}
	e := event.Event{
		ID:         eventID("dynamics", ctx.OrganizationID, ctx.OperationID, ctx.MessageName, ctx.PrimaryEntityName, id),
		OccurredAt: at,
		Source:     "dynamics",
		OwnerID:    prefixed("dynamics:user:", ref2("ownerid").ID),
	}
	var p props
	p.str("entity", ctx.PrimaryEntityName).str("message", ctx.MessageName)
	msg := ctx.MessageName
	switch ctx.PrimaryEntityName + "." + msg {
	case "lead.Create", "contact.Create", "lead.Update", "contact.Update":
		e.Type = event.LeadCreated
		if msg == "Update" {
			e.Type = event.LeadUpdated
			if ctx.PrimaryEntityName == "lead" && optionSet(attrs["statecode"]) == 1 {
				e.Type = event.LeadQualified
				p.str("stage", "sql")
			}
		}
		e.LeadID = "dynamics:" + id
		if acc := ref2("parentcustomerid"); acc.LogicalName == "account" {
			e.AccountID = "dynamics:account:" + acc.ID
		}
		e.Contact = event.Contact{
			Email: str("emailaddress1"), Phone: firstNonEmpty(str("telephone1"), str("mobilephone")),
			Name:    firstNonEmpty(str("fullname"), strings.TrimSpace(str("firstname")+" "+str("lastname"))),
			Company: str("companyname"), Title: str("jobtitle"), Country: str("address1_country"),
		}
		p.str("origin", optionSetString(attrs["leadsourcecode"]))
	case "opportunity.Create", "opportunity.Update", "opportunity.Win", "opportunity.Lose":
		for _, k := range []string{"parentaccountid", "customerid", "parentcontactid"} {
			r := ref2(k)
			switch {
			case r.ID == "":
			case r.LogicalName == "account" && e.AccountID == "":
				e.AccountID = "dynamics:account:" + r.ID
			case r.LogicalName == "contact" && e.LeadID == "":
				e.LeadID = "dynamics:" + r.ID
			}
		}
		if e.LeadID == "" && e.AccountID == "" {
			e.AccountID = "dynamics:deal:" + id
		}
		amount, hasAmount := money(attrs["estimatedvalue"])
		stage := firstNonEmpty(str("stepname"), optionSetString(attrs["salesstage"]))
		p.str("deal_id", id).str("stage", stage).num("amount", amount, hasAmount)
		state := optionSet(attrs["statecode"])
		switch {
		case msg == "Create":
			e.Type = event.DealCreated
		case msg == "Win" || state == 1:
			e.Type = event.DealWon
		case msg == "Lose" || state == 2:
			e.Type = event.DealLost
		case stage != "":
			e.Type = event.DealStageChanged
		default:
			c.reject(0, ref, "opportunity update without statecode, stepname or salesstage is not mapped")
			return nil, c.rejects, nil
		}
	case "phonecall.Create", "appointment.Create", "email.Create":
		e.Type = map[string]event.Type{"phonecall": event.CallLogged, "appointment": event.MeetingScheduled, "email": event.EmailSent}[ctx.PrimaryEntityName]
		r := ref2("regardingobjectid")
		switch r.LogicalName {
		case "lead", "contact":
			e.LeadID = "dynamics:" + r.ID
		case "account":
			e.AccountID = "dynamics:account:" + r.ID
		case "opportunity":
			e.AccountID = "dynamics:deal:" + r.ID
			p.str("deal_id", r.ID)
		}
		if r.ID == "" || (e.LeadID == "" && e.AccountID == "") {
			c.reject(0, ref, "%s has no regardingobjectid naming a lead, contact, account or opportunity", ctx.PrimaryEntityName)
			return nil, c.rejects, nil
		}
		p.str("subject", str("subject"))
	default:
		c.reject(0, ref, "%s %s messages are not mapped", ctx.PrimaryEntityName, msg)
		return nil, c.rejects, nil
	}
	e.Properties = p.done()
	c.add(0, ref, e)
	return c.events, c.rejects, nil
}

// dynamicsDate reads the WCF date format "/Date(1506409448000-0700)/": the
// milliseconds are UTC; the offset only says where it was observed.
func dynamicsDate(s string) time.Time {
	s, ok := strings.CutPrefix(s, "/Date(")
	if !ok {
		return firstTime(s)
	}
	s, ok = strings.CutSuffix(s, ")/")
	if !ok {
		return time.Time{}
	}
	end := len(s)
	if i := strings.IndexAny(s[1:], "+-"); i >= 0 {
		end = i + 1
	}
	ms, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return unixMillis(ms)
}

// optionSet reads an OptionSetValue ({"__type": "OptionSetValue:…",
// "Value": 1}) or a bare number; -1 when absent.
func optionSet(raw json.RawMessage) int {
	var o struct {
		Value *int `json:"Value"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Value != nil {
		return *o.Value
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	return -1
}

func optionSetString(raw json.RawMessage) string {
	if v := optionSet(raw); v >= 0 {
		return strconv.Itoa(v)
	}
	return ""
}

// money reads a Money attribute ({"Value": 1000.0}) or a bare number.
func money(raw json.RawMessage) (float64, bool) {
	var o struct {
		Value json.RawMessage `json:"Value"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Value != nil {
		return jsonNumber(o.Value)
	}
	return jsonNumber(raw)
}
