package dlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/internal/kafka"
)

// HeaderReplayedFrom marks a record replayed from the dead-letter topic with
// the letter's own topic/partition/offset.
const HeaderReplayedFrom = "crm-replayed-from"

// maxReason bounds the reason header: reasons quote input (an unknown type),
// and a header is not the place for a hostile megabyte.
const maxReason = 1024

// New returns the dead letter for r: same key and value, the reason and the
// origin in headers. The topic is kafka.TopicDLQ unless topic is set.
func New(r *kgo.Record, reason string, now time.Time, topic string) *kgo.Record {
	if topic == "" {
		topic = kafka.TopicDLQ
	}
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "") + "…"
	}
	return &kgo.Record{
		Topic: topic,
		Key:   r.Key,
		Value: r.Value,
		Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
			kgo.RecordHeader{Key: kafka.HeaderReason, Value: []byte(reason)},
			kgo.RecordHeader{Key: kafka.HeaderOrigin, Value: []byte(Origin(r))},
			kgo.RecordHeader{Key: kafka.HeaderFailedAt, Value: now.UTC().AppendFormat(nil, time.RFC3339Nano)},
		),
		Timestamp: r.Timestamp,
	}
}

// Origin formats where a record came from: topic/partition/offset.
func Origin(r *kgo.Record) string {
	return r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10)
}

// Letter is a dead letter as read back from the topic.
type Letter struct {
	Record   *kgo.Record // the dead-letter record itself (its topic/partition/offset)
	Reason   string
	Origin   string
	FailedAt time.Time // zero when the header is missing or unreadable
}

// Read interprets a record of the dead-letter topic. The last header of each
// name wins, so a letter that failed twice reports its latest failure.
func Read(r *kgo.Record) Letter {
	l := Letter{Record: r}
	for _, h := range r.Headers {
		switch h.Key {
		case kafka.HeaderReason:
			l.Reason = string(h.Value)
		case kafka.HeaderOrigin:
			l.Origin = string(h.Value)
		case kafka.HeaderFailedAt:
			l.FailedAt, _ = time.Parse(time.RFC3339Nano, string(h.Value))
		}
	}
	return l
}

// Filter selects letters; zero fields match everything.
type Filter struct {
	Reason    string    // substring of the reason
	Origin    string    // prefix of the origin (a topic, or topic/partition)
	Since     time.Time // failed at or after
	Partition int32     // -1 = every partition of the DLQ topic
	Limit     int       // stop after this many matches; 0 = no limit
}

// Match reports whether l passes f.
func (f Filter) Match(l Letter) bool {
	return (f.Reason == "" || strings.Contains(l.Reason, f.Reason)) &&
		(f.Origin == "" || strings.HasPrefix(l.Origin, f.Origin)) &&
		(f.Since.IsZero() || !l.FailedAt.Before(f.Since)) &&
		(f.Partition < 0 || l.Record.Partition == f.Partition)
}

// Inspect reads topic from its start to its end offsets as of the call and
// calls fn for each letter f matches, in partition order. It stops early when
// fn returns false or the limit is reached. opts configure the client
// (brokers, TLS, SASL); Inspect consumes without a group and commits nothing.
func Inspect(ctx context.Context, opts []kgo.Opt, topic string, f Filter, fn func(Letter) bool) error {
	if topic == "" {
		topic = kafka.TopicDLQ
	}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("dlq: client: %w", err)
	}
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	admin.Close()
	if err != nil {
		return fmt.Errorf("dlq: end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("dlq: end offsets of %s: %w", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 && (f.Partition < 0 || o.Partition == f.Partition) {
			remaining[o.Partition] = o.Offset
		}
	})
	if len(remaining) == 0 {
		return nil
	}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	for p := range remaining {
		start[topic][p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...), kgo.ConsumePartitions(start))...)
	if err != nil {
		return fmt.Errorf("dlq: client: %w", err)
	}
	defer cl.Close()
	matched := 0
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				ferr = errors.Join(ferr, fmt.Errorf("fetch %s/%d: %w", t, p, err))
			}
		})
		if ferr != nil {
			return fmt.Errorf("dlq: %w", ferr)
		}
		stop := false
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if stop || !ok || r.Offset >= end {
				return
			}
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			l := Read(r)
			if !f.Match(l) {
				return
			}
			matched++
			if !fn(l) || (f.Limit > 0 && matched >= f.Limit) {
				stop = true
			}
		})
		if stop {
			return nil
		}
	}
	return nil
}

// Replay produces the original key and value of each letter to topic (with
// a crm-replayed-from header) through producer, and waits until all are
// acknowledged. It returns how many were acknowledged.
func Replay(ctx context.Context, producer *kgo.Client, topic string, letters []Letter) (int, error) {
	if topic == "" {
		topic = kafka.TopicRaw
	}
	recs := make([]*kgo.Record, 0, len(letters))
	for _, l := range letters {
		var hdrs []kgo.RecordHeader
		for _, h := range l.Record.Headers {
			switch h.Key {
			case kafka.HeaderReason, kafka.HeaderOrigin, kafka.HeaderFailedAt, HeaderReplayedFrom:
			default:
				hdrs = append(hdrs, h)
			}
		}
		hdrs = append(hdrs, kgo.RecordHeader{Key: HeaderReplayedFrom, Value: []byte(Origin(l.Record))})
		recs = append(recs, &kgo.Record{Topic: topic, Key: l.Record.Key, Value: l.Record.Value, Headers: hdrs, Timestamp: l.Record.Timestamp})
	}
	res := producer.ProduceSync(ctx, recs...)
	ok := 0
	for _, r := range res {
		if r.Err == nil {
			ok++
		}
	}
	if err := res.FirstErr(); err != nil {
		return ok, fmt.Errorf("dlq: replay: %w", err)
	}
	return ok, nil
}
