// Package features turns CRM events into the feature vectors the models
// score, from one declarative definition per feature.
//
// # Definitions
//
// A Def names a feature, an aggregation (Count, Sum, LastNum, LastStr,
// Distinct, SinceLast, SinceFirst, MaxRank, Decay), an optional event-time Window
// and a named Filter (event types, optionally a property value). Derived
// features (ratios, differences) combine two others after aggregation.
// NewSet compiles a list of them for an entity (lead_id or account_id); Lead
// and Account are the built-in sets (LeadDefs, AccountDefs show them).
//
// From a Set come both:
//
//   - the streaming extractor: State.Update applies one event to a key's
//     state; State.Vector computes every feature as of a time;
//   - the ClickHouse SQL (TrainingSQL) that computes the same features "as
//     known at" a point in time from crm.events, for training sets. It runs
//     on ClickHouse 18.16: -If aggregate combinators, visitParamExtract* on
//     the JSON properties, no window functions.
//
// Both paths produce the same raw aggregates and share the Go code that
// finalizes them (recency, distinct estimates, derived features); a test
// checks they agree on the same events against a real server.
//
// # Windows
//
// A windowed count covers Size/Gran buckets of Gran seconds aligned on the
// Unix epoch, ending with the bucket of the vector time: 1 h in 15-minute
// buckets, 24 h in hours, 7 days in days, 30 days in 5-day buckets, 35 days
// in days. Each (filter, granularity) pair keeps one ring of counters sized
// for its longest window; counters of sub-day buckets saturate at 255, the
// others at 65,535 (the SQL does not saturate: the two differ only past
// that many events of one filter in one bucket for one key).
//
// # State size
//
// A State is one byte buffer (the rings and lifetime slots) and one packed
// string region (categorical values and the two latest event ids kept as
// evidence for reasons) in a single allocation. With the built-in lead set a
// lead with a full profile and 36-character event ids takes 504 bytes
// (State.Size: 40-byte struct and a 464-byte buffer; TestStateSize).
// States snapshot to bytes (AppendBinary, RestoreState) for the scorer's
// changelog.
//
// # Per-event cost
//
// NewSet compiles what Update and Vector would otherwise search per event:
// the filters of each event type (a small hash table), the distinct bucket
// granularities (one division each per event, not one per ring or bucket)
// and the lifetime definitions. Vector sums a window that spans its whole
// ring a machine word at a time. Update allocates only when a categorical
// value changes or a new event id does not fit where the oldest one was:
// the evidence ids are shifted in place, which is why a Vector's evidence
// ids are valid only until the State's next Update. TestVectorGolden pins
// every output to the checksum of the straightforward implementation.
//
// # Decay
//
// A Decay feature is Σ 2^(−age/HalfLife) over its events: engagement that
// fades instead of falling off a window's edge. The state keeps the sum at
// the latest event time (8 bytes); the SQL sums exp2 of the ages. The
// stream's float32 sum agrees with the SQL to about 1e-6 relative.
//
// # Limits
//
// Ties in event time make "last value" aggregates take the event applied
// last in the stream and an arbitrary one in SQL. Numeric properties sent as
// JSON strings ("129.00") are parsed by the stream but read as 0 by
// visitParamExtractFloat. Late events older than the longest window of
// their ring are not counted by the stream.
package features
