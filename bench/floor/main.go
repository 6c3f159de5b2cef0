// Command floor is the benchmark's floor: a bare franz-go consumer that
// inserts the raw records of a topic into ClickHouse with no processing at
// all (partition, offset, key, timestamp, value), committing offsets after
// each insert. Nothing reading the same topic into ClickHouse can do less
// work, so its rate is the ceiling the pipeline is compared with.
// bench/cmd/e2e starts it as a child process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"
)

type config struct {
	brokers    []string
	topic      string
	group      string
	chAddr     string
	database   string
	batchRows  int           // insert when this many rows are batched
	flushEvery time.Duration // insert at least this often
}

func main() {
	var c config
	var brokers string
	flag.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka seed brokers, comma-separated")
	flag.StringVar(&c.topic, "topic", "crm.raw", "input topic")
	flag.StringVar(&c.group, "group", "bench-floor", "consumer group")
	flag.StringVar(&c.chAddr, "clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address")
	flag.StringVar(&c.database, "database", "crm_bench", "ClickHouse database of the floor_events table")
	flag.IntVar(&c.batchRows, "batch-rows", 50_000, "rows per insert")
	flag.DurationVar(&c.flushEvery, "flush-every", 200*time.Millisecond, "longest wait before an insert")
	flag.Parse()
	c.brokers = strings.Split(brokers, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatalf("floor: %v", err)
	}
}

func run(ctx context.Context, c config) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{c.chAddr}})
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+c.database+`.floor_events (
		partition UInt16, offset UInt64, key String, ts DateTime('UTC'), value String
	) ENGINE = MergeTree() ORDER BY (partition, offset)`); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.brokers...),
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	defer cl.AllowRebalance() // a poll may still block rebalances; Close must be able to leave the group

	batch := make([]*kgo.Record, 0, c.batchRows)
	oldest := time.Time{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := insert(ctx, conn, c.database, batch); err != nil {
			return err
		}
		if err := cl.CommitRecords(ctx, batch...); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, c.flushEvery)
		fs := cl.PollRecords(pctx, c.batchRows-len(batch))
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			log.Printf("fetch: %v", ferr)
		}
		if len(batch) == 0 && fs.NumRecords() > 0 {
			oldest = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) { batch = append(batch, r) })
		if len(batch) >= c.batchRows || (len(batch) > 0 && time.Since(oldest) >= c.flushEvery) {
			if err := flush(); err != nil {
				return err
			}
		}
		cl.AllowRebalance()
	}
}

func insert(ctx context.Context, conn driver.Conn, db string, rs []*kgo.Record) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".floor_events (partition, offset, key, ts, value)")
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer b.Close()
	for _, r := range rs {
		if err := b.Append(uint16(r.Partition), uint64(r.Offset), string(r.Key), r.Timestamp, string(r.Value)); err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send %d rows: %w", len(rs), err)
	}
	return nil
}
