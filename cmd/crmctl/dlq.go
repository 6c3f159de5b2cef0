package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/ingest/dlq"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/kafka"
)

func init() {
	register("dlq-inspect", runDLQInspect, "list dead letters (reason, origin, time, value) from crm.events.dlq, with filters and a summary")
	register("dlq-replay", runDLQReplay, "produce selected dead letters back to crm.raw (or another topic) to be validated again")
}

// dlqFlags are the settings both dead-letter commands share.
type dlqFlags struct {
	kafka     kafka.Config
	topic     string
	reason    string
	origin    string
	since     string
	partition int
	limit     int
}

func (d *dlqFlags) bind(f *cli.Flags, defLimit int) {
	f.Kafka(&d.kafka)
	f.String(&d.topic, "topic", "", kafka.TopicDLQ, "dead-letter topic")
	f.String(&d.reason, "reason", "", "", "only letters whose reason contains this text (e.g. occurred_at)")
	f.String(&d.origin, "origin", "", "", "only letters whose origin starts with this (topic, or topic/partition)")
	f.String(&d.since, "since", "", "", "only letters that failed since: a duration ago (24h) or an RFC 3339 time")
	f.Int(&d.partition, "partition", "", -1, "only this partition of the dead-letter topic; -1 = all")
	f.Int(&d.limit, "limit", "", defLimit, "stop after this many letters; 0 = no limit")
}

func (d *dlqFlags) filter(now time.Time) (dlq.Filter, error) {
	flt := dlq.Filter{Reason: d.reason, Origin: d.origin, Partition: int32(d.partition), Limit: d.limit}
	if d.since != "" {
		if dur, err := time.ParseDuration(d.since); err == nil {
			flt.Since = now.Add(-dur)
		} else if t, err := time.Parse(time.RFC3339, d.since); err == nil {
			flt.Since = t
		} else {
			return flt, fmt.Errorf("%w: --since %q is neither a duration nor an RFC 3339 time", errUsage, d.since)
		}
	}
	if d.limit < 0 {
		return flt, fmt.Errorf("%w: --limit must not be negative", errUsage)
	}
	return flt, nil
}

func runDLQInspect(ctx context.Context, args []string) error {
	var (
		d       dlqFlags
		format  string
		width   int
		summary bool
	)
	f := cli.New("crmctl dlq-inspect", "list dead letters: records the relay or the sink could not turn into events, with the reason, "+
		"where they came from and when they failed. Reads the topic up to its current end and commits nothing.",
		"  crmctl dlq-inspect\n  crmctl dlq-inspect --reason occurred_at --since 24h --format json\n  crmctl dlq-inspect --summary --limit 0")
	d.bind(f, 100)
	f.String(&format, "format", "", "text", "text or json (one object per line)")
	f.Int(&width, "value-width", "", 160, "text format: characters of the value shown; 0 = all")
	f.Bool(&summary, "summary", "", false, "print only the number of letters per reason field")
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	if format != "text" && format != "json" {
		return fmt.Errorf("%w: --format must be text or json", errUsage)
	}
	flt, err := d.filter(time.Now())
	if err != nil {
		return err
	}
	opts, err := d.kafka.Opts()
	if err != nil {
		return err
	}
	counts := map[string]int{}
	n := 0
	w := os.Stdout
	err = dlq.Inspect(ctx, opts, d.topic, flt, func(l dlq.Letter) bool {
		n++
		if summary {
			field, _, _ := strings.Cut(l.Reason, ":")
			counts[field]++
			return true
		}
		if format == "json" {
			writeLetterJSON(w, l)
		} else {
			writeLetterText(w, l, width)
		}
		return true
	})
	if err != nil {
		return err
	}
	if summary {
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return counts[keys[i]] > counts[keys[j]] || counts[keys[i]] == counts[keys[j]] && keys[i] < keys[j]
		})
		for _, k := range keys {
			fmt.Fprintf(w, "%8d  %s\n", counts[k], k)
		}
	}
	fmt.Fprintf(os.Stderr, "dlq-inspect: %d letters\n", n)
	return nil
}

