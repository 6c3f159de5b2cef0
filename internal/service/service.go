// Package service holds the lifecycle plumbing every binary shares: an HTTP
// server (optionally HTTPS) that shuts down gracefully, the /healthz,
// /readyz and /metrics endpoints, and running parts together so that the
// first to fail stops the others.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// Runner is a long-running part: Run blocks until ctx is done or it fails.
type Runner interface {
	Run(ctx context.Context) error
}

// RunFunc adapts a function to Runner.
type RunFunc func(ctx context.Context) error

// Run implements Runner.
func (f RunFunc) Run(ctx context.Context) error { return f(ctx) }

// RunAll runs the parts until ctx is done or one fails; the first error
// cancels the others. A part that returns nil before ctx is done does not
// stop the others.
func RunAll(ctx context.Context, parts ...Runner) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		g.Go(func() error { return p.Run(ctx) })
	}
	return g.Wait()
}

// NewRegistry returns a registry with the Go runtime and process
// collectors, for a binary's /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Check reports whether a dependency is usable; nil means ready.
type Check func(ctx context.Context) error

// Mount adds /metrics, /healthz (the process answers) and /readyz (every
// check passes; 503 naming the failing ones otherwise) to mux.
func Mount(mux *http.ServeMux, reg prometheus.Gatherer, checks map[string]Check) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var failed []string
		for name, check := range checks {
			if err := check(ctx); err != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, f := range failed {
				_, _ = w.Write([]byte(f + "\n"))
			}
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}

// Server serves HTTP (HTTPS when CertFile and KeyFile are set) until its
// context is done, then shuts down gracefully within ShutdownTimeout.
type Server struct {
	Addr            string
	Handler         http.Handler
	CertFile        string
	KeyFile         string
	ShutdownTimeout time.Duration // default 10 s
	Logger          *slog.Logger  // nil: discard

	ready chan net.Addr
}

// Run implements Runner.
func (s *Server) Run(ctx context.Context) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Addr, err)
	}
	if s.ready != nil {
		s.ready <- ln.Addr()
	}
	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() {
		if s.CertFile != "" {
			log.Info("serving https", "addr", ln.Addr().String())
			errc <- srv.ServeTLS(ln, s.CertFile, s.KeyFile)
		} else {
			log.Info("serving http", "addr", ln.Addr().String())
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", s.Addr, err)
	case <-ctx.Done():
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown %s: %w", s.Addr, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
