-- Comment moderation: verdict is an enum (safe/unsafe), never "toxic" or "rude"; rewrite
-- keeps only the criticism of the content. Placeholders: see support_tickets.sql.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE FUNCTION llm AS 'io.flinkllm.LlmFunction';

CREATE TEMPORARY TABLE comments (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/youtube_comments.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY TABLE moderated_comments (
  event_id STRING,
  message STRING,
  verdict STRING,
  rewrite STRING,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/comment_moderation',
  'format' = 'json'
);

INSERT INTO moderated_comments
SELECT event_id, message, t.r.verdict, t.r.rewrite, CURRENT_TIMESTAMP
FROM (SELECT event_id, message, llm('comment_moderation.task.json', message) AS r FROM comments) AS t;
