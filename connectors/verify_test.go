package connectors

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signedHubSpot returns a request signed as HubSpot signs it (v3).
func signedHubSpot(secret, url string, body []byte, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	uri := "https://" + r.Host + r.URL.RequestURI()
	r.Header.Set("X-HubSpot-Request-Timestamp", ts)
	r.Header.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(HubSpotSignature(secret, "POST", uri, body, ts)))
	r.Header.Set("X-Forwarded-Proto", "https")
	return r
}

func TestHubSpotVerify(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	body, err := os.ReadFile("testdata/hubspot/docs_example.json")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHubSpot(HubSpotConfig{ClientSecret: "app-secret", Now: func() time.Time { return now }})
	const url = "https://crm.example.com/v1/webhooks/hubspot?portal=33"
	tests := []struct {
		name    string
		req     func() *http.Request
		wantErr string // "" = accepted
	}{
		{"good", func() *http.Request { return signedHubSpot("app-secret", url, body, now.Add(-time.Minute)) }, ""},
		{"good, URL-encoded characters signed decoded", func() *http.Request {
			r := signedHubSpot("app-secret", "https://crm.example.com/v1/webhooks/hubspot?a=b:c", body, now)
			r.URL.RawQuery = "a=b%3Ac"
			return r
		}, ""},
		{"wrong secret", func() *http.Request { return signedHubSpot("other", url, body, now) }, "does not match"},
		{"missing signature", func() *http.Request {
			r := signedHubSpot("app-secret", url, body, now)
			r.Header.Del("X-HubSpot-Signature-v3")
			return r
		}, "missing X-HubSpot-Signature-v3"},
		{"missing timestamp", func() *http.Request {
			r := signedHubSpot("app-secret", url, body, now)
			r.Header.Del("X-HubSpot-Request-Timestamp")
			return r
		}, "missing X-HubSpot-Request-Timestamp"},
		{"replayed after 5 minutes", func() *http.Request { return signedHubSpot("app-secret", url, body, now.Add(-6*time.Minute)) }, "replay window"},
		{"not base64", func() *http.Request {
			r := signedHubSpot("app-secret", url, body, now)
			r.Header.Set("X-HubSpot-Signature-v3", "%%%")
			return r
		}, "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.Verify(tt.req(), body)
			checkAuth(t, err, tt.wantErr)
		})
	}
	t.Run("tampered body", func(t *testing.T) {
		r := signedHubSpot("app-secret", url, body, now)
		tampered := []byte(strings.Replace(string(body), "subscriber", "customer", 1))
		checkAuth(t, h.Verify(r, tampered), "does not match")
	})
	t.Run("no secret configured", func(t *testing.T) {
		r := signedHubSpot("", url, body, now)
		checkAuth(t, NewHubSpot(HubSpotConfig{}).Verify(r, body), "no HubSpot client secret")
	})
	t.Run("public URL behind a proxy", func(t *testing.T) {
		// HubSpot signed https://public.example.com/…; the collector sees an internal host.
		r := signedHubSpot("app-secret", "https://public.example.com/v1/webhooks/hubspot", body, now)
		r.Host = "ingest.internal:8081"
		checkAuth(t, h.Verify(r, body), "does not match")
		hp := NewHubSpot(HubSpotConfig{ClientSecret: "app-secret", PublicURL: "https://public.example.com/", Now: func() time.Time { return now }})
		checkAuth(t, hp.Verify(r, body), "")
	})
}

func TestTokenVerify(t *testing.T) {
	bearerReq := func(tok string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		return r
	}
	basicReq := func(u, p string, set bool) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		if set {
			r.SetBasicAuth(u, p)
		}
		return r
	}
	zohoBody := func(tok string) []byte { return []byte(`{"token":"` + tok + `","channel_id":"1000000068001"}`) }
	sf := NewSalesforce(SalesforceConfig{Token: "sf-token"})
	fs := NewFreshsales(FreshsalesConfig{Token: "fs-token"})
	pd := NewPipedrive(PipedriveConfig{User: "hook", Password: "pw"})
	zo := NewZoho(ZohoConfig{Token: "zo-token"})
	zoCh := NewZoho(ZohoConfig{Token: "zo-token", ChannelIDs: []string{"42"}})
	dy := NewDynamics(DynamicsConfig{Key: "dy-key"})
	dyReq := func(query, header string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/x"+query, nil)
		if header != "" {
			r.Header.Set("X-Api-Key", header)
		}
		return r
	}
	tests := []struct {
		name    string
		a       Adapter
		r       *http.Request
		body    []byte
		wantErr string
	}{
		{"salesforce good", sf, bearerReq("sf-token"), nil, ""},
		{"salesforce bad", sf, bearerReq("nope"), nil, "wrong bearer token"},
		{"salesforce missing", sf, bearerReq(""), nil, "missing bearer token"},
		{"salesforce unconfigured", NewSalesforce(SalesforceConfig{}), bearerReq("x"), nil, "no bearer token is configured"},
		{"freshsales good", fs, bearerReq("fs-token"), nil, ""},
		{"freshsales bad", fs, bearerReq("sf-token"), nil, "wrong"},
		{"freshsales missing", fs, bearerReq(""), nil, "missing"},
		{"pipedrive good", pd, basicReq("hook", "pw", true), nil, ""},
		{"pipedrive bad password", pd, basicReq("hook", "x", true), nil, "wrong basic-auth"},
		{"pipedrive bad user", pd, basicReq("x", "pw", true), nil, "wrong basic-auth"},
		{"pipedrive missing", pd, basicReq("", "", false), nil, "missing basic-auth"},
		{"zoho good", zo, bearerReq(""), zohoBody("zo-token"), ""},
		{"zoho bad", zo, bearerReq(""), zohoBody("forged"), "wrong channel token"},
		{"zoho missing", zo, bearerReq(""), []byte(`{"module":"Leads"}`), "missing channel token"},
		{"zoho not JSON", zo, bearerReq(""), []byte(`token=zo-token`), "not a JSON object"},
		{"zoho wrong channel", zoCh, bearerReq(""), zohoBody("zo-token"), "not one of the configured channels"},
		{"dynamics good query code", dy, dyReq("?code=dy-key", ""), nil, ""},
		{"dynamics good header", dy, dyReq("", "dy-key"), nil, ""},
		{"dynamics bad", dy, dyReq("?code=guess", ""), nil, "wrong webhook key"},
		{"dynamics missing", dy, dyReq("", ""), nil, "missing webhook key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAuth(t, tt.a.Verify(tt.r, tt.body), tt.wantErr)
		})
	}
}

func checkAuth(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Verify = %v, want accepted", err)
		}
		return
	}
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("Verify = %v, want *AuthError containing %q", err, want)
	}
	if !strings.Contains(ae.Reason, want) {
		t.Fatalf("Verify reason %q, want it to contain %q", ae.Reason, want)
	}
}
