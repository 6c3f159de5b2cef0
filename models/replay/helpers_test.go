// Package replay_test replays real and simulated CRM data through the
// scorer's partition worker (scorer.Worker) with the learned models: the
// end-to-end checks of models/ and features/ that need other parts of the
// system. Kept apart so that `go test ./models` depends on nothing but
// features/ and windows/.
package replay_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// olistDir is the public Olist marketing-funnel data set (8,000 MQLs, 842
// closed deals); CRM_OLIST_DIR overrides it.
func olistDir(t *testing.T) string {
	if d := os.Getenv("CRM_OLIST_DIR"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../../shared/data/olist")
	if _, err := os.Stat(filepath.Join(d, "olist_marketing_qualified_leads_dataset.csv")); err != nil {
		t.Skipf("olist data not found (%v); set CRM_OLIST_DIR", err)
	}
	return d
}

type olistLead struct {
	id      string
	created time.Time
	won     time.Time // zero if never closed
	origin  string
	landing string
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:]
}

func loadOlist(t *testing.T) []*olistLead {
	dir := olistDir(t)
	var leads []*olistLead
	byID := map[string]*olistLead{}
	for _, r := range readCSV(t, filepath.Join(dir, "olist_marketing_qualified_leads_dataset.csv")) {
		c, err := time.Parse("02-01-2006", r[1])
		if err != nil {
			t.Fatalf("lead %s: %v", r[0], err)
		}
		l := &olistLead{id: r[0], created: c, landing: r[2], origin: r[3]}
		leads = append(leads, l)
		byID[l.id] = l
	}
	for _, r := range readCSV(t, filepath.Join(dir, "olist_closed_deals_dataset.csv")) {
		w, err := time.Parse("02-01-2006 15:04", r[4])
		if err != nil {
			t.Fatalf("deal %s: %v", r[0], err)
		}
		if l := byID[r[0]]; l != nil {
			l.won = w
		}
	}
	return leads
}
