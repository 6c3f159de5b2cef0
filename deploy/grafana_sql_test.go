package deploy

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chtest"
)

// grafanaMacro is the plugin's time filter, $__timeFilter(column).
var grafanaMacro = regexp.MustCompile(`\$__timeFilter\((\w+)\)`)

// TestGrafanaQueriesRun runs every ClickHouse query of the provisioned
// dashboard against a freshly migrated database on the test server (the
// oldest ClickHouse the product supports), with the plugin's time macro
// expanded as the plugin expands it: a dashboard whose SQL does not fit the
// schema fails here, not in front of an operator.
func TestGrafanaQueriesRun(t *testing.T) {
	raw, err := os.ReadFile("grafana/dashboards/crmstream.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RawSQL string `json:"rawSql"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	store := chtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ran := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.RawSQL == "" {
				continue
			}
			q := grafanaMacro.ReplaceAllString(tg.RawSQL, "$1 >= toDateTime(1700000000) AND $1 <= toDateTime(1800000000)")
			q = strings.ReplaceAll(q, "crm.", store.DB+".")
			rows, err := store.Conn.Query(ctx, q)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", p.Title, err, q)
				continue
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
			}
			rows.Close()
			ran++
		}
	}
	if ran < 5 {
		t.Errorf("ran %d ClickHouse queries, want every ClickHouse panel's", ran)
	}
}
