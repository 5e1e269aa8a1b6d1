-- Sentence embeddings of every support ticket with a local encoder (all-MiniLM-L6-v2 int8,
-- `tools/prepare-model minilm`), for retrieval or clustering downstream: once with Flink's own
-- CREATE MODEL + ML_PREDICT ('task' = 'embedding'), once with the embed() scalar function.
-- Both give the same L2-normalised ARRAY<FLOAT> of 384 values per ticket.
-- Placeholders: see support_tickets.sql.   tools/run-demo sql/ticket_embeddings.sql
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE FUNCTION embed AS 'io.flinkllm.EmbedFunction';

CREATE TEMPORARY TABLE tickets (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/support_tickets.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY MODEL ticket_embedder
INPUT (message STRING)
OUTPUT (embedding ARRAY<FLOAT>)
WITH (
  'provider' = 'flinkllm',
  'task' = 'embedding',
  'model' = 'all-minilm-l6-v2-int8',
  'threads' = '2'
);

CREATE TEMPORARY TABLE ticket_embeddings (
  event_id STRING,
  message STRING,
  embedding ARRAY<FLOAT>
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/ticket_embeddings',
  'format' = 'json'
);

CREATE TEMPORARY TABLE ticket_embeddings_udf (
  event_id STRING,
  embedding ARRAY<FLOAT>
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/ticket_embeddings_udf',
  'format' = 'json'
);

INSERT INTO ticket_embeddings
SELECT event_id, message, embedding
FROM ML_PREDICT(TABLE tickets, MODEL ticket_embedder, DESCRIPTOR(message));

INSERT INTO ticket_embeddings_udf
SELECT event_id, embed('all-minilm-l6-v2-int8', message)
FROM tickets;
