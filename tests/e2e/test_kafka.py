"""Kafka end to end on a real standalone Flink 2.3.0 cluster (1 JobManager, 2 TaskManagers,
parallelism 2) with a real single-node broker: the 98 support tickets plus hostile events
(the bad-input suite's texts, lone surrogates, a 50 KB message, a NULL message, a missing
message, an event that is not JSON) produced to a 2-partition topic, sql/kafka/support_tickets.sql
(`ML_PREDICT`, exactly-once Kafka sink), the output topic read with read_committed: every
event exactly once, every answer schema-valid, NULL answers only where there is no message.
Then failover: the same job unbounded, a TaskManager killed by pid mid-stream; after the
restart the output topic (read_committed) holds every event exactly once, byte-identical to a
run without the kill.

    python tests/e2e/test_kafka.py      (needs jsonschema: the tools venv has it)
"""
import collections
import json
import os
import sys
import time
import unittest
import uuid

import jsonschema

from cluster import FlinkCluster
from kafka import KafkaBroker, connector_jar
from kafka_job import run_kafka_job
from kill import cancel, job_by_name, kill_busy_taskmanager
from run_job import ROOT, SMALL_MODEL, render, sql_preamble, udf_jar

sys.path.insert(0, str(ROOT / "tests"))
from hostile import BAD_TEXTS, HUGE_TEXT, SURROGATE_TEXTS  # noqa: E402

SHARED = (ROOT / ".." / "shared").resolve()
ANSWER = ["category", "severity", "sentiment", "explanation"]


class KafkaOnCluster(unittest.TestCase):
    def test_every_event_exactly_once_on_the_output_topic(self):
        tickets = [json.loads(l) for l in (SHARED / "datasets" / "support_tickets.jsonl").read_text().splitlines() if l.strip()]
        hostile = [{"event_id": f"hostile-{i}", "message": t} for i, t in enumerate(BAD_TEXTS + SURROGATE_TEXTS + [HUGE_TEXT, None])]
        events = [json.dumps(e) for e in tickets + hostile]
        events += [json.dumps({"event_id": "no-message"}), "this event is not JSON {"]
        task = json.loads((ROOT / "tasks" / "support_ticket.task.json").read_text())
        schema = json.loads((ROOT / "tasks" / task["schema_file"]).read_text())

        rows, seconds = run_kafka_job(ROOT / "sql" / "kafka" / "support_tickets.sql", ROOT / "tests" / "e2e" / "work" / "kafka", events,
                                      model=SMALL_MODEL)
        print(f"{len(rows)} committed records for {len(events)} events, job {seconds:.0f}s")
        self.assertEqual(len(rows), len(events), "every event comes out once")
        ids = collections.Counter(r["event_id"] for r in rows)
        expected = collections.Counter([e["event_id"] for e in tickets + hostile] + ["no-message", None])
        self.assertEqual(ids, expected)
        by_id = {e["event_id"]: e for e in tickets}
        for row in rows:
            if row["message"] is None:
                self.assertTrue(all(row[k] is None for k in ANSWER), row)
                continue
            if row["event_id"] in by_id:
                self.assertEqual(row["message"], by_id[row["event_id"]]["message"])
            jsonschema.validate({k: row[k] for k in ANSWER}, schema)
            self.assertIsNotNone(row["processed_at"])

    def test_killed_taskmanager_output_topic_exactly_once_and_identical(self):
        rows = int(os.environ.get("FLINKLLM_FAILOVER_ROWS", "60"))
        tickets = [json.loads(l) for l in (SHARED / "datasets" / "support_tickets.jsonl").read_text().splitlines() if l.strip()]
        events = [json.dumps({"event_id": f"{i:05d}", "message": tickets[i % len(tickets)]["message"]}) for i in range(rows)]
        work = ROOT / "tests" / "e2e" / "work" / "kafka_failover"
        cluster = FlinkCluster(work / "cluster", udf_jar(), taskmanagers=3, slots=1, extra_jars=[connector_jar()],
                               extra_conf={"parallelism.default": 2, "heartbeat.interval": 2000, "heartbeat.timeout": 10000},
                               env={"FLINKLLM_TASKS_DIR": str(ROOT / "tasks")})
        with KafkaBroker(work / "kafka") as kafka, cluster:
            kafka.create_topic("tickets", partitions=2)
            kafka.produce("tickets", events)
            outputs = {}
            for name in ("reference", "killed"):
                kafka.create_topic(name, partitions=2)
                job = work / f"{name}.sql"
                job.write_text(FAILOVER_JOB)
                cluster.sql_client(render(job, {"NAME": name, "BOOTSTRAP": kafka.bootstrap, "RUN": uuid.uuid4().hex[:8]}, job))
                killed = kill_busy_taskmanager(cluster, name) if name == "killed" else None
                deadline, got = time.time() + 900, []
                while len(got) < rows and time.time() < deadline:
                    self.assertNotIn(job_by_name(cluster, name)["state"], ("FAILED", "CANCELED", "FINISHED"))
                    got = kafka.consume(name, expected=rows, timeout_s=5)
                cancel(cluster, name)
                # Anything committed after the count was reached (a duplicate) would show here.
                outputs[name] = sorted(kafka.consume(name, expected=rows + 1, timeout_s=5))
                print(f"{name}: {len(outputs[name])} committed records" + (f", killed TaskManager pid {killed}" if killed else ""))
        self.assertEqual(len(outputs["reference"]), rows)
        self.assertEqual(sorted(json.loads(r)["event_id"] for r in outputs["killed"]), sorted(json.loads(e)["event_id"] for e in events),
                         "every event exactly once after the kill")
        self.assertEqual(outputs["killed"], outputs["reference"], "byte-identical to the run without the kill")


# Unbounded (as a stream runs), checkpoints every 2 s committing the sink's transactions, no
# processed_at (a replayed row would get a later one: see test_failover.py).
FAILOVER_JOB = sql_preamble("${NAME}", 2, "2s", **{
    "flinkllm.model": SMALL_MODEL,
    "table.dml-sync": "false",
    "execution.checkpointing.mode": "EXACTLY_ONCE",
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": 5,
    "restart-strategy.fixed-delay.delay": "2s",
}) + """
CREATE TEMPORARY TABLE tickets (event_id STRING, message STRING) WITH ('connector' = 'kafka', 'topic' = 'tickets',
  'properties.bootstrap.servers' = '${BOOTSTRAP}', 'properties.group.id' = '${NAME}-${RUN}',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TEMPORARY TABLE enriched (event_id STRING, message STRING, category STRING, severity STRING, sentiment STRING,
  explanation STRING) WITH ('connector' = 'kafka', 'topic' = '${NAME}', 'properties.bootstrap.servers' = '${BOOTSTRAP}',
  'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '${NAME}-${RUN}',
  'properties.transaction.timeout.ms' = '900000');
INSERT INTO enriched
SELECT event_id, message, t.r.category, t.r.severity, t.r.sentiment, t.r.explanation
FROM (SELECT event_id, message, llm('support_ticket.task.json', message) AS r FROM tickets) AS t;
"""


if __name__ == "__main__":
    unittest.main(verbosity=2)
