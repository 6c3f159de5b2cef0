// Command scorer consumes crm.events in the consumer group
// "crmstream-scorer", keeps per-lead and per-account state in event-time
// windows, writes lead and churn scores, alerts and late events to
// ClickHouse, and checkpoints its state to the compacted topic
// crm.scorer.changelog. Metrics, /healthz and /readyz on 127.0.0.1:8082.
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

	"github.com/crmstream/crmstream/alerts"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/service"
	"github.com/crmstream/crmstream/internal/tracing"
	"github.com/crmstream/crmstream/models"
	"github.com/crmstream/crmstream/scorer"
	"github.com/crmstream/crmstream/windows"
)

const examples = `  scorer                                   # against make up's Kafka and ClickHouse
  CRM_KAFKA_BROKERS=k1:9092 CRM_CLICKHOUSE_ADDR=ch:9000 scorer --lateness 10m
  scorer --mode backfill --group replay-2025 # replay history: time follows the data only
  scorer --validate                        # print the effective settings and exit
  curl -s http://127.0.0.1:8082/metrics | grep crmstream_scorer_`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, cli.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "scorer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var (
		c         scorer.ServeConfig
		web       cli.HTTP
		mode      string
		parts     int
		flowTimes []string
		cooldowns [4]time.Duration
	)
	c.AlertRules = alerts.DefaultConfig()
	ar := &c.AlertRules
	s := &c.Service
	f := cli.New("scorer", "the stream scorer: a consumer group on crm.events that scores leads and accounts in event-time windows, raises alerts, and writes scores, alerts and late events to ClickHouse; state survives restarts and rebalances through the compacted changelog topic.", examples)
	f.HTTP(&web, "127.0.0.1:8082")
	f.Kafka(&s.Kafka)
	var tc tracing.Config
	f.Tracing(&tc, "scorer")
	f.ClickHouse(&c.ClickHouse)
	f.String(&s.Group, "group", "CRM_SCORER_GROUP", "crmstream-scorer", "consumer group (instances with the same group share the partitions)")
	f.String(&s.Topic, "topic", "CRM_SCORER_TOPIC", "crm.events", "input topic of canonical events")
	f.String(&s.Changelog, "changelog", "CRM_SCORER_CHANGELOG", "crm.scorer.changelog", "compacted topic holding the checkpointed state")
	f.String(&mode, "mode", "CRM_SCORER_MODE", "live", "live (idle partitions follow the wall clock) or backfill (time follows the data only)")
	f.Duration(&s.Windows.Lateness, "lateness", "CRM_SCORER_LATENESS", 5*time.Minute, "allowed lateness: older events go to crm.late_events")
	f.Duration(&s.Windows.IdleAfter, "idle-after", "CRM_SCORER_IDLE_AFTER", 3*time.Second, "live: quiet time after which a partition's watermark follows the wall clock")
	f.Duration(&s.Windows.MaxFutureSkew, "max-future-skew", "CRM_SCORER_MAX_FUTURE_SKEW", time.Minute, "live: an event stamped further ahead of the wall clock moves the watermark no further (bad client clocks)")
	f.Duration(&s.Windows.KeyTTL, "key-ttl", "CRM_SCORER_KEY_TTL", 90*24*time.Hour, "evict a key with no event for this long in event time (0: never)")
	f.Duration(&s.FlushInterval, "flush-interval", "CRM_SCORER_FLUSH_INTERVAL", time.Second, "write rows, checkpoint and commit at least this often")
	f.Int(&s.FlushRows, "flush-rows", "CRM_SCORER_FLUSH_ROWS", 100_000, "…or when a partition has this many rows pending")
	f.Duration(&s.Rescore, "rescore", "CRM_SCORER_RESCORE", 24*time.Hour, "re-score a key this long after its newest activity, daily while it matters (negative: off)")
	f.Bool(&s.Features, "features", "CRM_SCORER_FEATURES", true, "write the feature vector of every score to crm.features")
	f.Duration(&s.HistoryEvery, "history-every", "CRM_SCORER_HISTORY_EVERY", scorer.DefaultHistoryEvery, "score history: write a key's lead_scores/churn_scores (and features) row only when its score, tier or model changed or its last row is this old in event time (negative: every row)")
	f.Bool(&c.Rules, "rules", "CRM_SCORER_RULES", false, "score with the built-in transparent rules instead of the learned models")
	var tiers [4]int // lead hot, lead warm, churn hot, churn warm
	f.Int(&tiers[0], "lead-tier-hot", "CRM_SCORER_LEAD_TIER_HOT", 80, "learned models: lead score (0–100) from which a lead is hot")
	f.Int(&tiers[1], "lead-tier-warm", "CRM_SCORER_LEAD_TIER_WARM", 50, "learned models: lead score from which a lead is warm")
	f.Int(&tiers[2], "churn-tier-hot", "CRM_SCORER_CHURN_TIER_HOT", 80, "learned models: churn score from which an account is in the hot (highest-risk) tier")
	f.Int(&tiers[3], "churn-tier-warm", "CRM_SCORER_CHURN_TIER_WARM", 50, "learned models: churn score from which an account is warm")
	f.Bool(&c.Alerts, "alerts", "CRM_SCORER_ALERTS", true, "run the alert rules and publish alerts to ClickHouse and crm.alerts")
	f.Duration(&ar.FlowTimeout, "abandonment-timeout", "CRM_ALERTS_ABANDONMENT_TIMEOUT", ar.FlowTimeout, "alerts: a started flow not completed within this is abandoned")
	f.List(&flowTimes, "flow-timeouts", "CRM_ALERTS_FLOW_TIMEOUTS", nil, "alerts: per-flow abandonment timeouts, e.g. checkout=20m,signup=1h")
	f.Duration(&ar.AccountQuiet, "inactivity-account", "CRM_ALERTS_INACTIVITY_ACCOUNT", ar.AccountQuiet, "alerts: a paying account without login or feature use this long is inactive")
	f.Duration(&ar.LeadQuiet, "inactivity-lead", "CRM_ALERTS_INACTIVITY_LEAD", ar.LeadQuiet, "alerts: an engaged lead without activity this long is inactive")
	f.Float(&ar.HotThreshold, "hot-threshold", "CRM_ALERTS_HOT_THRESHOLD", ar.HotThreshold, "alerts: lead score whose upward crossing fires hot_lead")
	f.Float(&ar.HotRise, "hot-rise", "CRM_ALERTS_HOT_RISE", ar.HotRise, "alerts: score rise within --hot-rise-window that fires hot_lead")
	f.Duration(&ar.HotRiseWindow, "hot-rise-window", "CRM_ALERTS_HOT_RISE_WINDOW", ar.HotRiseWindow, "alerts: window of --hot-rise")
	f.Float(&ar.ChurnThreshold, "churn-threshold", "CRM_ALERTS_CHURN_THRESHOLD", ar.ChurnThreshold, "alerts: churn probability whose upward crossing fires churn_risk")
	for i, k := range []alerts.Kind{alerts.Abandonment, alerts.Inactivity, alerts.HotLead, alerts.ChurnRisk} {
		name := strings.ReplaceAll(string(k), "_", "-")
		f.Duration(&cooldowns[i], "cooldown-"+name, "CRM_ALERTS_COOLDOWN_"+strings.ToUpper(string(k)), ar.Cooldown[k], "alerts: least event time between two "+string(k)+" alerts of one key")
	}
	f.Int(&parts, "partitions", "CRM_KAFKA_PARTITIONS", 4, "partitions of topics created when missing")
	f.Bool(&c.NoCreate, "no-create-topics", "CRM_KAFKA_NO_CREATE_TOPICS", false, "do not create missing topics")
	logger := f.Log()
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	var errs []error
	switch mode {
	case "live":
		s.Windows.Mode = windows.Live
	case "backfill":
		s.Windows.Mode = windows.Backfill
	default:
		errs = append(errs, fmt.Errorf("--mode %q: want live or backfill", mode))
	}
	if parts <= 0 {
		errs = append(errs, fmt.Errorf("--partitions %d: want at least 1", parts))
	}
	for i, name := range []string{"lead", "churn"} {
		hot, warm := tiers[2*i], tiers[2*i+1]
		if warm < 1 || hot > 100 || warm > hot {
			errs = append(errs, fmt.Errorf("--%s-tier-hot %d, --%s-tier-warm %d: want 1 ≤ warm ≤ hot ≤ 100", name, hot, name, warm))
		}
	}
	c.LeadTiers = models.Tiers{Hot: uint8(max(0, min(tiers[0], 100))), Warm: uint8(max(0, min(tiers[1], 100)))}
	c.ChurnTiers = models.Tiers{Hot: uint8(max(0, min(tiers[2], 100))), Warm: uint8(max(0, min(tiers[3], 100)))}
	for _, ft := range flowTimes {
		name, d, ok := strings.Cut(ft, "=")
		dur, err := time.ParseDuration(d)
		if !ok || name == "" || err != nil {
			errs = append(errs, fmt.Errorf("--flow-timeouts %q: want flow=duration", ft))
			continue
		}
		if ar.FlowTimeouts == nil {
			ar.FlowTimeouts = map[string]time.Duration{}
		}
		ar.FlowTimeouts[name] = dur
	}
	ar.Cooldown = map[alerts.Kind]time.Duration{alerts.Abandonment: cooldowns[0], alerts.Inactivity: cooldowns[1],
		alerts.HotLead: cooldowns[2], alerts.ChurnRisk: cooldowns[3]}
	if c.Alerts {
		if err := ar.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("alert rules: %w", err))
		}
	}
	if err := errors.Join(append(errs, s.Validate(), c.ClickHouse.Validate(), tc.Validate())...); err != nil {
		return err
	}
	if f.ValidateOnly() {
		for _, line := range f.Settings() {
			fmt.Println(line)
		}
		return nil
	}
	c.HTTPAddr, c.CertFile, c.KeyFile = web.Addr, web.CertFile, web.KeyFile
	c.Partitions = int32(parts)
	c.Logger = logger()
	c.Registry = service.NewRegistry()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tp, shutdown, err := tracing.Setup(ctx, tc)
	if err != nil {
		return err
	}
	defer tracing.Flush(ctx, shutdown)
	c.Service.Tracer = tp
	return scorer.Serve(ctx, c)
}
