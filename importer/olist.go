package importer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/crmstream/crmstream/event"
)

// The Olist marketing-funnel data set's files.
const (
	OlistLeadsFile = "olist_marketing_qualified_leads_dataset.csv"
	OlistDealsFile = "olist_closed_deals_dataset.csv"
)

// ReadOlist maps the Olist marketing-funnel data set in dir onto canonical
// events:
//
//   - each marketing-qualified lead (mql_id, first_contact_date,
//     landing_page_id, origin) → lead_created at its first-contact date
//     (00:00 UTC), lead_id = mql_id, properties origin and landing_page_id;
//   - each closed deal → deal_won at won_date for the lead of the same
//     mql_id, owner_id = sr_id (the sales rep), properties business_segment,
//     lead_type, business_type, lead_behaviour_profile, seller_id, sdr_id
//     and declared_monthly_revenue.
//
// Event ids are "olist-mql-<mql_id>" and "olist-won-<mql_id>": importing
// the set twice is idempotent. A deal whose mql_id is not among the leads
// is rejected (the join is part of the data's meaning). Dates are
// DD-MM-YYYY and DD-MM-YYYY HH:MM, as the files write them.
func ReadOlist(dir string) (Batch, error) {
	var b Batch
	leads := map[string]bool{}
	leadsPath := filepath.Join(dir, OlistLeadsFile)
	err := readCSVFile(leadsPath, []string{"mql_id", "first_contact_date", "landing_page_id", "origin"}, func(line int, row map[string]string) {
		id := row["mql_id"]
		at, err := time.Parse("02-01-2006", row["first_contact_date"])
		if err != nil {
			b.reject(OlistLeadsFile, line, "first_contact_date %q is not DD-MM-YYYY", row["first_contact_date"])
			return
		}
		e := event.Event{ID: "olist-mql-" + id, Type: event.LeadCreated, OccurredAt: at, LeadID: id, Source: "olist"}
		e.Properties = sortedProps(
			strProp("origin", row["origin"]),
			strProp("landing_page_id", row["landing_page_id"]),
		)
		if add(&b, OlistLeadsFile, line, e) {
			leads[id] = true
		}
	})
	if err != nil {
		return b, err
	}
	err = readCSVFile(filepath.Join(dir, OlistDealsFile), []string{"mql_id", "sr_id", "won_date"}, func(line int, row map[string]string) {
		id := row["mql_id"]
		if !leads[id] {
			b.reject(OlistDealsFile, line, "mql_id %q is not a lead of %s", id, OlistLeadsFile)
			return
		}
		at, err := time.Parse("02-01-2006 15:04", row["won_date"])
		if err != nil {
			b.reject(OlistDealsFile, line, "won_date %q is not DD-MM-YYYY HH:MM", row["won_date"])
			return
		}
		e := event.Event{ID: "olist-won-" + id, Type: event.DealWon, OccurredAt: at, LeadID: id, OwnerID: row["sr_id"], Source: "olist"}
		props := []event.Property{
			strProp("business_segment", row["business_segment"]),
			strProp("lead_type", row["lead_type"]),
			strProp("business_type", row["business_type"]),
			strProp("lead_behaviour_profile", row["lead_behaviour_profile"]),
			strProp("seller_id", row["seller_id"]),
			strProp("sdr_id", row["sdr_id"]),
		}
		if f, err := strconv.ParseFloat(row["declared_monthly_revenue"], 64); err == nil {
			props = append(props, event.Property{Key: "declared_monthly_revenue", Kind: event.KindNumber, Num: f})
		}
		e.Properties = sortedProps(props...)
		add(&b, OlistDealsFile, line, e)
	})
	return b, err
}

// add validates an event built in Go the way Parse validates JSON input.
func add(b *Batch, file string, line int, e event.Event) bool {
	e.Normalize()
	if err := e.Validate(); err != nil {
		b.reject(file, line, "%v", err)
		return false
	}
	b.Items = append(b.Items, Item{File: file, Line: line, Event: e})
	return true
}

func strProp(k, v string) event.Property {
	return event.Property{Key: k, Kind: event.KindString, Str: v}
}

// sortedProps drops empty strings and sorts by key, as event.Properties
// requires.
func sortedProps(ps ...event.Property) event.Properties {
	out := make(event.Properties, 0, len(ps))
	for _, p := range ps {
		if p.Kind == event.KindString && p.Str == "" {
			continue
		}
		i := len(out)
		out = append(out, p)
		for ; i > 0 && out[i-1].Key > out[i].Key; i-- {
			out[i-1], out[i] = out[i], out[i-1]
		}
	}
	return out
}

// readCSVFile calls fn for every record of a CSV file with a header that
// contains the required columns.
func readCSVFile(path string, required []string, fn func(line int, row map[string]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("olist: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("olist %s: header: %w", path, err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[h] = i
	}
	for _, r := range required {
		if _, ok := idx[r]; !ok {
			return fmt.Errorf("olist %s: column %q missing", path, r)
		}
	}
	row := make(map[string]string, len(header))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("olist %s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		clear(row)
		for name, i := range idx {
			row[name] = rec[i]
		}
		fn(line, row)
	}
}

// OlistLead is one Olist lead with its outcome: the data set as a table
// rather than as events, for model checks that replay it in event time.
type OlistLead struct {
	ID          string    // mql_id
	Origin      string    // origin (marketing channel)
	LandingPage string    // landing_page_id
	Created     time.Time // first contact, 00:00 UTC
	Won         time.Time // won date; zero if the lead never closed
}

// OlistLeads reads the data set in dir through ReadOlist, so the table and
// the events the importer publishes agree; leads keep the file's order.
func OlistLeads(dir string) ([]OlistLead, error) {
	b, err := ReadOlist(dir)
	if err != nil {
		return nil, err
	}
	var leads []OlistLead
	index := map[string]int{}
	for _, it := range b.Items {
		if e := &it.Event; e.Type == event.LeadCreated {
			index[e.LeadID] = len(leads)
			leads = append(leads, OlistLead{ID: e.LeadID, Origin: e.Properties.String("origin"),
				LandingPage: e.Properties.String("landing_page_id"), Created: e.OccurredAt})
		}
	}
	for _, it := range b.Items {
		if e := &it.Event; e.Type == event.DealWon {
			if i, ok := index[e.LeadID]; ok {
				leads[i].Won = e.OccurredAt
			}
		}
	}
	return leads, nil
}
