package windows

import (
	"errors"
	"fmt"
	"strings"
)

// Snapshot encoding of one key (little-endian, see Enc):
//
//	u8   version (1)
//	u32  newest event time of the key
//	u8   bitmap of the timer slots that are set, then one u32 per set slot
//	...  the state, as the Codec writes it
//
// The partition's own record (Meta) is: u8 version, u32 newest event time,
// u32 watermark.
const snapVersion = 1

// ErrNoCodec is returned by Checkpoint, Snapshot and Restore on an engine
// built without a Codec.
var ErrNoCodec = errors.New("windows: engine has no state codec")

// Checkpoint calls fn for every key changed since the previous successful
// Checkpoint: with the key's encoding, or with a nil value for a key deleted
// or evicted (a tombstone for a compacted changelog). value is reused after
// fn returns: copy it to keep it. If fn fails, Checkpoint stops and returns
// the error, and the same changes are offered again next time.
func (e *Engine[S, E]) Checkpoint(fn func(key string, value []byte) error) error {
	if e.codec == nil {
		return ErrNoCodec
	}
	for _, en := range e.dirty {
		if en.gone {
			if e.keys.get(en.key) != nil {
				continue // re-created: its new entry is written instead
			}
			if err := fn(en.key, nil); err != nil {
				return fmt.Errorf("checkpoint %q: %w", en.key, err)
			}
			continue
		}
		if err := fn(en.key, e.encode(en)); err != nil {
			return fmt.Errorf("checkpoint %q: %w", en.key, err)
		}
	}
	for i, en := range e.dirty {
		en.dirty = false
		e.dirty[i] = nil
	}
	e.dirty = e.dirty[:0]
	return nil
}

// Pending returns the number of keys Checkpoint would write.
func (e *Engine[S, E]) Pending() int { return len(e.dirty) }

// Snapshot calls fn for every key held, in no particular order, with its
// encoding (reused after fn returns). It does not change what Checkpoint
// writes next.
func (e *Engine[S, E]) Snapshot(fn func(key string, value []byte) error) error {
	if e.codec == nil {
		return ErrNoCodec
	}
	return e.keys.all(func(en *entry[S]) error {
		if err := fn(en.key, e.encode(en)); err != nil {
			return fmt.Errorf("snapshot %q: %w", en.key, err)
		}
		return nil
	})
}

func (e *Engine[S, E]) encode(en *entry[S]) []byte {
	e.enc.B = e.enc.B[:0]
	e.enc.U8(snapVersion)
	e.enc.Sec(en.last)
	var set uint8
	for i, t := range en.timers {
		if t != 0 {
			set |= 1 << i
		}
	}
	e.enc.U8(set)
	for _, t := range en.timers {
		if t != 0 {
			e.enc.Sec(t)
		}
	}
	e.codec.Encode(&e.enc, &en.state)
	return e.enc.B
}

// Restore loads one key from a snapshot or changelog record; a nil value
// deletes the key. Restored keys are not pending for Checkpoint (they are
// already in the changelog). Call it before any Process; a later record for
// the same key replaces the earlier one.
func (e *Engine[S, E]) Restore(key string, value []byte) error {
	if e.codec == nil {
		return ErrNoCodec
	}
	if value == nil {
		if en := e.keys.get(key); en != nil {
			en.gone = true
			e.keys.del(en)
		}
		return nil
	}
	d := Dec{B: value}
	if v := d.U8(); d.Err() == nil && v != snapVersion {
		return fmt.Errorf("restore %q: %w: version %d", key, ErrCorrupt, v)
	}
	en := &entry[S]{}
	en.key = strings.Clone(key) // a changelog reader's key may view its record
	en.last = d.Sec()
	set := d.U8()
	for i := range en.timers {
		if set&(1<<i) != 0 {
			en.timers[i] = d.Sec()
		}
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("restore %q: %w", key, err)
	}
	if err := e.codec.Decode(&d, &en.state); err != nil {
		return fmt.Errorf("restore %q: %w", key, err)
	}
	if err := d.Done(); err != nil {
		return fmt.Errorf("restore %q: %w", key, err)
	}
	if old := e.keys.get(key); old != nil {
		old.gone = true
	}
	e.keys.put(en)
	for i, t := range en.timers {
		if t != 0 {
			en.armed |= 1 << i
			e.heap.push(newTimerItem(en, t, uint8(i)))
		}
	}
	return nil
}

// Meta encodes the partition's time (newest event time and watermark), to be
// stored with a checkpoint.
func (e *Engine[S, E]) Meta() []byte {
	var enc Enc
	enc.U8(snapVersion)
	enc.Sec(e.maxEvent)
	enc.Sec(e.wm)
	return enc.B
}

// RestoreMeta loads what Meta wrote. Timers already due under the restored
// watermark fire on the next Process or Advance.
func (e *Engine[S, E]) RestoreMeta(b []byte) error {
	d := Dec{B: b}
	v := d.U8()
	maxEvent, wm := d.Sec(), d.Sec()
	if err := d.Done(); err != nil {
		return fmt.Errorf("restore meta: %w", err)
	}
	if v != snapVersion {
		return fmt.Errorf("restore meta: %w: version %d", ErrCorrupt, v)
	}
	e.maxEvent, e.wm = maxEvent, wm
	return nil
}