func writeLetterText(w io.Writer, l dlq.Letter, width int) {
	v := printable(l.Record.Value)
	if width > 0 && utf8.RuneCountInString(v) > width {
		v = string([]rune(v)[:width]) + "…"
	}
	failed := "-"
	if !l.FailedAt.IsZero() {
		failed = l.FailedAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%d/%d\t%s\t%s\t%s\t%s\n", l.Record.Partition, l.Record.Offset, failed, l.Origin, l.Reason, v)
}

func writeLetterJSON(w io.Writer, l dlq.Letter) {
	out := struct {
		Partition int32     `json:"partition"`
		Offset    int64     `json:"offset"`
		FailedAt  time.Time `json:"failed_at"`
		Origin    string    `json:"origin"`
		Reason    string    `json:"reason"`
		Key       string    `json:"key"`
		Value     string    `json:"value"`
	}{l.Record.Partition, l.Record.Offset, l.FailedAt, l.Origin, l.Reason, printable(l.Record.Key), printable(l.Record.Value)}
	b, err := json.Marshal(out)
	if err != nil {
		return
	}
	_, _ = w.Write(append(b, '\n'))
}

// printable shows binary values safely on a terminal.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
}

func runDLQReplay(ctx context.Context, args []string) error {
	var (
		d      dlqFlags
		to     string
		all    bool
		dryRun bool
	)
	f := cli.New("crmctl dlq-replay", "produce dead letters back to a topic (crm.raw by default) so they are validated again, "+
		"e.g. after a source fixed its events or the schema learned a new type. Each replayed record carries a "+
		"crm-replayed-from header; replaying twice is harmless (event_id is the idempotency key).",
		"  crmctl dlq-replay --reason 'type: \"signup\"' --dry-run\n  crmctl dlq-replay --origin crm.raw --since 2h\n  crmctl dlq-replay --all --to crm.raw")
	d.bind(f, 0)
	f.String(&to, "to", "", kafka.TopicRaw, "topic to replay into")
	f.Bool(&all, "all", "", false, "replay every letter (required when no filter is given)")
	f.Bool(&dryRun, "dry-run", "", false, "count what would be replayed; produce nothing")
	if err := f.Parse(args, os.Getenv); err != nil {
		return err
	}
	flt, err := d.filter(time.Now())
	if err != nil {
		return err
	}
	if !all && d.reason == "" && d.origin == "" && d.since == "" && d.partition < 0 {
		return fmt.Errorf("%w: give a filter (--reason, --origin, --since, --partition) or --all", errUsage)
	}
	if to == d.topic {
		return fmt.Errorf("%w: --to must differ from the dead-letter topic", errUsage)
	}
	opts, err := d.kafka.Opts()
	if err != nil {
		return err
	}
	producer, err := kgo.NewClient(append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer producer.Close()
	const chunk = 1000 // bounded memory on a large topic
	var (
		pending  []dlq.Letter
		matched  int
		replayed int
		perr     error
	)
	flush := func() bool {
		if dryRun || len(pending) == 0 {
			pending = pending[:0]
			return true
		}
		n, err := dlq.Replay(ctx, producer, to, pending)
		replayed += n
		pending = pending[:0]
		if err != nil {
			perr = err
			return false
		}
		return true
	}
	err = dlq.Inspect(ctx, opts, d.topic, flt, func(l dlq.Letter) bool {
		matched++
		pending = append(pending, l)
		if len(pending) >= chunk {
			return flush()
		}
		return true
	})
	if err == nil && perr == nil {
		flush()
	}
	if err = errors.Join(err, perr); err != nil {
		return fmt.Errorf("after %d of %d letters replayed: %w", replayed, matched, err)
	}
	if dryRun {
		fmt.Fprintf(os.Stderr, "dlq-replay: %d letters would be replayed to %s\n", matched, to)
		return nil
	}
	fmt.Fprintf(os.Stderr, "dlq-replay: %d letters replayed to %s\n", replayed, to)
	return nil
}
