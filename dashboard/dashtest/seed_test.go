package dashtest

import (
	"context"
	"testing"
	"time"
)

func TestSeed(t *testing.T) {
	conn, db := NewDB(t)
	ctx := context.Background()
	sum, err := Seed(ctx, conn, db, Options{Events: 3000, Now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM `"+db+"`.events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != sum.Events || n < 3000 {
		t.Fatalf("events: %d rows, summary %+v", n, sum)
	}
	if sum.Scores == 0 || sum.Alerts == 0 || sum.Accounts == 0 {
		t.Fatalf("summary %+v", sum)
	}
}
