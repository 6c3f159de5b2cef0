package reports

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chtest"
)

// HotLeads ranks without FINAL over the whole table; with stale versions
// ranked high (old scores of 99, newer converted rows, owner changes) it must
// still give exactly the FINAL ranking, page by page.
func TestHotLeadsEqualsFinalRanking(t *testing.T) {
	s := chtest.New(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+s.DB+".lead_current (lead_id, owner_id, event_time, score, tier, converted, version)")
	if err != nil {
		t.Fatal(err)
	}
	add := func(lead, owner string, min int, score uint8, tier string, converted uint8, version uint64) {
		if err := b.Append(lead, owner, at.Add(time.Duration(min)*time.Minute), score, tier, converted, version); err != nil {
			t.Fatal(err)
		}
	}
	tiers := []string{"hot", "warm", "cold"}
	for i := range 3000 {
		lead := fmt.Sprintf("l%04d", i)
		score := uint8((i * 37) % 100)
		add(lead, fmt.Sprintf("rep-%d", i%3), i%50, score, tiers[i%3], 0, 2)
		switch {
		case i < 300: // stale high scores, now lower
			add(lead, "rep-0", i%50, 99, "hot", 0, 1)
		case i < 400: // converted since
			add(lead, fmt.Sprintf("rep-%d", i%3), i%50+1, 99, "hot", 1, 3)
		case i < 450: // moved to another owner
			add(lead, "rep-9", i%50+1, 98, "hot", 0, 3)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	r, _ := New(Config{Conn: s.Conn, Database: s.DB})
	exact := 0
	for _, req := range []HotLeadsRequest{
		{Limit: 25}, {Limit: 25, Offset: 25}, {Limit: 200, Offset: 400}, {Limit: 10, Owner: "rep-0"}, {Limit: 10, Owner: "rep-9"},
		{Limit: 5, Tier: "warm", MinScore: 50}, {Limit: 50, Owner: "rep-2", Tier: "hot", MinScore: 90}, {Limit: 10, Offset: 2990},
	} {
		want, err := r.ids(ctx, "final", hotLeadsQuery{r.db, req})
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := r.hotRanking(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			exact++
		}
		if ok && !slices.Equal(got, want) {
			t.Errorf("%+v: ranking\n%v\nFINAL\n%v", req, got, want)
		}
		h, err := r.HotLeads(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range h.Leads {
			ids = append(ids, l.LeadID)
		}
		if n := min(len(want), req.Limit); !slices.Equal(ids, want[:n]) || (h.Page.NextOffset != nil) != (len(want) > req.Limit) {
			t.Errorf("%+v: HotLeads %v next %v, FINAL %v", req, ids, h.Page.NextOffset, want)
		}
	}
	if exact < 5 {
		t.Errorf("only %d rankings answered without FINAL", exact)
	}
	// 300 stale rows of 99 above every current row: the candidates of the
	// first page are all stale, so the ranking falls back to FINAL.
	if _, ok, err := r.hotRanking(ctx, HotLeadsRequest{Limit: 10, Owner: "rep-0"}); err != nil || ok {
		t.Errorf("crowded candidates: ok %v, %v (want a fallback)", ok, err)
	}
}
