-- Alerts: one row per state of an episode. alert_id is deterministic per
-- episode (kind, key, episode start), so a replay rewrites the same row;
-- version orders its states (fired < retracted | acknowledged). Read with FINAL.
CREATE TABLE IF NOT EXISTS {{.DB}}.alerts{{.OnCluster}} (
    alert_id     String,
    kind         String,
    lead_id      String,
    account_id   String,
    owner_id     String,
    fired_at     DateTime('UTC'),
    event_time   DateTime('UTC'),
    status       String,
    score        Float64,
    reason       String,
    evidence     Array(String),
    details      String,
    updated_at   DateTime('UTC'),
    version      UInt64
) ENGINE = {{.Engine "ReplacingMergeTree(version)" "alerts"}}
PARTITION BY toYYYYMM(event_time)
ORDER BY alert_id;
