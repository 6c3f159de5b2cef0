package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/importer"
	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/kafka"
)

func init() {
	register("import", runImport, "backfill history from NDJSON/CSV files or the Olist data set, in event time, with progress and a summary")
}

func runImport(ctx context.Context, args []string) error {
	var (
		olist, collector, token, topic, rejectsPath string
		batch                                       int
		dryRun, ensure                              bool
		kcfg                                        kafka.Config
	)
	f := cli.New("crmctl import",
		"load history through the same validation as the collector: NDJSON files of canonical events (.ndjson, .jsonl; - for stdin), "+
			"CSV files with a header of canonical column names (event_id, type, occurred_at, lead_id, account_id, owner_id, session_id, source, "+
			"contact.<field>, properties.<key>), or the Olist marketing-funnel data set; rows are published in event-time order to Kafka "+
			"(topic crm.events) or to the collector, with a progress bar on stderr and a summary of accepted and rejected rows.",
		"  crmctl import --olist ../shared/data/olist\n"+
			"  crmctl import --kafka-brokers kafka:9092 history-2025.ndjson leads.csv --rejects rejects.ndjson\n"+
			"  crmctl import --collector http://127.0.0.1:8081/v1/events export.csv\n"+
			"  crmctl import --dry-run export.csv     # validate only, publish nothing")
	f.String(&olist, "olist", "", "", "directory of the Olist data set (olist_marketing_qualified_leads_dataset.csv, olist_closed_deals_dataset.csv)")
	f.String(&collector, "collector", "CRM_COLLECTOR_URL", "", "publish through the collector at this URL (POST /v1/events) instead of Kafka")
	f.Secret(&token, "collector-token", "CRM_COLLECTOR_TOKEN", "bearer token for the collector")
	f.String(&topic, "topic", "", kafka.TopicEvents, "Kafka topic to publish to")
	f.Int(&batch, "batch", "", 1000, "events per publish call")
	f.String(&rejectsPath, "rejects", "", "", "write every rejected row as NDJSON {file, line, reason} to this file")
	f.Bool(&dryRun, "dry-run", "", false, "read and validate only; publish nothing")
	f.Bool(&ensure, "create-topics", "", true, "create the product's topics when missing (Kafka only)")
	f.Kafka(&kcfg)
	flagArgs, files := splitArgs(f.FlagSet(), args)
	if err := f.Parse(flagArgs, os.Getenv); err != nil {
		return err
	}
	files = append(files, f.FlagSet().Args()...)
	if olist == "" && len(files) == 0 {
		return fmt.Errorf("%w: give --olist DIR or files to import", errUsage)
	}
	if f.ValidateOnly() {
		fmt.Println(strings.Join(f.Settings(), "\n"))
		return nil
	}

	// Read and validate everything first: the order is event time, not file order.
	var items []importer.Item
	var rejects []importer.Reject
	add := func(b importer.Batch) {
		items = append(items, b.Items...)
		rejects = append(rejects, b.Rejects...)
	}
	if olist != "" {
		b, err := importer.ReadOlist(olist)
		if err != nil {
			return err
		}
		add(b)
	}
	for _, path := range files {
		b, err := importer.ReadFile(path, os.Stdin)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		add(b)
	}
	importer.Sort(items)
	fmt.Fprintf(os.Stderr, "read %d rows: %d valid, %d rejected\n", len(items)+len(rejects), len(items), len(rejects))

	var pub importer.Publisher
	switch {
	case dryRun:
		pub = discard{}
	case collector != "":
		pub = &importer.HTTPPublisher{URL: collector, Token: token}
	default:
		opts, err := kcfg.Opts()
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(append(opts, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond))...)
		if err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		defer cl.Close()
		if ensure {
			if err := kafka.EnsureTopics(ctx, cl, kafka.DefaultTopics(4)...); err != nil {
				return fmt.Errorf("kafka topics: %w", err)
			}
		}
		pub = &importer.KafkaPublisher{Client: cl, Topic: topic}
	}
	interactive := false
	if st, err := os.Stderr.Stat(); err == nil {
		interactive = st.Mode()&os.ModeCharDevice != 0
	}
	sum, runErr := importer.Run(ctx, importer.Config{Publisher: pub, BatchSize: batch, Progress: os.Stderr, Interactive: interactive}, items, rejects)
	importer.WriteSummary(os.Stderr, sum, 20)
	if rejectsPath != "" {
		if err := writeRejects(rejectsPath, sum.Rejected); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

// splitArgs separates flags from file names so that flags may follow the
// files ("crmctl import a.csv --rejects r.ndjson"), which the flag package
// alone stops parsing at. A lone "-" is stdin, a file; "--" ends the flags.
func splitArgs(fs *flag.FlagSet, args []string) (flags, files []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(files, args[i+1:]...)
		case a == "-" || !strings.HasPrefix(a, "-"):
			files = append(files, a)
		default:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			fl := fs.Lookup(name)
			if fl == nil {
				continue // unknown: Parse reports it
			}
			if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return flags, files
}

func writeRejects(path string, rejects []importer.Reject) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("rejects file: %w", err)
	}
	enc := json.NewEncoder(out)
	for _, r := range rejects {
		if err := enc.Encode(r); err != nil {
			out.Close()
			return fmt.Errorf("write rejects: %w", err)
		}
	}
	return out.Close()
}

// discard is the --dry-run publisher.
type discard struct{}

func (discard) Publish(context.Context, []event.Event) ([]importer.Refused, error) { return nil, nil }
