-- Lead scores: one row per (lead, scoring event). A replayed event rewrites the
-- same key, so a restart does not show a score twice. The current score of a
-- lead is argMax(score, (event_time, scored_at)) or the lead_current table.
CREATE TABLE IF NOT EXISTS {{.DB}}.lead_scores{{.OnCluster}} (
    lead_id        String,
    account_id     String,
    owner_id       String,
    event_id       String,
    event_time     DateTime('UTC'),
    scored_at      DateTime('UTC'),
    score          UInt8,
    probability    Float64,
    tier           String,
    model_version  String,
    reasons        String
) ENGINE = {{.Engine "ReplacingMergeTree(scored_at)" "lead_scores"}}
PARTITION BY toYYYYMM(event_time)
ORDER BY (lead_id, event_time, event_id);

-- Churn scores, the same shape per account.
CREATE TABLE IF NOT EXISTS {{.DB}}.churn_scores{{.OnCluster}} (
    account_id     String,
    owner_id       String,
    event_id       String,
    event_time     DateTime('UTC'),
    scored_at      DateTime('UTC'),
    score          UInt8,
    probability    Float64,
    tier           String,
    model_version  String,
    reasons        String
) ENGINE = {{.Engine "ReplacingMergeTree(scored_at)" "churn_scores"}}
PARTITION BY toYYYYMM(event_time)
ORDER BY (account_id, event_time, event_id);

-- Latest score per lead: the table the hot-leads list reads. ORDER BY lead_id so
-- each lead collapses to its newest row (version = event time in ms, then
-- scoring order), small enough to rank with FINAL.
CREATE TABLE IF NOT EXISTS {{.DB}}.lead_current{{.OnCluster}} (
    lead_id        String,
    account_id     String,
    owner_id       String,
    event_time     DateTime('UTC'),
    score          UInt8,
    probability    Float64,
    tier           String,
    model_version  String,
    reasons        String,
    converted      UInt8,
    version        UInt64
) ENGINE = {{.Engine "ReplacingMergeTree(version)" "lead_current"}}
ORDER BY lead_id;

-- Latest churn score per account.
CREATE TABLE IF NOT EXISTS {{.DB}}.account_current{{.OnCluster}} (
    account_id     String,
    owner_id       String,
    event_time     DateTime('UTC'),
    score          UInt8,
    probability    Float64,
    tier           String,
    model_version  String,
    reasons        String,
    plan           String,
    mrr            Float64,
    churned        UInt8,
    version        UInt64
) ENGINE = {{.Engine "ReplacingMergeTree(version)" "account_current"}}
ORDER BY account_id;

-- Feature vectors as the scorer saw them, beside each score row.
CREATE TABLE IF NOT EXISTS {{.DB}}.features{{.OnCluster}} (
    entity        String,
    entity_id     String,
    event_id      String,
    event_time    DateTime('UTC'),
    names         Array(String),
    values        Array(Float64)
) ENGINE = {{.Engine "ReplacingMergeTree()" "features"}}
PARTITION BY toYYYYMM(event_time)
ORDER BY (entity, entity_id, event_time, event_id);
