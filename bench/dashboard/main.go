// Command dashboard is the dashboard API's load benchmark: it loads N events
// (with scores, accounts and alerts) into a fresh ClickHouse database, runs
// dashboard-api's server in process, and drives the funnel and hot-leads
// endpoints with 1, 100 and 1,000 concurrent clients (each with its own
// token), then measures SSE fan-out of one alert to many stream clients.
//
//	go run ./bench/dashboard -events 10000000 -keep          # load, run, keep the database
//	go run ./bench/dashboard -db crm_bench_ab12cd -clients 1,100,1000
//
// With -target the load goes to a dashboard-api running in another process
// (its --rate-limit -1, the same JWT secret), so the server's figures do not
// include the load generator's scheduling; the server percentiles then come
// from its /metrics:
//
//	go build -o /tmp/dashboard-api ./cmd/dashboard-api
//	CRM_CLICKHOUSE_DATABASE=crm_bench_ab12cd /tmp/dashboard-api --rate-limit -1 &
//	go run ./bench/dashboard -db crm_bench_ab12cd -target http://127.0.0.1:8080
//
// In process, clients and server share the machine and the Go runtime, so
// the figures include the load generator's own cost. Uncached query times
// are measured for the rollup and, for comparison, for the raw events
// (-raw). Results are printed and written as JSON under bench/results/ (not
// committed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crmstream/crmstream/dashboard"
	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/dashtest"
	"github.com/crmstream/crmstream/dashboard/reports"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/service"
)

type config struct {
	addr       string
	events     int
	db         string
	keep       bool
	loadOnly   bool
	clients    []int
	duration   time.Duration
	pool       int
	cacheTTL   time.Duration
	sseClients int
	out        string
	rates      []float64
	maxThreads int
	uncached   bool
	target     string
	secret     string
	raw        bool
	prefix     string
	role       string
}

func main() {
	var c config
	var clients string
	flag.StringVar(&c.addr, "clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address")
	flag.IntVar(&c.events, "events", 10_000_000, "events to load into a fresh database (ignored with -db)")
	flag.StringVar(&c.db, "db", "", "use this already-loaded database instead of loading")
	flag.BoolVar(&c.keep, "keep", false, "keep the loaded database (print its name) for later runs")
	flag.BoolVar(&c.loadOnly, "load-only", false, "load and exit (implies -keep)")
	flag.StringVar(&clients, "clients", "1,100,1000", "concurrency levels")
	flag.DurationVar(&c.duration, "duration", 15*time.Second, "measurement time per level and endpoint")
	flag.IntVar(&c.pool, "pool", 16, "ClickHouse connection pool size (and queries in flight)")
	flag.DurationVar(&c.cacheTTL, "cache-ttl", 2*time.Second, "dashboard response cache TTL")
	flag.IntVar(&c.sseClients, "sse-clients", 1000, "SSE clients for the fan-out test; 0 skips it")
	flag.StringVar(&c.out, "out", "bench/results", "directory for the JSON results")
	flag.IntVar(&c.maxThreads, "max-threads", 0, "ClickHouse max_threads per dashboard query (0 = server default)")
	flag.BoolVar(&c.uncached, "uncached", true, "also time the queries without the cache (a cache miss)")
	flag.StringVar(&c.target, "target", "", "drive a dashboard-api running in another process at this base URL (e.g. http://127.0.0.1:8080) instead of one in process")
	flag.StringVar(&c.secret, "jwt-secret", auth.DevSecret, "HS256 secret of the tokens (the target's --jwt-secret)")
	flag.StringVar(&c.prefix, "db-prefix", "crm_bench", "name prefix of the database a load creates")
	flag.StringVar(&c.role, "role", "leader", "who the clients are: leader (all share one view), rep (client i is the rep owning the data's i-th owner, round robin: per-owner views) or mixed (leader, rep, data in turn)")
	flag.BoolVar(&c.raw, "raw", true, "also time the uncached funnel on raw events and hot leads with the FINAL ranking (the cost before the rollup)")
	var rates string
	flag.StringVar(&rates, "rates", "0,1", "per-client request rates to run: 0 = closed loop (each client sends as soon as it has its answer), r > 0 = open loop, r requests/s per client, latency measured from the scheduled send time")
	flag.Parse()
	for _, s := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bad -clients:", s)
			os.Exit(2)
		}
		c.clients = append(c.clients, n)
	}
	for _, s := range strings.Split(rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || r < 0 {
			fmt.Fprintln(os.Stderr, "bad -rates:", s)
			os.Exit(2)
		}
		c.rates = append(c.rates, r)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type result struct {
	Name        string  `json:"name"`
	Clients     int     `json:"clients"`
	Rate        float64 `json:"rate_per_client"` // 0 = closed loop
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	Maxms       float64 `json:"max_ms"`
	ColdQueryMs float64 `json:"cold_query_ms,omitempty"`
	// From the server's own histogram (handler time, without client-side
	// queueing): the upper bound of the bucket holding the 99th percentile.
	ServerP99ms float64 `json:"server_p99_le_ms"`
	Load        string  `json:"load_average"` // /proc/loadavg after the phase
}

type gatherer interface {
	Gather() ([]*dto.MetricFamily, error)
}

// remoteMetrics gathers a server's metrics from its /metrics page.
type remoteMetrics string

func (u remoteMetrics) Gather() ([]*dto.MetricFamily, error) {
	res, err := http.Get(string(u))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(m))
	for _, mf := range m {
		out = append(out, mf)
	}
	return out, nil
}

