package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/ingest/rejects"
)

// Producer sends records to Kafka and calls promise once each is
// acknowledged or failed. *kgo.Client implements it.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// Config configures a Handler. Zero fields take the defaults shown.
type Config struct {
	Producer       Producer              // required; an idempotent kgo client with acks=all
	Topic          string                // default "crm.events"
	WriteKeys      []string              // accepted write keys; none = open (local development only)
	MaxBodyBytes   int64                 // limit on the body after decompression; default 8 MiB
	MaxItems       int                   // events per request; default 10,000
	MaxInFlight    int                   // requests processed at once, beyond that 429; default 32
	ProduceTimeout time.Duration         // wait for Kafka acknowledgements; default 10 s
	BodyTimeout    time.Duration         // time to receive the body once admitted (408 beyond), so slow senders cannot hold the in-flight slots; default 30 s
	RetryAfter     time.Duration         // told to callers on 429/503; default 2 s
	Ready          func() error          // downstream health (the sink); non-nil error = 503; nil func = ready
	Rejects        rejects.Recorder      // where rejections are recorded; nil = rejects.Discard
	Logger         *slog.Logger          // nil = discard
	Registerer     prometheus.Registerer // nil = metrics not registered
	Now            func() time.Time      // default time.Now
}

// Defaults.
const (
	DefaultMaxBodyBytes = 8 << 20
	DefaultMaxItems     = 10_000
	DefaultMaxInFlight  = 32
)

// Handler serves POST /v1/events. It is safe for concurrent use; memory is
// bounded by MaxInFlight × MaxBodyBytes (plus the encoded events).
type Handler struct {
	cfg     Config
	log     *slog.Logger
	keys    [][32]byte
	sem     chan struct{}
	breaker *gobreaker.CircuitBreaker[struct{}]
	m       *metrics
	bufs    sync.Pool
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Producer == nil {
		return nil, errors.New("collector: Producer is required")
	}
	if cfg.Topic == "" {
		cfg.Topic = "crm.events"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = 10 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 2 * time.Second
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.Rejects == nil {
		cfg.Rejects = rejects.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		cfg: cfg,
		log: log.With("component", "collector"),
		sem: make(chan struct{}, cfg.MaxInFlight),
	}
	for _, k := range cfg.WriteKeys {
		if k = strings.TrimSpace(k); k != "" {
			h.keys = append(h.keys, sha256.Sum256([]byte(k)))
		}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	h.m = m
	// Three failed produces in a row open the breaker: callers get 503 at
	// once instead of holding a connection for ProduceTimeout each.
	h.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "kafka",
		Timeout:     cfg.RetryAfter * 2,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 3 },
		IsExcluded:  func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			h.log.Warn("kafka breaker", "from", from.String(), "to", to.String())
			h.m.breakerOpen.Set(boolf(to == gobreaker.StateOpen))
		},
	})
	return h, nil
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Ready reports whether the collector can take events: Kafka's breaker is
// not open and the configured downstream check passes.
func (h *Handler) Ready() error {
	if h.breaker.State() == gobreaker.StateOpen {
		return errors.New("kafka unavailable: produce breaker open")
	}
	if h.cfg.Ready != nil {
		return h.cfg.Ready()
	}
	return nil
}

// Response is the JSON answer to POST /v1/events.
type Response struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
	Error    string      `json:"error,omitempty"` // set for whole-request failures (4xx/5xx other than 207/422)
}

// Rejection is one rejected item: its position in the body (array element or
// non-blank NDJSON line, from 0), its event_id when readable, and the reason
// naming the field.
type Rejection struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason"`
}

