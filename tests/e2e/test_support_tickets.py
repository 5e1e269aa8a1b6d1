"""End to end on a real standalone Flink 2.3.0 cluster (1 JobManager, 2 TaskManagers on
127.0.0.1), the UDF JAR in lib/, `bin/sql-client.sh -f` over all 98 tickets, for the llm()
job (sql/support_tickets.sql) and the CREATE MODEL + ML_PREDICT job
(sql/support_tickets_ml_predict.sql): 98 output rows, each schema-valid, every event_id
exactly once. The llm() job runs the default model its task file names, as the demo does; the
ML_PREDICT job runs the small model (run_job.SMALL_MODEL), since the two share the engine and
the default model takes ~7 minutes for 98 tickets on 2 cores.

    python tests/e2e/test_support_tickets.py      (needs jsonschema: the tools venv has it)
"""
import json
import pathlib
import unittest

import jsonschema

from run_job import ROOT, SMALL_MODEL, read_rows, run_job

SHARED = (ROOT / ".." / "shared").resolve()


class SupportTicketsOnCluster(unittest.TestCase):
    def test_every_ticket_enriched_once_and_valid(self):
        self.check_job("support_tickets")

    def test_ml_predict_job_enriches_every_ticket_once_and_valid(self):
        # The model's OUTPUT columns and output.* options state the seed task's schema.
        self.check_job("support_tickets_ml_predict", model=SMALL_MODEL)

    def check_job(self, job, model=None):
        tickets = [json.loads(l) for l in (SHARED / "datasets" / "support_tickets.jsonl").read_text().splitlines() if l.strip()]
        task = json.loads((ROOT / "tasks" / "support_ticket.task.json").read_text())
        schema = task.get("schema") or json.loads((ROOT / "tasks" / task["schema_file"]).read_text())
        out, seconds = run_job(ROOT / "sql" / f"{job}.sql", ROOT / "tests" / "e2e" / "work" / job, data=SHARED / "datasets", model=model)
        rows = read_rows(out / job)
        print(f"{job}: {len(rows)} rows in {seconds:.0f}s")
        self.assertEqual(len(rows), len(tickets))
        self.assertEqual(sorted(r["event_id"] for r in rows), sorted(t["event_id"] for t in tickets))
        by_id = {t["event_id"]: t for t in tickets}
        for row in rows:
            self.assertEqual(row["message"], by_id[row["event_id"]]["message"])
            output = {k: row[k] for k in schema["properties"] if row.get(k) is not None}
            jsonschema.validate(output, schema)
            self.assertIsNotNone(row["processed_at"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
