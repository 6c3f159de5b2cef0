package scorer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Changelog records: the compacted topic holds, per input partition p (in the
// changelog's partition p),
//
//	key "<p>/<entity key>"  value: windows snapshot of the key (nil: deleted)
//	key "<p>#meta"          value: the partition record (Worker.RestoreMeta):
//	                        the next input offset and the engine's time
//
// A checkpoint writes the changed keys, then the meta record, in one
// partition, so the meta record is behind every key it covers. Compaction
// keeps the newest value per key. Keys written after the newest meta (a
// checkpoint cut short) are restored too: they are ahead of the meta offset,
// and their State.Offset makes the replay from the meta offset skip what
// they already hold.

func stateKey(p int32, key string) []byte {
	b := strconv.AppendInt(nil, int64(p), 10)
	b = append(b, '/')
	return append(b, key...)
}

func metaKey(p int32) []byte {
	return append(strconv.AppendInt(nil, int64(p), 10), "#meta"...)
}

// parseKey splits a changelog key; meta reports the partition record.
func parseKey(k []byte) (p int32, key string, meta bool, err error) {
	s := string(k)
	i := strings.IndexAny(s, "/#")
	if i <= 0 {
		return 0, "", false, fmt.Errorf("changelog key %q: no partition", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 32)
	if err != nil {
		return 0, "", false, fmt.Errorf("changelog key %q: %w", s, err)
	}
	if s[i] == '#' {
		if s[i+1:] != "meta" {
			return 0, "", false, fmt.Errorf("changelog key %q: unknown record", s)
		}
		return int32(n), "", true, nil
	}
	if i+1 == len(s) {
		return 0, "", false, fmt.Errorf("changelog key %q: empty entity", s)
	}
	return int32(n), s[i+1:], false, nil
}

// RestoreStats describes one partition's restore.
type RestoreStats struct {
	Records int   // changelog records read
	Keys    int   // keys held after the restore
	Next    int64 // input offset to resume from (0: no checkpoint)
	Skipped int   // records of other partitions or undecodable keys
	Corrupt int   // records that did not decode: the key starts afresh
	// FirstCorrupt describes the first corrupt record, for the log.
	FirstCorrupt error
}

// restorePartition reads partition p of the changelog topic from its start to
// its current end into w. opts connect to the cluster (no group options).
func restorePartition(ctx context.Context, opts []kgo.Opt, topic string, p int32, w *Worker) (RestoreStats, error) {
	var st RestoreStats
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)],
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
	)...)
	if err != nil {
		return st, fmt.Errorf("restore client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return st, fmt.Errorf("changelog end offsets: %w", err)
	}
	end, ok := ends.Lookup(topic, p)
	if !ok || end.Err != nil {
		if ok && end.Err != nil {
			return st, fmt.Errorf("changelog %s[%d] end offset: %w", topic, p, end.Err)
		}
		return st, nil // no such partition yet: nothing to restore
	}
	var meta []byte
	for last := int64(-1); last < end.Offset-1; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("restore %s[%d] at %d of %d: %w", topic, p, last+1, end.Offset, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return st, fmt.Errorf("restore %s[%d]: %w", topic, p, ferr)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			last = r.Offset
			st.Records++
			rp, key, isMeta, err := parseKey(r.Key)
			if err != nil || rp != p {
				st.Skipped++
				continue
			}
			if isMeta {
				meta = r.Value
				continue
			}
			if err := w.Restore(key, r.Value); err != nil {
				// One bad record costs one key its history, not the
				// partition its availability: the key starts afresh.
				st.Corrupt++
				if st.FirstCorrupt == nil {
					st.FirstCorrupt = fmt.Errorf("%s[%d]@%d: %w", topic, p, r.Offset, err)
				}
			}
		}
	}
	if meta != nil {
		if err := w.RestoreMeta(meta); err != nil {
			// Without the meta record the resume offset is unknown: consume
			// from the group's committed offset (the keys' own offsets still
			// skip what they hold).
			st.Corrupt++
			if st.FirstCorrupt == nil {
				st.FirstCorrupt = fmt.Errorf("%s[%d] meta: %w", topic, p, err)
			}
		}
	}
	st.Keys = w.Keys()
	st.Next = w.NextOffset()
	return st, nil
}
