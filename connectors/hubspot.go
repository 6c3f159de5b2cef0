package connectors

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmstream/crmstream/event"
)

// HubSpotConfig configures the HubSpot adapter.
type HubSpotConfig struct {
	// ClientSecret is the app's client secret, the HMAC key of the v3
	// signature. Required: without it every request is refused.
	ClientSecret string
	// PublicURL is the scheme and host HubSpot calls, e.g.
	// "https://crm.example.com", when a proxy in front of the collector
	// changes them. Empty: taken from the request (Host, X-Forwarded-Proto).
	PublicURL string
	// MaxAge is the replay window for X-HubSpot-Request-Timestamp.
	// Default 5 minutes, as HubSpot's documentation prescribes.
	MaxAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// HubSpot maps HubSpot webhook subscriptions (the v3 webhooks API: a JSON
// array of up to 100 notifications per request) and checks the v3 request
// signature.
type HubSpot struct{ cfg HubSpotConfig }

// NewHubSpot returns the HubSpot adapter.
func NewHubSpot(cfg HubSpotConfig) *HubSpot {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &HubSpot{cfg: cfg}
}

// Name implements Adapter.
func (*HubSpot) Name() string { return "hubspot" }

// Verify checks X-HubSpot-Signature-v3: base64(HMAC-SHA256(client secret,
// method + URI + body + timestamp)), with the timestamp (milliseconds, in
// X-HubSpot-Request-Timestamp) no older than MaxAge.
func (h *HubSpot) Verify(r *http.Request, body []byte) error {
	sig := r.Header.Get("X-HubSpot-Signature-v3")
	ts := r.Header.Get("X-HubSpot-Request-Timestamp")
	if sig == "" {
		return authErr("missing X-HubSpot-Signature-v3")
	}
	if ts == "" {
		return authErr("missing X-HubSpot-Request-Timestamp")
	}
	if h.cfg.ClientSecret == "" {
		return authErr("no HubSpot client secret is configured")
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return authErr("X-HubSpot-Request-Timestamp is not a number of milliseconds")
	}
	age := h.cfg.Now().Sub(time.UnixMilli(ms))
	if age > h.cfg.MaxAge || age < -h.cfg.MaxAge {
		return authErr("request timestamp is %s from now, outside the %s replay window", age.Round(time.Second), h.cfg.MaxAge)
	}
	want := HubSpotSignature(h.cfg.ClientSecret, r.Method, h.requestURI(r), body, ts)
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return authErr("X-HubSpot-Signature-v3 is not base64")
	}
	if !hmac.Equal(got, want) {
		return authErr("X-HubSpot-Signature-v3 does not match")
	}
	return nil
}

// HubSpotSignature computes the raw (not base64) v3 signature; exported for
// tests and tools that sign requests.
func HubSpotSignature(secret, method, uri string, body []byte, timestamp string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method))
	m.Write([]byte(uri))
	m.Write(body)
	m.Write([]byte(timestamp))
	return m.Sum(nil)
}

// hubspotURIDecoder undoes the percent-encodings HubSpot's documentation
// lists for the v3 signature: the URI is signed with these characters
// decoded.
var hubspotURIDecoder = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

func (h *HubSpot) requestURI(r *http.Request) string {
	base := h.cfg.PublicURL
	if base == "" {
		scheme := "https"
		if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
			scheme = p
		} else if r.TLS == nil {
			scheme = "http"
		}
		base = scheme + "://" + r.Host
	}
	return hubspotURIDecoder.Replace(base + r.URL.RequestURI())
}

// hubspotEvent is one notification of the webhooks API.
type hubspotEvent struct {
	EventID          json.Number `json:"eventId"`
	SubscriptionID   json.Number `json:"subscriptionId"`
	PortalID         json.Number `json:"portalId"`
	OccurredAt       int64       `json:"occurredAt"` // ms since epoch
	SubscriptionType string      `json:"subscriptionType"`
	EventType        string      `json:"eventType"`    // the documentation's example names the type so
	ObjectTypeID     string      `json:"objectTypeId"` // generic "object.*" subscriptions: "0-1" contact, "0-3" deal
	ObjectID         json.Number `json:"objectId"`
	PropertyName     string      `json:"propertyName"`
	PropertyValue    *string     `json:"propertyValue"`
	ChangeSource     string      `json:"changeSource"`
	SourceID         string      `json:"sourceId"`
}

