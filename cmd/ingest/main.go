// Command ingest runs the pipeline's entry: the HTTP collector
// (POST /v1/events on 127.0.0.1:8081), the relay from the raw Kafka topic and
// the sink into ClickHouse. All three run by default; --mode picks some.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/crmstream/crmstream/ingest"
	"github.com/crmstream/crmstream/ingest/collector"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/service"
	"github.com/crmstream/crmstream/internal/tracing"
)

const examples = `  ingest                                   # collector + relay + sink against make up's Kafka and ClickHouse
  ingest --mode collector --write-keys "$KEY"
  CRM_KAFKA_BROKERS=k1:9092,k2:9092 CRM_CLICKHOUSE_ADDR=ch:9000 ingest --mode relay,sink
  ingest --pii-key-file /run/secrets/pii --tls-cert cert.pem --tls-key key.pem
  ingest --validate                        # print the effective settings and exit
  curl -H 'Content-Type: application/x-ndjson' --data-binary @events.ndjson http://127.0.0.1:8081/v1/events`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, cli.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var (
		c        ingest.Config
		web      cli.HTTP
		modes    []string
		keys     string
		piiKey   string
		maxBody  int
		parts    int
		noCreate bool
		maxLag   int
	)
	f := cli.New("ingest", "the HTTP collector (POST /v1/events), the relay from the raw Kafka topic crm.raw and the sink from crm.events into ClickHouse, with /metrics, /healthz and /readyz on the HTTP address.", examples)
	f.List(&modes, "mode", "CRM_INGEST_MODE", []string{"collector", "relay", "sink"}, "parts to run: any of collector, relay, sink")
	f.HTTP(&web, "127.0.0.1:8081")
	f.Kafka(&c.Kafka)
	var tc tracing.Config
	f.Tracing(&tc, "ingest")
	f.ClickHouse(&c.ClickHouse)
	f.Secret(&keys, "write-keys", "CRM_WRITE_KEYS", "comma-separated write keys the collector accepts (Authorization: Bearer <key> or X-Write-Key); empty = open, for local development only")
	f.Secret(&piiKey, "pii-key", "CRM_PII_KEY", "hash contact e-mail, phone and name with HMAC-SHA256 under this key before ClickHouse (at least 16 bytes)")
	f.Int(&maxBody, "max-body-bytes", "CRM_INGEST_MAX_BODY_BYTES", collector.DefaultMaxBodyBytes, "collector: largest request body after decompression (413 beyond)")
	f.Int(&c.MaxItems, "max-events", "CRM_INGEST_MAX_EVENTS", collector.DefaultMaxItems, "collector: most events in one request (413 beyond)")
	f.Int(&c.MaxInFlight, "max-inflight", "CRM_INGEST_MAX_INFLIGHT", collector.DefaultMaxInFlight, "collector: requests processed at once (429 beyond)")
	f.Duration(&c.RetryAfter, "retry-after", "CRM_INGEST_RETRY_AFTER", 2*time.Second, "collector: Retry-After told to callers on 429/503")
	f.Int(&maxLag, "max-sink-lag", "CRM_INGEST_MAX_SINK_LAG", 0, "collector: answer 503 while the sink group is more than this many records behind; 0 = off (for a collector running apart from the sink)")
	f.Int(&c.BatchRows, "batch-rows", "CRM_INGEST_BATCH_ROWS", 50_000, "sink: insert when this many rows are batched (or --flush-every passed); larger inserts cost ClickHouse less per row")
	f.Duration(&c.FlushEvery, "flush-every", "CRM_INGEST_FLUSH_EVERY", time.Second, "sink: insert when the oldest batched row is this old")
	f.String(&c.RelayGroup, "relay-group", "CRM_INGEST_RELAY_GROUP", "crmstream-relay", "relay: consumer group")
	f.String(&c.SinkGroup, "sink-group", "CRM_INGEST_SINK_GROUP", "crmstream-sink", "sink: consumer group")
	f.String(&c.InstanceID, "instance-id", "CRM_INGEST_INSTANCE_ID", "", "static consumer-group membership: unique per process, stable across restarts (e.g. the pod name); a restart then takes its partitions back at once")
	f.Int(&parts, "partitions", "CRM_KAFKA_PARTITIONS", 4, "partitions of topics created when missing")
	f.Bool(&noCreate, "no-create-topics", "CRM_KAFKA_NO_CREATE_TOPICS", false, "do not create missing topics")
	w := &c.Webhooks
	f.Secret(&w.HubSpot.ClientSecret, "hubspot-client-secret", "CRM_HUBSPOT_CLIENT_SECRET", "HubSpot app client secret: mounts /v1/webhooks/hubspot (v3 signatures checked)")
	f.String(&w.HubSpot.PublicURL, "public-url", "CRM_PUBLIC_URL", "", "the collector's public base URL as HubSpot calls it (its signature covers it; needed behind a proxy)")
	f.Secret(&w.Salesforce.Token, "salesforce-token", "CRM_SALESFORCE_TOKEN", "bearer token of the Salesforce CDC forwarder: mounts /v1/webhooks/salesforce")
	f.String(&w.Pipedrive.User, "pipedrive-user", "CRM_PIPEDRIVE_USER", "", "Pipedrive webhook basic-auth user: mounts /v1/webhooks/pipedrive")
	f.Secret(&w.Pipedrive.Password, "pipedrive-password", "CRM_PIPEDRIVE_PASSWORD", "Pipedrive webhook basic-auth password")
	f.Secret(&w.Zoho.Token, "zoho-token", "CRM_ZOHO_TOKEN", "Zoho CRM notification channel token: mounts /v1/webhooks/zoho")
	f.Secret(&w.Freshsales.Token, "freshsales-token", "CRM_FRESHSALES_TOKEN", "Freshsales webhook bearer token: mounts /v1/webhooks/freshsales")
	f.Secret(&w.Dynamics.Key, "dynamics-key", "CRM_DYNAMICS_KEY", "Dynamics 365 webhook key (?code= or X-Api-Key): mounts /v1/webhooks/dynamics")
	logger := f.Log()
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	var errs []error
	for _, m := range modes {
		switch strings.TrimSpace(m) {
		case "collector":
			c.Collector = true
		case "relay":
			c.Relay = true
		case "sink":
			c.Sink = true
		case "all":
			c.Collector, c.Relay, c.Sink = true, true, true
		default:
			errs = append(errs, fmt.Errorf("--mode: unknown part %q (collector, relay, sink)", m))
		}
	}
	c.HTTPAddr, c.TLSCertFile, c.TLSKeyFile = web.Addr, web.CertFile, web.KeyFile
	c.WriteKeys = cli.SplitList(keys)
	c.PIIKey = []byte(piiKey)
	c.MaxBodyBytes = int64(maxBody)
	c.Partitions = int32(parts)
	c.NoCreate = noCreate
	c.MaxSinkLag = int64(maxLag)
	if err := errors.Join(append(errs, c.Validate(), tc.Validate())...); err != nil {
		return err
	}
	log := logger()
	if f.ValidateOnly() {
		for _, s := range f.Settings() {
			fmt.Println(s)
		}
		return nil
	}
	if c.Collector && len(c.WriteKeys) == 0 {
		log.Warn("collector is open: no write keys configured (set --write-keys outside local development)")
	}
	c.Logger = log
	c.Registry = service.NewRegistry()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tp, shutdown, err := tracing.Setup(ctx, tc)
	if err != nil {
		return err
	}
	defer tracing.Flush(ctx, shutdown)
	c.Tracer = tp
	return ingest.Run(ctx, c)
}
