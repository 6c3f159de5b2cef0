-- Events behind the watermark by more than the allowed lateness. They still
-- reached crm.events; here they are counted and kept for inspection.
CREATE TABLE IF NOT EXISTS {{.DB}}.late_events{{.OnCluster}} (
    event_id     String,
    key          String,
    type         String,
    occurred_at  DateTime('UTC'),
    watermark    DateTime('UTC'),
    partition    Int32,
    received_at  DateTime('UTC')
) ENGINE = {{.Engine "ReplacingMergeTree()" "late_events"}}
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id;

-- Every rejected input with its reason, so accepted + rejected reconcile
-- with what was sent. origin: collector, relay, webhook:<crm>, import.
CREATE TABLE IF NOT EXISTS {{.DB}}.rejects{{.OnCluster}} (
    reject_id    String,
    origin       String,
    received_at  DateTime('UTC'),
    event_id     String,
    reason       String,
    payload      String
) ENGINE = {{.Engine "ReplacingMergeTree()" "rejects"}}
PARTITION BY toYYYYMM(received_at)
ORDER BY (origin, reject_id);

-- Who called the API, what, when, with which outcome.
CREATE TABLE IF NOT EXISTS {{.DB}}.audit_log{{.OnCluster}} (
    at           DateTime('UTC'),
    user         String,
    role         String,
    method       String,
    path         String,
    query        String,
    status       UInt16,
    duration_ms  Float64,
    remote       String
) ENGINE = {{.Engine "MergeTree()" "audit_log"}}
PARTITION BY toYYYYMM(at)
ORDER BY (at, user);

-- GDPR erasures carried out: the tombstone that proves a key was removed.
CREATE TABLE IF NOT EXISTS {{.DB}}.erasures{{.OnCluster}} (
    subject      String,
    kind         String,
    requested_at DateTime('UTC'),
    actor        String,
    tables       Array(String)
) ENGINE = {{.Engine "ReplacingMergeTree()" "erasures"}}
ORDER BY (kind, subject);
