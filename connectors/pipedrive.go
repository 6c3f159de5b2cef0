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

// PipedriveConfig configures the Pipedrive adapter.
type PipedriveConfig struct {
	// User and Password are the HTTP basic-auth credentials given to
	// Pipedrive when the webhook was created (http_auth_user,
	// http_auth_password). Both required.
	User, Password string
}

// Pipedrive maps Pipedrive webhooks, both versions: v1 ({"meta": {"action":
// "updated", "object": "deal"}, "current": …, "previous": …, "event":
// "updated.deal"}) and v2 ({"meta": {"action": "change", "entity": "deal",
// "version": "2.0"}, "data": …, "previous": …}).
type Pipedrive struct{ cfg PipedriveConfig }

// NewPipedrive returns the Pipedrive adapter.
func NewPipedrive(cfg PipedriveConfig) *Pipedrive { return &Pipedrive{cfg: cfg} }

// Name implements Adapter.
func (*Pipedrive) Name() string { return "pipedrive" }

// Verify checks HTTP basic auth.
func (p *Pipedrive) Verify(r *http.Request, _ []byte) error {
	if p.cfg.User == "" || p.cfg.Password == "" {
		return authErr("no Pipedrive basic-auth credentials are configured")
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return authErr("missing basic-auth credentials")
	}
	if checkToken("user", user, p.cfg.User) != nil || checkToken("password", pass, p.cfg.Password) != nil {
		return authErr("wrong basic-auth credentials")
	}
	return nil
}

type pipedriveBody struct {
	Meta struct {
		Action    string          `json:"action"`
		Object    string          `json:"object"` // v1
		Entity    string          `json:"entity"` // v2
		ID        json.RawMessage `json:"id"`
		EntityID  json.RawMessage `json:"entity_id"`
		CompanyID json.RawMessage `json:"company_id"`
		Timestamp json.RawMessage `json:"timestamp"`
		TSMicro   json.RawMessage `json:"timestamp_micro"`
		Version   string          `json:"version"`
	} `json:"meta"`
	Event    string                     `json:"event"`   // v1: "added.deal"
	Current  map[string]json.RawMessage `json:"current"` // v1
	Data     map[string]json.RawMessage `json:"data"`    // v2
	Previous map[string]json.RawMessage `json:"previous"`
}

