-- Named entities with CREATE MODEL + ML_PREDICT: an ARRAY<ROW<...>> column, nested field
-- constraints as output.<column>.<field>.<keyword> (see support_tickets_ml_predict.sql).
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE TEMPORARY TABLE sentences (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/ner_sentences.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY MODEL ner
INPUT (message STRING)
OUTPUT (entities ARRAY<ROW<entity VARCHAR(60), type STRING>>)
WITH (
  'provider' = 'flinkllm',
  'model' = 'qwen2.5-coder-1.5b-instruct-int8',
  'system-prompt-file' = 'entities.system.txt',
  'output.entities.max-items' = '8',
  'output.entities.type.enum' = 'PER, ORG, LOC, MISC',
  'threads' = '2'
);

CREATE TEMPORARY TABLE sentence_entities (
  event_id STRING,
  message STRING,
  entities ARRAY<ROW<entity STRING, type STRING>>,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/entities_ml_predict',
  'format' = 'json'
);

INSERT INTO sentence_entities
SELECT event_id, message, entities, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE sentences, MODEL ner, DESCRIPTOR(message));
