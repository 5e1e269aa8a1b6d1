"""The encoder jobs end to end on a real standalone Flink 2.3.0 cluster (1 JobManager, 2
TaskManagers on 127.0.0.1), over all 98 tickets: sql/ticket_embeddings.sql (CREATE MODEL +
ML_PREDICT with 'task' = 'embedding', and the embed() function) and
sql/ticket_classify_encoder.sql ('task' = 'classification' through ML_PREDICT, and llm() over
an encoder task file). Every ticket exactly once, every vector of 384 unit-norm floats and
equal between the two paths, every label one of the task's.

    python tests/e2e/test_encoder_jobs.py
"""
import json
import math
import unittest

from run_job import ROOT, read_rows, run_job

SHARED = (ROOT / ".." / "shared").resolve()
DATA = SHARED / "datasets" if (SHARED / "datasets").is_dir() else ROOT / "sql" / "data"


def tickets():
    return [json.loads(l) for l in (DATA / "support_tickets.jsonl").read_text().splitlines() if l.strip()]


class EncoderJobsOnCluster(unittest.TestCase):
    def test_embeddings_from_ml_predict_and_embed_agree(self):
        out, seconds = run_job(ROOT / "sql" / "ticket_embeddings.sql", ROOT / "tests" / "e2e" / "work" / "ticket_embeddings", data=DATA)
        predicted = {r["event_id"]: r for r in read_rows(out / "ticket_embeddings")}
        scalar = {r["event_id"]: r["embedding"] for r in read_rows(out / "ticket_embeddings_udf")}
        print(f"ticket_embeddings: {len(predicted)} + {len(scalar)} rows in {seconds:.0f}s (two jobs, model load included)")
        ids = sorted(t["event_id"] for t in tickets())
        self.assertEqual(sorted(predicted), ids)
        self.assertEqual(sorted(scalar), ids)
        for event_id, row in predicted.items():
            vector = row["embedding"]
            self.assertEqual(len(vector), 384)
            self.assertAlmostEqual(math.sqrt(sum(x * x for x in vector)), 1.0, places=4)
            self.assertEqual(vector, scalar[event_id], "ML_PREDICT and embed() give the same vector")

    def test_classification_labels_every_ticket_once(self):
        out, seconds = run_job(ROOT / "sql" / "ticket_classify_encoder.sql", ROOT / "tests" / "e2e" / "work" / "ticket_classify_encoder",
                               data=DATA)
        rows = read_rows(out / "ticket_classify_encoder")
        print(f"ticket_classify_encoder: {len(rows)} rows in {seconds:.0f}s (model load included)")
        self.assertEqual(sorted(r["event_id"] for r in rows), sorted(t["event_id"] for t in tickets()))
        for row in rows:
            self.assertIn(row["category"], ["auth", "billing", "product-bug", "feature-request", "other"])
            self.assertIn(row["sentiment"], ["positive", "neutral", "frustrated"])
            self.assertTrue(-1 <= row["category_score"] <= 1, row)


if __name__ == "__main__":
    unittest.main(verbosity=2)
