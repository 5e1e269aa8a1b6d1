"""End to end on a real standalone Flink 2.3.0 cluster (1 JobManager, 2 TaskManagers on
127.0.0.1), the UDF JAR in lib/, `bin/sql-client.sh -f sql/support_tickets.sql` over all
98 tickets: 98 output rows, each schema-valid, every event_id exactly once.

    python tests/e2e/test_support_tickets.py      (needs jsonschema: the tools venv has it)
"""
import json
import pathlib
import unittest

import jsonschema

from run_job import ROOT, read_rows, run_job

SHARED = (ROOT / ".." / "shared").resolve()


class SupportTicketsOnCluster(unittest.TestCase):
    def test_every_ticket_enriched_once_and_valid(self):
        tickets = [json.loads(l) for l in (SHARED / "datasets" / "support_tickets.jsonl").read_text().splitlines() if l.strip()]
        task = json.loads((ROOT / "tasks" / "support_ticket.task.json").read_text())
        schema = task.get("schema") or json.loads((ROOT / "tasks" / task["schema_file"]).read_text())
        out, seconds = run_job(ROOT / "sql" / "support_tickets.sql", ROOT / "tests" / "e2e" / "work" / "support_tickets",
                               data=SHARED / "datasets")
        rows = read_rows(out / "support_tickets")
        print(f"{len(rows)} rows in {seconds:.0f}s")
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