// loadAverage is the 1, 5 and 15 min load of the machine (Linux).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func run(c config) error {
	ctx := context.Background()
	report := map[string]any{"started": time.Now().UTC(), "config": fmt.Sprintf("%+v", c)}
	var store *chstore.Store
	if c.db == "" {
		var drop func() error
		var err error
		store, drop, err = dashtest.Create(ctx, c.addr, c.prefix, c.pool)
		if err != nil {
			return err
		}
		if c.keep || c.loadOnly {
			fmt.Println("database:", store.DB, "(kept)")
		} else {
			defer drop()
		}
		start := time.Now()
		last := time.Now()
		sum, err := dashtest.Seed(ctx, store.Conn, store.DB, dashtest.Options{Events: c.events, Owners: 20, Seed: 42, BatchSize: 200_000,
			Progress: func(n int) {
				if time.Since(last) > 10*time.Second {
					last = time.Now()
					fmt.Printf("  loaded %d events (%.0f/s)\n", n, float64(n)/time.Since(start).Seconds())
				}
			}})
		if err != nil {
			return err
		}
		el := time.Since(start)
		fmt.Printf("loaded %d events, %d leads, %d scores, %d accounts in %s (%.0f events/s)\n", sum.Events, sum.Leads, sum.Scores, sum.Accounts, el.Round(time.Millisecond), float64(sum.Events)/el.Seconds())
		report["load"] = map[string]any{"events": sum.Events, "leads": sum.Leads, "scores": sum.Scores, "seconds": el.Seconds()}
		if c.loadOnly {
			return nil
		}
	} else {
		var err error
		store, err = chstore.Open(ctx, chstore.Config{Addr: []string{c.addr}, Database: c.db, MaxOpenConns: c.pool, ReadTimeout: 5 * time.Minute}, nil)
		if err != nil {
			return err
		}
		defer store.Close()
	}
	var n uint64
	if err := store.Conn.QueryRow(ctx, "SELECT count() FROM "+store.DB+".events").Scan(&n); err != nil {
		return err
	}
	fmt.Printf("database %s: %d events\n", store.DB, n)
	report["events_in_db"] = n

	reg := service.NewRegistry()
	observe, err := dashboard.AcquireObserver(reg)
	if err != nil {
		return err
	}
	reader, err := reports.New(reports.Config{Conn: store.Conn, Database: store.DB, MaxConcurrent: c.pool, ObserveAcquire: observe, MaxThreads: c.maxThreads})
	if err != nil {
		return err
	}
	rawReader, err := reports.New(reports.Config{Conn: store.Conn, Database: store.DB, MaxConcurrent: c.pool, MaxThreads: c.maxThreads, RawFunnel: true})
	if err != nil {
		return err
	}
	secret := []byte(c.secret)
	var base string
	var metrics gatherer = reg
	if c.target != "" {
		base = strings.TrimSuffix(c.target, "/")
		metrics = remoteMetrics(base + "/metrics")
		report["target"] = base
	} else {
		v, _ := auth.NewVerifier(auth.Config{Secret: secret})
		srv, err := dashboard.New(dashboard.Config{Reader: reader, Verifier: v, CacheTTL: c.cacheTTL, RateLimit: -1, Registerer: reg, Gatherer: reg,
			AuditQueue: 100_000, AuditBatch: 10_000, SSEBuffer: 16})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(sctx, ln) }()
		defer func() { stop(); <-done }()
		base = "http://" + ln.Addr().String()
	}
	report["load_average_before"] = loadAverage()
	fmt.Println("load average:", loadAverage())

	// Uncached query cost: what a cache miss costs.
	now := time.Now().UTC()
	to := now.Truncate(time.Minute).Add(time.Minute)
	cold := map[string]float64{}
	queries := map[string]func() error{
		"funnel 24h by hour": func() error {
			_, err := reader.Funnel(ctx, reports.FunnelRequest{From: to.Add(-24 * time.Hour), To: to, Bucket: reports.Hour, Stages: reports.DefaultStages()})
			return err
		},
		"funnel 7d by day, by source": func() error {
			_, err := reader.Funnel(ctx, reports.FunnelRequest{From: to.Add(-7 * 24 * time.Hour), To: to, Bucket: reports.Day, GroupBy: reports.BySource, Stages: reports.DefaultStages()})
			return err
		},
		"hot leads top 25": func() error {
			_, err := reader.HotLeads(ctx, reports.HotLeadsRequest{Limit: 25})
			return err
		},
	}
	if c.raw {
		queries["raw: funnel 24h by hour"] = func() error {
			_, err := rawReader.Funnel(ctx, reports.FunnelRequest{From: to.Add(-24 * time.Hour), To: to, Bucket: reports.Hour, Stages: reports.DefaultStages()})
			return err
		}
		queries["raw: funnel 7d by day, by source"] = func() error {
			_, err := rawReader.Funnel(ctx, reports.FunnelRequest{From: to.Add(-7 * 24 * time.Hour), To: to, Bucket: reports.Day, GroupBy: reports.BySource, Stages: reports.DefaultStages()})
			return err
		}
		queries["raw: hot leads FINAL ranking"] = func() error {
			rows, err := store.Conn.Query(ctx, "SELECT lead_id FROM "+store.DB+".lead_current FINAL WHERE converted = 0 ORDER BY score DESC, event_time DESC, lead_id LIMIT 0, 26")
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		}
	}
	if !c.uncached {
		queries = nil
	}
	names := make([]string, 0, len(queries))
	for name := range queries {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		q := queries[name]
		var ds []time.Duration
		for range 3 {
			s := time.Now()
			if err := q(); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			ds = append(ds, time.Since(s))
		}
		slices.Sort(ds)
		cold[name] = ms(ds[1])
		fmt.Printf("uncached %-28s median of 3: %.1f ms\n", name, ms(ds[1]))
	}
	report["uncached_ms"] = cold
	if c.raw && c.uncached {
		// The rollup must answer exactly what raw events answer, at scale too.
		same := map[string]bool{}
		for _, req := range []reports.FunnelRequest{
			{From: to.Add(-24 * time.Hour), To: to, Bucket: reports.Hour, Stages: reports.DefaultStages()},
			{From: to.Add(-7 * 24 * time.Hour), To: to, Bucket: reports.Day, GroupBy: reports.BySource, Stages: reports.DefaultStages()},
		} {
			a, err := reader.Funnel(ctx, req)
			if err != nil {
				return err
			}
			b, err := rawReader.Funnel(ctx, req)
			if err != nil {
				return err
			}
			k := fmt.Sprintf("%s by %s, group %q", req.To.Sub(req.From), req.Bucket, req.GroupBy)
			same[k] = reflect.DeepEqual(a, b)
			fmt.Printf("rollup = raw for %s: %v (leads %d, won %d)\n", k, same[k], a.Stages[0].Count, a.Stages[len(a.Stages)-1].Count)
		}
		report["rollup_equals_raw"] = same
	}

	tokens, err := clientTokens(ctx, store, c.role, secret, slices.Max(c.clients))
	if err != nil {
		return err
	}
	var results []result
	for _, ep := range []struct{ name, path, route string }{
		{"funnel", "/api/v1/funnel?bucket=hour", "/api/v1/funnel"},
		{"leads/hot", "/api/v1/leads/hot?limit=25", "/api/v1/leads/hot"},
	} {
		// Fill the cache first, so no phase's server percentiles hold the
		// cold query (reported above as "uncached").
		_ = load(base, ep.path, tokens[:1], 0, 0)
		for _, rate := range c.rates {
			for _, n := range c.clients {
				before := serverHist(metrics, ep.route)
				r := load(base, ep.path, tokens[:n], c.duration, rate)
				r.ServerP99ms = histP99(before, serverHist(metrics, ep.route))
				r.Load = loadAverage()
				r.Name = ep.name
				results = append(results, r)
				mode := "closed"
				if rate > 0 {
					mode = fmt.Sprintf("open %g/s", rate)
				}
				fmt.Printf("%-10s %-10s clients=%-5d requests=%-8d errors=%-4d rps=%-8.0f p50=%.2fms p90=%.2fms p99=%.2fms max=%.1fms server-p99<=%gms load=%s\n",
					r.Name, mode, r.Clients, r.Requests, r.Errors, r.RPS, r.P50ms, r.P90ms, r.P99ms, r.Maxms, r.ServerP99ms, r.Load)
			}
		}
	}
	report["http"] = results
	report["clickhouse_acquire"] = acquireStats(metrics)
	fmt.Printf("clickhouse pool acquisition: %+v\n", report["clickhouse_acquire"])

	if c.sseClients > 0 {
		fan, err := fanout(base, store.Conn, store.DB, tokens[0], c.sseClients)
		if err != nil {
			return err
		}
		report["sse_fanout"] = fan
		fmt.Printf("sse fan-out: %+v\n", fan)
	}
	if err := os.MkdirAll(c.out, 0o755); err == nil {
		b, _ := json.MarshalIndent(report, "", "  ")
		p := filepath.Join(c.out, "dashboard-"+time.Now().UTC().Format("20060102T150405")+".json")
		if err := os.WriteFile(p, b, 0o644); err == nil {
			fmt.Println("results:", p)
		}
	}
	return nil
}

