"""No poison rows on a real standalone Flink 2.3.0 cluster (1 JobManager, 2 TaskManagers):
`llm()` with default options, written as a user writes it, over the bad-input suite's hostile
texts, a 50 KB message and lone UTF-16 surrogates at the start, in the middle and at the end
of messages; then the same events through the encoder (ML_PREDICT 'task' = 'embedding' and
embed()). The jobs must finish, every input row must be in the output once, and every
non-NULL result must be schema-valid.

    python tests/e2e/test_poison_rows.py      (needs jsonschema: the tools venv has it)
"""
import json
import pathlib
import sys
import unittest

import jsonschema

from run_job import ROOT, read_rows, run_job, sql_preamble

sys.path.insert(0, str(ROOT / "tests"))
from hostile import BAD_TEXTS, HUGE_TEXT, SURROGATE_TEXTS  # noqa: E402

WORK = ROOT / "tests" / "e2e" / "work" / "poison_rows"

JOB = sql_preamble("poison-rows", 2, "10s") + """
CREATE TEMPORARY TABLE tickets (event_id STRING, message STRING)
  WITH ('connector' = 'filesystem', 'path' = '${FLINKLLM_DATA}/hostile.jsonl', 'format' = 'json');
CREATE TEMPORARY TABLE enriched (event_id STRING, category STRING, severity STRING, sentiment STRING, explanation STRING)
  WITH ('connector' = 'filesystem', 'path' = '${FLINKLLM_OUT}/enriched', 'format' = 'json');
INSERT INTO enriched
SELECT event_id, t.r.category, t.r.severity, t.r.sentiment, t.r.explanation
FROM (SELECT event_id, llm('support_ticket.task.json', message) AS r FROM tickets) AS t;

CREATE FUNCTION embed AS 'io.flinkllm.EmbedFunction';
CREATE TEMPORARY MODEL emb INPUT (message STRING) OUTPUT (embedding ARRAY<FLOAT>)
  WITH ('provider' = 'flinkllm', 'task' = 'embedding', 'model' = 'all-minilm-l6-v2-int8');
CREATE TEMPORARY TABLE embedded (event_id STRING, embedding ARRAY<FLOAT>, udf ARRAY<FLOAT>)
  WITH ('connector' = 'filesystem', 'path' = '${FLINKLLM_OUT}/embedded', 'format' = 'json');
INSERT INTO embedded
SELECT event_id, embedding, embed('all-minilm-l6-v2-int8', message)
FROM ML_PREDICT(TABLE tickets, MODEL emb, DESCRIPTOR(message));
"""


class PoisonRowsOnCluster(unittest.TestCase):
    def test_hostile_events_never_fail_the_job(self):
        texts = BAD_TEXTS + SURROGATE_TEXTS + [HUGE_TEXT, None]
        events = [{"event_id": f"e-{i}", "message": t} for i, t in enumerate(texts)]
        data = WORK / "data"
        data.mkdir(parents=True, exist_ok=True)
        # ensure_ascii: lone surrogates go out as `\ud83d` escapes, as a JSON producer writes them.
        (data / "hostile.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        sql = WORK / "poison_rows.sql"
        sql.write_text(JOB)
        task = json.loads((ROOT / "tasks" / "support_ticket.task.json").read_text())
        schema = json.loads((ROOT / "tasks" / task["schema_file"]).read_text())

        out, seconds = run_job(sql, WORK, data=data)
        rows = read_rows(out / "enriched")
        print(f"{len(rows)} rows out of {len(events)} in {seconds:.0f}s")
        self.assertEqual(sorted(r["event_id"] for r in rows), sorted(e["event_id"] for e in events))
        answered = 0
        for row in rows:
            output = {k: row[k] for k in schema["properties"] if row.get(k) is not None}
            if output:
                jsonschema.validate(output, schema)
                answered += 1
        # Default options: no row is ignored, so every non-NULL message gets an answer.
        self.assertEqual(answered, len(events) - 1, rows)

        # The encoder path (ML_PREDICT and embed()): a vector for every text, NULL for NULL.
        embedded = {r["event_id"]: r for r in read_rows(out / "embedded")}
        self.assertEqual(sorted(embedded), sorted(e["event_id"] for e in events))
        for e in events:
            row = embedded[e["event_id"]]
            if e["message"] is None:
                self.assertIsNone(row["udf"])
            else:
                self.assertEqual(len(row["embedding"]), 384)
                self.assertEqual(row["embedding"], row["udf"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