// Map implements Adapter. Mapping:
//
//	contact.creation                         lead_created
//	contact.propertyChange lifecyclestage    lead_qualified (stage mql / sql) for
//	                                         marketingqualifiedlead / salesqualifiedlead, else lead_updated
//	contact.propertyChange (other)           lead_updated (property, value)
//	deal.creation                            deal_created
//	deal.propertyChange dealstage            deal_won (closedwon), deal_lost (closedlost), else deal_stage_changed
//	object.creation / object.propertyChange  as above for objectTypeId 0-1 (contact) and 0-3 (deal)
//
// Everything else (deletions, merges, associations, companies, other deal
// properties) is rejected with a reason. HubSpot's notifications carry ids
// only: a contact becomes lead_id "hubspot:<objectId>"; a deal has no
// associated contact or company in the payload, so its events are keyed by
// account_id "hubspot:deal:<objectId>" with deal_id set.
func (h *HubSpot) Map(body []byte) ([]event.Event, []Reject, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return nil, nil, payloadErr("expected a JSON array of HubSpot notifications")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, nil, payloadErr("not a JSON array: %v", err)
	}
	var c collector
	for i, raw := range items {
		var n hubspotEvent
		if err := json.Unmarshal(raw, &n); err != nil {
			c.reject(i, "", "not a HubSpot notification object: %v", err)
			continue
		}
		h.mapOne(&c, i, &n)
	}
	return c.events, c.rejects, nil
}

func (h *HubSpot) mapOne(c *collector, i int, n *hubspotEvent) {
	ref := n.EventID.String()
	if n.ObjectID == "" {
		c.reject(i, ref, "objectId is missing")
		return
	}
	if n.OccurredAt <= 0 {
		c.reject(i, ref, "occurredAt is missing")
		return
	}
	if n.SubscriptionType == "" {
		n.SubscriptionType = n.EventType
	}
	object, action, _ := strings.Cut(n.SubscriptionType, ".")
	if object == "object" {
		switch n.ObjectTypeID {
		case "0-1":
			object = "contact"
		case "0-3":
			object = "deal"
		default:
			c.reject(i, ref, "objectTypeId %q is not mapped (contacts 0-1 and deals 0-3 are)", n.ObjectTypeID)
			return
		}
	}
	e := event.Event{
		// attemptNumber is left out on purpose: a retry is the same event.
		ID:         eventID("hubspot", n.PortalID.String(), n.EventID.String(), n.SubscriptionType, n.ObjectID.String(), n.PropertyName, strconv.FormatInt(n.OccurredAt, 10)),
		OccurredAt: unixMillis(n.OccurredAt),
		Source:     "hubspot",
	}
	value := ""
	if n.PropertyValue != nil {
		value = *n.PropertyValue
	}
	var p props
	p.str("portal_id", n.PortalID.String()).str("change_source", n.ChangeSource)
	switch object + "." + action {
	case "contact.creation":
		e.Type, e.LeadID = event.LeadCreated, "hubspot:"+n.ObjectID.String()
	case "contact.propertyChange":
		e.LeadID = "hubspot:" + n.ObjectID.String()
		e.Type = event.LeadUpdated
		if n.PropertyName == "lifecyclestage" {
			switch value {
			case "marketingqualifiedlead":
				e.Type = event.LeadQualified
				p.str("stage", "mql")
			case "salesqualifiedlead":
				e.Type = event.LeadQualified
				p.str("stage", "sql")
			}
		}
		p.str("property", n.PropertyName).str("value", value)
	case "deal.creation":
		e.Type = event.DealCreated
		e.AccountID = "hubspot:deal:" + n.ObjectID.String()
		p.str("deal_id", n.ObjectID.String())
	case "deal.propertyChange":
		if n.PropertyName != "dealstage" {
			c.reject(i, ref, "deal property %q changes are not mapped (only dealstage is)", n.PropertyName)
			return
		}
		e.AccountID = "hubspot:deal:" + n.ObjectID.String()
		switch value {
		case "closedwon":
			e.Type = event.DealWon
		case "closedlost":
			e.Type = event.DealLost
		default:
			e.Type = event.DealStageChanged
		}
		p.str("deal_id", n.ObjectID.String()).str("stage", value)
	default:
		c.reject(i, ref, "subscriptionType %q is not mapped", n.SubscriptionType)
		return
	}
	e.Properties = p.done()
	c.add(i, ref, e)
}
