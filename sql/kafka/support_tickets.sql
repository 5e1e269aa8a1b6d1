-- Support-ticket triage from a Kafka topic to a Kafka topic, exactly once: the tickets arrive
-- as JSON events on `tickets`, each enriched event is written once to `enriched_tickets` in
-- Kafka transactions committed on checkpoints (consumers read with isolation.level =
-- read_committed). The source is bounded at the offsets present when the job starts, so the
-- demo and the tests finish; drop 'scan.bounded.mode' for a job that runs forever.
-- Placeholders ${KAFKA_BOOTSTRAP} and ${KAFKA_RUN} (makes group and transactional ids unique
-- per run) are filled in by tests/e2e/run_job.py. Needs flink-sql-connector-kafka in lib/.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
SET 'execution.checkpointing.interval' = '5s';

-- Events are read as raw text and parsed in SQL, so no event is ever dropped: one that is
-- not JSON, or lacks a field, still comes out (NULL fields, NULL answers). The json format
-- with 'json.ignore-parse-errors' would skip an unparseable event without a trace.
CREATE TEMPORARY TABLE ticket_events (
  event STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'tickets',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'properties.group.id' = 'flinkllm-tickets-${KAFKA_RUN}',
  'scan.startup.mode' = 'earliest-offset',
  'properties.isolation.level' = 'read_committed',
  'scan.bounded.mode' = 'latest-offset',
  'format' = 'raw'
);

CREATE TEMPORARY VIEW tickets AS
SELECT JSON_VALUE(event, '$.event_id' RETURNING STRING) AS event_id,
       JSON_VALUE(event, '$.message' RETURNING STRING) AS message
FROM ticket_events;

CREATE TEMPORARY MODEL ticket_triage
INPUT (message STRING)
OUTPUT (category STRING, severity STRING, sentiment STRING, explanation VARCHAR(200))
WITH (
  'provider' = 'flinkllm',
  'task-file' = 'support_ticket.task.json'
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
  'connector' = 'kafka',
  'topic' = 'enriched_tickets',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP}',
  'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'flinkllm-tickets-${KAFKA_RUN}',
  -- Within the broker's transaction.max.timeout.ms (15 min by default).
  'properties.transaction.timeout.ms' = '900000'
);

INSERT INTO enriched_tickets
SELECT event_id, message, category, severity, sentiment, explanation, CURRENT_TIMESTAMP
FROM ML_PREDICT(TABLE tickets, MODEL ticket_triage, DESCRIPTOR(message));
