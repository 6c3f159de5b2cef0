package chstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ?", s.DB).Scan(&n); err != nil {
		t.Fatal(err)
	}
	stmts, _ := s.Dialect.Statements()
	creates := 0
	for _, st := range stmts {
		if strings.Contains(st.SQL, "CREATE ") {
			creates++
		}
	}
	if int(n) != creates {
		t.Errorf("%d tables for %d CREATE statements", n, creates)
	}
}

// TestConcurrentMigrate: services start together and migrate the same
// database at once (make up, the benchmark); every Migrate succeeds, the
// column look-up and its ALTER racing included.
func TestConcurrentMigrate(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	for round := range 3 {
		if err := s.Conn.Exec(ctx, "ALTER TABLE "+s.Table("features")+" DROP COLUMN set_id"); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 4)
		for range cap(errs) {
			go func() {
				cfg := chtest.Config()
				cfg.Database = s.DB
				o, err := chstore.Open(ctx, cfg, nil)
				if err == nil {
					err = o.Migrate(ctx)
					o.Close()
				}
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// TestAddColumnMigration: a database made before 0007 (crm.features
// without set_id, rows with their names) gains the column; its old rows and
// the new ones (names once in feature_sets) read alike through
// features_named, and migrating again changes nothing.
func TestAddColumnMigration(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if err := s.Conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Back to the schema before 0007.
	exec("DROP TABLE " + s.Table("features_named"))
	exec("DROP TABLE " + s.Table("feature_sets"))
	exec("ALTER TABLE " + s.Table("features") + " DROP COLUMN set_id")
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	insert := func(cols string, row ...any) {
		t.Helper()
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.Table(cols))
		if err == nil {
			if err = b.Append(row...); err == nil {
				err = b.Send()
			}
		}
		if err != nil {
			t.Fatalf("insert %s: %v", cols, err)
		}
	}
	insert("features (entity, entity_id, event_id, event_time, names, values)", "lead", "L1", "e1", at, []string{"a", "b"}, []float64{1, 2})
	for range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	insert("features (entity, entity_id, event_id, event_time, set_id, values)", "lead", "L2", "e2", at, uint64(7), []float64{3, 4})
	insert("feature_sets (set_id, entity, names, created_at)", uint64(7), "lead", []string{"x", "y"}, at)
	rows, err := s.Conn.Query(ctx, "SELECT entity_id, names, values FROM "+s.Table("features_named")+" ORDER BY entity_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		var names []string
		var values []float64
		if err := rows.Scan(&id, &names, &values); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(id, names, values))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "L1[a b] [1 2] L2[x y] [3 4]"; strings.Join(got, " ") != want {
		t.Errorf("features_named = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestReplayedEventIsOneRow(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	for i := 0; i < 2; i++ {
		b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.Table("events")+" (event_id, type, occurred_at, lead_id, ingested_at, version)")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("e1", "page_view", at, "l1", time.Now(), uint64(i)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM "+s.Table("events")+" FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("count() FINAL = %d, want 1", n)
	}
}

func TestClusterDialect(t *testing.T) {
	d := chstore.Dialect{DB: "crm", Cluster: "main"}
	stmts, err := d.Statements()
	if err != nil {
		t.Fatal(err)
	}
	var locals, dists int
	for _, st := range stmts {
		if !strings.Contains(st.SQL, "ON CLUSTER main") {
			t.Errorf("%s: not ON CLUSTER:\n%s", st.File, st.SQL)
		}
		switch {
		case strings.Contains(st.SQL, "_local ON CLUSTER main (") && strings.Contains(st.SQL, "ENGINE = Replicated"):
			locals++
		case strings.Contains(st.SQL, "ENGINE = Distributed(main, crm, "):
			dists++
		case strings.Contains(st.SQL, "ALTER TABLE crm.features_local ON CLUSTER main ADD COLUMN set_id"):
			locals++ // a column added to the local table and to the
		case strings.Contains(st.SQL, "ALTER TABLE crm.features ON CLUSTER main ADD COLUMN set_id"):
			dists++ // distributed one, which keeps its columns otherwise
		case strings.Contains(st.SQL, "CREATE VIEW IF NOT EXISTS crm.features_named ON CLUSTER main AS"):
		case strings.Contains(st.SQL, "MATERIALIZED VIEW"):
			// A view reads and writes shard-local tables: an insert into a
			// Distributed table reaches it on the shard that stores the rows.
			if !strings.Contains(st.SQL, "TO crm.") || !strings.Contains(st.SQL, "_local AS") || !strings.Contains(st.SQL, "_local\nWHERE") {
				t.Errorf("%s: view not local to local:\n%s", st.File, st.SQL)
			}
		default:
			t.Errorf("%s: neither a replicated local table nor a distributed one:\n%s", st.File, st.SQL)
		}
	}
	if locals == 0 || locals != dists {
		t.Errorf("%d local tables, %d distributed", locals, dists)
	}
	if !strings.Contains(stmts[1].SQL, "crm.events ON CLUSTER main AS crm.events_local ENGINE = Distributed(main, crm, events_local, cityHash64(event_id))") {
		t.Errorf("events distributed table:\n%s", stmts[1].SQL)
	}
	if got := d.Engine("ReplacingMergeTree(version)", "events"); got != "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/crm/events', '{replica}', version)" {
		t.Errorf("engine = %s", got)
	}
}

// TestAddColumnDialect: a current server gets ADD COLUMN IF NOT EXISTS as
// written; 18.16, which refuses the clause, gets it without, guarded by a
// look-up of the column.
func TestAddColumnDialect(t *testing.T) {
	for _, d := range []chstore.Dialect{{DB: "crm", Modern: true}, {DB: "crm"}} {
		stmts, err := d.Statements()
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, st := range stmts {
			if !strings.Contains(st.SQL, "ALTER TABLE crm.features ") {
				continue
			}
			found = true
			want, guard := "ADD COLUMN IF NOT EXISTS set_id UInt64", [3]string{}
			if !d.Modern {
				want, guard = "ADD COLUMN set_id UInt64", [3]string{"crm", "features", "set_id"}
			}
			if !strings.Contains(st.SQL, want) || st.UnlessColumn != guard {
				t.Errorf("modern=%v: %q unless %v, want %q unless %v", d.Modern, st.SQL, st.UnlessColumn, want, guard)
			}
		}
		if !found {
			t.Errorf("modern=%v: no ALTER TABLE crm.features", d.Modern)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := chstore.Config{Addr: []string{"nohost"}, Database: "bad-name;"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "host:port") || !strings.Contains(err.Error(), "bad-name") {
		t.Fatalf("err = %v", err)
	}
	err = chstore.Config{Compression: "snappy"}.Validate()
	if err == nil || !strings.Contains(err.Error(), `clickhouse compression "snappy": want lz4, zstd or none`) {
		t.Fatalf("compression snappy: err = %v", err)
	}
}

// TestCompression: every compression setting reaches the server and reads
// back what it wrote, in blocks large enough to be compressed.
func TestCompression(t *testing.T) {
	for _, c := range []string{"", "lz4", "ZSTD", "none"} {
		t.Run("compression="+c, func(t *testing.T) {
			ctx := context.Background()
			cfg := chtest.Config()
			cfg.Compression = c
			s, err := chstore.Open(ctx, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { chtest.Drop(t, s) })
			if err := s.Conn.Exec(ctx, "CREATE TABLE "+s.Table("t")+" (k UInt32, v String) ENGINE = MergeTree() ORDER BY k"); err != nil {
				t.Fatal(err)
			}
			b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.Table("t")+" (k, v)")
			if err != nil {
				t.Fatal(err)
			}
			const n = 10_000
			for i := range n {
				if err := b.Append(uint32(i), strings.Repeat("x", i%50)); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Send(); err != nil {
				t.Fatal(err)
			}
			var rows, length uint64
			if err := s.Conn.QueryRow(ctx, "SELECT count(), sum(length(v)) FROM "+s.Table("t")).Scan(&rows, &length); err != nil {
				t.Fatal(err)
			}
			if want := uint64(n / 50 * (49 * 50 / 2)); rows != n || length != want {
				t.Errorf("read %d rows of total length %d, want %d and %d", rows, length, n, want)
			}
		})
	}
}

// TestClusterDDLParses runs the clustered DDL against the single test
// server: it has no cluster "main", so every statement must fail for that
// reason and none for a syntax error.
func TestClusterDDLParses(t *testing.T) {
	s := chtest.New(t)
	d := chstore.Dialect{DB: s.DB, Cluster: "main", Modern: s.Modern()}
	stmts, err := d.Statements()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		err := s.Conn.Exec(context.Background(), st.SQL)
		if err == nil {
			t.Fatalf("%s: ran without a cluster?\n%s", st.File, st.SQL)
		}
		if strings.Contains(err.Error(), "Syntax error") || !strings.Contains(strings.ToLower(err.Error()), "cluster") {
			t.Errorf("%s: %v\n%s", st.File, err, st.SQL)
		}
	}
}
