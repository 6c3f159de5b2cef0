package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/reports"
)

// apiError is an error with its HTTP answer.
type apiError struct {
	status  int
	code    string
	message string
	param   string
}

func (e apiError) Error() string { return e.message }

func badParam(name, format string, args ...any) apiError {
	return apiError{status: http.StatusBadRequest, code: "invalid_parameter", param: name, message: name + ": " + fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "missing, invalid or expired bearer token"}
	errForbidden    = apiError{status: http.StatusForbidden, code: "forbidden", message: "your role may not use this endpoint"}
	errNotFound     = apiError{status: http.StatusNotFound, code: "not_found", message: "not found"}
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong; Param names the bad parameter of a 400.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

func writeError(w http.ResponseWriter, e apiError) {
	writeJSONBody(w, e.status, mustJSON(ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.message, Param: e.param}}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // only our own types are encoded here
		return []byte(`{"error":{"code":"internal","message":"encode response"}}`)
	}
	return b
}

func writeJSONBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

// toAPIError maps errors from handlers and the reader to HTTP answers, once.
func (s *Server) toAPIError(r *http.Request, err error) apiError {
	var ae apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, reports.ErrNotFound):
		return errNotFound
	case errors.Is(err, reports.ErrConflict):
		return apiError{status: http.StatusConflict, code: "conflict", message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return apiError{status: http.StatusGatewayTimeout, code: "timeout", message: "the query took too long"}
	case errors.Is(err, context.Canceled):
		return apiError{status: 499, code: "canceled", message: "request canceled"}
	}
	s.log.Error("request failed", "path", r.URL.Path, "error", err)
	return apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error"}
}

type ctxKey int

const (
	principalKey ctxKey = iota
	tokenKey
)

func principalFrom(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey).(auth.Principal)
	return p, ok
}

// statusWriter records the status for metrics and the audit log, and passes
// Flush through for SSE.
type statusWriter struct {
	http.ResponseWriter
	status int
	p      *auth.Principal // set by authenticate, read by auditCalls
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		if !strings.HasSuffix(route, "/stream") && !strings.HasSuffix(route, "/live") {
			s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}

func (s *Server) auditCalls(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		next.ServeHTTP(sw, r)
		e := reports.AuditEntry{At: start.UTC(), Method: r.Method, Path: r.URL.Path, Query: truncate(r.URL.RawQuery, 1024),
			Status: uint16(sw.status), DurationMS: float64(s.cfg.Now().Sub(start).Microseconds()) / 1000, Remote: remoteHost(r)}
		if e.Status == 0 {
			e.Status = http.StatusOK
		}
		if sw.p != nil {
			e.User, e.Role = sw.p.Subject, string(sw.p.Role)
		}
		s.audit.enqueue(e)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			raw, ok = strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
		}
		raw = strings.TrimSpace(raw)
		p, key, err := s.verify(raw)
		if !ok || err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crmstream"`)
			writeError(w, errUnauthorized)
			return
		}
		if sw, ok := w.(*statusWriter); ok {
			sw.p = &p
		}
		ctx := context.WithValue(r.Context(), principalKey, p)
		ctx = context.WithValue(ctx, tokenKey, key)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// verify checks a token, remembering verified tokens until they expire:
// parsing and checking a JWT is half the CPU of a cached answer. Only
// tokens that passed Verify are kept, keyed by their exact text.
func (s *Server) verify(raw string) (auth.Principal, string, error) {
	now := s.cfg.Now()
	s.tokensMu.RLock()
	v, hit := s.tokens[raw]
	s.tokensMu.RUnlock()
	if hit && now.Before(v.p.ExpiresAt) {
		return v.p, v.key, nil
	}
	p, err := s.cfg.Verifier.Verify(raw)
	if err != nil {
		return p, "", err
	}
	key := p.TokenID
	if key == "" {
		sum := sha256.Sum256([]byte(raw))
		key = hex.EncodeToString(sum[:16])
	}
	s.tokensMu.Lock()
	if len(s.tokens) >= 10_000 {
		clear(s.tokens) // bounded; a miss costs one verification
	}
	s.tokens[raw] = verified{p, key}
	s.tokensMu.Unlock()
	return p, key, nil
}

type verified struct {
	p   auth.Principal
	key string // rate-limit key: the token id, else a hash of the token
}