// clientTokens issues one token per client. Reps are the data's owners, in
// turn, so a rep's hot leads and funnel are scoped views of their own.
func clientTokens(ctx context.Context, store *chstore.Store, role string, secret []byte, n int) ([]string, error) {
	var owners []string
	if role == "rep" || role == "mixed" {
		rows, err := store.Conn.Query(ctx, "SELECT DISTINCT owner_id FROM "+store.DB+".lead_current WHERE owner_id != '' ORDER BY owner_id")
		if err != nil {
			return nil, fmt.Errorf("owners: %w", err)
		}
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return nil, fmt.Errorf("owners: %w", err)
			}
			owners = append(owners, o)
		}
		rows.Close()
		if len(owners) == 0 {
			return nil, errors.New("owners: lead_current has no owner_id")
		}
	}
	roles := map[string][]auth.Role{"leader": {auth.Leader}, "rep": {auth.Rep}, "mixed": {auth.Leader, auth.Rep, auth.Data}}[role]
	if roles == nil {
		return nil, fmt.Errorf("-role %q: want leader, rep or mixed", role)
	}
	tokens := make([]string, n)
	for i := range tokens {
		r, user := roles[i%len(roles)], fmt.Sprintf("bench-%d", i)
		if r == auth.Rep {
			user = owners[i%len(owners)]
		}
		var err error
		if tokens[i], err = auth.Issue(secret, user, r, 2*time.Hour, time.Now()); err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
	}
	return tokens, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// load runs one client per token for d and returns the latency distribution.
