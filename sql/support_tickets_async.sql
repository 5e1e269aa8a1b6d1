-- Support-ticket triage as sql/support_tickets.sql, through the asynchronous function: the task
-- thread hands each ticket over and goes on reading, up to 16 tickets per slot are in flight,
-- and the engine runs them together in shared forward passes (batch-size, default 8).
-- Output rows keep the input order.
--
-- Placeholders ${FLINKLLM_DATA} (input folder) and ${FLINKLLM_OUT} (output folder) are filled
-- in by tests/e2e/run_job.py; the task name is relative to FLINKLLM_TASKS_DIR (the repo's
-- tasks/), which the planning process (the SQL client) must see.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
-- The filesystem sink commits its files on checkpoints (and at the end of a bounded input).
SET 'execution.checkpointing.interval' = '10s';

-- Rows in flight per slot (Flink's default: 10): twice the engine's batch-size, so that a full
-- batch is ready while Flink holds finished rows back to keep the input order.
SET 'table.exec.async-scalar.max-concurrent-operations' = '16';
-- How long a row may be in flight, waiting included (Flink's default: 3 min); past it the job
-- fails. Per-row limits that follow the error policy are flinkllm's own 'timeout' option.
SET 'table.exec.async-scalar.timeout' = '5 min';
-- The engine is deterministic: a failed row fails again, so retrying (Flink's default:
-- FIXED_DELAY, 'table.exec.async-scalar.retry-delay' 100 ms, 'table.exec.async-scalar.max-attempts' 3)
-- only repeats the work before the job fails.
SET 'table.exec.async-scalar.retry-strategy' = 'NO_RETRY';

CREATE FUNCTION llm_async AS 'io.flinkllm.AsyncLlmFunction';

CREATE TEMPORARY TABLE tickets (
  event_id STRING,
  message STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${FLINKLLM_DATA}/support_tickets.jsonl',
  'format' = 'json'
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
  'path' = '${FLINKLLM_OUT}/support_tickets',
  'format' = 'json'
);

INSERT INTO enriched_tickets
SELECT event_id, message, t.r.category, t.r.severity, t.r.sentiment, t.r.explanation, CURRENT_TIMESTAMP
FROM (SELECT event_id, message, llm_async('support_ticket.task.json', message) AS r FROM tickets) AS t;
