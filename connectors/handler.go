package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxBodyBytes bounds a webhook body: HubSpot batches up to 100
// notifications per request and a Dynamics context is under 256 KiB.
const DefaultMaxBodyBytes = 1 << 20

// HandlerOptions configure NewHandler. The zero value is usable.
type HandlerOptions struct {
	// MaxBodyBytes bounds the request body; larger bodies get 413.
	// Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// OnReject, when set, receives every rejected item together with the
	// raw body (for a dead-letter topic). Its error is logged, not returned
	// to the CRM: the CRM cannot fix a payload by resending it.
	OnReject func(ctx context.Context, adapter string, body []byte, rejects []Reject) error
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics, when set, counts requests and items (see NewMetrics). One
	// Metrics may serve every adapter's handler.
	Metrics *Metrics
}

// Metrics are the webhook counters, labelled by adapter (bounded: six
// CRMs) and outcome. Create one per process with NewMetrics.
type Metrics struct {
	requests *prometheus.CounterVec // crmstream_webhook_requests_total{adapter,code}
	items    *prometheus.CounterVec // crmstream_webhook_items_total{adapter,outcome="accepted|rejected"}
}

// NewMetrics registers the webhook metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmstream_webhook_requests_total",
			Help: "Webhook requests by adapter and HTTP status code.",
		}, []string{"adapter", "code"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crmstream_webhook_items_total",
			Help: "Webhook payload items by adapter and outcome (accepted, rejected).",
		}, []string{"adapter", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.items)
	}
	return m
}

// Response is the JSON body of every handler answer.
type Response struct {
	Accepted int      `json:"accepted"`
	Rejected []Reject `json:"rejected,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// NewHandler serves one adapter's endpoint: POST only; it reads the body
// (bounded), verifies the request, maps the payload, publishes the events and
// answers with a Response:
//
//	200  mapped; Accepted events published, Rejected items listed with reasons
//	400  the body is not the CRM's payload at all (also passed to OnReject)
//	401  Verify refused the request (signature, token, replay window)
//	405  not a POST
//	413  body larger than MaxBodyBytes
//	503  publishing failed: the CRM should retry (same event ids, one event)
//
// Rejected items answer 200, not 4xx: the CRM would retry a 4xx forever and
// the payload will not get better; the rejects are counted, logged and handed
// to OnReject instead. The handler is safe for concurrent use.
func NewHandler(a Adapter, publish Publish, opts HandlerOptions) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "webhook", "adapter", a.Name())
	return &handler{a: a, publish: publish, opts: opts, log: log}
}

type handler struct {
	a       Adapter
	publish Publish
	opts    HandlerOptions
	log     *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, http.StatusMethodNotAllowed, Response{Error: "use POST"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.answer(w, http.StatusRequestEntityTooLarge, Response{Error: "body larger than " + strconv.FormatInt(h.opts.MaxBodyBytes, 10) + " bytes"})
			return
		}
		h.answer(w, http.StatusBadRequest, Response{Error: "read body: " + err.Error()})
		return
	}
	if err := h.a.Verify(r, body); err != nil {
		h.log.Warn("webhook refused", "error", err, "remote", r.RemoteAddr)
		h.answer(w, http.StatusUnauthorized, Response{Error: err.Error()})
		return
	}
	events, rejects, err := h.a.Map(body)
	if err != nil {
		rejects = append(rejects, Reject{Index: -1, Reason: err.Error()})
		h.rejected(r.Context(), body, rejects)
		h.answer(w, http.StatusBadRequest, Response{Rejected: rejects, Error: err.Error()})
		return
	}
	if len(events) > 0 {
		if err := h.publish(r.Context(), events); err != nil {
			h.log.Error("publish webhook events", "error", err, "events", len(events))
			h.answer(w, http.StatusServiceUnavailable, Response{Error: "could not store the events; retry"})
			return
		}
	}
	h.count("accepted", len(events))
	if len(rejects) > 0 {
		h.rejected(r.Context(), body, rejects)
	}
	h.answer(w, http.StatusOK, Response{Accepted: len(events), Rejected: rejects})
}

func (h *handler) rejected(ctx context.Context, body []byte, rejects []Reject) {
	h.count("rejected", len(rejects))
	for _, rj := range rejects {
		h.log.Info("webhook item rejected", "index", rj.Index, "ref", rj.Ref, "reason", rj.Reason)
	}
	if h.opts.OnReject != nil {
		if err := h.opts.OnReject(ctx, h.a.Name(), body, rejects); err != nil {
			h.log.Error("hand rejects to dead-letter", "error", err, "rejects", len(rejects))
		}
	}
}

func (h *handler) count(outcome string, n int) {
	if h.opts.Metrics != nil && n > 0 {
		h.opts.Metrics.items.WithLabelValues(h.a.Name(), outcome).Add(float64(n))
	}
}

func (h *handler) answer(w http.ResponseWriter, code int, resp Response) {
	if h.opts.Metrics != nil {
		h.opts.Metrics.requests.WithLabelValues(h.a.Name(), strconv.Itoa(code)).Inc()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp) // the client went away: nothing to do
}

// Path is where an adapter's handler is mounted: /v1/webhooks/<name>.
func Path(a Adapter) string { return "/v1/webhooks/" + a.Name() }

// Mount registers a handler for every adapter on mux at Path(adapter).
func Mount(mux *http.ServeMux, adapters []Adapter, publish Publish, opts HandlerOptions) {
	for _, a := range adapters {
		mux.Handle("POST "+Path(a), NewHandler(a, publish, opts))
	}
}
