package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/reports"
)

// Config configures a Server. Zero values take the defaults in comments.
type Config struct {
	Reader   *reports.Reader // required
	Verifier *auth.Verifier  // required
	Stages   []reports.Stage // funnel stages; default reports.DefaultStages()

	CacheTTL     time.Duration // fresh lifetime of a cached response; default 2s
	CacheStale   time.Duration // served stale while refreshing; default 30s
	CacheEntries int           // bound on cached responses; default 10,000

	RateLimit float64 // requests per second per token; default 50; negative disables
	RateBurst int     // bucket size; default 2×RateLimit

	AlertPoll time.Duration // how often new alerts are read; default 1s
	LivePoll  time.Duration // how often the live funnel is re-read; default 2s
	Heartbeat time.Duration // SSE comment interval; default 15s
	SSEBuffer int           // events buffered per SSE subscriber; default 64

	AuditQueue int           // audit entries queued before dropping; default 10,000
	AuditBatch int           // rows per audit insert; default 1,000
	AuditFlush time.Duration // longest wait before an audit insert; default 1s

	ShutdownTimeout time.Duration // default 10s
	Logger          *slog.Logger  // nil discards
	// Registerer receives the metrics and Gatherer serves /metrics. Both nil:
	// a private registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Now        func() time.Time // clock; default time.Now
}

// Validate reports every problem with cfg.
func (c Config) Validate() error {
	var errs []error
	if c.Reader == nil {
		errs = append(errs, errors.New("dashboard: Reader is required"))
	}
	if c.Verifier == nil {
		errs = append(errs, errors.New("dashboard: Verifier is required"))
	}
	if c.Stages != nil && len(c.Stages) < 2 {
		errs = append(errs, errors.New("dashboard: at least 2 funnel stages"))
	}
	seen := map[string]bool{}
	for i, s := range c.Stages {
		if s.Name == "" || len(s.Match) == 0 {
			errs = append(errs, fmt.Errorf("dashboard: stage %d needs a name and a match", i))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("dashboard: stage %q twice", s.Name))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.Stages == nil {
		c.Stages = reports.DefaultStages()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CacheTTL, 2*time.Second)
	def(&c.CacheStale, 30*time.Second)
	def(&c.AlertPoll, time.Second)
	def(&c.LivePoll, 2*time.Second)
	def(&c.Heartbeat, 15*time.Second)
	def(&c.AuditFlush, time.Second)
	def(&c.ShutdownTimeout, 10*time.Second)
	if c.CacheEntries <= 0 {
		c.CacheEntries = 10_000
	}
	if c.RateLimit == 0 {
		c.RateLimit = 50
	}
	if c.RateBurst <= 0 {
		c.RateBurst = int(2 * c.RateLimit)
	}
	if c.SSEBuffer <= 0 {
		c.SSEBuffer = 64
	}
	if c.AuditQueue <= 0 {
		c.AuditQueue = 10_000
	}
	if c.AuditBatch <= 0 {
		c.AuditBatch = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Registerer == nil && c.Gatherer == nil {
		reg := prometheus.NewRegistry()
		c.Registerer, c.Gatherer = reg, reg
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is the dashboard API and web UI.
type Server struct {
	cfg     Config
	log     *slog.Logger
	reader  *reports.Reader
	metrics *metrics
	cache   *cache
	limiter *limiter
	audit   *auditWriter
	hub     *hub
	handler http.Handler
	routes  []route
	openapi []byte // the generated document, encoded once

	tokensMu sync.RWMutex
	tokens   map[string]verified // verified bearer tokens until they expire

	ctx    context.Context // background work; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New builds a Server and starts its background work (audit writer, alert
// poller); Close or the end of Serve stops it.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "dashboard"), reader: cfg.Reader, tokens: map[string]verified{}}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cache = newCache(s.ctx, cfg.CacheTTL, cfg.CacheStale, cfg.CacheEntries, cfg.Now, m.cache)
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now)
	}
	s.audit = newAuditWriter(cfg.Reader, cfg.AuditQueue, cfg.AuditBatch, cfg.AuditFlush, s.log, m)
	s.hub = newHub(cfg.SSEBuffer, m)
	s.routes = s.routeTable()
	s.handler = s.router()
	if s.openapi, err = json.MarshalIndent(s.buildOpenAPI(), "", "  "); err != nil {
		return nil, fmt.Errorf("dashboard: encode openapi: %w", err)
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.audit.run(s.ctx) }()
	go func() { defer s.wg.Done(); s.pollAlerts(s.ctx) }()
	return s, nil
}

// Handler returns the HTTP handler of the API and the web UI.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until ctx ends, then shuts down gracefully and stops
// the background work.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		s.cancel() // ends SSE streams, whose handlers would hold Shutdown
		err = srv.Shutdown(sctx)
		cancel()
		<-errc
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Run listens on addr and serves until ctx ends.
func (s *Server) Run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dashboard: listen: %w", err)
	}
	s.log.Info("listening", "addr", ln.Addr().String())
	return s.Serve(ctx, ln)
}

// Close stops the background work and flushes the audit queue. Idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.hub.closeAll()
	})
	return nil
}

func (s *Server) router() http.Handler {
	r := chi.NewRouter()
	r.Use(s.securityHeaders)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok\n") })
	r.Get("/readyz", s.readyz)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))
	r.Get("/api/v1/openapi.json", s.openAPI)
	r.Group(func(g chi.Router) {
		g.Use(s.observe, s.auditCalls, s.authenticate, s.rateLimit)
		for _, rt := range s.routes {
			g.Method(rt.method, rt.path, s.endpoint(rt))
		}
	})
	r.Handle("/api/*", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError{status: http.StatusNotFound, code: "not_found", message: "no such endpoint: " + r.URL.Path})
	}))
	r.Handle("/*", staticHandler())
	return r
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.reader.Ping(ctx); err != nil {
		s.log.Warn("not ready", "error", err)
		writeText(w, http.StatusServiceUnavailable, "clickhouse unavailable\n")
		return
	}
	writeText(w, http.StatusOK, "ready\n")
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s)
}
