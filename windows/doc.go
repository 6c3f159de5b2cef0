// Package windows keeps per-key state over event time for a stream
// partition: compact window primitives, a watermark, per-key timers, late
// events, idle-key eviction and snapshots for a changelog. Every feature,
// score and alert of crmstream is computed on top of it.
//
// # Event time and the watermark
//
// Events carry the time they happened (event time), which is not the time
// they arrive: a partition sees them slightly out of order. An Engine keeps,
// per partition, the newest event time seen and a watermark = newest −
// allowed lateness (Config.Lateness, default 5 minutes). An event at or after
// the watermark updates its key's state — immediately, results are never held
// back until the watermark passes; if it is older than the newest event it is
// marked OutOfOrder so the handler can re-emit a corrected result. An event
// before the watermark is late: it goes to Handler.Late and no state changes.
// Nothing is dropped silently.
//
// In Live mode a partition that receives nothing still moves on: after
// Config.IdleAfter of wall-clock quiet, Advance(now) raises its watermark to
// now − IdleAfter − lateness, so inactivity and session-close timers fire on
// a quiet partition. A partition working through a backlog is never idle.
// In Backfill mode time follows the data only (Advance does nothing), so
// replaying a year of history takes minutes and gives the same outputs, in
// the same order, as live — for events that reached the engine within
// IdleAfter of their event time (TestLiveEqualsReplay); AdvanceTo ends a
// replay.
//
// In Live mode Config.MaxFutureSkew guards against bad clocks: an event
// stamped further ahead of the wall clock is applied, but moves the
// watermark no further than wall clock + skew (Outcome Future), so one
// client with a wrong clock cannot make every later event late.
//
// # Timers
//
// A handler sets per-key timers in event time (Ctx.SetTimer): inactivity,
// abandonment, label horizons, window close. A timer fires once, when the
// watermark reaches it. Timers made due by an event fire before that event is
// applied (they are earlier in event time). Timers due at the same time fire
// in a fixed order (by key hash, then key), so a replay and a restored engine
// fire them in the same order.
// While a timer runs, Ctx.Watermark equals the timer's time, as if the
// watermark had stopped there: a handler's output does not depend on how far
// the watermark jumped, which is what makes live runs and replays agree.
// A key has MaxTimers kinds; setting a kind again moves it.
//
// # Window primitives
//
// The state types are plain values with no pointers, meant to be fields of a
// per-key state struct, updated without allocation: Tumbling (aligned
// windows, current and previous, 72 B), Hopping (a ring of counting buckets:
// a sliding window, 4 + 2·N B), Session (gap-based with merges, 32 B), and the
// aggregations Stats (count, sum, min, max, first and last time, 32 B),
// Distinct (approximate distinct count, 16 B), First and Last (value by
// event time, 8 B). Times are Sec (Unix seconds, uint32). Sizes, hops and
// gaps are passed to each method as a Span rather than stored, so a million
// keys do not carry a million copies of the configuration.
//
// # State ownership and snapshots
//
// An Engine is owned by one goroutine — the worker of its partition — and is
// not safe for concurrent use. Checkpoint hands every key changed since the
// previous checkpoint (or a nil tombstone for a deleted or evicted key) to a
// callback, in a compact binary encoding (Enc/Dec, with the state written by
// a Codec), for a compacted changelog topic; Meta carries the partition's
// newest event time and watermark. Restore and RestoreMeta rebuild an
// engine, including its timers, from those records. Decoders reject
// malformed records with ErrCorrupt and never panic.
//
// Keys with no event for Config.KeyTTL of event time and no pending timer are
// evicted (an optional Evicter sees them last) and tombstoned.
package windows
