package ingest

import (
	"bytes"
	"net/http"
	"os"
	"testing"
)

// TestWebhookThroughPipeline: a CRM webhook mounted on the collector's
// server lands in crm.events like any other source, once even when the CRM
// redelivers it; a wrong token is refused and stores nothing.
func TestWebhookThroughPipeline(t *testing.T) {
	p := startPipeline(t, func(c *Config) { c.Webhooks.Salesforce.Token = "sf-forwarder-token" })
	body, err := os.ReadFile("../connectors/testdata/salesforce/lead_create.json")
	if err != nil {
		t.Fatal(err)
	}
	send := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/webhooks/salesforce", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: status %d, want 401", code)
	}
	for i := range 2 { // a delivery and the CRM's redelivery
		if code := send("sf-forwarder-token"); code != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, code)
		}
	}
	p.waitCount("SELECT count() FROM DB.events FINAL WHERE source = 'salesforce' AND type = 'lead_created'", 1)
	if n := p.count("SELECT uniqExact(event_id) FROM DB.events"); n != 1 {
		t.Errorf("%d distinct events stored, want 1", n)
	}
}
