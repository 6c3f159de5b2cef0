package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/kafka"
)

func init() {
	register("erase", runErase, "GDPR erasure: remove a lead or account from every table and state, leave a tombstone")
}

// erasableTables maps each table holding personal or per-subject data to the
// column naming a lead and the column naming an account ("" when absent).
var erasableTables = []struct{ table, leadCol, accountCol string }{
	{"events", "lead_id", "account_id"},
	{"lead_scores", "lead_id", "account_id"},
	{"lead_current", "lead_id", "account_id"},
	{"churn_scores", "", "account_id"},
	{"account_current", "", "account_id"},
	{"features", "entity_id", "entity_id"},
	{"alerts", "lead_id", "account_id"},
	{"late_events", "key", "key"},
}

func runErase(ctx context.Context, args []string) error {
	var (
		lead, account, actor string
		settle               time.Duration
		kcfg                 kafka.Config
		ccfg                 chstore.Config
	)
	f := cli.New("crmctl erase", "erase one lead or account (GDPR): a tombstone event makes the scorer drop its state, "+
		"then every ClickHouse table deletes its rows, and crm.erasures records that it was done.",
		"  crmctl erase --lead lead-42 --actor dpo@example.com\n  crmctl erase --account acme")
	f.String(&lead, "lead", "", "", "lead_id to erase")
	f.String(&account, "account", "", "", "account_id to erase")
	f.String(&actor, "actor", "", os.Getenv("USER"), "who asked, recorded in crm.erasures")
	f.Duration(&settle, "settle", "", 10*time.Second, "wait after the tombstone so in-flight events of the subject are stored before the delete")
	f.Kafka(&kcfg)
	f.ClickHouse(&ccfg)
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	if (lead == "") == (account == "") {
		return fmt.Errorf("%w: give exactly one of --lead or --account", errUsage)
	}
	subject, kind := lead, "lead"
	if account != "" {
		subject, kind = account, "account"
	}

	opts, err := kcfg.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	now := time.Now().UTC()
	tomb := event.Event{ID: "erase-" + kind + "-" + subject + "-" + now.Format("20060102T150405"), Type: event.Erased, OccurredAt: now, Source: "crmctl"}
	if kind == "lead" {
		tomb.LeadID = subject
	} else {
		tomb.AccountID = subject
	}
	rec := &kgo.Record{Topic: kafka.TopicEvents, Key: []byte(subject), Value: tomb.AppendJSON(nil), Timestamp: now}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce tombstone: %w", err)
	}
	fmt.Fprintf(os.Stderr, "erase: tombstone for %s %s produced; waiting %s for in-flight events\n", kind, subject, settle)
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return ctx.Err()
	}

	store, err := chstore.Open(ctx, ccfg, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	tables, err := eraseRows(ctx, store, kind, subject)
	if err != nil {
		return err
	}
	if err := recordErasure(ctx, store, subject, kind, now, actor, tables); err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	fmt.Fprintf(os.Stderr, "erase: %s %s removed from %d tables\n", kind, subject, len(tables))
	return nil
}

// eraseRows deletes the subject's rows from every table (ALTER … DELETE, a
// mutation ClickHouse applies in the background; mutations_sync is not on
// 18.16, so this waits for them through system.mutations).
func eraseRows(ctx context.Context, store *chstore.Store, kind, subject string) ([]string, error) {
	var tables []string
	for _, t := range erasableTables {
		col := t.leadCol
		if kind == "account" {
			col = t.accountCol
		}
		if col == "" {
			continue
		}
		q := "ALTER TABLE " + store.LocalTable(t.table) + store.Dialect.OnCluster() + " DELETE WHERE " + col + " = ?"
		if err := store.Conn.Exec(ctx, q, subject); err != nil {
			return tables, fmt.Errorf("delete from %s: %w", t.table, err)
		}
		tables = append(tables, t.table)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var pending uint64
		if err := store.Conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0", store.DB).Scan(&pending); err != nil {
			return tables, fmt.Errorf("wait for deletes: %w", err)
		}
		if pending == 0 {
			return tables, nil
		}
		if time.Now().After(deadline) {
			return tables, errors.New("deletes still running after 2 minutes; they finish in the background (system.mutations)")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func recordErasure(ctx context.Context, store *chstore.Store, subject, kind string, at time.Time, actor string, tables []string) error {
	b, err := store.Conn.PrepareBatch(ctx, "INSERT INTO "+store.Table("erasures")+" (subject, kind, requested_at, actor, tables)")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Append(subject, kind, at, actor, tables); err != nil {
		return err
	}
	return b.Send()
}
