"""`flinkllm eval` end to end: labelled rows in, one JSON line per (task variant, model) out,
with every field of `expected` scored. The scoring itself is unit-tested in rust/cli/src/score.rs."""
import json
import os
import subprocess

from conftest import model_path
from engine_support import TASKS, engine_env, flinkllm, write_task  # noqa: F401 (fixtures)


def test_eval_scores_every_expected_field(flinkllm, engine_env, tmp_path):
    schema = json.load(open(os.path.join(TASKS, "support_ticket.schema.json"), encoding="utf-8"))
    task = write_task(tmp_path, model_path("tiny"), schema)
    labelled = tmp_path / "labelled.jsonl"
    rows = [{"message": f"ticket {i}", "expected": {"category": "billing", "severity": "P3"}} for i in range(6)]
    labelled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    other = tmp_path / "variant"
    other.mkdir()
    variant = write_task(other, model_path("tiny"), schema, system_prompt="Triage the ticket.")
    answers = tmp_path / "answers.jsonl"
    out = subprocess.run([flinkllm, "eval", "--task", task, "--tasks", f"{task},{variant}", "--input", str(labelled), "--json",
                          "--answers", str(answers)],
                         capture_output=True, text=True, env=engine_env, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert [l["task"] for l in lines] == [task, variant]
    for line in lines:
        assert line["rows"] == 6 and line["schema_valid"] + sum(line["errors"].values()) == 6
        assert list(line["scores"]) == ["category", "severity"]
        assert all(0.0 <= s["accuracy"] <= 1.0 for s in line["scores"].values())
        assert line["rows_per_s"] > 0 and line["model_mb"] > 0
    # --answers: every row of every run, its expected object beside the answer (or the error).
    written = [json.loads(l) for l in answers.read_text().splitlines()]
    assert [(w["task"], w["text"]) for w in written] == [(t, r["message"]) for t in (task, variant) for r in rows]
    for w in written:
        assert w["expected"] == {"category": "billing", "severity": "P3"}
        assert ("answer" in w) != ("error" in w), w


def test_eval_refuses_rows_without_labels(flinkllm, engine_env, tmp_path):
    schema = json.load(open(os.path.join(TASKS, "support_ticket.schema.json"), encoding="utf-8"))
    task = write_task(tmp_path, model_path("tiny"), schema)
    unlabelled = tmp_path / "plain.jsonl"
    unlabelled.write_text(json.dumps({"message": "no labels here"}) + "\n")
    out = subprocess.run([flinkllm, "eval", "--task", task, "--input", str(unlabelled)], capture_output=True, text=True, env=engine_env)
    assert out.returncode != 0 and "no `expected` object" in out.stderr
