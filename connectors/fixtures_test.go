package connectors

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
)

// want is the expected canonical event for one fixture item.
type want struct {
	typ     event.Type
	lead    string
	account string
	owner   string
	at      string            // RFC 3339, UTC
	props   map[string]string // properties compared as strings ("12000" for numbers)
	contact event.Contact
}

// wantReject names a rejected item by index and a fragment of its reason.
type wantReject struct {
	index  int
	reason string
}

func testAdapters() map[string]Adapter {
	return map[string]Adapter{
		"hubspot":    NewHubSpot(HubSpotConfig{ClientSecret: "s"}),
		"salesforce": NewSalesforce(SalesforceConfig{Token: "t"}),
		"pipedrive":  NewPipedrive(PipedriveConfig{User: "u", Password: "p"}),
		"zoho":       NewZoho(ZohoConfig{Token: "t"}),
		"freshsales": NewFreshsales(FreshsalesConfig{Token: "t"}),
		"dynamics":   NewDynamics(DynamicsConfig{Key: "k"}),
	}
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		fixture string // testdata/<adapter>/<file>
		events  []want
		rejects []wantReject
	}{
		{
			fixture: "hubspot/docs_example.json",
			events: []want{
				{typ: event.LeadUpdated, lead: "hubspot:1246965", at: "2016-05-02T19:11:47.945Z",
					props: map[string]string{"property": "lifecyclestage", "value": "subscriber", "portal_id": "33", "change_source": "ACADEMY"}},
				{typ: event.LeadCreated, lead: "hubspot:1246978", at: "2016-05-02T19:11:47.945Z",
					props: map[string]string{"portal_id": "33", "change_source": "IMPORT"}},
			},
		},
		{
			fixture: "hubspot/deals_and_unmapped.json",
			events: []want{
				{typ: event.DealCreated, account: "hubspot:deal:65059681032", at: "2024-02-26T22:29:58.741Z",
					props: map[string]string{"deal_id": "65059681032"}},
				{typ: event.DealWon, account: "hubspot:deal:65059681032", at: "2024-02-26T23:29:58.741Z",
					props: map[string]string{"deal_id": "65059681032", "stage": "closedwon"}},
				{typ: event.LeadQualified, lead: "hubspot:65059681099", at: "2024-02-26T23:30:00Z",
					props: map[string]string{"stage": "mql", "property": "lifecyclestage"}},
			},
			rejects: []wantReject{{3, `"company.creation" is not mapped`}, {4, `deal property "amount"`}},
		},
		{
			fixture: "salesforce/lead_create.json",
			events: []want{{typ: event.LeadCreated, lead: "salesforce:00Q5e00000AbCdEEAV", owner: "salesforce:0055e000001AbCdAAK",
				at: "2023-11-14T22:13:20Z", props: map[string]string{"origin": "Web", "entity": "Lead"},
				contact: event.Contact{Email: "ada@example.com", Phone: "+442079460958", Name: "Ada Lovelace", Company: "Analytical Engines Ltd", Country: "GB"}}},
		},
		{
			fixture: "salesforce/opportunity_won_cometd.json",
			events: []want{{typ: event.DealWon, account: "salesforce:0015e00000QwErTAAZ", at: "2023-11-14T23:13:20Z",
				props: map[string]string{"deal_id": "0065e00000XyZabAAB", "stage": "Closed Won", "amount": "12000"}}},
		},
		{
			fixture: "salesforce/batch_mixed.json",
			events: []want{
				{typ: event.LeadUpdated, lead: "salesforce:00Q5e00000AbCdEEAV", at: "2023-11-15T00:13:20Z", props: map[string]string{"changed_fields": "Status,LastModifiedDate"}},
				{typ: event.LeadUpdated, lead: "salesforce:00Q5e00000AbCdFEAV", at: "2023-11-15T00:13:20Z"},
				{typ: event.CallLogged, lead: "salesforce:00Q5e00000AbCdEEAV", owner: "salesforce:0055e000001AbCdAAK", at: "2023-11-15T00:16:40Z"},
			},
			rejects: []wantReject{{1, "Lead GAP_UPDATE events are not mapped"}, {3, "ChangeEventHeader is missing"}},
		},
		{
			fixture: "pipedrive/v1_updated_deal_won.json",
			events: []want{{typ: event.DealWon, lead: "pipedrive:77", account: "pipedrive:org:12", owner: "pipedrive:user:98765",
				at: "2024-03-08T16:00:00Z", props: map[string]string{"deal_id": "123", "stage": "5", "amount": "2786.08", "currency": "USD"}}},
		},
		{
			fixture: "pipedrive/v2_change_deal_stage.json",
			events: []want{{typ: event.DealStageChanged, lead: "pipedrive:1", account: "pipedrive:org:1", owner: "pipedrive:user:123123",
				at: "2025-04-15T15:39:01Z", props: map[string]string{"deal_id": "1", "stage": "2", "previous_stage": "1", "currency": "BRL"}}},
		},
		{
			fixture: "pipedrive/v2_create_person.json",
			events: []want{{typ: event.LeadCreated, lead: "pipedrive:3", account: "pipedrive:org:2", owner: "pipedrive:user:18487521",
				at: "2024-09-27T14:25:28Z", contact: event.Contact{Name: "Grace Hopper", Email: "grace@navy.example", Phone: "+12025550101"}}},
		},
		{
			fixture: "pipedrive/v2_change_deal_title.json",
			rejects: []wantReject{{0, "without a status (won/lost) or stage_id change"}},
		},
		{
			fixture: "pipedrive/v1_deleted_person.json",
			rejects: []wantReject{{0, "person delete events are not mapped"}},
		},
		{
			fixture: "zoho/leads_update.json",
			events: []want{{typ: event.LeadUpdated, lead: "zoho:6756839000000575405", at: "2025-06-16T19:37:19.787Z",
				props:   map[string]string{"module": "Leads", "operation": "update"},
				contact: event.Contact{Company: "Rangoni Of Test", Phone: "555-555-1111"}}},
		},
		{
			fixture: "zoho/deals_update_batch.json",
			events: []want{
				{typ: event.DealStageChanged, account: "zoho:account:5725767000000400001", at: "2024-06-11T14:25:53.625Z",
					props: map[string]string{"deal_id": "5725767000003000010", "stage": "Negotiation/Review"}},
				{typ: event.DealWon, account: "zoho:deal:5725767000003000020", at: "2024-06-11T14:25:53.625Z",
					props: map[string]string{"deal_id": "5725767000003000020", "amount": "25000"}},
			},
			rejects: []wantReject{{2, "without Stage"}},
		},
		{
			fixture: "zoho/contacts_delete.json",
			rejects: []wantReject{{0, "Contacts delete notifications are not mapped"}},
		},
		{
			fixture: "freshsales/contact_create.json",
			events: []want{{typ: event.LeadCreated, lead: "freshsales:16002735618", account: "freshsales:account:16000201033",
				owner: "freshsales:user:16000014442", at: "2024-05-02T10:15:00Z",
				contact: event.Contact{Email: "kj@example.org", Name: "Katherine Johnson", Title: "Head of Research", Country: "US", Phone: "+17575550199"}}},
		},
		{
			fixture: "freshsales/deal_update_won.json",
			events: []want{{typ: event.DealWon, lead: "freshsales:16002735618", account: "freshsales:account:16000201033",
				at: "2024-05-02T10:35:00Z", props: map[string]string{"deal_id": "16000988212", "stage": "Won", "amount": "48000"}}},
		},
		{
			fixture: "freshsales/unknown_event.json",
			rejects: []wantReject{{0, `"onTicketCreate" is not mapped`}},
		},
		{
			fixture: "dynamics/contact_update_docs.json",
			events: []want{{typ: event.LeadUpdated, lead: "dynamics:6d81597f-0f9f-e711-8122-000d3aa2331c", at: "2017-09-26T07:04:08Z",
				props:   map[string]string{"entity": "contact", "message": "Update"},
				contact: event.Contact{Name: "James Glynn (sample)"}}},
		},
		{
			fixture: "dynamics/opportunity_won.json",
			events: []want{{typ: event.DealWon, account: "dynamics:account:aa11bb22-0f9f-e711-8122-000d3aa2331c",
				owner: "dynamics:user:75c2dd85-e89e-e711-8122-000d3aa2331c", at: "2023-11-14T22:13:20Z",
				props: map[string]string{"deal_id": "9a1b2c3d-0f9f-e711-8122-000d3aa2331c", "amount": "15000"}}},
		},
		{
			fixture: "dynamics/phonecall_create.json",
			events: []want{{typ: event.CallLogged, lead: "dynamics:11112222-0f9f-e711-8122-000d3aa2331c", at: "2023-11-14T22:30:00Z",
				props: map[string]string{"subject": "Discovery call"}}},
		},
		{
			fixture: "dynamics/account_delete.json",
			rejects: []wantReject{{0, "account Delete messages are not mapped"}},
		},
	}
	adapters := testAdapters()
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			a := adapters[strings.Split(tt.fixture, "/")[0]]
			body, err := os.ReadFile(filepath.Join("testdata", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			events, rejects, err := a.Map(body)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			if len(events) != len(tt.events) {
				t.Fatalf("got %d events, want %d: %+v (rejects %v)", len(events), len(tt.events), events, rejects)
			}
			for i, w := range tt.events {
				checkEvent(t, a.Name(), events[i], w)
			}
			if len(rejects) != len(tt.rejects) {
				t.Fatalf("got rejects %v, want %v", rejects, tt.rejects)
			}
			for i, w := range tt.rejects {
				if rejects[i].Index != w.index || !strings.Contains(rejects[i].Reason, w.reason) {
					t.Errorf("reject %d = %v, want index %d with reason containing %q", i, rejects[i], w.index, w.reason)
				}
			}
			// Redelivery maps to the same ids: one event.
			again, _, _ := a.Map(body)
			for i := range events {
				if again[i].ID != events[i].ID {
					t.Errorf("event %d: id %q then %q: not deterministic", i, events[i].ID, again[i].ID)
				}
			}
		})
	}
}

