package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/ingest/relay"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

// TestKcatThroughRelay proves protocol compatibility with a third-party
// Kafka client as a deployment would see it: Debian's kcat (librdkafka)
// produces raw events to crm.raw of the development broker (kfake, the real
// wire protocol), the ingest relay turns them into canonical events on
// crm.events or dead letters, and kcat consumes crm.events back.
// scripts/deps.sh and scripts/validate-deploy.sh install kcat; without it
// the test fails under CI and is skipped elsewhere.
func TestKcatThroughRelay(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed (scripts/deps.sh installs it)")
		}
		t.Skip("kcat is not installed: apt-get install kcat")
	}
	brokers := kafkatest.Cluster(t, kafka.TopicRaw, kafka.TopicEvents, kafka.TopicDLQ)
	broker := strings.Join(brokers, ",")

	r, err := relay.New(relay.Config{Opts: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Group: "kcat-test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("relay: %v", err)
		}
	}()

	// key|value per line, as kcat -K'|' reads them.
	input := strings.Join([]string{
		`kcat-1|{"event_id":"kcat-1","type":"lead_created","occurred_at":"2026-11-21T09:30:00Z","lead_id":"lead-k1","source":"kcat","contact":{"email":"K1@Example.com"}}`,
		`kcat-2|{"event_id":"kcat-2","type":"page_view","occurred_at":"2026-11-21T09:31:00Z","lead_id":"lead-k1","properties":{"url":"/pricing","page_type":"pricing"}}`,
		`kcat-3|{"event_id":"kcat-3","type":"deal_won","occurred_at":"2026-11-21T09:32:00+01:00","account_id":"acct-k","properties":{"amount":1200,"currency":"EUR"}}`,
		`kcat-bad|{"event_id":"kcat-bad","type":"lead_teleported","occurred_at":"2026-11-21T09:33:00Z","lead_id":"lead-k2"}`,
	}, "\n") + "\n"
	produce := exec.CommandContext(ctx, kcat, "-P", "-b", broker, "-t", kafka.TopicRaw, "-K", "|")
	produce.Stdin = strings.NewReader(input)
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, out)
	}

	// Read crm.events with kcat until the three valid events are there.
	var lines []string
	for len(lines) < 3 {
		if ctx.Err() != nil {
			t.Fatalf("crm.events holds %d of 3 events after 60 s: %q", len(lines), lines)
		}
		consume := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", kafka.TopicEvents, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
		var stderr bytes.Buffer
		consume.Stderr = &stderr
		out, err := consume.Output()
		if err != nil {
			t.Fatalf("kcat consume: %v\n%s", err, stderr.String())
		}
		lines = strings.Split(strings.TrimSpace(string(out)), "\n")
		if lines[0] == "" {
			lines = nil
		}
		if len(lines) < 3 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	var ids []string
	for _, l := range lines {
		key, value, _ := strings.Cut(l, "\t")
		e, err := event.Decode([]byte(value))
		if err != nil {
			t.Fatalf("crm.events record %q is not canonical: %v", value, err)
		}
		if key != e.Key() {
			t.Errorf("record key %q, want the event key %q", key, e.Key())
		}
		ids = append(ids, e.ID)
		switch e.ID {
		case "kcat-1":
			if e.Contact.Email != "k1@example.com" {
				t.Errorf("kcat-1 not normalized: %+v", e.Contact)
			}
		case "kcat-3":
			if !e.OccurredAt.Equal(time.Date(2026, 11, 21, 8, 32, 0, 0, time.UTC)) {
				t.Errorf("kcat-3 occurred_at %s, want 08:32 UTC", e.OccurredAt)
			}
		}
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "kcat-1,kcat-2,kcat-3" {
		t.Errorf("crm.events holds %v, want kcat-1..3 (and not kcat-bad)", ids)
	}

	// The invalid one is a dead letter with its reason, not lost.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.TopicDLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no dead letter for kcat-bad after 60 s")
		}
		var found bool
		fs.EachRecord(func(rec *kgo.Record) {
			if !bytes.Contains(rec.Value, []byte(`"kcat-bad"`)) {
				return
			}
			found = true
			reason := ""
			for _, h := range rec.Headers {
				if h.Key == kafka.HeaderReason {
					reason = string(h.Value)
				}
			}
			if !strings.Contains(reason, "type") {
				t.Errorf("dead-letter reason %q does not name the field (type)", reason)
			}
		})
		if found {
			return
		}
	}
}
