"""Failover on a real standalone Flink 2.3.0 cluster: checkpointing every 2 s, the
exactly-once filesystem sink, and one TaskManager killed (SIGKILL, by its pid) while the job
runs. The job restarts from its last checkpoint and the committed output must be
byte-identical to a run of the same job without the kill: every input row exactly once,
same values.

    FLINKLLM_FAILOVER_ROWS=60 python tests/e2e/test_failover.py

Why byte-identical is a fair demand: decoding is greedy (temperature 0), so a row replayed
after the restart, on another TaskManager, gives the same answer. Nothing in the output may
depend on time or placement, so this job leaves out the demo's `processed_at`
(CURRENT_TIMESTAMP): a replayed row would get a later timestamp (the committed file would
still hold each row once, but the bytes would differ from the reference run for a reason that
has nothing to do with correctness). Part files are named per subtask and attempt, so the
comparison is over the sorted lines of all committed part files.

One cluster serves both runs: 3 TaskManagers with 1 slot each, parallelism 2, so after the
kill a spare slot lets the job restart without waiting for a new TaskManager.
"""
import json
import os
import pathlib
import shutil
import time
import unittest

from cluster import FlinkCluster
from kill import cancel, job_by_name, kill_busy_taskmanager
from run_job import ROOT, SMALL_MODEL, render, sql_preamble, udf_jar

SHARED = (ROOT / ".." / "shared").resolve()
WORK = ROOT / "tests" / "e2e" / "work" / "failover"
ROWS = int(os.environ.get("FLINKLLM_FAILOVER_ROWS", "60"))

JOB = sql_preamble("${NAME}", 2, "2s", **{
    "flinkllm.model": SMALL_MODEL,
    # Unbounded (the source keeps watching its folder, like a Kafka topic): a bounded source
    # hands all its rows downstream at once and finishes, and Flink declines every checkpoint
    # while the rest of the pipeline works through them. The test cancels the job once all
    # rows are committed.
    "table.dml-sync": "false",
    "execution.checkpointing.mode": "EXACTLY_ONCE",
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": 5,
    "restart-strategy.fixed-delay.delay": "2s",
    # Chained, the filesystem writer would share a vertex with the source, and Flink
    # cannot checkpoint a vertex that is partly finished and holds union state (the writer's).
    "pipeline.operator-chaining.enabled": "false",
}) + """
CREATE TEMPORARY TABLE tickets (event_id STRING, message STRING)
  WITH ('connector' = 'filesystem', 'path' = '${INPUT}', 'format' = 'json', 'source.monitor-interval' = '1s');
CREATE TEMPORARY TABLE enriched (event_id STRING, message STRING, category STRING, severity STRING,
  sentiment STRING, explanation STRING)
  -- Roll part files within a second so each checkpoint commits what is written so far.
  WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'json',
        'sink.rolling-policy.rollover-interval' = '1s', 'sink.rolling-policy.check-interval' = '1s');
-- No processed_at here: see the module docstring.
INSERT INTO enriched
SELECT event_id, message, t.r.category, t.r.severity, t.r.sentiment, t.r.explanation
FROM (SELECT event_id, message, llm('support_ticket.task.json', message) AS r FROM tickets) AS t;
"""


def committed_lines(folder):
    """Sorted lines of every committed part file (in-progress files are dot-prefixed)."""
    lines = []
    for part in pathlib.Path(folder).rglob("part-*"):
        lines.extend(l for l in part.read_text().splitlines() if l.strip())
    return sorted(lines)


class FailoverOnCluster(unittest.TestCase):
    def run_job(self, cluster, name, input_file, kill=False):
        """Submits the job, optionally kills a TaskManager, cancels it once every row is committed."""
        out = WORK / name
        started = time.time()
        cluster.sql_client(render_job(name, input_file, out))
        killed = kill_busy_taskmanager(cluster, name) if kill else None
        deadline = time.time() + 900
        while len(committed_lines(out)) < ROWS and time.time() < deadline:
            # After the kill the job may restart more than once (a restart can be placed on the
            # dead TaskManager's slots until its heartbeat times out); it must not end.
            state = job_by_name(cluster, name)["state"]
            self.assertNotIn(state, ("FAILED", "CANCELED", "FINISHED"), f"{name} ended before every row was committed")
            time.sleep(1)
        cancel(cluster, name)
        print(f"{name}: {len(committed_lines(out))} rows committed in {time.time() - started:.0f}s"
              + (f", killed TaskManager pid {killed}" if killed else ""), flush=True)
        return out

    def test_output_after_killing_a_taskmanager_is_identical(self):
        tickets = [json.loads(l) for l in (SHARED / "datasets" / "support_tickets.jsonl").read_text().splitlines() if l.strip()]
        rows = [tickets[i % len(tickets)] | {"event_id": f"{i:05d}-{tickets[i % len(tickets)]['event_id']}"} for i in range(ROWS)]
        shutil.rmtree(WORK, ignore_errors=True)  # committed files of an earlier run would count
        WORK.mkdir(parents=True)
        # One file per source subtask: a subtask without a file would finish at once, and
        # Flink declines checkpoints while part of a pipeline is finishing.
        input_file = WORK / "tickets"
        input_file.mkdir(exist_ok=True)
        for k in range(2):
            (input_file / f"part-{k}.jsonl").write_text(
                "".join(json.dumps({"event_id": r["event_id"], "message": r["message"]}) + "\n" for r in rows[k::2]))

        cluster = FlinkCluster(WORK / "cluster", udf_jar(), taskmanagers=3, slots=1,
                               extra_conf={"parallelism.default": 2, "heartbeat.interval": 2000, "heartbeat.timeout": 10000},
                               env={"FLINKLLM_TASKS_DIR": str(ROOT / "tasks")})
        with cluster:
            reference = committed_lines(self.run_job(cluster, "reference", input_file))
            killed = committed_lines(self.run_job(cluster, "killed", input_file, kill=True))
        print(f"{len(reference)} reference rows, {len(killed)} rows after the kill")
        self.assertEqual(len(reference), ROWS)
        self.assertEqual(sorted(json.loads(l)["event_id"] for l in killed), sorted(r["event_id"] for r in rows),
                         "every input row exactly once")
        self.assertEqual("\n".join(killed).encode(), "\n".join(reference).encode(), "byte-identical to the run without the kill")


def render_job(name, input_file, out):
    job = WORK / f"{name}.sql"
    job.write_text(JOB)
    return render(job, {"NAME": name, "INPUT": input_file, "OUT": out}, job)


if __name__ == "__main__":
    unittest.main(verbosity=2)
