// Command goka is the benchmark's peer implementation of crmstream's per-lead
// windowed counting, written the way a goka application is: a processor
// group over the raw topic whose callback decodes the event (encoding/json),
// updates the key's state in goka's group table (a 1-hour tumbling count, a
// sliding 60-minute count in 1-minute buckets and a 30-minute session count)
// and emits one row per event. Rows go to ClickHouse in batches; each
// message's offset is committed only after the batch holding its row is in
// (ctx.DeferCommit), the same delivery guarantee as crmstream's.
//
// It lives in its own module so that goka and sarama stay out of the
// product's go.mod. bench/cmd/e2e starts it as a child process.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
)

type config struct {
	brokers    []string
	topic      string        // input stream
	group      string        // goka group (and table topic <group>-table)
	chAddr     string        // ClickHouse native address
	database   string        // database of the goka_counts table
	stateDir   string        // leveldb storage of the group table
	batchRows  int           // insert when this many rows are batched
	flushEvery time.Duration // insert at least this often
}

func main() {
	var c config
	var brokers string
	flag.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka seed brokers, comma-separated")
	flag.StringVar(&c.topic, "topic", "crm.raw", "input topic")
	flag.StringVar(&c.group, "group", "bench-goka", "goka group")
	flag.StringVar(&c.chAddr, "clickhouse-addr", "127.0.0.1:9000", "ClickHouse native address")
	flag.StringVar(&c.database, "database", "crm_bench", "ClickHouse database")
	flag.StringVar(&c.stateDir, "state-dir", os.TempDir()+"/bench-goka", "leveldb directory of the group table")
	flag.IntVar(&c.batchRows, "batch-rows", 50_000, "rows per insert")
	flag.DurationVar(&c.flushEvery, "flush-every", 200*time.Millisecond, "longest wait before an insert")
	flag.Parse()
	c.brokers = strings.Split(brokers, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatalf("goka peer: %v", err)
	}
}

// state is one key's windows. Encoded in a fixed binary layout: a JSON state
// codec would make goka look slower than it need be.
type state struct {
	TumblingStart int64 // unix seconds of the current 1-hour window
	TumblingCount uint32
	SlideMinute   int64 // unix minute of Buckets' newest slot
	Buckets       [60]uint16
	SessionLast   int64 // unix seconds of the last event
	Sessions      uint32
}

const stateSize = 8 + 4 + 8 + 60*2 + 8 + 4

type stateCodec struct{}

func (stateCodec) Encode(v any) ([]byte, error) {
	s := v.(*state)
	b := make([]byte, 0, stateSize)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.TumblingStart))
	b = binary.LittleEndian.AppendUint32(b, s.TumblingCount)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.SlideMinute))
	for _, x := range s.Buckets {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(s.SessionLast))
	b = binary.LittleEndian.AppendUint32(b, s.Sessions)
	return b, nil
}

func (stateCodec) Decode(b []byte) (any, error) {
	if len(b) != stateSize {
		return nil, fmt.Errorf("state: %d bytes, want %d", len(b), stateSize)
	}
	s := new(state)
	s.TumblingStart = int64(binary.LittleEndian.Uint64(b))
	s.TumblingCount = binary.LittleEndian.Uint32(b[8:])
	s.SlideMinute = int64(binary.LittleEndian.Uint64(b[12:]))
	for i := range s.Buckets {
		s.Buckets[i] = binary.LittleEndian.Uint16(b[20+2*i:])
	}
	s.SessionLast = int64(binary.LittleEndian.Uint64(b[140:]))
	s.Sessions = binary.LittleEndian.Uint32(b[148:])
	return s, nil
}

