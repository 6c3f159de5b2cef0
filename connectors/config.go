package connectors

// Config holds every adapter's settings; the collector's main fills it from
// flags and environment (CRM_HUBSPOT_CLIENT_SECRET, CRM_SALESFORCE_TOKEN,
// CRM_PIPEDRIVE_USER / CRM_PIPEDRIVE_PASSWORD, CRM_ZOHO_TOKEN,
// CRM_FRESHSALES_TOKEN, CRM_DYNAMICS_KEY).
type Config struct {
	HubSpot    HubSpotConfig
	Salesforce SalesforceConfig
	Pipedrive  PipedriveConfig
	Zoho       ZohoConfig
	Freshsales FreshsalesConfig
	Dynamics   DynamicsConfig
}

// Adapters returns the adapters whose secret is configured, in a fixed
// order. An adapter without a secret is left out rather than mounted: it
// would refuse every request anyway, and a missing route (404) says more
// than a 401 about a deployment that forgot a secret.
func (c Config) Adapters() []Adapter {
	var out []Adapter
	if c.HubSpot.ClientSecret != "" {
		out = append(out, NewHubSpot(c.HubSpot))
	}
	if c.Salesforce.Token != "" {
		out = append(out, NewSalesforce(c.Salesforce))
	}
	if c.Pipedrive.User != "" && c.Pipedrive.Password != "" {
		out = append(out, NewPipedrive(c.Pipedrive))
	}
	if c.Zoho.Token != "" {
		out = append(out, NewZoho(c.Zoho))
	}
	if c.Freshsales.Token != "" {
		out = append(out, NewFreshsales(c.Freshsales))
	}
	if c.Dynamics.Key != "" {
		out = append(out, NewDynamics(c.Dynamics))
	}
	return out
}
