-- Support-ticket category and sentiment with a sentence encoder instead of a generative model:
-- each ticket gets the label whose examples (tasks/ticket_labels.examples.jsonl) it is nearest
-- to, with the cosine as a score; ~100x the rows/s of the generative job, at the accuracy the
-- README's "Encoder or generative?" table shows. The category comes from CREATE MODEL +
-- ML_PREDICT ('task' = 'classification'), the sentiment from llm() over the task file
-- ticket_sentiment.task.json: the same engine either way.
-- Placeholders: see support_tickets.sql.   tools/run-demo sql/ticket_classify_encoder.sql
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction';

CREATE TEMPORARY TABLE tickets (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/support_tickets.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY MODEL ticket_category
INPUT (message STRING)
OUTPUT (category STRING, score DOUBLE)
WITH (
  'provider' = 'flinkllm',
  'task' = 'classification',
  'model' = 'all-minilm-l6-v2-int8',
  'examples-file' = 'ticket_labels.examples.jsonl',
  'output.category.enum' = 'auth, billing, product-bug, feature-request, other',
  'threads' = '2'
);

CREATE TEMPORARY TABLE classified_tickets (
  event_id STRING,
  message STRING,
  category STRING,
  category_score DOUBLE,
  sentiment STRING,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/ticket_classify_encoder',
  'format' = 'json'
);

INSERT INTO classified_tickets
SELECT event_id, message, category, score, s.sentiment, CURRENT_TIMESTAMP
FROM (
  SELECT event_id, message, category, score, llm('ticket_sentiment.task.json', message) AS s
  FROM ML_PREDICT(TABLE tickets, MODEL ticket_category, DESCRIPTOR(message))
);
