-- Named entities between Kafka topics (see support_tickets.sql for the set-up):
-- `sentences` → ML_PREDICT → `sentence_entities`, exactly once.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '5s';

-- Events are read as raw text and parsed in SQL, so no event is ever dropped (see
-- support_tickets.sql).
CREATE TEMPORARY TABLE sentences_events (
  event STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'sentences',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = 'flinkllm-sentences-${KAFKA_RUN}',
  'scan.startup.mode' = 'earliest-offset',
  'properties.isolation.level' = 'read_committed',
  'scan.bounded.mode' = 'latest-offset',
  'format' = 'raw'
);

CREATE TEMPORARY VIEW sentences AS
SELECT JSON_VALUE(event, '$.event_id' RETURNING STRING) AS event_id,
       JSON_VALUE(event, '$.message' RETURNING STRING) AS message
FROM sentences_events;

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
  'connector' = 'kafka',
  'topic' = 'sentence_entities',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'flinkllm-sentences-${KAFKA_RUN}',
  'properties.transaction.timeout.ms' = '900000'
);

INSERT INTO sentence_entities
SELECT event_id, message, entities, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE sentences, MODEL ner, DESCRIPTOR(message));
