-- Comment moderation with CREATE MODEL + ML_PREDICT (see support_tickets_ml_predict.sql).
-- error-handling-strategy=ignore with an error-string column: a row the model cannot answer
-- still comes out, with NULL answers and the reason.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '10s';

CREATE TEMPORARY TABLE comments (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/youtube_comments.jsonl',
  'format' = 'json'
);

CREATE TEMPORARY MODEL moderation
INPUT (message STRING)
OUTPUT (target STRING, verdict STRING, rewrite VARCHAR(160), error_message STRING)
WITH (
  'provider' = 'flinkllm',
  'model' = 'qwen2.5-coder-1.5b-instruct-int8',
  'system-prompt-file' = 'comment_moderation.system.txt',
  'examples-file' = 'comment_moderation.examples.jsonl',
  'input-template' = 'Comment: {message}

Criticism of the video, however harsh, is safe. Is a person attacked?',
  'output.target.enum' = 'the video, a person, the video and a person, nothing',
  'output.verdict.enum' = 'safe, unsafe',
  'error-handling-strategy' = 'ignore',
  'error-string-column' = 'error_message',
  'threads' = '2'
);

CREATE TEMPORARY TABLE moderated_comments (
  event_id STRING,
  message STRING,
  verdict STRING,
  rewrite STRING,
  error_message STRING,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_OUT}/comment_moderation_ml_predict',
  'format' = 'json'
);

INSERT INTO moderated_comments
SELECT event_id, message, verdict, rewrite, error_message, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE comments, MODEL moderation, DESCRIPTOR(message));