// update applies one event at unix time t (seconds) and returns the sliding
// 60-minute count.
func (s *state) update(t int64) uint32 {
	if w := t - t%3600; w != s.TumblingStart {
		s.TumblingStart, s.TumblingCount = w, 0
	}
	s.TumblingCount++
	m := t / 60
	if gap := m - s.SlideMinute; gap > 0 {
		for i := int64(1); i <= min(gap, 60); i++ {
			s.Buckets[(s.SlideMinute+i)%60] = 0
		}
		s.SlideMinute = m
	}
	if s.SlideMinute-m < 60 {
		s.Buckets[m%60]++
	}
	var sum uint32
	for _, x := range s.Buckets {
		sum += uint32(x)
	}
	if t-s.SessionLast > 30*60 {
		s.Sessions++
	}
	if t > s.SessionLast {
		s.SessionLast = t
	}
	return sum
}

// wireEvent is the part of the canonical event the counting needs.
type wireEvent struct {
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	LeadID     string    `json:"lead_id"`
	AccountID  string    `json:"account_id"`
}

type row struct {
	key, eventID, typ string
	at                time.Time
	tumbling, sliding uint32
	sessions          uint32
	done              func(error)
}

func run(ctx context.Context, c config) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{c.chAddr}, Auth: clickhouse.Auth{Database: "default"}})
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+c.database+`.goka_counts (
		lead_id String, event_id String, type String, event_time DateTime('UTC'),
		tumbling_1h UInt32, sliding_60m UInt32, sessions UInt32
	) ENGINE = MergeTree() ORDER BY (lead_id, event_time)`); err != nil {
		return fmt.Errorf("create table: %w", err)
	}

	cfg := goka.DefaultConfig()
	cfg.Version = sarama.V2_1_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Producer.Compression = sarama.CompressionNone // as crmstream's topics
	goka.ReplaceGlobalConfig(cfg)
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication, tmc.Stream.Replication = 1, 1

	rows := make(chan row, 4*c.batchRows)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		insertLoop(conn, c, rows)
	}()

	process := func(gctx goka.Context, msg any) {
		var e wireEvent
		if err := json.Unmarshal(msg.([]byte), &e); err != nil {
			return // the floor and crmstream see only valid events in the benchmark
		}
		s, _ := gctx.Value().(*state)
		if s == nil {
			s = new(state)
		}
		t := e.OccurredAt.Unix()
		sliding := s.update(t)
		gctx.SetValue(s)
		rows <- row{key: gctx.Key(), eventID: e.EventID, typ: e.Type, at: e.OccurredAt,
			tumbling: s.TumblingCount, sliding: sliding, sessions: s.Sessions, done: gctx.DeferCommit()}
	}
	g := goka.DefineGroup(goka.Group(c.group),
		goka.Input(goka.Stream(c.topic), new(codec.Bytes), process),
		goka.Persist(stateCodec{}),
	)
	p, err := goka.NewProcessor(c.brokers, g,
		goka.WithStorageBuilder(storage.DefaultBuilder(c.stateDir)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithTopicManagerConfig(tmc)),
	)
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	err = p.Run(ctx)
	close(rows)
	wg.Wait()
	return err
}

// insertLoop batches rows into ClickHouse and releases their commits once the
// batch is in.
func insertLoop(conn driver.Conn, c config, rows <-chan row) {
	batch := make([]row, 0, c.batchRows)
	tick := time.NewTicker(c.flushEvery)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		err := insert(conn, c.database, batch)
		if err != nil {
			log.Printf("insert %d rows: %v", len(batch), err)
		}
		for _, r := range batch {
			r.done(err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case r, ok := <-rows:
			if !ok {
				flush()
				return
			}
			batch = append(batch, r)
			if len(batch) >= c.batchRows {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

func insert(conn driver.Conn, db string, rows []row) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".goka_counts (lead_id, event_id, type, event_time, tumbling_1h, sliding_60m, sessions)")
	if err != nil {
		return err
	}
	defer b.Close()
	for _, r := range rows {
		if err := b.Append(r.key, r.eventID, r.typ, r.at, r.tumbling, r.sliding, r.sessions); err != nil {
			return err
		}
	}
	return b.Send()
}