// Map implements Adapter. Mapping (object, action):
//
//	person  create  lead_created        person  change  lead_updated
//	lead    create  lead_created (v2; keyed by its person)
//	deal    create  deal_created
//	deal    change  deal_won / deal_lost when status becomes won / lost,
//	                deal_stage_changed when stage_id changes; other changes rejected
//	activity create call_logged (type call), meeting_scheduled (meeting), email_sent (email)
//
// v1 actions added/updated/deleted are read as create/change/delete.
// Persons become lead_id "pipedrive:<id>", organizations account_id
// "pipedrive:org:<id>"; a deal with neither is keyed "pipedrive:deal:<id>".
// Deletions and merges are rejected with a reason.
func (p *Pipedrive) Map(body []byte) ([]event.Event, []Reject, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, nil, payloadErr("expected a Pipedrive webhook JSON object")
	}
	var b pipedriveBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, nil, payloadErr("not a Pipedrive webhook: %v", err)
	}
	object := firstNonEmpty(b.Meta.Entity, b.Meta.Object)
	action := b.Meta.Action
	if object == "" || action == "" {
		// v1 also names the event as "<action>.<object>" at the top level.
		if a, o, ok := strings.Cut(b.Event, "."); ok {
			action, object = firstNonEmpty(action, a), firstNonEmpty(object, o)
		}
	}
	if object == "" || action == "" {
		return nil, nil, payloadErr("meta.action and meta.entity (or meta.object) are required")
	}
	switch action {
	case "added":
		action = "create"
	case "updated":
		action = "change"
	case "deleted":
		action = "delete"
	}
	cur := b.Data
	if cur == nil {
		cur = b.Current
	}
	var c collector
	str := func(k string) string { return jsonString(cur[k]) }
	id := firstNonEmpty(jsonString(b.Meta.EntityID), str("id"), jsonString(b.Meta.ID))
	ref := object + ":" + id
	if action == "delete" || action == "merged" {
		c.reject(0, ref, "%s %s events are not mapped", object, action)
		return nil, c.rejects, nil
	}
	if cur == nil {
		c.reject(0, ref, "%s %s has no current/data record", object, action)
		return nil, c.rejects, nil
	}
	at := flexTime(b.Meta.Timestamp)
	if at.IsZero() {
		at = firstTime(str("update_time"), str("add_time"))
	}
	if at.IsZero() {
		c.reject(0, ref, "meta.timestamp is missing or unreadable")
		return nil, c.rejects, nil
	}
	e := event.Event{
		// meta.attempt/retry are left out on purpose: a retry is the same event.
		ID:         eventID("pipedrive", jsonString(b.Meta.CompanyID), object, id, action, string(bytes.TrimSpace(b.Meta.Timestamp)), string(bytes.TrimSpace(b.Meta.TSMicro))),
		OccurredAt: at,
		Source:     "pipedrive",
		OwnerID:    prefixed("pipedrive:user:", firstNonEmpty(str("owner_id"), str("user_id"))),
		LeadID:     prefixed("pipedrive:", str("person_id")),
		AccountID:  prefixed("pipedrive:org:", firstNonEmpty(str("org_id"), str("organization_id"))),
	}
	var pr props
	switch object + "." + action {
	case "person.create", "person.change":
		e.Type = event.LeadCreated
		if action == "change" {
			e.Type = event.LeadUpdated
		}
		e.LeadID = "pipedrive:" + id
		e.Contact = event.Contact{
			Name:  str("name"),
			Email: pipedriveFirst(cur["emails"], cur["email"]),
			Phone: pipedriveFirst(cur["phones"], cur["phone"]),
		}
	case "lead.create":
		e.Type = event.LeadCreated
		pr.str("lead_uuid", id).str("title", str("title"))
	case "deal.create", "deal.change":
		if e.LeadID == "" && e.AccountID == "" {
			e.AccountID = "pipedrive:deal:" + id
		}
		value, hasValue := jsonNumber(cur["value"])
		pr.str("deal_id", id).str("stage", str("stage_id")).str("pipeline_id", str("pipeline_id")).
			num("amount", value, hasValue).str("currency", str("currency"))
		if action == "create" {
			e.Type = event.DealCreated
			break
		}
		status, prevStatus, hadStatus := str("status"), jsonString(b.Previous["status"]), b.Previous["status"] != nil
		switch {
		case hadStatus && status != prevStatus && status == "won":
			e.Type = event.DealWon
		case hadStatus && status != prevStatus && status == "lost":
			e.Type = event.DealLost
			pr.str("lost_reason", str("lost_reason"))
		case b.Previous["stage_id"] != nil && jsonString(b.Previous["stage_id"]) != str("stage_id"):
			e.Type = event.DealStageChanged
			pr.str("previous_stage", jsonString(b.Previous["stage_id"]))
		default:
			c.reject(0, ref, "deal change without a status (won/lost) or stage_id change is not mapped")
			return nil, c.rejects, nil
		}
	case "activity.create":
		switch str("type") {
		case "call":
			e.Type = event.CallLogged
		case "meeting":
			e.Type = event.MeetingScheduled
		case "email":
			e.Type = event.EmailSent
		default:
			c.reject(0, ref, "activity type %q is not mapped (call, meeting and email are)", str("type"))
			return nil, c.rejects, nil
		}
		if e.LeadID == "" && e.AccountID == "" {
			c.reject(0, ref, "activity has neither person_id nor org_id: no lead or account to attach it to")
			return nil, c.rejects, nil
		}
		pr.str("deal_id", str("deal_id")).str("subject", str("subject"))
	default:
		c.reject(0, ref, "%s %s events are not mapped", object, action)
		return nil, c.rejects, nil
	}
	e.Properties = pr.done()
	c.add(0, ref, e)
	return c.events, c.rejects, nil
}

// flexTime reads a timestamp sent as Unix seconds or milliseconds (by
// magnitude), as a number or a string, or as an RFC 3339 string.
func flexTime(raw json.RawMessage) time.Time {
	s := jsonString(raw)
	if s == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e12 {
			return unixMillis(n)
		}
		if n > 0 {
			return time.Unix(n, 0).UTC()
		}
		return time.Time{}
	}
	return firstTime(s)
}

// firstTime parses the first value that is an RFC 3339 or Pipedrive
// "2006-01-02 15:04:05" (UTC) timestamp.
func firstTime(vs ...string) time.Time {
	for _, v := range vs {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC()
			}
		}
	}
	return time.Time{}
}

// pipedriveFirst returns the primary (else first) value of Pipedrive's
// [{"value": "a@b.c", "primary": true}] lists, or a plain string.
func pipedriveFirst(raws ...json.RawMessage) string {
	for _, raw := range raws {
		if s := jsonString(raw); s != "" {
			return s
		}
		var list []struct {
			Value   string `json:"value"`
			Primary bool   `json:"primary"`
		}
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			continue
		}
		for _, v := range list {
			if v.Primary && v.Value != "" {
				return v.Value
			}
		}
		if list[0].Value != "" {
			return list[0].Value
		}
	}
	return ""
}
