-- Feature sets: the names of a feature vector, once per set instead of on
-- every crm.features row (the same ~40 names were 312 of a row's 532 bytes,
-- and most of the server's CPU for the table: parsing, sorting and merging
-- them). set_id is the scorer's hash of the names in order, so every scorer
-- process writes the same row for the same set; ORDER BY set_id collapses
-- the repeats.
CREATE TABLE IF NOT EXISTS {{.DB}}.feature_sets{{.OnCluster}} (
    set_id       UInt64,
    entity       String,
    names        Array(String),
    created_at   DateTime('UTC')
) ENGINE = {{.Engine "ReplacingMergeTree()" "feature_sets"}}
ORDER BY set_id;

-- Rows written from now on carry set_id and leave names empty; older rows
-- keep their names (set_id 0).
ALTER TABLE {{.DB}}.features{{.OnCluster}} ADD COLUMN IF NOT EXISTS set_id UInt64 AFTER event_time;

-- Feature vectors with their names, old rows and new alike: read this
-- instead of crm.features when the names matter. Like the table it reads,
-- a replayed row shows twice until merged (count uniqExact(event_id), or
-- join crm.features FINAL to crm.feature_sets yourself).
CREATE VIEW IF NOT EXISTS {{.DB}}.features_named{{.OnCluster}} AS
SELECT entity, entity_id, event_id, event_time, if(empty(names), set_names, names) AS names, values
FROM {{.DB}}.features
ANY LEFT JOIN (SELECT set_id, names AS set_names FROM {{.DB}}.feature_sets) USING set_id;
