-- Entity extraction: each sentence → an ARRAY<ROW<entity STRING, type STRING>> with
-- type one of PER/ORG/LOC/MISC. Placeholders: see support_tickets.sql.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction';

CREATE TEMPORARY TABLE sentences (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/ner_sentences.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY TABLE sentence_entities (
  event_id STRING,
  message STRING,
  entities ARRAY<ROW<entity STRING, type STRING>>,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/entities',
  'format' = 'json'
);

INSERT INTO sentence_entities
SELECT event_id, message, t.r.entities, CURRENT_TIMESTAMP
FROM (SELECT event_id, message, llm('entities.task.json', message) AS r FROM sentences) AS t;
