// Command dashboard-api serves the dashboard API (/api/v1) and the embedded
// web dashboard over ClickHouse, on 127.0.0.1:8080 by default.
//
//	dashboard-api --jwt-secret-file /run/secrets/jwt --clickhouse-addr ch:9000
//
// Tokens come from `crmctl token` (make token ROLE=leader USER=lee).
package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crmstream/crmstream/dashboard"
	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/reports"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/service"
)

type config struct {
	addr       string
	ch         chstore.Config
	secret     string
	publicKeys []string
	issuer     string
	audience   string
	stagesFile string
	cacheTTL   time.Duration
	rate       float64
	burst      int
	alertPoll  time.Duration
	livePoll   time.Duration
	maxThreads int
}

func (c config) Validate() error {
	var errs []error
	if c.addr == "" {
		errs = append(errs, errors.New("--http-addr is required"))
	}
	if c.secret != "" && len(c.secret) < 16 {
		errs = append(errs, errors.New("--jwt-secret: at least 16 bytes"))
	}
	if err := c.ch.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, cli.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "dashboard-api:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var c config
	f := cli.New("dashboard-api", "the dashboard API (/api/v1, JWT, SSE) and the embedded web dashboard over ClickHouse.",
		"  dashboard-api\n  dashboard-api --jwt-secret-file /run/secrets/jwt --clickhouse-addr ch:9000 --http-addr :8080")
	f.String(&c.addr, "http-addr", "CRM_HTTP_ADDR", "127.0.0.1:8080", "HTTP listen address (API, UI, /metrics, /healthz, /readyz)")
	f.ClickHouse(&c.ch)
	f.Secret(&c.secret, "jwt-secret", "CRM_JWT_SECRET", "HS256 secret of the bearer tokens; empty = the local dev secret (crmctl token's default)")
	f.List(&c.publicKeys, "jwt-public-keys", "CRM_JWT_PUBLIC_KEYS", nil, "PEM files of RSA/ECDSA public keys accepted for RS256/ES256 tokens")
	f.String(&c.issuer, "jwt-issuer", "CRM_JWT_ISSUER", auth.DefaultIssuer, "required iss claim")
	f.String(&c.audience, "jwt-audience", "CRM_JWT_AUDIENCE", auth.DefaultAudience, "required aud claim")
	f.String(&c.stagesFile, "funnel-stages", "CRM_FUNNEL_STAGES", "", "JSON file of funnel stages [{name, match:[{type, property, value}]}]; empty = the default funnel")
	f.Duration(&c.cacheTTL, "cache-ttl", "CRM_DASHBOARD_CACHE_TTL", 2*time.Second, "how long a response is fresh in the cache")
	f.Float(&c.rate, "rate-limit", "CRM_DASHBOARD_RATE_LIMIT", 50, "requests per second per token; negative disables")
	f.Int(&c.burst, "rate-burst", "CRM_DASHBOARD_RATE_BURST", 100, "burst per token")
	f.Duration(&c.alertPoll, "alert-poll", "CRM_DASHBOARD_ALERT_POLL", time.Second, "how often new alerts are read for the stream")
	f.Duration(&c.livePoll, "live-poll", "CRM_DASHBOARD_LIVE_POLL", 2*time.Second, "how often the live funnel is re-read")
	f.Int(&c.maxThreads, "clickhouse-max-threads", "CRM_DASHBOARD_CLICKHOUSE_MAX_THREADS", 0, "max_threads per dashboard query; 0 = server default")
	logger := f.Log()
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	log := logger()
	if f.ValidateOnly() {
		for _, s := range f.Settings() {
			fmt.Println(s)
		}
		return nil
	}
	if c.secret == "" {
		log.Warn("using the local development JWT secret; set --jwt-secret outside the local stack")
		c.secret = auth.DevSecret
	}
	var keys []crypto.PublicKey
	for _, p := range c.publicKeys {
		k, err := readPublicKey(p)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	verifier, err := auth.NewVerifier(auth.Config{Secret: []byte(c.secret), PublicKeys: keys, Issuer: c.issuer, Audience: c.audience})
	if err != nil {
		return err
	}
	var stages []reports.Stage
	if c.stagesFile != "" {
		b, err := os.ReadFile(c.stagesFile)
		if err != nil {
			return fmt.Errorf("funnel stages: %w", err)
		}
		if err := json.Unmarshal(b, &stages); err != nil {
			return fmt.Errorf("funnel stages %s: %w", c.stagesFile, err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := chstore.Open(ctx, c.ch, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	reg := service.NewRegistry()
	observe, err := dashboard.AcquireObserver(reg)
	if err != nil {
		return err
	}
	maxConns := c.ch.MaxOpenConns
	if maxConns <= 0 {
		maxConns = 32
	}
	reader, err := reports.New(reports.Config{Conn: store.Conn, Database: store.DB, MaxConcurrent: maxConns, ObserveAcquire: observe, MaxThreads: c.maxThreads})
	if err != nil {
		return err
	}
	srv, err := dashboard.New(dashboard.Config{
		Reader: reader, Verifier: verifier, Stages: stages,
		CacheTTL: c.cacheTTL, RateLimit: c.rate, RateBurst: c.burst,
		AlertPoll: c.alertPoll, LivePoll: c.livePoll,
		Logger: log, Registerer: reg, Gatherer: reg,
	})
	if err != nil {
		return err
	}
	return srv.Run(ctx, c.addr)
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("public key %s: no PEM block", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}
