// Package chtest gives integration tests a fresh, migrated ClickHouse
// database on the local test server, dropped when the test ends.
//
// The server is the one `make up` / scripts/clickhouse.sh starts
// (127.0.0.1:9000, or CRM_TEST_CLICKHOUSE_ADDR). Tests fail, not skip, when
// it is not there: `make test` starts it, and a silently skipped
// integration test proves nothing.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chstore"
)

// Addr is the test server's native-protocol address.
func Addr() string {
	if a := os.Getenv("CRM_TEST_CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:9000"
}

// Config returns a store configuration for a new database name.
func Config() chstore.Config {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return chstore.Config{Addr: []string{Addr()}, Database: "crmtest_" + hex.EncodeToString(b[:])}
}

// New opens a fresh database with the product's schema. It is dropped, and
// the store closed, at the end of the test.
func New(t testing.TB) *chstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := chstore.Open(ctx, Config(), nil)
	if err != nil {
		t.Fatalf("chtest: clickhouse at %s (start it with scripts/clickhouse.sh start): %v", Addr(), err)
	}
	t.Cleanup(func() { Drop(t, s) })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("chtest: migrate: %v", err)
	}
	return s
}

// Drop removes the store's database and closes it.
func Drop(t testing.TB, s *chstore.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.DB); err != nil {
		t.Logf("chtest: drop %s: %v", s.DB, err)
	}
	_ = s.Close()
}

// InsertCost is what the server's query log says the finished INSERTs into
// one table cost.
type InsertCost struct {
	Inserts, Rows, Bytes uint64        // queries, rows and uncompressed bytes written
	CPU                  time.Duration // user + system time of the queries
}

// InsertCosts flushes the server's logs and reads the finished INSERTs into
// the store's tables from system.query_log, by table; other logged queries
// naming the database are under "". Only queries run with the setting
// log_queries=1 are logged (e.g. a context from clickhouse.Context with
// clickhouse.WithSettings). Benchmarks use it for the server's CPU per row.
func InsertCosts(ctx context.Context, s *chstore.Store) (map[string]InsertCost, error) {
	if err := s.Conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return nil, err
	}
	// indexOf, not a map of ProfileEvents: 18.16 keeps them as two arrays.
	rows, err := s.Conn.Query(ctx, `SELECT extract(query, '^INSERT INTO [a-z0-9_]+\\.([a-z_]+)') AS t, count(), sum(written_rows), sum(written_bytes),
		sum(ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] + ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')])
		FROM system.query_log WHERE type = 2 AND event_date >= yesterday() AND position(query, ?) > 0 GROUP BY t`, s.DB+".")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	costs := map[string]InsertCost{}
	for rows.Next() {
		var t string
		var c InsertCost
		var us uint64
		if err := rows.Scan(&t, &c.Inserts, &c.Rows, &c.Bytes, &us); err != nil {
			return nil, err
		}
		c.CPU = time.Duration(us) * time.Microsecond
		costs[t] = c
	}
	return costs, rows.Err()
}
