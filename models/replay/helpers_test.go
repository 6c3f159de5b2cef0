// Package replay_test replays real and simulated CRM data through the
// scorer's partition worker (scorer.Worker) with the learned models: the
// end-to-end checks of models/ and features/ that need other parts of the
// system. Kept apart so that `go test ./models` depends on nothing but
// features/ and windows/.
package replay_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crmstream/crmstream/importer"
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

// loadOlist reads the data set with the importer's own reader, the one
// `crmctl import --olist` publishes from.
func loadOlist(t *testing.T) []*olistLead {
	rows, err := importer.OlistLeads(olistDir(t))
	if err != nil {
		t.Fatal(err)
	}
	leads := make([]*olistLead, len(rows))
	for i, r := range rows {
		leads[i] = &olistLead{id: r.ID, created: r.Created, won: r.Won, origin: r.Origin, landing: r.LandingPage}
	}
	return leads
}
