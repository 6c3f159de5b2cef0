package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/reports"
)

type loader func(ctx context.Context) (any, error)

// route is one endpoint: how it is served and how it is documented.
type route struct {
	method, path string
	id, tag      string
	summary      string
	perm         auth.Permission
	params       []param
	response     any  // a value of the response type: its schema is documented
	cache        bool // responses cached per role, owner scope and parameters
	// handle validates the call and returns the cache key and the loader.
	handle func(c *call) (string, loader, error)
	// stream serves a Server-Sent Events route instead of handle.
	stream func(w http.ResponseWriter, r *http.Request, c *call) error
}

var (
	pFrom     = param{name: "from", in: "query", typ: "string", format: "date-time", desc: "Start of the range (inclusive), RFC 3339."}
	pTo       = param{name: "to", in: "query", typ: "string", format: "date-time", desc: "End of the range (exclusive), RFC 3339."}
	pOwner    = param{name: "owner", in: "query", typ: "string", desc: "Only this owner_id. Reps may only give their own."}
	pTier     = param{name: "tier", in: "query", typ: "string", maxLen: 32, desc: "Only this tier (hot, warm, cold)."}
	pMinScore = param{name: "min_score", in: "query", typ: "integer", min: num(0), max: num(100), desc: "Only scores at or above."}
	pLimit    = param{name: "limit", in: "query", typ: "integer", min: num(1), max: num(200), def: 25, desc: "Page size."}
	pOffset   = param{name: "offset", in: "query", typ: "integer", min: num(0), max: num(10000), def: 0, desc: "Rows to skip; next_offset of the previous page."}
	pID       = param{name: "id", in: "path", typ: "string", required: true, desc: "Identifier."}
	pBucket   = param{name: "bucket", in: "query", typ: "string", enum: []string{"minute", "hour", "day"}, def: "hour", desc: "Bucket width."}
)

func funnelParams() []param {
	return []param{pFrom, pTo, pBucket,
		{name: "group_by", in: "query", typ: "string", enum: []string{"source", "campaign", "owner"}, desc: "Split by first-touch source, first campaign, or current owner."},
		{name: "stages", in: "query", typ: "string", maxLen: 512, desc: "Comma-separated stage names from /funnel/stages, in funnel order; default all."},
		{name: "mode", in: "query", typ: "string", enum: []string{"reached", "ordered"}, def: "reached", desc: "reached: a lead is at the deepest stage any of its events matches; ordered: stages must happen in order within window_days (windowFunnel)."},
		{name: "window_days", in: "query", typ: "integer", min: num(1), max: num(365), def: 30, desc: "ordered mode: how long a lead has to move through the stages."},
		pOwner}
}

