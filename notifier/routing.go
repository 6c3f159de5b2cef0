package notifier

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"time"

	"github.com/goccy/go-yaml"
)

// LogURL as an endpoint URL writes each message to the log (at info)
// instead of posting it: for local development and demos with no webhook.
// Delivery to it always succeeds.
const LogURL = "log:"

// Endpoint is one webhook: a Slack incoming webhook or anything that takes
// the same JSON. Its URL is a secret (Slack's carry the token): it is never
// logged nor used as a metric label; the endpoint's name is.
type Endpoint struct {
	URL     string        `yaml:"url" json:"url"`
	Timeout time.Duration `yaml:"timeout" json:"timeout"` // per attempt; 0 = Config.AttemptTimeout
}

// Routes maps alert owners to endpoints. A YAML (or JSON) file:
//
//	default: team                 # endpoint for owners not listed (optional)
//	endpoints:
//	  team:  {url: "https://hooks.slack.com/services/T0/B0/XXXX"}
//	  rep-7: {url: "https://example.com/hook", timeout: 5s}
//	owners:
//	  rep-7: rep-7
//	  rep-9: team
//
// Routes is immutable after Validate: safe for concurrent use.
type Routes struct {
	Default   string              `yaml:"default" json:"default"`
	Endpoints map[string]Endpoint `yaml:"endpoints" json:"endpoints"`
	Owners    map[string]string   `yaml:"owners" json:"owners"`
}

// LoadRoutes reads and validates a routing file.
func LoadRoutes(path string) (Routes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Routes{}, fmt.Errorf("read routes: %w", err)
	}
	return ParseRoutes(b)
}

// ParseRoutes decodes and validates a routing table (YAML or JSON).
func ParseRoutes(b []byte) (Routes, error) {
	var r Routes
	if err := yaml.UnmarshalWithOptions(b, &r, yaml.Strict()); err != nil {
		return Routes{}, fmt.Errorf("parse routes: %w", err)
	}
	if err := r.Validate(); err != nil {
		return Routes{}, err
	}
	return r, nil
}

// Validate reports every problem of the table at once.
func (r Routes) Validate() error {
	var errs []error
	if len(r.Endpoints) == 0 {
		errs = append(errs, errors.New("routes: no endpoints"))
	}
	for _, name := range sortedKeys(r.Endpoints) {
		ep := r.Endpoints[name]
		u, err := url.Parse(ep.URL)
		if ep.URL == LogURL {
			continue
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("routes: endpoint %s: url must be http(s)://host/… or %q", name, LogURL))
		}
		if ep.Timeout < 0 {
			errs = append(errs, fmt.Errorf("routes: endpoint %s: negative timeout", name))
		}
	}
	if r.Default != "" {
		if _, ok := r.Endpoints[r.Default]; !ok {
			errs = append(errs, fmt.Errorf("routes: default %q is not an endpoint", r.Default))
		}
	}
	for _, owner := range sortedKeys(r.Owners) {
		if _, ok := r.Endpoints[r.Owners[owner]]; !ok {
			errs = append(errs, fmt.Errorf("routes: owner %s: endpoint %q not defined", owner, r.Owners[owner]))
		}
	}
	return errors.Join(errs...)
}

// Lookup returns the endpoint name for an owner: its own, else the default.
// ok is false when neither exists.
func (r Routes) Lookup(owner string) (name string, ok bool) {
	if name, ok := r.Owners[owner]; ok && owner != "" {
		return name, true
	}
	if r.Default != "" {
		return r.Default, true
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// SingleRoute is a table with one default endpoint named "default" at url
// (a webhook URL or LogURL).
func SingleRoute(url string) Routes {
	return Routes{Default: "default", Endpoints: map[string]Endpoint{"default": {URL: url}}}
}
