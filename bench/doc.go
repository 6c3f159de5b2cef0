// Package bench is the end-to-end benchmark of crmstream on one machine:
// simulated CRM events go to a Kafka broker, the real binaries (ingest's relay
// and sink, the scorer) run as child processes against a fresh ClickHouse
// database, and the harness measures how fast and how promptly scores become
// queryable. In the same run, on the same broker and data, it measures the
// floor and the peers, so every figure comes with a yardstick.
//
// # Targets
//
//   - crmstream: ingest --mode relay,sink and the scorer, reading crm.raw
//     (relay: parse, validate, normalize, produce to crm.events) and
//     crm.events (sink: batch insert of events; scorer: windows, features,
//     model, score rows). Done when the scores are queryable.
//   - floor (bench/floor): a bare franz-go consumer inserting crm.raw's
//     records into ClickHouse untouched. Nothing that lands the topic in
//     ClickHouse does less work.
//   - goka (bench/goka, its own module): the same per-lead windowed counting
//     written as a goka processor with its group table, one row per event to
//     ClickHouse.
//
// Redpanda Connect's Kafka→ClickHouse sink is not among them: the module is
// not under an open-source licence, and the package policy of this project
// refuses it.
//
// # Scenarios
//
// Backlog: N events are preloaded into crm.raw, then the target starts and
// drains them. Throughput is N over the time from the first consumer group
// being ready to the last events being queryable (the last lead event of
// each partition, which the in-order pipeline writes after all earlier
// ones), and "sustained" is the rate between 10 % and 90 % of the consumer
// groups' committed progress.
//
// Fixed rate: the target runs first; the harness produces R events/s for a
// while, and samples about ten events per second as probes. A probe's
// latency is from its hand-off to the Kafka client to the moment a poll of
// ClickHouse finds its row (polls every 50 ms, so figures carry up to 50 ms
// of polling granularity).
//
// # Costs
//
// CPU per event is the user+system time of the target's child processes
// between ready and done, read from /proc, divided by the events; the
// ClickHouse server's CPU over the same interval is reported beside it. RSS
// is the children's peak resident set (VmHWM); per million active leads it
// is divided by the distinct leads in the data. The broker (kfake) runs in
// the harness's own process, as the same cost for every target.
//
// The machine is shared: the harness prints the load average before and
// after each run, and every figure should be read with it.
package bench
