-- Comment moderation between Kafka topics (see support_tickets.sql for the set-up):
-- `comments` → ML_PREDICT → `moderated_comments`, exactly once.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '5s';

-- Events are read as raw text and parsed in SQL, so no event is ever dropped (see
-- support_tickets.sql).
CREATE TEMPORARY TABLE comments_events (
  event STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'comments',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = 'flinkllm-comments-${KAFKA_RUN}',
  'scan.startup.mode' = 'earliest-offset',
  'properties.isolation.level' = 'read_committed',
  'scan.bounded.mode' = 'latest-offset',
  'format' = 'raw'
);

CREATE TEMPORARY VIEW comments AS
SELECT JSON_VALUE(event, '$.event_id' RETURNING STRING) AS event_id,
       JSON_VALUE(event, '$.message' RETURNING STRING) AS message
FROM comments_events;

CREATE TEMPORARY MODEL moderation
INPUT (message STRING)
OUTPUT (target STRING, verdict STRING, rewrite VARCHAR(160))
WITH (
  'provider' = 'flinkllm',
  'task-file' = 'comment_moderation.task.json'
);

CREATE TEMPORARY TABLE moderated_comments (
  event_id STRING,
  message STRING,
  verdict STRING,
  rewrite STRING,
  processed_at TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'kafka',
  'topic' = 'moderated_comments',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'flinkllm-comments-${KAFKA_RUN}',
  'properties.transaction.timeout.ms' = '900000'
);

INSERT INTO moderated_comments
SELECT event_id, message, verdict, rewrite, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE comments, MODEL moderation, DESCRIPTOR(message));
