package scorer

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/crmstream/crmstream/alerts"
)

// AlertWriter publishes alert states (alerts.Writer: ClickHouse + topic).
type AlertWriter interface {
	Write(ctx context.Context, as []alerts.Alert) error
}

// CHSink writes batches to the product's ClickHouse tables: lead_scores,
// lead_current, churn_scores, account_current, late_events, features, and
// the alerts through Alerts. Every insert names its columns and every table
// is a ReplacingMergeTree keyed by what the row reflects, so writing a batch
// again (after a crash before the offsets were committed) changes nothing
// once merged. Safe for concurrent use: each Write uses its own batches.
type CHSink struct {
	Conn   driver.Conn
	DB     string      // database name, already validated (chstore.Store.DB)
	Alerts AlertWriter // nil: alerts are dropped
	// Metrics counts rows written by table; nil: not counted.
	Metrics *Metrics
}

// Write inserts every non-empty part of b, one batch per table. An error
// leaves some tables written and others not: the caller retries the whole
// batch, which is idempotent.
func (s *CHSink) Write(ctx context.Context, b *Batch) error {
	parts := []struct {
		table string
		n     int
		cols  string
		fill  func(driver.Batch) error
	}{
		{"lead_scores", len(b.Leads), "lead_id, account_id, owner_id, event_id, event_time, scored_at, score, probability, tier, model_version, reasons",
			func(bt driver.Batch) error {
				for i := range b.Leads {
					r := &b.Leads[i]
					if err := bt.Append(r.LeadID, r.AccountID, r.OwnerID, r.EventID, r.EventTime.UTC(), r.ScoredAt.UTC(),
						r.Score, r.Probability, r.Tier, r.ModelVersion, r.Reasons); err != nil {
						return err
					}
				}
				return nil
			}},
		{"lead_current", len(b.Leads), "lead_id, account_id, owner_id, event_time, score, probability, tier, model_version, reasons, converted, version",
			func(bt driver.Batch) error {
				// Only the newest row per lead of this batch; ReplacingMergeTree
				// keeps the highest version across batches.
				newest := make(map[string]int, len(b.Leads))
				for i := range b.Leads {
					if j, ok := newest[b.Leads[i].LeadID]; !ok || b.Leads[i].Version >= b.Leads[j].Version {
						newest[b.Leads[i].LeadID] = i
					}
				}
				for i := range b.Leads {
					r := &b.Leads[i]
					if newest[r.LeadID] != i {
						continue
					}
					if err := bt.Append(r.LeadID, r.AccountID, r.OwnerID, r.EventTime.UTC(), r.Score, r.Probability,
						r.Tier, r.ModelVersion, r.Reasons, b2u(r.Converted), r.Version); err != nil {
						return err
					}
				}
				return nil
			}},
		{"churn_scores", len(b.Churn), "account_id, owner_id, event_id, event_time, scored_at, score, probability, tier, model_version, reasons",
			func(bt driver.Batch) error {
				for i := range b.Churn {
					r := &b.Churn[i]
					if err := bt.Append(r.AccountID, r.OwnerID, r.EventID, r.EventTime.UTC(), r.ScoredAt.UTC(),
						r.Score, r.Probability, r.Tier, r.ModelVersion, r.Reasons); err != nil {
						return err
					}
				}
				return nil
			}},
		{"account_current", len(b.Churn), "account_id, owner_id, event_time, score, probability, tier, model_version, reasons, plan, mrr, churned, version",
			func(bt driver.Batch) error {
				newest := make(map[string]int, len(b.Churn))
				for i := range b.Churn {
					if j, ok := newest[b.Churn[i].AccountID]; !ok || b.Churn[i].Version >= b.Churn[j].Version {
						newest[b.Churn[i].AccountID] = i
					}
				}
				for i := range b.Churn {
					r := &b.Churn[i]
					if newest[r.AccountID] != i {
						continue
					}
					if err := bt.Append(r.AccountID, r.OwnerID, r.EventTime.UTC(), r.Score, r.Probability, r.Tier,
						r.ModelVersion, r.Reasons, r.Plan, r.MRR, b2u(r.Churned), r.Version); err != nil {
						return err
					}
				}
				return nil
			}},
		{"late_events", len(b.Late), "event_id, key, type, occurred_at, watermark, partition, received_at",
			func(bt driver.Batch) error {
				for i := range b.Late {
					r := &b.Late[i]
					if err := bt.Append(r.EventID, r.Key, r.Type, r.OccurredAt.UTC(), r.Watermark.UTC(), r.Partition, r.ReceivedAt.UTC()); err != nil {
						return err
					}
				}
				return nil
			}},
		{"features", len(b.Features), "entity, entity_id, event_id, event_time, names, values",
			func(bt driver.Batch) error {
				for i := range b.Features {
					r := &b.Features[i]
					if err := bt.Append(r.Entity, r.EntityID, r.EventID, r.EventTime.UTC(), r.Names, r.Values); err != nil {
						return err
					}
				}
				return nil
			}},
	}
	start := time.Now()
	for _, p := range parts {
		if p.n == 0 {
			continue
		}
		if err := s.insert(ctx, p.table, p.cols, p.fill); err != nil {
			return err
		}
		if s.Metrics != nil {
			s.Metrics.rows.WithLabelValues(p.table).Add(float64(p.n))
		}
	}
	if len(b.Alerts) > 0 && s.Alerts != nil {
		if err := s.Alerts.Write(ctx, b.Alerts); err != nil {
			return fmt.Errorf("write %d alerts: %w", len(b.Alerts), err)
		}
		if s.Metrics != nil {
			s.Metrics.rows.WithLabelValues("alerts").Add(float64(len(b.Alerts)))
		}
	}
	if s.Metrics != nil {
		s.Metrics.flush.Observe(time.Since(start).Seconds())
	}
	return nil
}

func (s *CHSink) insert(ctx context.Context, table, cols string, fill func(driver.Batch) error) error {
	bt, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+"."+table+" ("+cols+")")
	if err != nil {
		return fmt.Errorf("prepare %s batch: %w", table, err)
	}
	defer bt.Close()
	if err := fill(bt); err != nil {
		return fmt.Errorf("append %s row: %w", table, err)
	}
	if err := bt.Send(); err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	return nil
}
