package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg     Config
		wantErr bool
		wantURL string
	}{
		{cfg: Config{}},
		{cfg: Config{Endpoint: "http://otel:4318", SampleRatio: 1}, wantURL: "http://otel:4318/v1/traces"},
		{cfg: Config{Endpoint: "https://otel:4318/", SampleRatio: 0.5}, wantURL: "https://otel:4318/v1/traces"},
		{cfg: Config{Endpoint: "http://otel:4318/custom/traces"}, wantURL: "http://otel:4318/custom/traces"},
		{cfg: Config{Endpoint: "otel:4318"}, wantErr: true},
		{cfg: Config{Endpoint: "http://"}, wantErr: true},
		{cfg: Config{SampleRatio: 1.5}, wantErr: true},
		{cfg: Config{SampleRatio: -0.1}, wantErr: true},
	} {
		err := tc.cfg.Validate()
		if (err != nil) != tc.wantErr {
			t.Errorf("%+v: Validate() = %v, want error %v", tc.cfg, err, tc.wantErr)
		}
		if tc.wantURL != "" {
			if got, _ := endpointURL(tc.cfg.Endpoint); got != tc.wantURL {
				t.Errorf("%q: URL %q, want %q", tc.cfg.Endpoint, got, tc.wantURL)
			}
		}
	}
}

func TestSetup(t *testing.T) {
	ctx := context.Background()
	tp, shutdown, err := Setup(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if Enabled(tp) || Tracer(tp) != nil || KafkaOpts(tp, "c", "") != nil {
		t.Error("no endpoint: tracing must be off")
	}
	if err := shutdown(ctx); err != nil {
		t.Error(err)
	}
	// An unreachable collector is not an error at start (spans are dropped).
	tp, shutdown, err = Setup(ctx, Config{Endpoint: "http://127.0.0.1:1", Service: "test", SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !Enabled(tp) || len(KafkaOpts(tp, "c", "g")) != 1 {
		t.Error("endpoint set: tracing must be on")
	}
	sctx, cancel := context.WithCancel(ctx)
	cancel() // nothing to flush: shutdown must not wait for the collector
	_ = shutdown(sctx)
	if _, _, err := Setup(ctx, Config{Endpoint: "otel:4318"}); err == nil {
		t.Error("bad endpoint accepted")
	}
}

func TestHTTPHandler(t *testing.T) {
	if h := http.NotFoundHandler(); HTTPHandler(nil, "x", h) == nil {
		t.Fatal("nil handler")
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var inner trace.SpanContext
	h := HTTPHandler(tp, "POST /v1/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusServiceUnavailable)
		// The recorder flushes; the wrapper must let the controller reach it.
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("response controller through the wrapper: %v", err)
		}
	}))
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := httptest.NewRequest(http.MethodPost, "/v1/events", nil)
	req.Header.Set("traceparent", parent)
	h.ServeHTTP(httptest.NewRecorder(), req)
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if !s.SpanContext().Equal(inner) {
		t.Error("handler does not run in the request span")
	}
	if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("caller's traceparent not continued: trace %s parent %s", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if s.Status().Code.String() != "Error" {
		t.Errorf("503: status %v, want Error", s.Status())
	}
}

// TestSetupExports checks that spans reach an OTLP/HTTP collector given as a
// bare URL, at the standard traces path, on shutdown at the latest.
func TestSetupExports(t *testing.T) {
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type")
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	ctx := context.Background()
	tp, shutdown, err := Setup(ctx, Config{Endpoint: srv.URL, Service: "test", SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, span := Tracer(tp).Start(ctx, "op")
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case req := <-got:
		if req != "POST /v1/traces application/x-protobuf" {
			t.Errorf("collector got %q", req)
		}
	default:
		t.Fatal("no export request after shutdown")
	}
}
