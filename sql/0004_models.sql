-- Model registry: every registered version with its artifact and holdout
-- metrics. Key (model, version); status changes write a newer row.
CREATE TABLE IF NOT EXISTS {{.DB}}.models{{.OnCluster}} (
    model        String,
    version      String,
    kind         String,
    created_at   DateTime('UTC'),
    status       String,
    metrics      String,
    artifact     String,
    updated_at   DateTime('UTC'),
    revision     UInt64
) ENGINE = {{.Engine "ReplacingMergeTree(revision)" "models"}}
ORDER BY (model, version);

-- Promotion history: the champion of a model is the newest row; rollback
-- appends the previous champion again.
CREATE TABLE IF NOT EXISTS {{.DB}}.model_promotions{{.OnCluster}} (
    model        String,
    version      String,
    action       String,
    at           DateTime('UTC'),
    seq          UInt64,
    actor        String
) ENGINE = {{.Engine "ReplacingMergeTree()" "model_promotions"}}
ORDER BY (model, seq);

-- Progressive-validation metrics over time (AUC, log loss, calibration, drift).
CREATE TABLE IF NOT EXISTS {{.DB}}.model_metrics{{.OnCluster}} (
    model          String,
    model_version  String,
    at             DateTime('UTC'),
    metric         String,
    value          Float64,
    n              UInt64
) ENGINE = {{.Engine "ReplacingMergeTree()" "model_metrics"}}
PARTITION BY toYYYYMM(at)
ORDER BY (model, metric, at, model_version);
