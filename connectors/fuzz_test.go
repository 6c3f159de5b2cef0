package connectors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzMap checks the invariant of every adapter's Map on arbitrary bytes:
// it never panics; a payload-level failure is a *PayloadError with a
// reason; every event it returns is valid, and every reject has a reason;
// mapping the same bytes twice gives the same event ids.
func fuzzMap(f *testing.F, a Adapter) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", a.Name(), "*.json"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, rejects, err := a.Map(body)
		if err != nil {
			var pe *PayloadError
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("Map error %v is not a *PayloadError with a reason", err)
			}
			return
		}
		for _, e := range events {
			if err := e.Validate(); err != nil {
				t.Fatalf("Map returned an invalid event %+v: %v", e, err)
			}
		}
		for _, r := range rejects {
			if r.Reason == "" {
				t.Fatalf("reject without a reason: %+v", r)
			}
		}
		again, _, _ := a.Map(body)
		for i := range events {
			if again[i].ID != events[i].ID {
				t.Fatalf("event %d id not deterministic: %q vs %q", i, events[i].ID, again[i].ID)
			}
		}
	})
}

func FuzzHubSpot(f *testing.F)    { fuzzMap(f, NewHubSpot(HubSpotConfig{ClientSecret: "s"})) }
func FuzzSalesforce(f *testing.F) { fuzzMap(f, NewSalesforce(SalesforceConfig{Token: "t"})) }
func FuzzPipedrive(f *testing.F)  { fuzzMap(f, NewPipedrive(PipedriveConfig{User: "u", Password: "p"})) }
func FuzzZoho(f *testing.F)       { fuzzMap(f, NewZoho(ZohoConfig{Token: "t"})) }
func FuzzFreshsales(f *testing.F) { fuzzMap(f, NewFreshsales(FreshsalesConfig{Token: "t"})) }
func FuzzDynamics(f *testing.F)   { fuzzMap(f, NewDynamics(DynamicsConfig{Key: "k"})) }