// Me is the answer of /me.
type Me struct {
	Subject     string    `json:"subject"`
	Role        string    `json:"role"`
	OwnerScope  string    `json:"owner_scope"`
	Permissions []string  `json:"permissions"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// StageList is the answer of /funnel/stages.
type StageList struct {
	Stages []reports.Stage `json:"stages"`
}

// SeriesList is the answer of /models/metrics.
type SeriesList struct {
	Series []reports.MetricSeries `json:"series"`
}

// AuditList is the answer of /audit.
type AuditList struct {
	Entries []reports.AuditEntry `json:"entries"`
}

func (s *Server) routeTable() []route {
	return []route{
		{method: "GET", path: "/api/v1/me", id: "getMe", tag: "auth", summary: "Who the token belongs to and what it may do.",
			perm: auth.ReadFunnel, response: Me{}, handle: s.me},
		{method: "GET", path: "/api/v1/funnel/stages", id: "getFunnelStages", tag: "funnel", summary: "The configured funnel stages.",
			perm: auth.ReadFunnel, response: StageList{}, handle: s.stages},
		{method: "GET", path: "/api/v1/funnel", id: "getFunnel", tag: "funnel", summary: "Stage counts and conversion for a time range, bucketed and optionally grouped.",
			perm: auth.ReadFunnel, params: funnelParams(), response: reports.Funnel{}, cache: true, handle: s.funnel},
		{method: "GET", path: "/api/v1/funnel/live", id: "streamFunnel", tag: "funnel", summary: "Server-Sent Events: event \"funnel\" with the funnel (as GET /funnel) whenever it changes.",
			perm: auth.ReadFunnel, params: funnelParams(), stream: s.funnelLive},
		{method: "GET", path: "/api/v1/leads/hot", id: "listHotLeads", tag: "leads", summary: "Unconverted leads by descending score.",
			perm: auth.ReadLeads, params: []param{pOwner, pTier, pMinScore, pLimit, pOffset}, response: reports.HotLeads{}, cache: true, handle: s.hotLeads},
		{method: "GET", path: "/api/v1/leads/{id}", id: "getLead", tag: "leads", summary: "Lead profile, current score and tier, reasons with evidence, score history and event timeline.",
			perm: auth.ReadLeads, params: []param{pID}, response: reports.LeadDetail{}, cache: true, handle: s.lead},
		{method: "GET", path: "/api/v1/accounts/at-risk", id: "listAtRiskAccounts", tag: "accounts", summary: "Accounts that have not churned, by descending churn score.",
			perm: auth.ReadAccounts, params: []param{pOwner, pTier, pMinScore, pLimit, pOffset}, response: reports.AtRisk{}, cache: true, handle: s.atRisk},
		{method: "GET", path: "/api/v1/accounts/{id}", id: "getAccount", tag: "accounts", summary: "Account profile, churn score with reasons, history, leads and timeline.",
			perm: auth.ReadAccounts, params: []param{pID}, response: reports.AccountDetail{}, cache: true, handle: s.account},
		{method: "GET", path: "/api/v1/alerts", id: "listAlerts", tag: "alerts", summary: "Alerts (newest state of each), newest first.",
			perm: auth.ReadAlerts, params: []param{pOwner,
				{name: "status", in: "query", typ: "string", enum: []string{"fired", "acknowledged", "retracted"}, desc: "Only this status."},
				{name: "kind", in: "query", typ: "string", maxLen: 64, desc: "Only this kind."},
				pFrom, pTo, pLimit, pOffset}, response: reports.Alerts{}, handle: s.alerts},
		{method: "GET", path: "/api/v1/alerts/stream", id: "streamAlerts", tag: "alerts", summary: "Server-Sent Events: event \"alert\" with each new alert state (an Alert).",
			perm: auth.ReadAlerts, stream: s.alertStream},
		{method: "POST", path: "/api/v1/alerts/{id}/ack", id: "ackAlert", tag: "alerts", summary: "Acknowledge an alert: writes its next version with status acknowledged.",
			perm: auth.AckAlerts, params: []param{pID}, response: reports.Alert{}, handle: s.ack},
		{method: "GET", path: "/api/v1/models", id: "listModels", tag: "models", summary: "Model versions with champion flags and the newest value of each metric.",
			perm: auth.ReadModels, response: reports.Models{}, cache: true, handle: s.models},
		{method: "GET", path: "/api/v1/models/metrics", id: "getModelMetrics", tag: "models", summary: "Model metrics over time (AUC, log loss, calibration, drift).",
			perm: auth.ReadModels, params: []param{
				{name: "model", in: "query", typ: "string", maxLen: 64, desc: "Only this model."},
				{name: "metric", in: "query", typ: "string", maxLen: 64, desc: "Only this metric."},
				pFrom, pTo, pBucket}, response: SeriesList{}, cache: true, handle: s.modelMetrics},
		{method: "GET", path: "/api/v1/pipeline", id: "getPipeline", tag: "pipeline", summary: "Ingest throughput, delays, scoring lag, late events and rejects.",
			perm: auth.ReadPipeline, params: []param{{name: "since", in: "query", typ: "string", format: "date-time", desc: "Start of the window; default one hour ago; at most 7 days."}},
			response: reports.Pipeline{}, cache: true, handle: s.pipeline},
		{method: "GET", path: "/api/v1/audit", id: "listAudit", tag: "admin", summary: "Recent API calls (admin only).",
			perm: auth.ReadAudit, params: []param{
				{name: "user", in: "query", typ: "string", desc: "Only this user."},
				{name: "since", in: "query", typ: "string", format: "date-time", desc: "Default 24 hours ago."},
				{name: "limit", in: "query", typ: "integer", min: num(1), max: num(1000), def: 100, desc: "Rows."}},
			response: AuditList{}, handle: s.auditList},
	}
}

func value(v any) loader { return func(context.Context) (any, error) { return v, nil } }

func (s *Server) me(c *call) (string, loader, error) {
	var perms []string
	for _, p := range []struct {
		p    auth.Permission
		name string
	}{{auth.ReadFunnel, "read:funnel"}, {auth.ReadLeads, "read:leads"}, {auth.ReadAccounts, "read:accounts"}, {auth.ReadAlerts, "read:alerts"},
		{auth.AckAlerts, "ack:alerts"}, {auth.ReadModels, "read:models"}, {auth.ReadPipeline, "read:pipeline"}, {auth.ReadAudit, "read:audit"}} {
		if c.p.Can(p.p) {
			perms = append(perms, p.name)
		}
	}
	return "", value(Me{Subject: c.p.Subject, Role: string(c.p.Role), OwnerScope: c.scope(), Permissions: perms, ExpiresAt: c.p.ExpiresAt.UTC()}), nil
}

func (s *Server) stages(*call) (string, loader, error) {
	return "", value(StageList{Stages: s.cfg.Stages}), nil
}

// owner resolves the owner filter: reps are narrowed to themselves and may
// not ask for someone else.
func owner(c *call) (string, error) {
	o := c.str("owner")
	if sc := c.scope(); sc != "" {
		if o != "" && o != sc {
			return "", apiError{status: http.StatusForbidden, code: "forbidden", param: "owner", message: "owner: reps may only read their own"}
		}
		return sc, nil
	}
	return o, nil
}

var tierRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

func tier(c *call) (string, error) {
	t := c.str("tier")
	if t != "" && !tierRe.MatchString(t) {
		return "", badParam("tier", "must be a lower-case tier name such as hot")
	}
	return t, nil
}

var bucketWidth = map[reports.Bucket]time.Duration{reports.Minute: time.Minute, reports.Hour: time.Hour, reports.Day: 24 * time.Hour}

// sliding reports whether the call leaves the range to the default, which
// slides with the clock: such answers are cached under a key without the
// times and computed for the time of the load, so the key does not change
// (and every caller miss) at each new minute.
func sliding(c *call) bool { return !c.has("from") && !c.has("to") }

// rangeOf resolves from/to with a default span ending at the next whole
// minute.
func rangeOf(c *call, def, max time.Duration) (time.Time, time.Time, error) {
	to := c.time("to")
	if to.IsZero() {
		to = c.now.UTC().Truncate(time.Minute).Add(time.Minute)
	}
	from := c.time("from")
	if from.IsZero() {
		from = to.Add(-def)
	}
	if !from.Before(to) {
		return from, to, badParam("from", "must be before to")
	}
	if to.Sub(from) > max {
		return from, to, badParam("from", "range longer than %s", max)
	}
	return from, to, nil
}

func (s *Server) funnelRequest(c *call) (reports.FunnelRequest, error) {
	var req reports.FunnelRequest
	var err error
	req.Bucket = reports.Bucket(c.str("bucket"))
	if req.From, req.To, err = rangeOf(c, 24*time.Hour, 400*24*time.Hour); err != nil {
		return req, err
	}
	if n := req.To.Sub(req.From) / bucketWidth[req.Bucket]; n > 1500 {
		return req, badParam("bucket", "%d buckets for this range (at most 1500): use a wider bucket", n)
	}
	req.GroupBy = reports.GroupBy(c.str("group_by"))
	req.Window = time.Duration(c.int("window_days")) * 24 * time.Hour
	req.Ordered = c.str("mode") == "ordered"
	if req.Owner, err = owner(c); err != nil {
		return req, err
	}
	req.Stages = s.cfg.Stages
	if names := c.str("stages"); names != "" {
		req.Stages = nil
		seen := map[string]bool{}
		for _, n := range strings.Split(names, ",") {
			var st *reports.Stage
			for i := range s.cfg.Stages {
				if s.cfg.Stages[i].Name == n {
					st = &s.cfg.Stages[i]
				}
			}
			if st == nil {
				return req, badParam("stages", "unknown stage %q", n)
			}
			if seen[n] {
				return req, badParam("stages", "stage %q twice", n)
			}
			seen[n] = true
			req.Stages = append(req.Stages, *st)
		}
		if len(req.Stages) < 2 {
			return req, badParam("stages", "at least 2 stages")
		}
	}
	return req, nil
}

func funnelKey(req reports.FunnelRequest, slide bool) string {
	names := make([]string, len(req.Stages))
	for i, s := range req.Stages {
		names[i] = s.Name
	}
	span := fmt.Sprintf("%d|%d", req.From.Unix(), req.To.Unix())
	if slide {
		span = "sliding|" + req.To.Sub(req.From).String()
	}
	return fmt.Sprintf("%s|%s|%s|%s|%d|%t|%s", span, req.Bucket, req.GroupBy, strings.Join(names, ","), req.Window, req.Ordered, req.Owner)
}

// funnelLoad returns the funnel's cache key and loader; a sliding range is
// re-anchored to the clock when the load runs.
func (s *Server) funnelLoad(c *call) (string, loader, error) {
	req, err := s.funnelRequest(c)
	if err != nil {
		return "", nil, err
	}
	slide := sliding(c)
	return funnelKey(req, slide), func(ctx context.Context) (any, error) {
		r := req
		if slide {
			span := r.To.Sub(r.From)
			r.To = s.cfg.Now().UTC().Truncate(time.Minute).Add(time.Minute)
			r.From = r.To.Add(-span)
		}
		return s.reader.Funnel(ctx, r)
	}, nil
}

func (s *Server) funnel(c *call) (string, loader, error) { return s.funnelLoad(c) }

// ranking reads the parameters the two ranked lists share (hot leads,
// at-risk accounts) and the cache key they make.
func ranking(c *call) (reports.HotLeadsRequest, string, error) {
	var req reports.HotLeadsRequest
	var err error
	if req.Owner, err = owner(c); err != nil {
		return req, "", err
	}
	if req.Tier, err = tier(c); err != nil {
		return req, "", err
	}
	req.MinScore, req.Limit, req.Offset = uint8(c.int("min_score")), c.int("limit"), c.int("offset")
	return req, fmt.Sprintf("%s|%s|%d|%d|%d", req.Owner, req.Tier, req.MinScore, req.Limit, req.Offset), nil
}

func (s *Server) hotLeads(c *call) (string, loader, error) {
	req, key, err := ranking(c)
	if err != nil {
		return "", nil, err
	}
	return key, func(ctx context.Context) (any, error) { return s.reader.HotLeads(ctx, req) }, nil
}

func (s *Server) lead(c *call) (string, loader, error) {
	id, scope := c.str("id"), c.scope()
	return id, func(ctx context.Context) (any, error) { return s.reader.Lead(ctx, id, scope) }, nil
}

func (s *Server) atRisk(c *call) (string, loader, error) {
	hot, key, err := ranking(c)
	if err != nil {
		return "", nil, err
	}
	req := reports.AtRiskRequest(hot) // the same parameters
	return key, func(ctx context.Context) (any, error) { return s.reader.AtRisk(ctx, req) }, nil
}

func (s *Server) account(c *call) (string, loader, error) {
	id, scope := c.str("id"), c.scope()
	return id, func(ctx context.Context) (any, error) { return s.reader.Account(ctx, id, scope) }, nil
}

func (s *Server) alerts(c *call) (string, loader, error) {
	var req reports.AlertsRequest
	var err error
	if req.Owner, err = owner(c); err != nil {
		return "", nil, err
	}
	req.Status, req.Kind = c.str("status"), c.str("kind")
	req.From, req.To = c.time("from"), c.time("to")
	if !req.From.IsZero() && !req.To.IsZero() && !req.From.Before(req.To) {
		return "", nil, badParam("from", "must be before to")
	}
	req.Limit, req.Offset = c.int("limit"), c.int("offset")
	return "", func(ctx context.Context) (any, error) { return s.reader.Alerts(ctx, req) }, nil
}

func (s *Server) ack(c *call) (string, loader, error) {
	id, scope := c.str("id"), c.scope()
	return "", func(ctx context.Context) (any, error) { return s.reader.Acknowledge(ctx, id, scope) }, nil
}

func (s *Server) models(*call) (string, loader, error) {
	return "all", func(ctx context.Context) (any, error) { return s.reader.Models(ctx) }, nil
}

func (s *Server) modelMetrics(c *call) (string, loader, error) {
	req := reports.MetricsRequest{Model: c.str("model"), Metric: c.str("metric"), Bucket: reports.Bucket(c.str("bucket"))}
	var err error
	if req.From, req.To, err = rangeOf(c, 48*time.Hour, 400*24*time.Hour); err != nil {
		return "", nil, err
	}
	if n := req.To.Sub(req.From) / bucketWidth[req.Bucket]; n > 5000 {
		return "", nil, badParam("bucket", "%d buckets for this range (at most 5000): use a wider bucket", n)
	}
	span := fmt.Sprintf("%d|%d", req.From.Unix(), req.To.Unix())
	slide := sliding(c)
	if slide {
		span = "sliding"
	}
	key := fmt.Sprintf("%s|%s|%s|%s", req.Model, req.Metric, span, req.Bucket)
	return key, func(ctx context.Context) (any, error) {
		r := req
		if slide {
			r.To = s.cfg.Now().UTC().Truncate(time.Minute).Add(time.Minute)
			r.From = r.To.Add(-48 * time.Hour)
		}
		series, err := s.reader.MetricSeries(ctx, r)
		return SeriesList{Series: series}, err
	}, nil
}

func (s *Server) pipeline(c *call) (string, loader, error) {
	since := c.time("since")
	if c.now.Sub(since) > 7*24*time.Hour && !since.IsZero() {
		return "", nil, badParam("since", "at most 7 days ago")
	}
	if since.IsZero() { // sliding: the last hour at load time
		return "sliding", func(ctx context.Context) (any, error) {
			return s.reader.Pipeline(ctx, s.cfg.Now().UTC().Truncate(time.Minute).Add(-time.Hour))
		}, nil
	}
	return fmt.Sprint(since.Unix()), func(ctx context.Context) (any, error) { return s.reader.Pipeline(ctx, since) }, nil
}

func (s *Server) auditList(c *call) (string, loader, error) {
	since := c.time("since")
	if since.IsZero() {
		since = c.now.Add(-24 * time.Hour)
	}
	user, limit := c.str("user"), c.int("limit")
	return "", func(ctx context.Context) (any, error) {
		e, err := s.reader.Audit(ctx, user, since, limit)
		return AuditList{Entries: e}, err
	}, nil
}
