// Package scorer turns the canonical event stream into lead scores, churn
// scores, alerts and late-event records, with per-key state that survives
// restarts and rebalances.
//
// # Workers
//
// A Worker owns one input partition: its windows.Engine (watermark, timers,
// per-key State) and the rows it produced since the last flush. It needs no
// Kafka — tests and the eval harness drive it with Process, Advance and
// AdvanceTo, and Flush hands its rows to a Sink (MemorySink in tests,
// CHSink for ClickHouse). Per key it keeps the rule-based lead and churn
// state, the alert detector's state, the input offset of the newest record
// applied, and a small ring of recent event-id hashes, so a duplicated event
// (a client retry, a relay replay) counts once.
//
// # Scores
//
// With WorkerConfig.Models (what cmd/scorer runs), each key's events feed a
// features.State; the lead or churn model scores the vector with reasons,
// and the worker delivers the models' delayed labels through event-time
// timers: a conversion (a cancellation, for accounts) within the horizon is
// a positive, the horizon passing without one a negative.
//
// Without models, scores come from transparent rules
// (RulesVersion): a lead's fit (title seniority, company e-mail, company,
// phone, size; up to 40 points) plus engagement (weighted events decaying with
// a 7-day half-life; up to 60 points); 100 once converted. Tiers: hot ≥ 80,
// warm ≥ 50, cold. An account's churn risk rises with an activity drop,
// inactivity, open tickets, a detractor NPS and a downgrade; 100 once
// cancelled. Every score carries its reasons (JSON, the shape of
// models.Score.AppendReasonsJSON, contributions in points). A timer re-scores
// a key a day after its newest activity (and daily while warm), so a fading
// lead leaves the hot list without a new event.
//
// # Score history
//
// lead_current / account_current always get each key's newest score. The
// history tables (lead_scores, churn_scores) and crm.features get a key's
// row only when it says something new (Config.HistoryEvery, --history-every,
// default 1 h of event time; negative writes every row): the key's first row
// since the partition was taken, a change of score, tier, model version or
// converted/churned, or the previous written row being HistoryEvery old. A
// lead's history is then the step function of its score with at least one
// point an hour while it is active — what the dashboard's score history
// draws — at a fraction of the rows (the others are marked Quiet and skipped
// by CHSink; MemorySink keeps them, flagged). The memory of the last written
// row is per partition worker, not checkpointed, and drops keys idle for
// longer than the interval.
//
// # Writing to ClickHouse
//
// CHSink group-commits: partition workers flushing while an insert is in
// flight are written together by the next one, one INSERT per table for the
// whole process, with whole columns appended from buffers reused between
// flushes. Each worker's Write still returns only once its own rows are
// durable, so the commit order below holds per partition.
//
// # Delivery guarantees
//
// The runtime (Service) processes a partition in one goroutine and, every
// FlushInterval or FlushRows: writes the rows to ClickHouse (idempotent: every
// table is keyed by the event it reflects), then writes the changed keys and a
// partition record holding the next input offset to the compacted changelog
// topic, then commits that offset. A crash loses nothing: on assignment the
// partition's state is read back from the changelog and consumption resumes
// at the checkpoint's offset; records a key's restored state already
// reflects are skipped per key (State.Offset), others are re-applied and
// their rows rewritten onto the same keys. Results after a restart or a
// rebalance equal those of a run without one.
package scorer