// ServeHTTP answers 200 (all accepted), 207 (some rejected), 422 (all
// rejected), 400 (no events / unreadable body), 401, 405, 408 (body slower
// than BodyTimeout), 413 (body or item count over the limit), 415 (unknown
// Content-Encoding), 429 (too many requests in flight) or 503 (Kafka or the
// sink unavailable; nothing reported accepted, retry the whole request:
// event ids make it idempotent).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	code := h.serve(w, r)
	h.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	h.m.duration.Observe(h.cfg.Now().Sub(start).Seconds())
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.fail(w, http.StatusMethodNotAllowed, "use POST")
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="crmstream"`)
		return h.fail(w, http.StatusUnauthorized, "missing or unknown write key")
	}
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		h.retryAfter(w)
		return h.fail(w, http.StatusTooManyRequests, "too many requests in flight")
	}
	h.m.inflight.Inc()
	defer h.m.inflight.Dec()
	if err := h.Ready(); err != nil {
		h.retryAfter(w)
		return h.fail(w, http.StatusServiceUnavailable, err.Error())
	}

	// A socket deadline, hence the wall clock rather than cfg.Now. Not
	// supported by every ResponseWriter (tests): then there is none.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout))
	buf := h.getBuf()
	defer h.putBuf(buf)
	code, err := h.readBody(w, r, buf)
	if err != nil {
		return h.fail(w, code, err.Error())
	}
	body := buf.Bytes()
	received := h.cfg.Now()

	var (
		res     Response
		recs    []*kgo.Record
		bad     []rejects.Reject
		kinds   []string // metric label of each bad item
		values  []byte   // one slab for all encoded events
		tooMany bool
		idx     int
	)
	_, _ = Split(body, Detect(r.Header.Get("Content-Type"), body), func(item []byte) bool {
		if idx >= h.cfg.MaxItems {
			tooMany = true
			return false
		}
		i := idx
		idx++
		e, err := event.Parse(item)
		if err != nil {
			id := peekID(item)
			res.Rejected = append(res.Rejected, Rejection{Index: i, EventID: id, Reason: err.Error()})
			bad = append(bad, rejects.Reject{Origin: "collector", EventID: id, Reason: err.Error(), Payload: item, ReceivedAt: received})
			kinds = append(kinds, rejects.Kind(err))
			return true
		}
		n := len(values)
		values = e.AppendJSON(values)
		recs = append(recs, &kgo.Record{
			Topic:     h.cfg.Topic,
			Key:       []byte(e.Key()),
			Value:     values[n:len(values):len(values)],
			Timestamp: e.OccurredAt,
		})
		return true
	})
	if tooMany {
		return h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("more than %d events in one request", h.cfg.MaxItems))
	}
	if idx == 0 {
		return h.fail(w, http.StatusBadRequest, "no events in body: send a JSON array or NDJSON")
	}
	h.m.received.Add(float64(idx))

	if len(recs) > 0 {
		if err := h.produce(r.Context(), recs); err != nil {
			h.log.Warn("produce", "events", len(recs), "error", err)
			h.retryAfter(w)
			return h.fail(w, http.StatusServiceUnavailable, "kafka unavailable, retry the request: "+err.Error())
		}
	}
	res.Accepted = len(recs)
	h.m.accepted.Add(float64(len(recs)))
	if sp := trace.SpanFromContext(r.Context()); sp.IsRecording() { // tracing on (internal/tracing)
		sp.SetAttributes(attribute.Int("crm.accepted", res.Accepted), attribute.Int("crm.rejected", len(res.Rejected)))
	}
	// Rejections count once the request's outcome is final: a 503 is
	// retried and would count them twice.
	for i, rj := range bad {
		h.m.rejected.WithLabelValues(kinds[i]).Inc()
		h.cfg.Rejects.Add(rj)
	}
	code = http.StatusOK
	switch {
	case len(res.Rejected) == 0:
		res.Rejected = []Rejection{}
	case res.Accepted == 0:
		code = http.StatusUnprocessableEntity
	default:
		code = http.StatusMultiStatus
	}
	writeJSON(w, code, &res)
	return code
}

// Publish produces already validated events (from webhook adapters) to the
// same topic, through the same breaker, and returns once Kafka acknowledged
// every one: the connectors.Publish contract.
func (h *Handler) Publish(ctx context.Context, events []event.Event) error {
	recs := make([]*kgo.Record, len(events))
	for i := range events {
		e := &events[i]
		recs[i] = &kgo.Record{Topic: h.cfg.Topic, Key: []byte(e.Key()), Value: e.AppendJSON(nil), Timestamp: e.OccurredAt}
	}
	return h.produce(ctx, recs)
}

// produce sends recs and waits for every acknowledgement; the first error
// wins. Through the breaker: while Kafka is down, requests fail fast.
func (h *Handler) produce(ctx context.Context, recs []*kgo.Record) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.ProduceTimeout)
	defer cancel()
	_, err := h.breaker.Execute(func() (struct{}, error) {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
		)
		wg.Add(len(recs))
		for _, rec := range recs {
			h.cfg.Producer.Produce(ctx, rec, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
				wg.Done()
			})
		}
		wg.Wait()
		return struct{}{}, first
	})
	return err
}

func (h *Handler) authorized(r *http.Request) bool {
	if len(h.keys) == 0 {
		return true
	}
	key := r.Header.Get("X-Write-Key")
	if key == "" {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			key = strings.TrimSpace(a[7:])
		}
	}
	if key == "" {
		return false
	}
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for i := range h.keys {
		ok |= subtle.ConstantTimeCompare(sum[:], h.keys[i][:])
	}
	return ok == 1
}

// readBody reads the (possibly gzipped) body into buf, enforcing
// MaxBodyBytes on both the wire size and the decompressed size.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) (int, error) {
	limit := h.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body is %d bytes, more than the limit of %d", r.ContentLength, limit)
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return bodyErr(err, limit, "gzip")
		}
		defer zr.Close()
		src = zr
	default:
		return http.StatusUnsupportedMediaType, fmt.Errorf("content-encoding %q is not supported; use gzip or none", truncate(enc, 32))
	}
	_, err := buf.ReadFrom(io.LimitReader(src, limit+1))
	if err != nil {
		return bodyErr(err, limit, "body")
	}
	if int64(buf.Len()) > limit {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body is more than %d bytes after decompression", limit)
	}
	return 0, nil
}

func bodyErr(err error, limit int64, what string) (int, error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body is more than the limit of %d bytes", limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return http.StatusRequestTimeout, errors.New("body not received in time")
	}
	return http.StatusBadRequest, fmt.Errorf("read %s: %w", what, err)
}

func (h *Handler) getBuf() *bytes.Buffer {
	if b, ok := h.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

// putBuf keeps buffers up to 1 MiB: a few huge requests must not pin their
// memory in the pool.
func (h *Handler) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		h.bufs.Put(b)
	}
}

func (h *Handler) retryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.cfg.RetryAfter.Seconds()))))
}

func (h *Handler) fail(w http.ResponseWriter, code int, msg string) int {
	writeJSON(w, code, &Response{Rejected: []Rejection{}, Error: msg})
	return code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// peekID reads event_id from a rejected item, for the caller's benefit; ""
// when the item is not a readable object. encoding/json here and for the
// answer: off the hot path, where robustness beats speed.
func peekID(item []byte) string {
	if len(item) > event.MaxEventBytes {
		return ""
	}
	var v struct {
		EventID any `json:"event_id"`
	}
	if json.Unmarshal(item, &v) != nil {
		return ""
	}
	s, _ := v.EventID.(string)
	return truncate(strings.ToValidUTF8(s, "\uFFFD"), event.MaxIDLen)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
