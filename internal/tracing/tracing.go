package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config selects the exporter. The zero value is off.
type Config struct {
	Endpoint    string  // OTLP/HTTP collector URL, e.g. http://otel-collector:4318; empty = off
	Service     string  // service.name of the spans, e.g. "ingest"
	SampleRatio float64 // fraction of new traces sampled, 0..1; child spans follow their parent
}

// Propagator carries span contexts in HTTP and Kafka headers (W3C
// traceparent/tracestate).
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Name is the instrumentation scope of the services' own spans.
const Name = "github.com/crmstream/crmstream"

// Validate reports a bad endpoint or ratio.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint != "" {
		if _, err := endpointURL(c.Endpoint); err != nil {
			errs = append(errs, err)
		}
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("tracing: sample ratio %v not in [0, 1]", c.SampleRatio))
	}
	return errors.Join(errs...)
}

// endpointURL adds the OTLP traces path to a bare collector URL.
func endpointURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("tracing: OTLP endpoint %q: want http(s)://host:port[/path]", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// Setup returns the tracer provider of cfg and its shutdown, which flushes
// buffered spans (call it on exit with a deadline). With no endpoint it
// returns a no-op provider. The exporter connects lazily: an unreachable
// collector drops spans, it never fails the service.
func Setup(ctx context.Context, cfg Config) (trace.TracerProvider, func(context.Context) error, error) {
	if cfg.Endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	ep, _ := endpointURL(cfg.Endpoint)
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(ep))
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	service := cfg.Service
	if service == "" {
		service = "crmstream"
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))),
	)
	return tp, tp.Shutdown, nil
}

// Flush runs a service's tracing shutdown on its way out: detached from
// ctx (done by then) and bounded to 5 s, so an unreachable collector delays
// the exit at most that long. A lost batch is not an error of the service.
func Flush(ctx context.Context, shutdown func(context.Context) error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = shutdown(sctx)
}

// Enabled reports whether tp records anything (not nil, not no-op).
func Enabled(tp trace.TracerProvider) bool {
	if tp == nil {
		return false
	}
	_, off := tp.(noop.TracerProvider)
	return !off
}

// Tracer returns the services' tracer of tp, nil when tracing is off (so
// callers skip span work with one nil check).
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if !Enabled(tp) {
		return nil
	}
	return tp.Tracer(Name)
}

// KafkaOpts returns the franz-go hooks (kotel) that start a publish span
// per produced record (child of the record's Context, injected into its
// headers) and a receive span per fetched record (child of the span in its
// headers, left in the record's Context). None when tracing is off.
func KafkaOpts(tp trace.TracerProvider, clientID, group string) []kgo.Opt {
	if !Enabled(tp) {
		return nil
	}
	opts := []kotel.TracerOpt{kotel.TracerProvider(tp), kotel.TracerPropagator(Propagator)}
	if clientID != "" {
		opts = append(opts, kotel.ClientID(clientID))
	}
	if group != "" {
		opts = append(opts, kotel.ConsumerGroup(group))
	}
	k := kotel.NewKotel(kotel.WithTracer(kotel.NewTracer(opts...)))
	return []kgo.Opt{kgo.WithHooks(k.Hooks()...)}
}

// HTTPHandler wraps h in a server span named name (e.g. "POST /v1/events"),
// continuing a traceparent sent by the caller; h reaches the span with
// trace.SpanFromContext(r.Context()). h itself when tracing is off.
func HTTPHandler(tp trace.TracerProvider, name string, h http.Handler) http.Handler {
	t := Tracer(tp)
	if t == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				semconv.HTTPRequestMethodKey.String(r.Method),
				semconv.URLPath(r.URL.Path),
				attribute.String("user_agent.original", truncate(r.UserAgent(), 128)),
			))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.code))
		if sw.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.code))
		}
	})
}

// statusWriter records the status code; Unwrap keeps
// http.ResponseController (read deadlines, flush) working.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
