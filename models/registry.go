package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Registry stores model versions and their promotions in ClickHouse:
// DB.models (one row per version, newest revision wins), DB.model_promotions
// (an append-only history: promote and rollback rows ordered by seq; the
// champion is the version of the newest row) and DB.model_metrics.
//
// Safe for concurrent use. Two processes promoting the same model at the
// same instant may pick the same seq; the data team's tooling (crmctl) is
// the only writer of promotions, so this is accepted and documented rather
// than locked.
type Registry struct {
	conn   driver.Conn
	db     string
	logger *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	last uint64 // last revision handed out, to keep revisions increasing
}

// Version statuses in DB.models.
const (
	StatusRegistered = "registered" // trained and stored, never served
	StatusChampion   = "champion"   // serving now
	StatusRetired    = "retired"    // served before
	StatusRejected   = "rejected"   // lost against the champion
)

// Promotion actions.
const (
	ActionPromote  = "promote"
	ActionRollback = "rollback"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound   = errors.New("model version not found")
	ErrNoChampion = errors.New("no champion")
	ErrNoPrevious = errors.New("no previous champion to roll back to")
	ErrUnservable = errors.New("model version cannot be served")
)

// NewRegistry returns a registry over conn and database db (a validated
// identifier, e.g. chstore.Store.DB). A nil logger discards; a nil now is
// time.Now.
func NewRegistry(conn driver.Conn, db string, logger *slog.Logger, now func() time.Time) *Registry {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Registry{conn: conn, db: db, logger: logger.With("component", "registry"), now: now}
}

// Entry describes a registered version (without its artifact).
type Entry struct {
	Model     string
	Version   string
	Kind      string
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
	Metrics   map[string]float64
	Revision  uint64
}

func (r *Registry) revision() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := uint64(r.now().UnixNano())
	if v <= r.last {
		v = r.last + 1
	}
	r.last = v
	return v
}

// Register stores an artifact as a new version with status
// StatusRegistered (or the status given).
func (r *Registry) Register(ctx context.Context, a *Artifact, status string) error {
	if err := a.check(); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	b, err := a.Marshal()
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	if status == "" {
		status = StatusRegistered
	}
	return r.write(ctx, Entry{Model: a.Model, Version: a.Version, Kind: a.Kind, Status: status,
		CreatedAt: a.CreatedAt, Metrics: a.Metrics}, string(b))
}

