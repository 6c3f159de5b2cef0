-- Canonical events, one row per event_id.
-- ORDER BY (lead_id, account_id, occurred_at, event_id): every column of the key
-- comes from the event itself, so a replayed event collapses into the row it
-- repeats (ReplacingMergeTree keeps the highest `version`); lead timelines read a
-- contiguous range. Read with FINAL, or count uniqExact(event_id).
CREATE TABLE IF NOT EXISTS {{.DB}}.events{{.OnCluster}} (
    event_id     String,
    type         String,
    occurred_at  DateTime('UTC'),
    occurred_ms  UInt16,
    lead_id      String,
    account_id   String,
    owner_id     String,
    session_id   String,
    source       String,
    email        String,
    phone        String,
    name         String,
    company      String,
    country      String,
    title        String,
    properties   String,
    ingested_at  DateTime('UTC'),
    version      UInt64
) ENGINE = {{.Engine "ReplacingMergeTree(version)" "events"}}
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (lead_id, account_id, occurred_at, event_id)