func (s *Server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.limiter != nil {
			key, _ := r.Context().Value(tokenKey).(string)
			if ok, wait := s.limiter.allow(key); !ok {
				s.metrics.rateLimited.Inc()
				secs := int(wait/time.Second) + 1
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				writeError(w, apiError{status: http.StatusTooManyRequests, code: "rate_limited", message: fmt.Sprintf("too many requests for this token; retry in %d s", secs)})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// param documents and validates one parameter of a route.
type param struct {
	name     string
	in       string // "query" or "path"
	typ      string // string, integer, number, boolean
	format   string // date-time, …
	desc     string
	enum     []string
	min, max *float64
	def      any
	required bool
	maxLen   int // strings; default 128
}

func num(v float64) *float64 { return &v }

// call is a validated request.
type call struct {
	r     *http.Request
	p     auth.Principal
	vals  map[string]string // raw values of documented parameters
	ints  map[string]int
	times map[string]time.Time
	now   time.Time
}

func (c *call) str(name string) string  { return c.vals[name] }
func (c *call) has(name string) bool    { _, ok := c.vals[name]; return ok }
func (c *call) int(name string) int     { return c.ints[name] }
func (c *call) time(n string) time.Time { return c.times[n] }
func (c *call) scope() string           { return c.p.OwnerScope() }

// parse validates the request's parameters against the route's list:
// unknown query parameters, bad types, ranges and enums are 400s naming the
// parameter.
func parseParams(rt route, r *http.Request, now time.Time) (*call, error) {
	c := &call{r: r, vals: map[string]string{}, ints: map[string]int{}, times: map[string]time.Time{}, now: now}
	q := r.URL.Query()
	known := map[string]bool{}
	for _, p := range rt.params {
		known[p.name] = p.in == "query"
	}
	for k, vs := range q {
		if k == "" {
			return nil, badParam("query", "a parameter has an empty name")
		}
		if !known[k] {
			return nil, badParam(k, "unknown parameter")
		}
		if len(vs) > 1 {
			return nil, badParam(k, "given more than once")
		}
	}
	for _, p := range rt.params {
		var v string
		var present bool
		if p.in == "path" {
			v, present = chi.URLParam(r, p.name), true
		} else {
			present = q.Has(p.name)
			v = q.Get(p.name)
		}
		if !present || (v == "" && p.in == "query") {
			if p.required {
				return nil, badParam(p.name, "required")
			}
			if p.def != nil {
				v = fmt.Sprint(p.def)
			} else {
				continue
			}
		}
		maxLen := p.maxLen
		if maxLen == 0 {
			maxLen = 128
		}
		if len(v) > maxLen || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, badParam(p.name, "must be at most %d printable characters", maxLen)
		}
		if p.in == "path" && v == "" {
			return nil, badParam(p.name, "required")
		}
		if len(p.enum) > 0 && !contains(p.enum, v) {
			return nil, badParam(p.name, "must be one of %s", strings.Join(p.enum, ", "))
		}
		switch p.typ {
		case "integer":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, badParam(p.name, "must be an integer")
			}
			if (p.min != nil && float64(n) < *p.min) || (p.max != nil && float64(n) > *p.max) {
				return nil, badParam(p.name, "must be between %g and %g", *p.min, *p.max)
			}
			c.ints[p.name] = n
		case "string":
			if p.format == "date-time" {
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					return nil, badParam(p.name, "must be an RFC 3339 date-time such as 2026-12-03T09:00:00Z")
				}
				if t.Year() < 2000 || t.Year() > 2200 {
					return nil, badParam(p.name, "out of range")
				}
				c.times[p.name] = t.UTC()
			}
		}
		c.vals[p.name] = v
	}
	return c, nil
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// endpoint wraps a route's handler: permission, parameters, cache, encoding.
func (s *Server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := principalFrom(r.Context())
		if !ok {
			writeError(w, errUnauthorized)
			return
		}
		if !p.Can(rt.perm) {
			writeError(w, errForbidden)
			return
		}
		c, err := parseParams(rt, r, s.cfg.Now())
		if err != nil {
			writeError(w, s.toAPIError(r, err))
			return
		}
		c.p = p
		if rt.stream != nil {
			if err := rt.stream(w, r, c); err != nil {
				writeError(w, s.toAPIError(r, err))
			}
			return
		}
		// Handlers resolve defaults and validate, then return the loader and
		// the key of what they will read.
		key, load, err := rt.handle(c)
		if err != nil {
			writeError(w, s.toAPIError(r, err))
			return
		}
		encode := func(ctx context.Context) ([]byte, error) {
			v, err := load(ctx)
			if err != nil {
				return nil, err
			}
			return json.Marshal(v)
		}
		var body []byte
		if rt.cache && key != "" {
			body, err = s.cache.get(r.Context(), rt.method+" "+rt.path+"|"+string(p.Role)+"|"+p.OwnerScope()+"|"+key, encode)
		} else {
			body, err = encode(r.Context())
		}
		if err != nil {
			writeError(w, s.toAPIError(r, err))
			return
		}
		status := http.StatusOK
		writeJSONBody(w, status, body)
	})
}
