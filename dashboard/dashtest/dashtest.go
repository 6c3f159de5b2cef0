// Package dashtest gives the dashboard's tests and benchmark a fresh
// ClickHouse database and realistic data in it.
//
// # Database
//
// NewDB gives a test a fresh migrated database (internal/chtest: the local
// test server, CRM_TEST_CLICKHOUSE_ADDR), dropped when the test ends. Create
// does the same for programs (the benchmark) and returns a drop function.
//
// # Data
//
// Seed writes a deterministic world: leads walking the default funnel
// (page views, lead_created, MQL signals, deals), with scores, accounts with
// churn scores, alerts, model versions with metrics, late events and rejects.
// The same Options give the same rows; Options.Events scales it (the
// benchmark loads 10 M).
package dashtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/chtest"
)

// NewDB returns a connection and a fresh migrated database (internal/chtest),
// dropped at the end of the test.
func NewDB(t testing.TB) (driver.Conn, string) {
	t.Helper()
	s := chtest.New(t)
	return s.Conn, s.DB
}

// Create opens a fresh migrated database named prefix_<random> on addr with
// a pool of maxConns connections, for programs such as the benchmark. drop
// removes the database and closes the store.
func Create(ctx context.Context, addr, prefix string, maxConns int) (*chstore.Store, func() error, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	s, err := chstore.Open(ctx, chstore.Config{Addr: []string{addr}, Database: prefix + "_" + hex.EncodeToString(b[:]), MaxOpenConns: maxConns}, nil)
	if err != nil {
		return nil, nil, err
	}
	drop := func() error {
		err := s.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.DB)
		return errors.Join(err, s.Close())
	}
	if err := s.Migrate(ctx); err != nil {
		return nil, nil, errors.Join(err, drop())
	}
	return s, drop, nil
}
