package connectors_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/crmstream/crmstream/connectors"
	"github.com/crmstream/crmstream/event"
)

// A collector mounts the configured adapters and hands their events to its
// producer; here the producer prints them.
func ExampleMount() {
	cfg := connectors.Config{Zoho: connectors.ZohoConfig{Token: "channel-token"}}
	publish := func(_ context.Context, evs []event.Event) error {
		for _, e := range evs {
			fmt.Println(e.Type, e.LeadID, e.OccurredAt.Format("2006-01-02T15:04:05Z"))
		}
		return nil
	}
	mux := http.NewServeMux()
	connectors.Mount(mux, cfg.Adapters(), publish, connectors.HandlerOptions{})

	body := `{"server_time":1750102639787,"module":"Leads","operation":"insert","ids":["6756839000000575405"],"channel_id":"1000000068001","token":"channel-token"}`
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/webhooks/zoho", strings.NewReader(body)))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// lead_created zoho:6756839000000575405 2025-06-16T19:37:19Z
	// 200 {"accepted":1}
}
