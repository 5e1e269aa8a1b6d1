-- Support-ticket triage with Flink's own CREATE MODEL + ML_PREDICT: the OUTPUT columns and the
-- output.<column>.<keyword> options are the JSON schema every answer matches (no task file,
-- no JSON parsing). The prompt and examples are the seed task's files, relative to
-- FLINKLLM_TASKS_DIR (the repo's tasks/). Placeholders: see support_tickets.sql.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE TEMPORARY TABLE tickets (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/support_tickets.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY MODEL ticket_triage
INPUT (message STRING)
OUTPUT (
  category STRING,
  severity STRING COMMENT 'P1: outage or data loss, P2: broken feature, P3: question or minor issue',
  sentiment STRING,
  explanation VARCHAR(200)
) WITH (
  'provider' = 'flinkllm',
  'model' = 'qwen2.5-coder-1.5b-instruct-int8',
  'system-prompt-file' = 'support_ticket.system.txt',
  'examples-file' = 'support_ticket.examples.jsonl',
  'output.category.enum' = 'auth, billing, product-bug, feature-request, other',
  'output.severity.enum' = 'P1, P2, P3',
  'output.sentiment.enum' = 'positive, neutral, frustrated',
  'threads' = '2'
);

CREATE TEMPORARY TABLE enriched_tickets (
  event_id STRING,
  message STRING,
  category STRING,
  severity STRING,
  sentiment STRING,
  explanation STRING,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/support_tickets_ml_predict',
  'format' = 'json'
);

INSERT INTO enriched_tickets
SELECT event_id, message, category, severity, sentiment, explanation, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE tickets, MODEL ticket_triage, DESCRIPTOR(message));
