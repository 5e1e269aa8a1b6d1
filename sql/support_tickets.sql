-- Support-ticket triage: every ticket gets category, severity, sentiment and a short
-- explanation from the local model, plus processed_at to show per-event latency.
--
-- Placeholders ${FLINKLLM_DATA} (input folder) and ${FLINKLLM_OUT} (output folder) are filled
-- in by tests/e2e/run_job.py; the task name is relative to FLINKLLM_TASKS_DIR (the repo's
-- tasks/), which the planning process (the SQL client) must see.
SET 'table.dml-sync' = 'true';
SET 'parallelism.default' = '2';
-- The filesystem sink commits its files on checkpoints (and at the end of a bounded input).
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
FROM (SELECT event_id, message, llm('support_ticket.task.json', message) AS r FROM tickets) AS t;
