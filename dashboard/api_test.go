package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/golang-jwt/jwt/v5"

	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/dashtest"
	"github.com/crmstream/crmstream/dashboard/reports"
)

var testSecret = []byte("dashboard-test-secret-0123456789")

type env struct {
	t    testing.TB
	conn driver.Conn
	db   string
	srv  *Server
	base string
	now  time.Time
}

func newEnv(t testing.TB, seed bool, mod func(*Config)) *env {
	t.Helper()
	conn, db := dashtest.NewDB(t)
	e := &env{t: t, conn: conn, db: db, now: time.Now().UTC().Truncate(time.Second)}
	if seed {
		if _, err := dashtest.Seed(context.Background(), conn, db, dashtest.Options{Events: 4000, Now: e.now, Seed: 7, Owners: 4}); err != nil {
			t.Fatal(err)
		}
	}
	reader, err := reports.New(reports.Config{Conn: conn, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Reader: reader, Verifier: v, AlertPoll: 100 * time.Millisecond, LivePoll: 100 * time.Millisecond, AuditFlush: 50 * time.Millisecond, RateLimit: 1000}
	if mod != nil {
		mod(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

func token(t testing.TB, role auth.Role, user string) string {
	t.Helper()
	tok, err := auth.Issue(testSecret, user, role, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (e *env) do(method, path, tok string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// paths gives a concrete request for every JSON route, using entities owned
// by rep-1 in the seeded world.
func concretePaths(now time.Time) map[string]string {
	return map[string]string{
		"getMe":              "/api/v1/me",
		"getFunnelStages":    "/api/v1/funnel/stages",
		"getFunnel":          "/api/v1/funnel?bucket=hour&group_by=source",
		"listHotLeads":       "/api/v1/leads/hot?limit=5",
		"getLead":            "/api/v1/leads/lead-0000000", // owner rep-1
		"listAtRiskAccounts": "/api/v1/accounts/at-risk",
		"getAccount":         "/api/v1/accounts/acct-000000",
		"listAlerts":         "/api/v1/alerts?limit=10",
		"ackAlert":           "/api/v1/alerts/alert-0000/ack",
		"listModels":         "/api/v1/models",
		"getModelMetrics":    "/api/v1/models/metrics?bucket=hour",
		"getPipeline":        "/api/v1/pipeline",
		"listAudit":          "/api/v1/audit?limit=5",
		"streamFunnel":       "/api/v1/funnel/live",
		"streamAlerts":       "/api/v1/alerts/stream",
	}
}

func TestRoleMatrix(t *testing.T) {
	e := newEnv(t, true, nil)
	paths := concretePaths(e.now)
	// 0 = 200; otherwise the expected refusal.
	deny := map[auth.Role]map[string]int{
		auth.Leader: {"listAudit": 403},
		auth.Rep:    {"listModels": 403, "getModelMetrics": 403, "getPipeline": 403, "listAudit": 403},
		auth.Data:   {"ackAlert": 403, "listAudit": 403},
		auth.Admin:  {},
	}
	users := map[auth.Role]string{auth.Leader: "lee", auth.Rep: "rep-1", auth.Data: "dana", auth.Admin: "root"}
	for _, rt := range e.srv.routes {
		if rt.stream != nil {
			continue
		}
		for role, denied := range deny {
			t.Run(rt.id+"/"+string(role), func(t *testing.T) {
				want := 200
				if d := denied[rt.id]; d != 0 {
					want = d
				}
				r := e.do(rt.method, paths[rt.id], token(t, role, users[role]))
				if r.status != want {
					t.Fatalf("%s %s as %s = %d %s, want %d", rt.method, paths[rt.id], role, r.status, r.body, want)
				}
			})
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, false, nil)
	expired, _ := auth.Issue(testSecret, "lee", auth.Leader, -time.Hour, time.Now().Add(-2*time.Hour))
	forged, _ := auth.Issue([]byte("some-other-secret-0123456789abcd"), "lee", auth.Leader, time.Hour, time.Now())
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, auth.Claims{Role: "leader", RegisteredClaims: jwt.RegisteredClaims{
		Subject: "lee", Issuer: auth.DefaultIssuer, Audience: jwt.ClaimStrings{auth.DefaultAudience}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	paths := concretePaths(e.now)
	for name, tok := range map[string]string{"missing": "", "garbage": "abc.def.ghi", "expired": expired, "forged": forged, "alg none": none} {
		for _, rt := range e.srv.routes {
			r := e.do(rt.method, paths[rt.id], tok)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s token on %s = %d, want 401 with WWW-Authenticate", name, rt.id, r.status)
			}
		}
	}
	// Outside /api/v1 no token is needed.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/"} {
		if r := e.do("GET", p, ""); r.status != 200 {
			t.Errorf("GET %s = %d", p, r.status)
		}
	}
}

func TestRepSeesOnlyOwn(t *testing.T) {
	e := newEnv(t, true, nil)
	rep1 := token(t, auth.Rep, "rep-1")
	// lead-0000003 and its account acct-000001 are rep-2's (dashtest.Owner).
	for _, p := range []string{"/api/v1/leads/lead-0000003", "/api/v1/accounts/acct-000001", "/api/v1/leads/no-such-lead"} {
		if r := e.do("GET", p, rep1); r.status != 404 {
			t.Errorf("rep-1 GET %s = %d %s, want 404", p, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/leads/lead-0000003", token(t, auth.Leader, "lee")); r.status != 200 {
		t.Errorf("leader GET other's lead = %d", r.status)
	}
	var hot reports.HotLeads
	e.do("GET", "/api/v1/leads/hot?limit=200", rep1).json(t, &hot)
	if len(hot.Leads) == 0 {
		t.Fatal("rep-1 has no hot leads")
	}
	for _, l := range hot.Leads {
		if l.OwnerID != "rep-1" {
			t.Errorf("rep-1 sees lead %s of %s", l.LeadID, l.OwnerID)
		}
	}
	var alerts reports.Alerts
	e.do("GET", "/api/v1/alerts?limit=200", rep1).json(t, &alerts)
	for _, a := range alerts.Alerts {
		if a.OwnerID != "rep-1" {
			t.Errorf("rep-1 sees alert %s of %s", a.AlertID, a.OwnerID)
		}
	}
	if r := e.do("GET", "/api/v1/leads/hot?owner=rep-2", rep1); r.status != 403 {
		t.Errorf("rep filtering by another owner = %d", r.status)
	}
	var other reports.Alerts
	e.do("GET", "/api/v1/alerts?owner=rep-2&limit=1", token(t, auth.Leader, "lee")).json(t, &other)
	if len(other.Alerts) == 0 {
		t.Fatal("no alert of rep-2")
	}
	if r := e.do("POST", "/api/v1/alerts/"+other.Alerts[0].AlertID+"/ack", rep1); r.status != 404 {
		t.Errorf("rep-1 acks rep-2's alert = %d, want 404", r.status)
	}
	// The rep's funnel counts only their leads: never more than the leader's.
	var mine, all reports.Funnel
	e.do("GET", "/api/v1/funnel", rep1).json(t, &mine)
	e.do("GET", "/api/v1/funnel", token(t, auth.Leader, "lee")).json(t, &all)
	if mine.Stages[0].Count == 0 || mine.Stages[0].Count >= all.Stages[0].Count {
		t.Errorf("rep funnel %d visitors, all %d", mine.Stages[0].Count, all.Stages[0].Count)
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, false, nil)
	tok := token(t, auth.Admin, "root")
	tests := []struct{ path, param string }{
		{"/api/v1/funnel?bucket=week", "bucket"},
		{"/api/v1/funnel?from=yesterday", "from"},
		{"/api/v1/funnel?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"},
		{"/api/v1/funnel?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z&bucket=minute", "bucket"},
		{"/api/v1/funnel?group_by=country", "group_by"},
		{"/api/v1/funnel?stages=visitor,unicorn", "stages"},
		{"/api/v1/funnel?stages=visitor", "stages"},
		{"/api/v1/funnel?stages=lead,lead", "stages"},
		{"/api/v1/funnel?window_days=0", "window_days"},
		{"/api/v1/funnel?mode=strict", "mode"},
		{"/api/v1/funnel?colour=red", "colour"},
		{"/api/v1/leads/hot?limit=0", "limit"},
		{"/api/v1/leads/hot?limit=abc", "limit"},
		{"/api/v1/leads/hot?limit=201", "limit"},
		{"/api/v1/leads/hot?offset=-1", "offset"},
		{"/api/v1/leads/hot?min_score=101", "min_score"},
		{"/api/v1/leads/hot?tier=HOT%27--", "tier"},
		{"/api/v1/leads/hot?limit=1&limit=2", "limit"},
		{"/api/v1/leads/hot?owner=" + strings.Repeat("x", 200), "owner"},
		{"/api/v1/leads/" + url.PathEscape("a\x01b"), "id"},
		{"/api/v1/alerts?status=open", "status"},
		{"/api/v1/alerts?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"},
		{"/api/v1/models/metrics?bucket=second", "bucket"},
		{"/api/v1/pipeline?since=2020-01-01T00:00:00Z", "since"},
		{"/api/v1/audit?limit=5000", "limit"},
	}
	for _, tc := range tests {
		r := e.do("GET", tc.path, tok)
		var body ErrorBody
		_ = json.Unmarshal(r.body, &body)
		if r.status != 400 || body.Error.Param != tc.param || !strings.Contains(body.Error.Message, tc.param) {
			t.Errorf("GET %s = %d %s; want 400 naming %q", tc.path, r.status, r.body, tc.param)
		}
	}
	if r := e.do("GET", "/api/v1/nope", tok); r.status != 404 {
		t.Errorf("unknown endpoint = %d", r.status)
	}
}

func TestAcknowledge(t *testing.T) {
	e := newEnv(t, false, nil)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	if err := dashtest.InsertAlerts(ctx, e.conn, e.db,
		dashtest.AlertRow{ID: "a1", Kind: "hot_lead", LeadID: "l1", OwnerID: "rep-1", Status: "fired", FiredAt: now, Version: 3},
		dashtest.AlertRow{ID: "a2", Kind: "hot_lead", LeadID: "l2", OwnerID: "rep-1", Status: "retracted", FiredAt: now, Version: 2}); err != nil {
		t.Fatal(err)
	}
	rep := token(t, auth.Rep, "rep-1")
	var a reports.Alert
	r := e.do("POST", "/api/v1/alerts/a1/ack", rep)
	r.json(t, &a)
	if r.status != 200 || a.Status != "acknowledged" || a.Version != 4 {
		t.Fatalf("ack = %d %+v", r.status, a)
	}
	var list reports.Alerts
	e.do("GET", "/api/v1/alerts?status=acknowledged", rep).json(t, &list)
	if len(list.Alerts) != 1 || list.Alerts[0].AlertID != "a1" || list.Alerts[0].Version != 4 {
		t.Fatalf("after ack: %+v", list.Alerts)
	}
	if r := e.do("POST", "/api/v1/alerts/a1/ack", rep); r.status != 200 {
		t.Errorf("second ack = %d", r.status)
	}
	if r := e.do("POST", "/api/v1/alerts/a2/ack", rep); r.status != 409 {
		t.Errorf("ack retracted = %d, want 409", r.status)
	}
	if r := e.do("POST", "/api/v1/alerts/missing/ack", rep); r.status != 404 {
		t.Errorf("ack missing = %d, want 404", r.status)
	}
	if r := e.do("GET", "/api/v1/alerts/a1/ack", rep); r.status != 405 && r.status != 404 {
		t.Errorf("GET ack = %d, want 404 or 405", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, false, func(c *Config) { c.RateLimit, c.RateBurst = 0.5, 3 })
	a, b := token(t, auth.Leader, "lee"), token(t, auth.Leader, "lee")
	for i := range 3 {
		if r := e.do("GET", "/api/v1/me", a); r.status != 200 {
			t.Fatalf("request %d = %d", i, r.status)
		}
	}
	r := e.do("GET", "/api/v1/me", a)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("4th request = %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	// Per token: another token of the same user has its own bucket.
	if r := e.do("GET", "/api/v1/me", b); r.status != 200 {
		t.Fatalf("other token = %d", r.status)
	}
}

func TestAuditLog(t *testing.T) {
	e := newEnv(t, false, nil)
	e.do("GET", "/api/v1/me", token(t, auth.Rep, "rep-9"))
	e.do("GET", "/api/v1/leads/hot?tier=hot", token(t, auth.Leader, "lee"))
	e.do("GET", "/api/v1/models", "")
	admin := token(t, auth.Admin, "root")
	want := map[string]bool{"rep-9 rep GET /api/v1/me  200": false, "lee leader GET /api/v1/leads/hot tier=hot 200": false, "  GET /api/v1/models  401": false}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var l AuditList
		e.do("GET", "/api/v1/audit?limit=100", admin).json(t, &l)
		for _, a := range l.Entries {
			k := fmt.Sprintf("%s %s %s %s %s %d", a.User, a.Role, a.Method, a.Path, a.Query, a.Status)
			if _, ok := want[k]; ok {
				want[k] = true
			}
		}
		all := true
		for _, ok := range want {
			all = all && ok
		}
		if all {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("audit entries missing: %v", want)
}

// sse reads events from a stream until n arrive or the deadline.
func sse(t *testing.T, e *env, path, tok string, n int, timeout time.Duration, started chan<- struct{}) []struct{ event, data string } {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream %s = %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	if started != nil {
		close(started)
	}
	var out []struct{ event, data string }
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ev string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev = line[7:]
		case strings.HasPrefix(line, "data: "):
			out = append(out, struct{ event, data string }{ev, line[6:]})
			if len(out) == n {
				return out
			}
		}
	}
	return out
}

func TestAlertStream(t *testing.T) {
	e := newEnv(t, false, nil)
	started := make(chan struct{})
	go func() {
		<-started
		time.Sleep(300 * time.Millisecond)
		now := time.Now().UTC()
		if err := dashtest.InsertAlerts(context.Background(), e.conn, e.db,
			dashtest.AlertRow{ID: "x-other", Kind: "hot_lead", OwnerID: "rep-2", Status: "fired", FiredAt: now, Version: 1},
			dashtest.AlertRow{ID: "x-mine", Kind: "hot_lead", OwnerID: "rep-1", Status: "fired", FiredAt: now, Version: 1, Reason: "score jumped"}); err != nil {
			t.Error(err)
		}
	}()
	got := sse(t, e, "/api/v1/alerts/stream", token(t, auth.Rep, "rep-1"), 1, 10*time.Second, started)
	if len(got) != 1 || got[0].event != "alert" {
		t.Fatalf("stream: %+v", got)
	}
	var a reports.Alert
	if err := json.Unmarshal([]byte(got[0].data), &a); err != nil || a.AlertID != "x-mine" || a.Reason != "score jumped" {
		t.Fatalf("alert %s: %v", got[0].data, err)
	}
}

func TestFunnelLive(t *testing.T) {
	e := newEnv(t, true, nil)
	tok := token(t, auth.Leader, "lee")
	got := sse(t, e, "/api/v1/funnel/live?bucket=hour", tok, 1, 10*time.Second, nil)
	if len(got) != 1 || got[0].event != "funnel" {
		t.Fatalf("live: %+v", got)
	}
	var live, rest reports.Funnel
	if err := json.Unmarshal([]byte(got[0].data), &live); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/v1/funnel?bucket=hour", tok).json(t, &rest)
	if live.Stages[0].Count == 0 || live.Stages[0].Count != rest.Stages[0].Count {
		t.Fatalf("live %+v, rest %+v", live.Stages, rest.Stages)
	}
	if r := e.do("GET", "/api/v1/funnel/live?bucket=year", tok); r.status != 400 {
		t.Fatalf("bad live = %d", r.status)
	}
}

func TestMetricsExported(t *testing.T) {
	e := newEnv(t, false, nil)
	e.do("GET", "/api/v1/me", token(t, auth.Leader, "lee"))
	r := e.do("GET", "/metrics", "")
	for _, m := range []string{"crmstream_dashboard_http_requests_total", "crmstream_dashboard_http_request_duration_seconds"} {
		if !strings.Contains(string(r.body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// BenchmarkCachedEndpoints measures the server's own cost of a cached
// answer (auth, rate limit, audit enqueue, metrics, routing, cache hit,
// write), without the network.
func BenchmarkCachedEndpoints(b *testing.B) {
	e := newEnv(b, true, func(c *Config) { c.RateLimit = -1; c.CacheTTL = time.Hour })
	tok := token(b, auth.Leader, "lee")
	for _, path := range []string{"/api/v1/funnel?bucket=hour", "/api/v1/leads/hot?limit=25"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			h := e.srv.Handler()
			h.ServeHTTP(httptest.NewRecorder(), req) // fill the cache
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// FuzzParams: query strings come from the network. Any input is accepted or
// refused with a 400 that names a parameter; parsing never panics.
func FuzzParams(f *testing.F) {
	s := &Server{}
	routes := s.routeTable()
	f.Add("bucket=hour&from=2026-12-01T00:00:00Z&limit=5")
	f.Add("stages=a,b&window_days=9999999999999999999")
	f.Add("%zz=1&limit=-0")
	f.Fuzz(func(t *testing.T, q string) {
		for _, rt := range routes {
			r := httptest.NewRequest("GET", "/x", nil)
			r.URL.RawQuery = q
			_, err := parseParams(rt, r, time.Unix(1.8e9, 0))
			if err == nil {
				continue
			}
			var ae apiError
			if !errors.As(err, &ae) || ae.status != 400 || ae.param == "" {
				t.Fatalf("%s?%s: %v", rt.id, q, err)
			}
		}
	})
}