// rate 0: closed loop. rate > 0: each client sends every 1/rate s (random
// phase) and latency counts from the scheduled time, so a slow answer that
// delays the next send is charged (no coordinated omission). The first
// request (which may fill the cache) is a warm-up.
func load(base, path string, tokens []string, d time.Duration, rate float64) result {
	tr := &http.Transport{MaxIdleConns: len(tokens) + 10, MaxIdleConnsPerHost: len(tokens) + 10, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	get := func(tok string) error {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	_ = get(tokens[0])
	var (
		wg         sync.WaitGroup
		ready      sync.WaitGroup
		mu         sync.Mutex
		all        []time.Duration
		errs       atomic.Int64
		go_        = make(chan struct{})
		start, end time.Time
	)
	ready.Add(len(tokens))
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = get(tok) // connection set-up and warm-up outside the measurement
			ready.Done()
			<-go_
			var mine []time.Duration
			if rate > 0 {
				every := time.Duration(float64(time.Second) / rate)
				next := start.Add(time.Duration(rand.Int64N(int64(every))))
				for next.Before(end) {
					time.Sleep(time.Until(next))
					if err := get(tok); err != nil {
						errs.Add(1)
					} else {
						mine = append(mine, time.Since(next))
					}
					next = next.Add(every)
				}
			} else {
				for time.Now().Before(end) {
					s := time.Now()
					if err := get(tok); err != nil {
						errs.Add(1)
						continue
					}
					mine = append(mine, time.Since(s))
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	ready.Wait() // every client connected and warmed up
	start = time.Now()
	end = start.Add(d)
	close(go_)
	wg.Wait()
	el := time.Since(start)
	slices.Sort(all)
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return ms(all[min(len(all)-1, int(p*float64(len(all))))])
	}
	r := result{Rate: rate, Clients: len(tokens), Requests: len(all), Errors: int(errs.Load()), RPS: float64(len(all)) / el.Seconds(), P50ms: q(0.5), P90ms: q(0.9), P99ms: q(0.99)}
	if len(all) > 0 {
		r.Maxms = ms(all[len(all)-1])
	}
	return r
}

func acquireStats(reg interface {
	Gather() ([]*dto.MetricFamily, error)
}) map[string]any {
	mfs, err := reg.Gather()
	if err != nil {
		return nil
	}
	for _, mf := range mfs {
		if mf.GetName() != "crmstream_dashboard_clickhouse_acquire_seconds" || len(mf.Metric) == 0 {
			continue
		}
		h := mf.Metric[0].GetHistogram()
		out := map[string]any{"count": h.GetSampleCount()}
		if h.GetSampleCount() > 0 {
			out["mean_us"] = h.GetSampleSum() / float64(h.GetSampleCount()) * 1e6
		}
		for _, b := range h.Bucket {
			out[fmt.Sprintf("le_%gus", b.GetUpperBound()*1e6)] = b.GetCumulativeCount()
		}
		return out
	}
	return nil
}

// serverHist returns the cumulative bucket counts (by upper bound, seconds)
// of the server's request-duration histogram for a route.
func serverHist(reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, route string) map[float64]uint64 {
	out := map[float64]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "crmstream_dashboard_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "route" && l.GetValue() == route {
					for _, b := range m.GetHistogram().Bucket {
						out[b.GetUpperBound()] = b.GetCumulativeCount()
					}
					out[math.Inf(1)] = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return out
}

// histP99 is the upper bound (ms) of the bucket where the 99th percentile of
// the requests between two snapshots falls.
func histP99(before, after map[float64]uint64) float64 {
	bounds := make([]float64, 0, len(after))
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	total := after[math.Inf(1)] - before[math.Inf(1)]
	if total == 0 {
		return 0
	}
	for _, b := range bounds {
		if float64(after[b]-before[b]) >= 0.99*float64(total) {
			if math.IsInf(b, 1) {
				return -1 // beyond the last bucket; JSON has no infinity
			}
			return b * 1000
		}
	}
	return -1
}

type fanResult struct {
	Clients   int     `json:"clients"`
	Connected int     `json:"connected"`
	Received  int     `json:"received"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	Maxms     float64 `json:"max_ms"`
	SpreadMs  float64 `json:"spread_ms"` // last arrival - first arrival: the fan-out itself, without the poll wait
	Note      string  `json:"note"`
}

// fanout opens n alert streams, inserts one alert into ClickHouse, and
// measures when each client sees it (from the insert; includes the poll
// interval of the server).
func fanout(base string, conn driver.Conn, db, tok string, n int) (fanResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: n + 10, MaxConnsPerHost: 0}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		connected sync.WaitGroup
		received  sync.WaitGroup
		mu        sync.Mutex
		arrivals  []time.Time
		ok        atomic.Int64
	)
	connected.Add(n)
	received.Add(n)
	for range n {
		go func() {
			defer received.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/alerts/stream", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := client.Do(req)
			if err != nil || res.StatusCode != 200 {
				connected.Done()
				return
			}
			defer res.Body.Close()
			ok.Add(1)
			connected.Done()
			buf := make([]byte, 4096)
			var acc strings.Builder
			for {
				k, err := res.Body.Read(buf)
				acc.Write(buf[:k])
				if strings.Contains(acc.String(), "event: alert") {
					mu.Lock()
					arrivals = append(arrivals, time.Now())
					mu.Unlock()
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	connected.Wait()
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	if err := dashtest.InsertAlerts(ctx, conn, db, dashtest.AlertRow{ID: fmt.Sprintf("bench-%d", sent.UnixNano()), Kind: "hot_lead", OwnerID: "rep-1", Status: "fired", FiredAt: sent.UTC(), Version: 1}); err != nil {
		return fanResult{}, err
	}
	wait := make(chan struct{})
	go func() { received.Wait(); close(wait) }()
	select {
	case <-wait:
	case <-time.After(20 * time.Second):
		cancel()
		<-wait
	}
	var ds []time.Duration
	mu.Lock()
	for _, a := range arrivals {
		ds = append(ds, a.Sub(sent))
	}
	mu.Unlock()
	slices.Sort(ds)
	r := fanResult{Clients: n, Connected: int(ok.Load()), Received: len(ds), Note: "latency from the ClickHouse insert to each client; includes up to one alert poll interval (1 s)"}
	if len(ds) > 0 {
		r.P50ms, r.P99ms, r.Maxms = ms(ds[len(ds)/2]), ms(ds[min(len(ds)-1, len(ds)*99/100)]), ms(ds[len(ds)-1])
		r.SpreadMs = ms(ds[len(ds)-1] - ds[0])
	}
	if r.Received == 0 {
		return r, errors.New("no client received the alert")
	}
	return r, nil
}