func (r *Registry) write(ctx context.Context, e Entry, artifact string) error {
	metrics, err := json.Marshal(finite(e.Metrics))
	if err != nil {
		return fmt.Errorf("register %s %s: metrics: %w", e.Model, e.Version, err)
	}
	batch, err := r.conn.PrepareBatch(ctx, "INSERT INTO "+r.db+".models (model, version, kind, created_at, status, metrics, artifact, updated_at, revision)")
	if err != nil {
		return fmt.Errorf("register %s %s: %w", e.Model, e.Version, err)
	}
	defer batch.Close()
	if e.CreatedAt.IsZero() {
		e.CreatedAt = r.now()
	}
	if err := batch.Append(e.Model, e.Version, e.Kind, e.CreatedAt.UTC(), e.Status, string(metrics), artifact,
		r.now().UTC(), r.revision()); err != nil {
		return fmt.Errorf("register %s %s: %w", e.Model, e.Version, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("register %s %s: %w", e.Model, e.Version, err)
	}
	return nil
}

// finite drops NaN and infinite metrics, which JSON cannot carry.
func finite(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// Get returns a version's entry and artifact, or an error wrapping
// ErrNotFound.
func (r *Registry) Get(ctx context.Context, model, version string) (*Artifact, Entry, error) {
	rows, err := r.conn.Query(ctx, "SELECT model, version, kind, status, created_at, updated_at, metrics, revision, artifact FROM "+
		r.db+".models FINAL WHERE model = ? AND version = ?", model, version)
	if err != nil {
		return nil, Entry{}, fmt.Errorf("get %s %s: %w", model, version, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, Entry{}, fmt.Errorf("get %s %s: %w", model, version, err)
		}
		return nil, Entry{}, fmt.Errorf("get %s %s: %w", model, version, ErrNotFound)
	}
	e, art, err := scanEntry(rows, true)
	if err != nil {
		return nil, Entry{}, fmt.Errorf("get %s %s: %w", model, version, err)
	}
	a, err := UnmarshalArtifact([]byte(art))
	if err != nil {
		return nil, e, fmt.Errorf("get %s %s: %w", model, version, err)
	}
	return a, e, nil
}

func scanEntry(rows driver.Rows, withArtifact bool) (Entry, string, error) {
	var e Entry
	var metrics, art string
	dest := []any{&e.Model, &e.Version, &e.Kind, &e.Status, &e.CreatedAt, &e.UpdatedAt, &metrics, &e.Revision}
	if withArtifact {
		dest = append(dest, &art)
	}
	if err := rows.Scan(dest...); err != nil {
		return e, "", fmt.Errorf("scan: %w", err)
	}
	if metrics != "" {
		if err := json.Unmarshal([]byte(metrics), &e.Metrics); err != nil {
			return e, "", fmt.Errorf("metrics of %s: %w", e.Version, err)
		}
	}
	return e, art, nil
}

// List returns the versions of a model, newest first.
func (r *Registry) List(ctx context.Context, model string) ([]Entry, error) {
	rows, err := r.conn.Query(ctx, "SELECT model, version, kind, status, created_at, updated_at, metrics, revision FROM "+
		r.db+".models FINAL WHERE model = ? ORDER BY created_at DESC, version DESC", model)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", model, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, _, err := scanEntry(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", model, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", model, err)
	}
	return out, nil
}

// SetStatus rewrites a version's row with a new status.
func (r *Registry) SetStatus(ctx context.Context, model, version, status string) error {
	a, e, err := r.Get(ctx, model, version)
	if err != nil {
		return err
	}
	b, err := a.Marshal()
	if err != nil {
		return err
	}
	e.Status = status
	return r.write(ctx, e, string(b))
}

// Promotion is one row of a model's promotion history.
type Promotion struct {
	Version string
	Action  string
	At      time.Time
	Seq     uint64
	Actor   string
}

// History returns a model's promotions and rollbacks in order.
func (r *Registry) History(ctx context.Context, model string) ([]Promotion, error) {
	rows, err := r.conn.Query(ctx, "SELECT version, action, at, seq, actor FROM "+r.db+
		".model_promotions FINAL WHERE model = ? ORDER BY seq", model)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", model, err)
	}
	defer rows.Close()
	var out []Promotion
	for rows.Next() {
		var p Promotion
		if err := rows.Scan(&p.Version, &p.Action, &p.At, &p.Seq, &p.Actor); err != nil {
			return nil, fmt.Errorf("history %s: %w", model, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history %s: %w", model, err)
	}
	return out, nil
}

// Champion returns the version serving now and the seq of the promotion
// row that made it so, or an error wrapping ErrNoChampion.
func (r *Registry) Champion(ctx context.Context, model string) (string, uint64, error) {
	rows, err := r.conn.Query(ctx, "SELECT version, seq FROM "+r.db+
		".model_promotions FINAL WHERE model = ? ORDER BY seq DESC LIMIT 1", model)
	if err != nil {
		return "", 0, fmt.Errorf("champion %s: %w", model, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", 0, fmt.Errorf("champion %s: %w", model, err)
		}
		return "", 0, fmt.Errorf("champion %s: %w", model, ErrNoChampion)
	}
	var v string
	var seq uint64
	if err := rows.Scan(&v, &seq); err != nil {
		return "", 0, fmt.Errorf("champion %s: %w", model, err)
	}
	return v, seq, nil
}

// stack replays the history into the stack of champions: a promotion
// pushes, a rollback pops.
func stack(h []Promotion) []string {
	var s []string
	for _, p := range h {
		switch p.Action {
		case ActionPromote:
			s = append(s, p.Version)
		case ActionRollback:
			if len(s) > 0 {
				s = s[:len(s)-1]
			}
		}
	}
	return s
}

// Promote makes version the champion of model. The version must be
// registered and servable (not KindTree).
func (r *Registry) Promote(ctx context.Context, model, version, actor string) error {
	a, _, err := r.Get(ctx, model, version)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if a.Kind == KindTree {
		return fmt.Errorf("promote %s %s: kind %s: %w", model, version, a.Kind, ErrUnservable)
	}
	h, err := r.History(ctx, model)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	prev := stack(h)
	if err := r.appendPromotion(ctx, model, version, ActionPromote, actor, h); err != nil {
		return err
	}
	if len(prev) > 0 && prev[len(prev)-1] != version {
		if err := r.SetStatus(ctx, model, prev[len(prev)-1], StatusRetired); err != nil {
			r.logger.Warn("status of the previous champion not updated", "model", model, "error", err)
		}
	}
	if err := r.SetStatus(ctx, model, version, StatusChampion); err != nil {
		r.logger.Warn("status of the champion not updated", "model", model, "error", err)
	}
	r.logger.Info("promoted", "model", model, "version", version, "actor", actor)
	return nil
}

// Rollback returns model to the champion before the current one and
// returns that version, or an error wrapping ErrNoPrevious.
func (r *Registry) Rollback(ctx context.Context, model, actor string) (string, error) {
	h, err := r.History(ctx, model)
	if err != nil {
		return "", fmt.Errorf("rollback: %w", err)
	}
	s := stack(h)
	if len(s) < 2 {
		return "", fmt.Errorf("rollback %s: %w", model, ErrNoPrevious)
	}
	cur, prev := s[len(s)-1], s[len(s)-2]
	if err := r.appendPromotion(ctx, model, prev, ActionRollback, actor, h); err != nil {
		return "", err
	}
	if err := r.SetStatus(ctx, model, cur, StatusRetired); err != nil {
		r.logger.Warn("status of the rolled-back version not updated", "model", model, "error", err)
	}
	if err := r.SetStatus(ctx, model, prev, StatusChampion); err != nil {
		r.logger.Warn("status of the champion not updated", "model", model, "error", err)
	}
	r.logger.Info("rolled back", "model", model, "from", cur, "to", prev, "actor", actor)
	return prev, nil
}

func (r *Registry) appendPromotion(ctx context.Context, model, version, action, actor string, h []Promotion) error {
	var seq uint64 = 1
	if len(h) > 0 {
		seq = h[len(h)-1].Seq + 1
	}
	batch, err := r.conn.PrepareBatch(ctx, "INSERT INTO "+r.db+".model_promotions (model, version, action, at, seq, actor)")
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", action, model, version, err)
	}
	defer batch.Close()
	if err := batch.Append(model, version, action, r.now().UTC(), seq, actor); err != nil {
		return fmt.Errorf("%s %s %s: %w", action, model, version, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("%s %s %s: %w", action, model, version, err)
	}
	return nil
}

// WriteMetrics stores progressive-validation metrics of a model version at
// time at (AUC, log loss, Brier, ECE, base rate; NaN values are skipped).
func (r *Registry) WriteMetrics(ctx context.Context, model, version string, at time.Time, m Metrics) error {
	batch, err := r.conn.PrepareBatch(ctx, "INSERT INTO "+r.db+".model_metrics (model, model_version, at, metric, value, n)")
	if err != nil {
		return fmt.Errorf("write metrics %s: %w", model, err)
	}
	defer batch.Close()
	for _, kv := range []struct {
		k string
		v float64
	}{{"auc", m.AUC}, {"log_loss", m.LogLoss}, {"brier", m.Brier}, {"ece", m.ECE}, {"base_rate", m.BaseRate}} {
		if math.IsNaN(kv.v) || math.IsInf(kv.v, 0) {
			continue
		}
		if err := batch.Append(model, version, at.UTC(), kv.k, kv.v, m.N); err != nil {
			return fmt.Errorf("write metrics %s: %w", model, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("write metrics %s: %w", model, err)
	}
	return nil
}