func checkEvent(t *testing.T, source string, got event.Event, w want) {
	t.Helper()
	if got.Type != w.typ || got.LeadID != w.lead || got.AccountID != w.account {
		t.Errorf("event = %s lead=%q account=%q, want %s lead=%q account=%q", got.Type, got.LeadID, got.AccountID, w.typ, w.lead, w.account)
	}
	if w.owner != "" && got.OwnerID != w.owner {
		t.Errorf("owner = %q, want %q", got.OwnerID, w.owner)
	}
	if at := got.OccurredAt.Format(time.RFC3339Nano); at != w.at {
		t.Errorf("occurred_at = %s, want %s", at, w.at)
	}
	if got.Source != source {
		t.Errorf("source = %q, want %q", got.Source, source)
	}
	if !strings.HasPrefix(got.ID, source+"-") {
		t.Errorf("id %q lacks the %q prefix", got.ID, source)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("event does not validate: %v", err)
	}
	for k, v := range w.props {
		p, ok := got.Properties.Get(k)
		if !ok {
			t.Errorf("property %q missing in %+v", k, got.Properties)
			continue
		}
		s := p.Str
		if p.Kind == event.KindNumber {
			s = formatFloat(p.Num)
		}
		if s != v {
			t.Errorf("property %q = %q, want %q", k, s, v)
		}
	}
	if w.contact != (event.Contact{}) && got.Contact != w.contact {
		t.Errorf("contact = %+v, want %+v", got.Contact, w.contact)
	}
	// The encoding round-trips through the collector's own parser.
	if _, err := event.Parse(got.AppendJSON(nil)); err != nil {
		t.Errorf("canonical JSON does not Parse: %v", err)
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func BenchmarkHubSpotMap(b *testing.B) {
	body, err := os.ReadFile("testdata/hubspot/deals_and_unmapped.json")
	if err != nil {
		b.Fatal(err)
	}
	h := NewHubSpot(HubSpotConfig{ClientSecret: "s"})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := h.Map(body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFixturesDocumented: every fixture is described (source, what is not
// confirmed) in its directory's README and exercised by TestFixtures.
func TestFixturesDocumented(t *testing.T) {
	src, err := os.ReadFile("fixtures_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for name := range testAdapters() {
		readme, err := os.ReadFile(filepath.Join("testdata", name, "README.md"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.Contains(string(readme), "Not confirmed") {
			t.Errorf("%s/README.md does not say what could not be confirmed", name)
		}
		files, _ := filepath.Glob(filepath.Join("testdata", name, "*.json"))
		if len(files) == 0 {
			t.Errorf("%s has no fixtures", name)
		}
		for _, f := range files {
			base := filepath.Base(f)
			if !strings.Contains(string(readme), base) {
				t.Errorf("%s/README.md does not describe %s", name, base)
			}
			if !strings.Contains(string(src), `"`+name+"/"+base+`"`) {
				t.Errorf("%s/%s is not in TestFixtures", name, base)
			}
		}
	}
}
