// Package dlq builds, reads and replays dead letters: raw records the
// pipeline could not turn into canonical events, kept on the crm.events.dlq
// topic with the original key and value untouched and three headers:
//
//	crm-reject-reason   the reason, naming the field ("occurred_at: is required")
//	crm-origin          topic/partition/offset of the original record
//	crm-failed-at       RFC 3339 wall-clock time of the failure
//
// # Inspect and replay
//
// Inspect reads the topic from the start up to its end offsets at the time
// of the call (so it terminates on a live topic) and hands each Letter to a
// callback. Replay produces the original values of selected letters back to
// a topic (by default crm.raw, so they go through validation again) with a
// crm-replayed-from header naming the dead letter, and waits for every
// acknowledgement. Replaying the same letters twice is harmless downstream:
// event_id is the idempotency key.
package dlq
